/** `openStore`: the one way to get a migrated, ready Store (STYLE.md §11 explicit lifecycles). */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../../protocol/errors.js';
import { lockDataDir } from './dir-lock.js';
import { migrate } from './migrate.js';
import { openPgPort } from './pg-port.js';
import { openPglitePort, type PglitePort } from './pglite-port.js';
import { dropTemplate, readTemplate, templateDataDir, writeTemplate } from './pglite-template.js';
import type { SqlPort } from './sql-port.js';
import { SqlStore, storeError } from './sql-store.js';
import type { Store, StoreLocation, StoreOptions } from './store.js';

/** Schema names are SQL identifiers we create; keep them boring. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Open PGlite, from the cached template when the directory is fresh and a template exists.
 * Returns whether the directory was fresh and no template was used (then one should be saved).
 */
async function openPglite(dataDir: string | undefined, templateDir: string | undefined): Promise<{ port: PglitePort; saveTemplate: boolean }> {
  const fresh = dataDir === undefined || !existsSync(join(dataDir, 'PG_VERSION'));
  if (!fresh || templateDir === undefined) return { port: await openPglitePort(dataDir), saveTemplate: false };
  const unpacked = dataDir === undefined ? undefined : templateDataDir(templateDir);
  if (dataDir !== undefined && unpacked !== undefined) {
    try {
      await cp(unpacked, dataDir, { recursive: true });
      return { port: await openPglitePort(dataDir), saveTemplate: false };
    } catch {
      for (const f of await readdir(dataDir)) await rm(join(dataDir, f), { recursive: true, force: true });
    }
  }
  const template = await readTemplate(templateDir);
  if (template !== undefined) {
    try {
      return { port: await openPglitePort(dataDir, { loadDataDir: template }), saveTemplate: false };
    } catch {
      // A damaged template: forget it, empty what it half-wrote, and take the slow path.
      await dropTemplate(templateDir);
      if (dataDir !== undefined) {
        for (const f of await readdir(dataDir)) await rm(join(dataDir, f), { recursive: true, force: true });
      }
    }
  }
  return { port: await openPglitePort(dataDir), saveTemplate: true };
}

/**
 * Open and migrate a store.
 * - `{data: dir}`: PGlite in `dir` (created if missing; the default embedded store). One store
 *   per directory: a second open while the first is live throws `OTASIM_ERR_STORE_LOCKED`
 *   (the lock is the file `<dir>.lock` beside it).
 * - `{memory: true}`: PGlite in memory (tests, throwaway rehearsals).
 * - `{database: url, schema?}`: PostgreSQL; with `schema`, tables live in that schema
 *   (created if missing) via `search_path`.
 * With `opts.pgliteTemplateDir`, a fresh PGlite starts from a cached template (seconds faster).
 * Throws `StoreError` (`OTASIM_ERR_STORE_UNREACHABLE`, `OTASIM_ERR_STORE_MIGRATION`, …).
 */
export async function openStore(where: StoreLocation, opts: StoreOptions = {}): Promise<Store> {
  let port: SqlPort;
  let pglite: { port: PglitePort; saveTemplate: boolean } | undefined;
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
        pglite = await openPglite(where.data, opts.pgliteTemplateDir);
        const inner = pglite.port;
        port = { ...inner, close: () => inner.close().finally(unlock) };
      } catch (e) {
        await unlock();
        throw e;
      }
    } else {
      pglite = await openPglite(undefined, opts.pgliteTemplateDir);
      port = pglite.port;
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
    if (pglite?.saveTemplate && opts.pgliteTemplateDir !== undefined) {
      await writeTemplate(opts.pgliteTemplateDir, await pglite.port.dumpDataDir());
    }
  } catch (e) {
    await port.close().catch(() => {});
    throw storeError(e, 'migrating the schema');
  }
  return new SqlStore(port, opts.clock);
}
