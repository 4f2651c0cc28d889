import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { parseYamlText } from '../../protocol/yaml.js';

describe('parseYamlText', () => {
  it('reads block and flow YAML, and JSON, into plain values', () => {
    expect(parseYamlText('faults:\n  - kind: drop\n    at_byte: 10\nv: ["1.2.1", 2]\n')).toEqual({ faults: [{ kind: 'drop', at_byte: 10 }], v: ['1.2.1', 2] });
    expect(parseYamlText('{"a": [1, {"b": null}]}')).toEqual({ a: [1, { b: null }] });
    expect(parseYamlText('# nothing\n')).toBeNull();
  });

  it.each([
    ['duplicate keys', 'a: 1\na: 2', /^f\.yaml:2:1: /],
    ['bad indentation', 'a:\n  b: 1\n c: 2', /^f\.yaml:3:/],
    ['an unterminated quote', 'a: "abc', /^f\.yaml:1:/],
    ['a second document', 'a: 1\n---\nb: 2', /^f\.yaml:/],
    ['tabs in indentation', 'a:\n\tb: 1', /^f\.yaml:2:/],
  ])('refuses %s with the file, line and column', (_name, text, message) => {
    expect(() => parseYamlText(text, 'f.yaml')).toThrow(ConfigError);
    expect(() => parseYamlText(text, 'f.yaml')).toThrow(message);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
    expect(() => parseYamlText(bomb, 'bomb.yaml')).toThrow(ConfigError);
  });
});
