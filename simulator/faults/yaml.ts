/**
 * The YAML that fault profiles are written in: block mappings and sequences (a sequence may sit at
 * its key's indentation), one-line flow collections (`[a, b]`, `{k: v}`), plain, single- and
 * double-quoted scalars, `#` comments, one document. YAML features a profile never needs — anchors,
 * aliases, tags, block scalars (`|`, `>`), multi-line scalars, complex keys — are refused with the
 * line number, never guessed at. Plain scalars resolve as YAML 1.2's core schema does (null,
 * booleans, integers, floats, else strings). Pure: text in, a JSON value out.
 */
import { ConfigError } from '../../protocol/errors.js';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Line {
  readonly no: number;
  readonly indent: number;
  readonly text: string;
}

const fail = (no: number, msg: string): never => {
  throw new ConfigError(`YAML line ${no}: ${msg}`);
};

/** Cut a `#` comment (one preceded by whitespace or at the start, outside quotes). */
function stripComment(s: string, no: number): string {
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quote !== null) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '#' && (i === 0 || s[i - 1] === ' ' || s[i - 1] === '\t')) {
      return s.slice(0, i);
    }
  }
  if (quote !== null) fail(no, `unterminated ${quote === '"' ? 'double' : 'single'}-quoted string (multi-line scalars are not supported)`);
  return s;
}

function toLines(text: string): Line[] {
  const out: Line[] = [];
  let docs = 0;
  text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/).forEach((raw, i) => {
    const no = i + 1;
    const body = stripComment(raw, no).trimEnd();
    if (body.trim() === '') return;
    const indent = body.length - body.trimStart().length;
    if (body.slice(0, indent).includes('\t')) fail(no, 'tabs are not allowed in indentation');
    const t = body.trimStart();
    if (indent === 0 && (t === '---' || t.startsWith('--- '))) {
      if (++docs > 1 || out.length > 0) fail(no, 'only one YAML document is supported');
      if (t !== '---') fail(no, 'content after --- is not supported');
      return;
    }
    if (indent === 0 && t === '...') fail(no, 'document end markers are not supported');
    if (t.startsWith('%')) fail(no, 'YAML directives are not supported');
    out.push({ no, indent, text: t });
  });
  return out;
}

// ------------------------------------------------------------------------------------------------
// Scalars and flow collections

function plainScalar(s: string, no: number): Json {
  if (/^[&*!|>%@`]/.test(s)) fail(no, `'${s[0]}' (anchors, aliases, tags, block scalars) is not supported`);
  if (s.startsWith('? ')) fail(no, 'complex keys are not supported');
  if (/^(null|Null|NULL|~)?$/.test(s)) return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?[0-9]+$/.test(s)) return Number(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^0o[0-7]+$/.test(s)) return Number.parseInt(s.slice(2), 8);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  if (/^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$/.test(s)) fail(no, `${s} is not a JSON number`);
  return s;
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0' };

/** A cursor over one line, for quoted scalars and flow collections. */
class Cursor {
  i = 0;
  constructor(readonly s: string, readonly no: number) {}
  ws(): void {
    while (this.s[this.i] === ' ') this.i++;
  }
  get done(): boolean {
    return this.i >= this.s.length;
  }
  quoted(): string {
    const q = this.s[this.i++];
    let out = '';
    for (;;) {
      if (this.done) fail(this.no, 'unterminated quoted string');
      const ch = this.s[this.i++] ?? '';
      if (q === "'" && ch === "'") {
        if (this.s[this.i] === "'") { out += "'"; this.i++; continue; }
        return out;
      }
      if (q === '"' && ch === '"') return out;
      if (q === '"' && ch === '\\') {
        const e = this.s[this.i++] ?? '';
        if (e === 'u') {
          const hex = this.s.slice(this.i, this.i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(this.no, 'bad \\u escape');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.i += 4;
        } else {
          const r = ESCAPES[e];
          if (r === undefined) fail(this.no, `unknown escape \\${e}`);
          out += r;
        }
        continue;
      }
      out += ch;
    }
  }
  /** A value inside a flow collection, or a whole inline value (`inFlow` false). */
  value(inFlow: boolean): Json {
    this.ws();
    const ch = this.s[this.i];
    if (ch === '[') return this.seq();
    if (ch === '{') return this.map();
    if (ch === '"' || ch === "'") return this.quoted();
    const start = this.i;
    while (!this.done && !(inFlow && /[,\]}]/.test(this.s[this.i] ?? ''))) this.i++;
    const text = this.s.slice(start, this.i).trim();
    if (inFlow && /: |:$/.test(text)) fail(this.no, 'a mapping inside a flow collection needs {braces}');
    return plainScalar(text, this.no);
  }
  seq(): Json[] {
    this.i++;
    const out: Json[] = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return out; }
    for (;;) {
      out.push(this.value(true));
      this.ws();
      const ch = this.s[this.i++];
      if (ch === ']') return out;
      if (ch !== ',') fail(this.no, "expected ',' or ']' in a flow sequence");
    }
  }
  map(): { [k: string]: Json } {
    this.i++;
    const out: { [k: string]: Json } = {};
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return out; }
    for (;;) {
      this.ws();
      let key: string;
      if (this.s[this.i] === '"' || this.s[this.i] === "'") key = this.quoted();
      else {
        const start = this.i;
        while (!this.done && this.s[this.i] !== ':' && this.s[this.i] !== ',' && this.s[this.i] !== '}') this.i++;
        key = this.s.slice(start, this.i).trim();
      }
      this.ws();
      if (this.s[this.i++] !== ':') fail(this.no, `expected ':' after key '${key}' in a flow mapping`);
      if (Object.hasOwn(out, key)) fail(this.no, `duplicate key '${key}'`);
      out[key] = this.value(true);
      this.ws();
      const ch = this.s[this.i++];
      if (ch === '}') return out;
      if (ch !== ',') fail(this.no, "expected ',' or '}' in a flow mapping");
    }
  }
}

/** An inline value: the rest of a line after `key:` or `- `. */
function inline(text: string, no: number): Json {
  const c = new Cursor(text, no);
  const v = c.value(false);
  c.ws();
  if (!c.done) fail(no, `unexpected text after the value: '${text.slice(c.i)}'`);
  return v;
}

// ------------------------------------------------------------------------------------------------
// Blocks

/** `key: rest` → [key, rest], or null when the line is not a mapping entry. */
function splitKey(text: string, no: number): [string, string] | null {
  if (text.startsWith('"') || text.startsWith("'")) {
    const c = new Cursor(text, no);
    const key = c.quoted();
    c.ws();
    if (text[c.i] !== ':') return null;
    return [key, text.slice(c.i + 1).trim()];
  }
  const m = /^([^\s:#[\]{},&*!|>'"%@`][^:]*?)\s*:(?:\s+(.*)|$)/.exec(text);
  if (m === null || m[1] === undefined) return null;
  return [m[1], (m[2] ?? '').trim()];
}

