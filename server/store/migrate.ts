/**
 * Versioned migrations with a `schema_migrations` table. Each migration runs in its own
 * transaction together with its bookkeeping row, under a transaction-scoped advisory lock, so
 * two servers starting on one database apply each migration exactly once.
 */
import { createHash } from 'node:crypto';
import { StoreError } from '../../protocol/errors.js';
import type { SqlPort } from './sql-port.js';
import * as m001 from './migrations/001-paku-ota-schema.js';
import * as m002 from './migrations/002-edge-device-tables.js';
import * as m003 from './migrations/003-rollout-plans.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every migration, in order. Append only: never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, ...m001 },
  { version: 2, ...m002 },
  { version: 3, ...m003 },
];

/** Advisory lock key for migrations: the first 8 bytes of SHA-256("otasim:migrate"), as int8. */
const LOCK_KEY = createHash('sha256').update('otasim:migrate').digest().readBigInt64BE(0).toString();

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * Bring the schema up to date. Returns the versions applied by this call.
 * Throws `StoreError` `OTASIM_ERR_STORE_MIGRATION` when the database was migrated by a newer
 * otasim, or an applied migration's text differs from this build's.
 */
export async function migrate(port: SqlPort, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await port.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      checksum TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())`);
  });
  const applied: number[] = [];
  for (const m of migrations) {
    const did = await port.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
      const { rows } = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = $1', [m.version]);
      const have = rows[0];
      if (have !== undefined) {
        if (have.checksum !== checksum(m.sql)) {
          throw new StoreError(`migration ${m.version} (${m.name}) in the database differs from this build's; ` +
            'restore the original migration or use a fresh database', { code: 'OTASIM_ERR_STORE_MIGRATION' });
        }
        return false;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, checksum(m.sql)]);
      return true;
    });
    if (did) applied.push(m.version);
  }
  const { rows } = await port.query<{ v: number | string | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  const newest = Number(rows[0]?.v ?? 0);
  const known = migrations.at(-1)?.version ?? 0;
  if (newest > known) {
    throw new StoreError(`the database has schema version ${newest}, newer than this otasim knows (${known}); upgrade otasim`,
      { code: 'OTASIM_ERR_STORE_MIGRATION' });
  }
  return applied;
}
