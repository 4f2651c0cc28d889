/**
 * The small languages of a scenario file: durations (`250ms`, `30s`, `5m`, `1h`), sizes (`4096`,
 * `256KiB`, `1MiB`) and comparisons (`>= 20`, `== 100%`, `< 60s`). Each parser returns the value or
 * a message that says what was expected; the schema turns that into an issue with a place. Pure.
 */

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `30s` → 30000 (ms), or an error message. A bare number is refused: its unit would be a guess. */
export function parseDuration(text: string): number | string {
  const m = DURATION.exec(text);
  if (m === null) return `"${text}" is not a duration: write e.g. 500ms, 30s, 5m, 1h`;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|KB|MB)?\s*$/;
const UNIT_BYTES = { B: 1, KiB: 1024, MiB: 1024 * 1024, KB: 1000, MB: 1000 * 1000 } as const;

/** `256KiB` → 262144, or a message. Numbers are bytes. */
export function parseSize(value: string | number): number | string {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : `size ${value} must be a whole number of bytes > 0`;
  const m = SIZE.exec(value);
  if (m === null) return `"${value}" is not a size: write e.g. 65536, 256KiB, 1MiB`;
  const n = Math.round(Number(m[1]) * UNIT_BYTES[(m[2] ?? 'B') as keyof typeof UNIT_BYTES]);
  return n > 0 ? n : `size "${value}" must be > 0 bytes`;
}

export const OPERATORS = ['==', '!=', '>=', '<=', '>', '<'] as const;
export type Operator = (typeof OPERATORS)[number];

/**
 * A comparison: `op value`, where value is a plain number, a share (`25%`: of the fleet for counts,
 * 0.25 for rates) or a duration (ms). `text` is the source form, for reports.
 */
export interface Comparison {
  readonly op: Operator;
  readonly value: number;
  readonly unit: 'number' | 'percent' | 'ms';
  readonly text: string;
}

const COMPARISON = /^\s*(==|!=|>=|<=|>|<)?\s*(-?\d+(?:\.\d+)?)\s*(%|ms|s|m|h)?\s*$/;

/** `>= 20`, `100%`, `< 60s` or a bare number (meaning `==`) → Comparison, or a message. */
export function parseComparison(value: string | number): Comparison | string {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? { op: '==', value, unit: 'number', text: `== ${value}` } : `${value} is not a number`;
  }
  const m = COMPARISON.exec(value);
  if (m === null) return `"${value}" is not a comparison: write e.g. ">= 20", "== 100%", "< 60s" (operators ${OPERATORS.join(' ')})`;
  const op = (m[1] ?? '==') as Operator;
  const n = Number(m[2]);
  const u = m[3];
  if (u === '%') return { op, value: n, unit: 'percent', text: `${op} ${n}%` };
  if (u === undefined) return { op, value: n, unit: 'number', text: `${op} ${n}` };
  return { op, value: Math.round(n * UNIT_MS[u as keyof typeof UNIT_MS]), unit: 'ms', text: `${op} ${n}${u}` };
}

/** Whether `actual op expected` holds. */
export function holds(op: Operator, actual: number, expected: number): boolean {
  switch (op) {
    case '==': return actual === expected;
    case '!=': return actual !== expected;
    case '>=': return actual >= expected;
    case '<=': return actual <= expected;
    case '>': return actual > expected;
    case '<': return actual < expected;
  }
}

/** A duration for people: `1.5 s`, `250 ms`, `2.0 min`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}
