/** SqlPort over PGlite (embedded PostgreSQL in WASM), in a data directory or in memory. */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlPort, SqlRow, SqlRunner } from './sql-port.js';

/**
 * Open PGlite in `dataDir` (created if missing) or, with `undefined`, in memory.
 * PGlite serves one connection; its `transaction()` holds an exclusive lock for the callback,
 * so concurrent transactions queue rather than interleave.
 */
export async function openPglitePort(dataDir: string | undefined): Promise<SqlPort> {
  const db = dataDir === undefined ? await PGlite.create() : await PGlite.create({ dataDir });
  const runner = (q: PGlite | Transaction): SqlRunner => ({
    async query<R extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]) {
      const r = await q.query<R>(sql, params === undefined ? undefined : [...params]);
      return { rows: r.rows };
    },
    async exec(script: string) {
      await q.exec(script);
    },
  });
  const top = runner(db);
  return {
    kind: 'pglite',
    query: top.query,
    exec: top.exec,
    transaction: (fn) => db.transaction((tx) => fn(runner(tx))),
    close: () => db.close(),
  };
}
