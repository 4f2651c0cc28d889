/**
 * Integer fields of a gen_esp32part.py CSV: `parse_int`.
 * Facts: esp-idf-ota-facts.md §1.8. The rules, in order:
 *  1. a trailing `k`/`K` (×1024) or `m`/`M` (×1048576) applies to the rest, recursively (`0x10K`);
 *  2. otherwise the text is Python `int(text, 0)`: optional sign, then `0x…`, `0o…`, `0b…` or
 *     decimal without leading zeros, with single `_` allowed between digits;
 *  3. if that fails, a keyword from `keywords`, case-insensitively.
 */
import type { Keyword } from './partition-names.js';

export type IntResult = { readonly ok: true; readonly value: bigint } | { readonly ok: false; readonly reason: string };

const PY_INT = /^[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?0)*|[1-9](?:_?[0-9])*)$/;

/** Python `int(text, 0)`, or null when Python would raise ValueError. */
export function pythonInt(text: string): bigint | null {
  const t = text.trim();
  if (!PY_INT.test(t)) return null;
  const negative = t.startsWith('-');
  const body = t.replace(/^[+-]/, '').replaceAll('_', '');
  const prefix = body.slice(0, 2).toLowerCase();
  // BigInt() understands 0x/0o/0b prefixes but not a sign in front of them.
  const magnitude = prefix === '0x' || prefix === '0o' || prefix === '0b' ? BigInt(body) : BigInt(body.replace(/^0+(?=\d)/, ''));
  return negative ? -magnitude : magnitude;
}

const MULTIPLIERS: ReadonlyArray<readonly [string, bigint]> = [['k', 1024n], ['m', 1048576n]];

/** gen_esp32part.py `parse_int(text, keywords)`. */
export function parseIdfInt(text: string, keywords: readonly Keyword[] = []): IntResult {
  for (const [letter, multiplier] of MULTIPLIERS) {
    if (text.toLowerCase().endsWith(letter)) {
      const inner = parseIdfInt(text.slice(0, -1), keywords);
      return inner.ok ? { ok: true, value: inner.value * multiplier } : inner;
    }
  }
  const n = pythonInt(text);
  if (n !== null) return { ok: true, value: n };
  if (keywords.length === 0) return { ok: false, reason: `'${text}' is not a number (use decimal, 0x…, 0o…, 0b…, with an optional K or M suffix)` };
  const lower = text.toLowerCase();
  const hit = keywords.find(([name]) => name === lower);
  if (hit) return { ok: true, value: BigInt(hit[1]) };
  return { ok: false, reason: `'${text}' is neither a number nor a known keyword (${keywords.map(([k]) => k).join(', ')})` };
}
