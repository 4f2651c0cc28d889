/**
 * `--shard auto/n --shard-claim postgres://…`: a replica claims the lowest free shard index by
 * taking a PostgreSQL session advisory lock, (fleet key, i), and holds it for as long as it runs.
 *
 * Why locks: compose replicas (`--scale fleet=4`) all start with the same command and cannot know
 * their index. A session lock is atomic (two replicas never get the same index), needs no table,
 * and is released by PostgreSQL itself when the holder's connection ends — a replica that dies
 * frees its index, and its restart (or any newcomer) claims that index again, so the same
 * devices come back. The fleet key names the fleet (prefix, size, n), so fleets sharing a
 * database do not collide.
 */
import pg from 'pg';
import { StoreError, UsageError } from '../../protocol/errors.js';
import type { Shard } from './shard.js';

/** A held shard. `release()` (or `await using`) gives the index back. */
export interface ShardClaim extends AsyncDisposable {
  readonly shard: Shard;
  /** Resolves if the claim is lost while held (the connection broke): another process may now run this shard. */
  readonly lost: Promise<Error>;
  release(): Promise<void>;
}

/** The first advisory-lock key: FNV-1a of the fleet key, as a signed 32-bit integer. */
export function claimKey(fleetKey: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(fleetKey, 'utf8')) h = Math.imul(h ^ byte, 0x01000193);
  return h | 0;
}

/** The fleet key of `otasim fleet`: replicas with the same flags share it. */
export function fleetKey(prefix: string, devices: number, count: number): string {
  return `otasim-fleet:${prefix}:${devices}:${count}`;
}

const redact = (url: string): string => url.replace(/\/\/[^@/]*@/, '//…@');

/**
 * Claim the lowest free index of `count` shards of the fleet `key`. Rejects with `StoreError`
 * (`OTASIM_ERR_STORE_UNREACHABLE`) when PostgreSQL cannot be reached, or `UsageError` when all
 * `count` are held (more replicas than shards).
 */
export async function claimShard(databaseUrl: string, count: number, key: string): Promise<ShardClaim> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000, keepAlive: true });
  let lose: (e: Error) => void = () => {};
  const lost = new Promise<Error>((resolve) => { lose = resolve; });
  client.on('error', (e) => lose(e));
  try {
    await client.connect();
  } catch (e) {
    throw new StoreError(`--shard-claim: PostgreSQL at ${redact(databaseUrl)} unreachable: ${(e as Error).message}`,
      { code: 'OTASIM_ERR_STORE_UNREACHABLE', cause: e });
  }
  let released = false;
  client.on('end', () => { if (!released) lose(new Error('the shard-claim connection to PostgreSQL closed')); });
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await client.end().catch(() => {});
  };
  try {
    const k = claimKey(key);
    for (let index = 1; index <= count; index++) {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [k, index]);
      if (r.rows[0]?.ok === true) {
        return { shard: { index, count }, lost, release, [Symbol.asyncDispose]: release };
      }
    }
  } catch (e) {
    await release();
    throw new StoreError(`--shard-claim: could not take a lock at ${redact(databaseUrl)}: ${(e as Error).message}`, { cause: e });
  }
  await release();
  throw new UsageError(`--shard auto/${count}: all ${count} shards of this fleet are held by other processes; run at most ${count} replicas, or raise n`);
}