const isItem = (l: Line | undefined): boolean => l !== undefined && (l.text === '-' || l.text.startsWith('- '));

class Parser {
  i = 0;
  constructor(readonly lines: Line[]) {}

  get line(): Line | undefined {
    return this.lines[this.i];
  }

  block(indent: number): Json {
    const l = this.line;
    if (l === undefined) return null;
    if (l.indent !== indent) fail(l.no, 'unexpected indentation');
    if (isItem(l)) return this.sequence(indent);
    if (splitKey(l.text, l.no) !== null) return this.mapping(indent);
    this.i++;
    return inline(l.text, l.no);
  }

  /** The value of a `key:` or `- ` whose inline part was empty: a nested block, or null. */
  nested(parentIndent: number, allowSameIndentSeq: boolean): Json {
    const next = this.line;
    if (next !== undefined && next.indent > parentIndent) return this.block(next.indent);
    if (allowSameIndentSeq && next !== undefined && next.indent === parentIndent && isItem(next)) return this.sequence(parentIndent);
    return null;
  }

  sequence(indent: number): Json[] {
    const out: Json[] = [];
    for (let l = this.line; l !== undefined && l.indent === indent && isItem(l); l = this.line) {
      const rest = l.text.slice(1).trimStart();
      if (rest === '') {
        this.i++;
        out.push(this.nested(indent, false));
      } else if (rest.startsWith('- ') || rest === '-' || (splitKey(rest, l.no) !== null && !/^[[{]/.test(rest))) {
        // `- key: v` or `- - x`: a block that starts on this line, at the column of `rest`.
        this.lines[this.i] = { no: l.no, indent: indent + (l.text.length - rest.length), text: rest };
        out.push(this.block(indent + (l.text.length - rest.length)));
      } else {
        this.i++;
        out.push(inline(rest, l.no));
      }
    }
    const l = this.line;
    if (l !== undefined && l.indent > indent) fail(l.no, 'unexpected indentation');
    return out;
  }

  mapping(indent: number): { [k: string]: Json } {
    const out: { [k: string]: Json } = {};
    for (let l = this.line; l !== undefined && l.indent === indent && !isItem(l); l = this.line) {
      const kv = splitKey(l.text, l.no);
      if (kv === null) return fail(l.no, `expected 'key: value', got '${l.text}'`);
      const [key, rest] = kv;
      if (Object.hasOwn(out, key)) fail(l.no, `duplicate key '${key}'`);
      this.i++;
      out[key] = rest === '' ? this.nested(indent, true) : inline(rest, l.no);
    }
    const l = this.line;
    if (l !== undefined && l.indent > indent) fail(l.no, 'unexpected indentation');
    return out;
  }
}

/** Parse one YAML document (the subset above) into a JSON value. Throws ConfigError naming the line. */
export function parseYaml(text: string): Json {
  const lines = toLines(text);
  if (lines.length === 0) return null;
  const p = new Parser(lines);
  const first = lines[0];
  const v = p.block(first?.indent ?? 0);
  const rest = p.line;
  if (rest !== undefined) fail(rest.no, 'unexpected content (check the indentation)');
  return v;
}
