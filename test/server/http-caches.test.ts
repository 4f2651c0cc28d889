/**
 * The HTTP hot paths' shortcuts, proven to keep their promises: group commit batches and reports
 * failures to every waiter; the offer cache serves within its TTL and never after a local write;
 * a device's unchanged check-in is written at most once per resolution, a changed one at once;
 * a firmware file damaged on disk is refused, never served.
 */
import { readdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../server/http/group-commit.js';
import { RecentCheckIns } from '../../server/http/routes/check.js';
import { http, image, sendJson, startServer, TEST_KEY, upload, SERVER_START_MS } from './http-harness.js';

describe('GroupCommit', () => {
  it('adds made in one turn go out in one flush; each waiter settles with its batch', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number>(async (items) => {
      batches.push(items);
      if (items.includes(13)) throw new Error('refused');
    });
    const first = await Promise.allSettled([1, 2, 3].map((n) => gc.add(n)));
    expect(first.every((r) => r.status === 'fulfilled')).toBe(true);
    const second = await Promise.allSettled([12, 13].map((n) => gc.add(n)));
    expect(second.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(batches).toEqual([[1, 2, 3], [12, 13]]);
    await gc.idle();
  });

  it('items added while a flush runs form the next batch; maxBatch caps a flush', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const gc = new GroupCommit<number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
    }, 2);
    const a = gc.add(1);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const rest = [2, 3, 4].map((n) => gc.add(n));
    release();
    await Promise.all([a, ...rest]);
    expect(batches).toEqual([[1], [2, 3], [4]]);
  });
});

describe('RecentCheckIns', () => {
  it('fresh only for the same key within the resolution; 0 disables', () => {
    let t = 0;
    const r = new RecentCheckIns(() => t, 1000, 2);
    r.committed('a', 'k', 0);
    expect(r.fresh('a', 'k')).toBe(true);
    expect(r.fresh('a', 'other')).toBe(false);
    t = 999;
    expect(r.fresh('a', 'k')).toBe(true);
    t = 1000;
    expect(r.fresh('a', 'k')).toBe(false);
    r.committed('b', 'k', t);
    r.committed('c', 'k', t); // over max: forgets everything first
    expect(r.fresh('b', 'k')).toBe(false);
    const off = new RecentCheckIns(() => 0, 0);
    off.committed('a', 'k', 0);
    expect(off.fresh('a', 'k')).toBe(false);
  });
});

describe('caches in a running server (manual clock)', () => {
  it('check-ins: unchanged ones are rewritten once per resolution, a new version at once; offers see local writes at once', async () => {
    let t = 0;
    await using s = await startServer({ checkInResolutionMs: 10_000, cacheTtlMs: 1_000 }, { now: () => t });
    const seen = async (): Promise<string> => {
      const r = await http(s.url, 'GET', '/api/admin/devices', { key: TEST_KEY });
      return `${r.json.devices[0].current_firmware_version}@${r.json.devices[0].last_seen}`;
    };
    const check = (v: string) => http(s.url, 'GET', `/api/firmware/check?device_id=d1&device_model=esp32&current_version=${v}`);
    await check('1.0.0');
    const a = await seen();
    await check('1.0.0');
    expect(await seen()).toBe(a); // within resolution: not rewritten
    await check('1.0.1');
    expect((await seen()).startsWith('1.0.1@')).toBe(true); // a new version is written at once
    t = 10_001;
    const b = await seen();
    await check('1.0.1');
    expect(await seen()).not.toBe(b); // resolution passed: last_seen moves

    // A rollout created through this server is seen by the very next check (cache invalidated).
    expect((await upload(s.url, '1.1.0', 'esp32', image('1.1.0'))).status).toBe(200);
    expect((await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'all', firmware_version: '1.1.0', device_model: 'esp32', target_type: 'all' })).status).toBe(200);
    expect((await check('1.0.1')).json.update_available).toBe(true);
    expect((await http(s.url, 'POST', '/api/admin/rollout/all/deactivate', { key: TEST_KEY })).status).toBe(200);
    expect((await check('1.0.1')).json.update_available).toBe(false);

    // A change written behind the server's back (another server on the same database) shows after the TTL.
    await s.server.store.updateRollout('all', { is_active: true });
    expect((await check('1.0.1')).json.update_available).toBe(false);
    t += 1_000;
    expect((await check('1.0.1')).json.update_available).toBe(true);
  }, SERVER_START_MS);

  it('a firmware file damaged on disk is refused with 500 and never served', async () => {
    await using s = await startServer();
    const bytes = image('3.0.0');
    expect((await upload(s.url, '3.0.0', 'esp32', bytes)).status).toBe(200);
    const root = join(s.dir, 'artifacts', 'sha256');
    const [sub] = await readdir(root);
    const [file] = await readdir(join(root, sub as string));
    const path = join(root, sub as string, file as string);
    const damaged = Buffer.from(await readFile(path));
    damaged[100] = (damaged[100] ?? 0) ^ 1;
    await writeFile(path, damaged);
    const r = await http(s.url, 'GET', '/api/firmware/download/3.0.0');
    expect(r.status).toBe(500);
    expect(r.json.error.code).toBe('OTASIM_ERR_ARTIFACT_IO');
    expect(r.json.error.message).toMatch(/damaged/);
    // Repaired, it is served (the failed read was not cached).
    await writeFile(path, bytes);
    const ok = await http(s.url, 'GET', '/api/firmware/download/3.0.0');
    expect(ok.status).toBe(200);
    expect(ok.bytes.equals(Buffer.from(bytes))).toBe(true);
  }, SERVER_START_MS);
});
