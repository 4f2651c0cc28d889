/**
 * Harnesses that open a Store for the abstract suite: PGlite (in memory, or in a tmp data dir)
 * and PostgreSQL (a unique schema per run, dropped after). Each gives the suite a manual clock
 * and a `reset()` that empties the tables between tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../../server/store/migrate.js';
import { openPgPort, quoteIdent } from '../../server/store/pg-port.js';
import { openPglitePort } from '../../server/store/pglite-port.js';
import { readTemplate, writeTemplate } from '../../server/store/pglite-template.js';
import type { SqlPort } from '../../server/store/sql-port.js';
import { SqlStore } from '../../server/store/sql-store.js';
import type { Store } from '../../server/store/store.js';

/** A clock the test moves by hand. Starts at 2026-05-05T10:00:00Z. */
export class ManualClock {
  ms = Date.parse('2026-05-05T10:00:00.000Z');
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface StoreHarness {
  store: Store;
  clock: ManualClock;
  /** Empty every table (not schema_migrations) and restart ids. */
  reset(): Promise<void>;
  /** Run SQL with write access, bypassing the store (seeds' admin SQL, tampering tests). */
  exec(sql: string): Promise<void>;
  /** The raw port, for migration tests. */
  port: SqlPort;
  /** A second, independent connection's view (PostgreSQL only), to prove COMMIT happened. */
  otherConnection?: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const TABLES = 'devices, firmware_releases, device_update_status, rollout_configurations, ota_events, edge_device_status, edge_device_configs';

function harness(port: SqlPort, extra: Partial<StoreHarness> & { close: () => Promise<void> }): StoreHarness {
  const clock = new ManualClock();
  const store = new SqlStore(port, clock.now);
  return {
    store,
    clock,
    port,
    reset: async () => {
      await port.exec(`TRUNCATE ${TABLES} RESTART IDENTITY`);
      clock.ms = Date.parse('2026-05-05T10:00:00.000Z');
    },
    exec: (sql) => port.exec(sql),
    ...extra,
    close: async () => {
      await store.close();
      await extra.close();
    },
  };
}

/** Where tests cache the fresh-PGlite template (a few MB, keyed by PGlite version and schema). */
export const TEST_TEMPLATE_DIR = join(tmpdir(), 'otasim-test-pglite-template');

/** PGlite; `onDisk` puts it in a fresh tmp data dir that close() removes. */
export async function openPgliteHarness(onDisk = false): Promise<StoreHarness> {
  const dir = onDisk ? await mkdtemp(join(tmpdir(), 'otasim-store-')) : undefined;
  // The same template cache openStore uses, so every suite after the first skips initdb.
  const template = await readTemplate(TEST_TEMPLATE_DIR);
  const port = await openPglitePort(dir, template === undefined ? {} : { loadDataDir: template });
  await migrate(port);
  if (template === undefined) await writeTemplate(TEST_TEMPLATE_DIR, await port.dumpDataDir());
  return harness(port, { close: async () => { if (dir) await rm(dir, { recursive: true, force: true }); } });
}

/** The PostgreSQL URL the suites use: `DATABASE_URL`, default the machine's service. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** True when PostgreSQL answers; prints the one-line skip notice otherwise. */
export async function postgresReachable(label: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch (e) {
    process.stderr.write(`${label}: PostgreSQL at ${DATABASE_URL.replace(/\/\/[^@]*@/, '//…@')} unreachable (${(e as Error).message}); skipping\n`);
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** A unique schema name for this run. */
export function uniqueSchema(tag: string): string {
  return `otasim_${tag}_${process.pid}_${Date.now().toString(36)}`;
}

/** Drop a schema made by a test run. */
export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } finally {
    await c.end();
  }
}

/** PostgreSQL in a unique schema; close() drops it. */
export async function openPgHarness(): Promise<StoreHarness> {
  const schema = uniqueSchema('store');
  const port = await openPgPort(DATABASE_URL, { schema });
  await migrate(port);
  const other = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${quoteIdent(schema)}` });
  await other.connect();
  return harness(port, {
    otherConnection: async (sql, params) => (await other.query(sql, params)).rows as Record<string, unknown>[],
    close: async () => {
      await other.end();
      await dropSchema(schema);
    },
  });
}
