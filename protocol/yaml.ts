/**
 * YAML (or JSON) text to a plain value, through the `yaml` package, with errors that name the
 * source and the line: fault profiles and scenario files share it. Pure: text in, value out.
 */
import { parseDocument, type YAMLError } from 'yaml';
import { ConfigError } from './errors.js';

function where(source: string, e: YAMLError): string {
  const pos = e.linePos?.[0];
  return pos === undefined ? source : `${source}:${pos.line}:${pos.col}`;
}

/**
 * Parse one YAML document (JSON is YAML too). Throws ConfigError `source:line:col: message` on
 * any syntax error, duplicate key or second document. Values are plain JSON-like data: no
 * custom tags, and aliases are expanded (bounded, so a "billion laughs" file is refused).
 */
export function parseYamlText(text: string, source = 'input'): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  const first = doc.errors[0];
  if (first !== undefined) throw new ConfigError(`${where(source, first)}: ${first.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`, { cause: first });
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(`${source}: ${(e as Error).message}`, { cause: e });
  }
}
