import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { parseYaml } from '../../simulator/faults/yaml.js';

describe('parseYaml: the subset fault profiles use', () => {
  it.each([
    ['block mapping with scalars of every kind', 'a: 1\nb: -2.5\nc: true\nd: null\ne: hello world\nf: "1.2.1"\ng: \'it\'\'s\'\nh: 0x1F\ni: ~\nj:',
      { a: 1, b: -2.5, c: true, d: null, e: 'hello world', f: '1.2.1', g: "it's", h: 31, i: null, j: null }],
    ['nested mapping', 'outer:\n  inner:\n    x: 1\n  y: 2', { outer: { inner: { x: 1 }, y: 2 } }],
    ['sequence of mappings under a key, indented', 'faults:\n  - kind: drop\n    at_byte: 10\n  - kind: latency\n    ms: 5',
      { faults: [{ kind: 'drop', at_byte: 10 }, { kind: 'latency', ms: 5 }] }],
    ['sequence at the key\'s indentation', 'faults:\n- kind: drop\n  at_byte: 10\nother: 1', { faults: [{ kind: 'drop', at_byte: 10 }], other: 1 }],
    ['flow collections', 'v: [1.2.1, "1.3.0"]\nm: {a: 1, b: [x, y], c: "q, r"}\ne: []\nf: {}',
      { v: ['1.2.1', '1.3.0'], m: { a: 1, b: ['x', 'y'], c: 'q, r' }, e: [], f: {} }],
    ['comments and a document start', '---\n# a profile\nkey: value # trailing\nurl: http://x/y#frag\n', { key: 'value', url: 'http://x/y#frag' }],
    ['double-quoted escapes', 's: "a\\"b\\\\c\\n\\u00e9"', { s: 'a"b\\c\né' }],
    ['nested sequences', '- - 1\n  - 2\n- 3', [[1, 2], 3]],
    ['a sequence item holding a block', '-\n  a: 1', [{ a: 1 }]],
    ['a top-level scalar', '42', 42],
    ['an empty document', '# nothing\n', null],
    ['CRLF line ends', 'a: 1\r\nb: 2\r\n', { a: 1, b: 2 }],
  ])('%s', (_name, text, expected) => {
    expect(parseYaml(text)).toEqual(expected);
  });

  it.each([
    ['anchors', 'a: &x 1', /line 1: '&'/],
    ['aliases', 'a: 1\nb: *a', /line 2: '\*'/],
    ['tags', 'a: !!str 1', /line 1: '!'/],
    ['block scalars', 'a: |\n  text', /line 1: '\|'/],
    ['tabs in indentation', 'a:\n\tb: 1', /line 2: tabs/],
    ['duplicate keys', 'a: 1\na: 2', /line 2: duplicate key 'a'/],
    ['a second document', 'a: 1\n---\nb: 2', /line 2: only one YAML document/],
    ['bad indentation', 'a: 1\n   b: 2', /line 2: unexpected indentation/],
    ['an unterminated quote', 'a: "abc', /line 1: unterminated double-quoted/],
    ['text after a flow value', 'a: [1] 2', /line 1: unexpected text/],
    ['an unclosed flow sequence', 'a: [1, 2', /line 1: expected ',' or '\]'/],
    ['.inf', 'a: .inf', /not a JSON number/],
    ['a bare mapping inside a flow sequence', 'a: [b: 1]', /needs \{braces\}/],
  ])('refuses %s with the line number', (_name, text, message) => {
    expect(() => parseYaml(text)).toThrow(ConfigError);
    expect(() => parseYaml(text)).toThrow(message);
  });
});
