/**
 * `--shard auto/n --shard-claim postgres://…`, the scheme that gives each `docker compose up
 * --scale fleet=n` replica its own shard: claims against the real PostgreSQL (DATABASE_URL; skip
 * with a one-line notice when unreachable), and `otasim fleet` run in this process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { fleetCommand } from '../../cli/commands/fleet.js';
import { UsageError } from '../../protocol/errors.js';
import { claimKey, claimShard, fleetKey, parseAutoShard, type ShardClaim } from '../../simulator/fleet/index.js';
import { DATABASE_URL, postgresReachable } from '../server/store-harness.js';

const pgUp = await postgresReachable('compose-shard');
/** Terminate the backend holding shard `index` of fleet `key`; how many were terminated. */
async function killHolder(key: string, index: number): Promise<number> {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    const r = await admin.query<{ n: number }>(
      `SELECT pg_terminate_backend(pid)::int AS n FROM pg_locks
       WHERE locktype = 'advisory' AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2`,
      [claimKey(key) >>> 0, index]);
    return r.rows.reduce((n, x) => n + x.n, 0);
  } finally {
    await admin.end();
  }
}
const uniqueKey = (): string => `otasim-test-fleet:${randomBytes(6).toString('hex')}`;
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

/**
 * Run `otasim fleet ARGS` in this process through the command module alone (as cli/main.ts
 * registers it); `error` is what main would report (a UsageError exits 2).
 */
async function fleet(args: string[]): Promise<{ status: number | undefined; stdout: string; stderr: string; error: unknown }> {
  let stdout = '';
  let stderr = '';
  let status: number | undefined;
  const ctx = { stdout: { write: (s: string) => { stdout += s; } }, stderr: { write: (s: string) => { stderr += s; } }, setExitCode: (c: number) => { status = c; } };
  let error: unknown;
  try {
    await yargs(['fleet', ...args]).strict().fail((msg, err) => { throw err ?? new UsageError(msg); }).command(fleetCommand(ctx)).parseAsync();
  } catch (e) {
    error = e;
  }
  return { status, stdout, stderr, error };
}

describe('parseAutoShard', () => {
  it('reads auto/n and leaves i/n to parseShard', () => {
    expect(parseAutoShard('auto/4')).toBe(4);
    expect(parseAutoShard(' auto / 1 ')).toBe(1);
    expect(parseAutoShard('2/4')).toBeNull();
    expect(parseAutoShard('1/1')).toBeNull();
  });

  it('refuses auto/ with a bad n as a usage error', () => {
    for (const bad of ['auto/0', 'auto/', 'auto/x', 'auto/-1', 'auto/65537', 'auto/2.5']) expect(code(() => parseAutoShard(bad))).toBe('OTASIM_ERR_USAGE');
  });

  it('derives a signed 32-bit lock key that differs between fleets', () => {
    const a = claimKey('otasim-fleet:sim:1000:4');
    expect(Number.isInteger(a) && a >= -(2 ** 31) && a < 2 ** 31).toBe(true);
    expect(claimKey('otasim-fleet:sim:1000:4')).toBe(a);
    expect(claimKey('otasim-fleet:sim:1000:8')).not.toBe(a);
  });
});

describe.skipIf(!pgUp)('claimShard against PostgreSQL', () => {
  const held: ShardClaim[] = [];
  afterAll(async () => {
    await Promise.all(held.map((c) => c.release()));
  });
  const claim = async (key: string, n: number): Promise<ShardClaim> => {
    const c = await claimShard(DATABASE_URL, n, key);
    held.push(c);
    return c;
  };

  it('gives 4 replicas starting together the indexes 1…4, one each; a 5th is refused', async () => {
    const key = uniqueKey();
    const claims = await Promise.all([0, 1, 2, 3].map(() => claim(key, 4)));
    expect(claims.map((c) => c.shard.index).sort()).toEqual([1, 2, 3, 4]);
    expect(claims.every((c) => c.shard.count === 4)).toBe(true);
    const fifth = await claimShard(DATABASE_URL, 4, key).then(() => null, (e: unknown) => e);
    expect(fifth).toMatchObject({ code: 'OTASIM_ERR_USAGE' });
    expect((fifth as Error).message).toMatch(/all 4 shards of this fleet are held/);
  });

  it('a released index is claimed again by the next replica, so a restart runs the same devices', async () => {
    const key = uniqueKey();
    const [a, b, c] = [await claim(key, 3), await claim(key, 3), await claim(key, 3)];
    expect([a?.shard.index, b?.shard.index, c?.shard.index]).toEqual([1, 2, 3]);
    await b?.release();
    await b?.release(); // idempotent
    expect((await claim(key, 3)).shard.index).toBe(2);
  });

  it('a replica whose connection dies loses its claim (and says so); the index is free again', async () => {
    const key = uniqueKey();
    const victim = await claim(key, 2);
    expect(await killHolder(key, victim.shard.index)).toBe(1);
    const lost = await victim.lost;
    expect(lost).toBeInstanceOf(Error);
    expect((await claim(key, 2)).shard.index).toBe(victim.shard.index);
  });

  it('an unreachable database is a typed store error', async () => {
    const e = await claimShard('postgres://postgres@127.0.0.1:1/none', 2, uniqueKey()).then(() => null, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'OTASIM_ERR_STORE_UNREACHABLE' });
    expect((e as Error).message).not.toContain('\n');
  });
});

