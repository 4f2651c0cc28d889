/** `openStore`: the one way to get a migrated, ready Store (STYLE.md §11 explicit lifecycles). */
import { mkdir } from 'node:fs/promises';
import { StoreError } from '../../protocol/errors.js';
import { lockDataDir } from './dir-lock.js';
import { migrate } from './migrate.js';
import { openPgPort } from './pg-port.js';
import { openPglitePort } from './pglite-port.js';
import type { SqlPort } from './sql-port.js';
import { SqlStore, storeError } from './sql-store.js';
import type { Store, StoreLocation, StoreOptions } from './store.js';

/** Schema names are SQL identifiers we create; keep them boring. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Open and migrate a store.
 * - `{data: dir}`: PGlite in `dir` (created if missing; the default embedded store). One store
 *   per directory: a second open while the first is live throws `OTASIM_ERR_STORE_LOCKED`.
 * - `{memory: true}`: PGlite in memory (tests, throwaway rehearsals).
 * - `{database: url, schema?}`: PostgreSQL; with `schema`, tables live in that schema
 *   (created if missing) via `search_path`.
 * Throws `StoreError` (`OTASIM_ERR_STORE_UNREACHABLE`, `OTASIM_ERR_STORE_MIGRATION`, …).
 */
export async function openStore(where: StoreLocation, opts: StoreOptions = {}): Promise<Store> {
  let port: SqlPort;
  try {
    if ('database' in where) {
      if (where.schema !== undefined && !SCHEMA_NAME.test(where.schema)) {
        throw new StoreError(`schema name ${JSON.stringify(where.schema)} must match ${SCHEMA_NAME}`, { code: 'OTASIM_ERR_STORE_CONFIG' });
      }
      port = await openPgPort(where.database, {
        ...(where.schema !== undefined ? { schema: where.schema } : {}),
        ...(opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {}),
      });
    } else if ('data' in where) {
      await mkdir(where.data, { recursive: true });
      const unlock = await lockDataDir(where.data);
      try {
        const inner = await openPglitePort(where.data);
        port = { ...inner, close: () => inner.close().finally(unlock) };
      } catch (e) {
        await unlock();
        throw e;
      }
    } else {
      port = await openPglitePort(undefined);
    }
  } catch (e) {
    const err = storeError(e, 'opening the store');
    // A refused connection is always "unreachable", whatever the driver called it.
    throw err.code === 'OTASIM_ERR_STORE' && 'database' in where
      ? new StoreError(`cannot reach PostgreSQL: ${err.message}`, { cause: e, code: 'OTASIM_ERR_STORE_UNREACHABLE' })
      : err;
  }
  try {
    await migrate(port);
  } catch (e) {
    await port.close().catch(() => {});
    throw storeError(e, 'migrating the schema');
  }
  return new SqlStore(port, opts.clock);
}
