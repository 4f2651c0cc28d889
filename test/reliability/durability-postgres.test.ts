/**
 * Crash durability on PostgreSQL (DATABASE_URL, a fresh schema per run): the same rehearsal as
 * durability-pglite.test.ts, with the server's metadata in PostgreSQL.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, it } from 'vitest';
import { projectRoot } from '../fixtures.js';
import { checkDurability } from './durability-kit.js';

const url = process.env['DATABASE_URL'];
const built = existsSync(join(projectRoot, 'dist', 'cli', 'main.js'));
async function reachable(): Promise<boolean> {
  if (url === undefined) return false;
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}
const ok = built && (await reachable());
if (!ok) process.stderr.write(`durability-postgres: ${built ? 'DATABASE_URL unset or unreachable' : 'dist/ is absent (run npm run build)'}; skipping\n`);

describe.skipIf(!ok)('crash durability: PostgreSQL', () => {
  it('loses no acknowledged record across a SIGKILL mid-rollout, resumes the phase, harms no device', async () => {
    await checkDurability({ backend: 'postgres', databaseUrl: url as string });
  }, 600_000);
});