describe('otasim fleet --shard auto/n', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'otasim-shard-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it.each([
    [['--shard', 'auto/2'], /--shard auto\/2 needs --shard-claim/],
    [['--shard', '1/2', '--shard-claim', 'postgres://x/y'], /--shard-claim needs --shard auto\/n/],
    [['--shard', 'auto/0', '--shard-claim', 'postgres://x/y'], /--shard auto\/0: expected auto\/n/],
    [['--shard', 'auto/2', '--shard-claim', 'mqtt://x'], /--shard-claim mqtt:\/\/x: expected a postgres:\/\/ URL/],
  ])('refuses %j with a usage error (exit 2)', async (flags, message) => {
    const r = await fleet(['--devices', '4', '--server', 'embedded', ...flags]);
    expect(r.error).toMatchObject({ code: 'OTASIM_ERR_USAGE' });
    expect((r.error as Error).message).toMatch(message);
  });

  it.skipIf(!pgUp)('two replicas with the same command run disjoint halves of the fleet', async () => {
    const prefix = `shard${randomBytes(3).toString('hex')}`;
    const run = (name: string) => fleet(['--devices', '6', '--server', 'embedded', '--prefix', prefix, '--shard', 'auto/2',
      '--shard-claim', DATABASE_URL, '--duration', '4s', '--events', join(dir, `${name}.ndjson`), '--json']);
    const [a, b] = await Promise.all([run('a'), run('b')]);
    for (const r of [a, b]) expect([r.status, r.error], r.stderr).toEqual([0, undefined]);
    expect([a.stderr, b.stderr].map((s) => /claimed shard (\d)\/2/.exec(s)?.[1]).sort()).toEqual(['1', '2']);
    const devices = async (name: string): Promise<Set<string>> => new Set((await readFile(join(dir, `${name}.ndjson`), 'utf8')).trim().split('\n')
      .map((l) => JSON.parse(l) as { type: string; device?: string }).filter((e) => e.type === 'state').map((e) => e.device ?? ''));
    const [da, db] = [await devices('a'), await devices('b')];
    expect(da.size).toBe(3);
    expect(db.size).toBe(3);
    expect(new Set([...da, ...db]).size).toBe(6);
    for (const r of [a, b]) expect((JSON.parse(r.stdout) as { devices: number }).devices).toBe(3);
  }, 120_000);

  it.skipIf(!pgUp)('a replica that loses its claim mid-run stops, says why, and exits 1 (never runs a shard twice)', async () => {
    const prefix = `lost${randomBytes(3).toString('hex')}`;
    const running = fleet(['--devices', '2', '--server', 'embedded', '--prefix', prefix, '--shard', 'auto/1',
      '--shard-claim', DATABASE_URL, '--duration', '10m', '--json']);
    // The claim is taken before anything else starts; kill its connection once it is there.
    let killed = 0;
    while (killed === 0) {
      killed = await killHolder(fleetKey(prefix, 2, 1), 1);
      if (killed === 0) await new Promise((r) => setImmediate(r));
    }
    const r = await running;
    expect(r.error).toBeUndefined();
    expect(r.stderr).toMatch(/otasim fleet: lost the shard claim \(.+\), stopping/);
    expect(r.status).toBe(1);
    expect((JSON.parse(r.stdout) as { ended: string }).ended).toBe('signal');
  }, 120_000);
});
