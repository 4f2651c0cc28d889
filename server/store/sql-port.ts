/**
 * The tiny query port both store implementations speak: positional-parameter SQL in, row
 * objects out, and a transaction that COMMITs before its promise resolves. PGlite and
 * node-postgres adapt to it in pglite-port.ts and pg-port.ts; all SQL lives above this seam.
 */

/** A row as the driver returns it (int8 → number or string, timestamptz → Date, jsonb → value). */
export type SqlRow = Record<string, unknown>;

/** Something that runs one SQL statement with `$n` parameters. */
export interface SqlRunner {
  query<R extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[] }>;
  /** Run a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** A database handle: queries, transactions, and a close. */
export interface SqlPort extends SqlRunner {
  /** `'pglite'` or `'postgres'`. */
  readonly kind: 'pglite' | 'postgres';
  /**
   * Run `fn` inside BEGIN … COMMIT; the promise resolves only after COMMIT succeeded. A throw
   * from `fn` rolls back and rethrows.
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The SQLSTATE and constraint of a driver error, when it has them (both drivers set these). */
export function pgErrorInfo(e: unknown): { code?: string; constraint?: string } {
  if (typeof e !== 'object' || e === null) return {};
  const o = e as { code?: unknown; constraint?: unknown };
  return {
    ...(typeof o.code === 'string' ? { code: o.code } : {}),
    ...(typeof o.constraint === 'string' ? { constraint: o.constraint } : {}),
  };
}
