/** SqlPort over PGlite (embedded PostgreSQL in WASM), in a data directory or in memory. */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlPort, SqlRow, SqlRunner } from './sql-port.js';

/** A PGlite port can also dump its data directory (for the template cache). */
export interface PglitePort extends SqlPort {
  /** The data directory as a gzipped tar. */
  dumpDataDir(): Promise<Blob>;
}

/**
 * Open PGlite in `dataDir` (created if missing) or, with `undefined`, in memory; with
 * `loadDataDir`, a fresh directory starts as a copy of that tar instead of running initdb.
 * PGlite serves one connection; its `transaction()` holds an exclusive lock for the callback,
 * so concurrent transactions queue rather than interleave.
 */
export async function openPglitePort(dataDir: string | undefined, opts: { loadDataDir?: Blob } = {}): Promise<PglitePort> {
  const db = await PGlite.create({
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(opts.loadDataDir !== undefined ? { loadDataDir: opts.loadDataDir } : {}),
  });
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
    dumpDataDir: () => db.dumpDataDir('gzip'),
    close: () => db.close(),
  };
}
