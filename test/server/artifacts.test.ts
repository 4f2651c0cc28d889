/** The content-addressed artifact store: durable writes, dedupe, ranges, caps, hostile keys. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtasimError } from '../../protocol/errors.js';
import { ArtifactStore, artifactKey, parseArtifactKey } from '../../server/store/artifacts.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
async function drain(s: NodeJS.ReadableStream): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return new Uint8Array(Buffer.concat(parts));
}
/** Byte equality without a deep-equal walk over every element (slow for 100 kB). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
async function code(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  return e instanceof OtasimError ? e.code : `untyped: ${String(e)}`;
}

describe('ArtifactStore', () => {
  let dir: string;
  let store: ArtifactStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otasim-art-'));
    store = await ArtifactStore.create({ dir, maxBytes: 1 << 20 });
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('stores bytes under their SHA-256 and reads them back whole', async () => {
    const b = bytes(100_000);
    const info = await store.put(b);
    expect(info).toEqual({ key: `sha256/${sha(b)}`, sha256: sha(b), size: 100_000 });
    expect(same(await readFile(join(dir, 'sha256', sha(b).slice(0, 2), sha(b))), b)).toBe(true);
    expect(same(await store.readAll(info.key), b)).toBe(true);
    expect(await store.stat(info.key)).toEqual(info);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('streams in chunks from an async iterable, hashing as it goes', async () => {
    const b = bytes(300_000, 7);
    async function* chunks() { for (let i = 0; i < b.length; i += 4096) yield b.subarray(i, i + 4096); }
    const info = await store.put(chunks());
    expect(info.sha256).toBe(sha(b));
    expect(same(await store.readAll(info.key), b)).toBe(true);
  });

  it('identical content is stored once', async () => {
    const a = await store.put(bytes(5000));
    const b = await store.put(bytes(5000));
    expect(b.key).toBe(a.key);
    expect(await readdir(join(dir, 'sha256', a.sha256.slice(0, 2)))).toEqual([a.sha256]);
  });

  it('refuses an upload over the cap, leaving no file behind', async () => {
    async function* big() { for (let i = 0; i < 300; i++) yield bytes(4096, i); }
    expect(await code(store.put(big()))).toBe('OTASIM_ERR_ARTIFACT_TOO_LARGE');
    expect(await code(store.put(bytes(11), { maxBytes: 10 }))).toBe('OTASIM_ERR_ARTIFACT_TOO_LARGE');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect(await readdir(join(dir, 'sha256'))).toEqual([]);
  });

  it('a failing source aborts the write with a typed error and no leftovers', async () => {
    async function* broken() { yield bytes(10); throw new Error('client went away'); }
    expect(await code(store.put(broken()))).toBe('OTASIM_ERR_ARTIFACT_IO');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('removes leftovers of interrupted uploads on open', async () => {
    await writeFile(join(dir, 'tmp', 'deadbeef.part'), 'half');
    await ArtifactStore.create({ dir });
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('serves any inclusive byte range exactly (property)', async () => {
    const b = bytes(10_000, 3);
    const { key } = await store.put(b);
    await fc.assert(fc.asyncProperty(fc.nat(9_999), fc.nat(9_999), async (x, y) => {
      const [start, end] = x <= y ? [x, y] : [y, x];
      const r = await store.read(key, { start, end });
      expect(r.size).toBe(10_000);
      expect(r.length).toBe(end - start + 1);
      expect(same(await drain(r.stream), b.subarray(start, end + 1))).toBe(true);
    }), { numRuns: 50 });
  });

  it('refuses unsatisfiable ranges with a typed error', async () => {
    const { key } = await store.put(bytes(100));
    for (const range of [{ start: 100, end: 100 }, { start: 5, end: 4 }, { start: -1, end: 3 }, { start: 0, end: 100 }, { start: 0.5, end: 3 }]) {
      expect(await code(store.read(key, range))).toBe('OTASIM_ERR_ARTIFACT_RANGE');
    }
  });

  it('a missing artifact is a typed error, not ENOENT', async () => {
    const key = artifactKey('0'.repeat(64));
    expect(await code(store.read(key))).toBe('OTASIM_ERR_ARTIFACT_MISSING');
    expect(await store.stat(key)).toBeUndefined();
    expect(await store.has(key)).toBe(false);
    expect(await store.remove(key)).toBe(false);
  });

  it('no key can name a path outside the store', async () => {
    const hostile = ['../secret-outside', 'sha256/../../etc/passwd', `sha256/${'A'.repeat(64)}`, `sha256/${'0'.repeat(63)}`,
      `sha256/${'0'.repeat(64)}/..`, `/etc/passwd`, `sha256/${'0'.repeat(64)}\0`, '', 'sha256/', `sha512/${'0'.repeat(64)}`];
    for (const k of hostile) {
      expect(await code(store.read(k)), k).toBe('OTASIM_ERR_ARTIFACT_KEY');
      expect(await code(store.stat(k)), k).toBe('OTASIM_ERR_ARTIFACT_KEY');
      expect(await code(store.remove(k)), k).toBe('OTASIM_ERR_ARTIFACT_KEY');
    }
    await fc.assert(fc.property(fc.string(), (s) => {
      let ok: string | undefined;
      try { ok = parseArtifactKey(s); } catch (e) { expect(e).toBeInstanceOf(OtasimError); }
      if (ok !== undefined) expect(ok).toMatch(/^[0-9a-f]{64}$/);
    }));
  });

  it('remove deletes; an empty artifact reads as zero bytes', async () => {
    const { key } = await store.put(new Uint8Array(0));
    expect(await drain((await store.read(key)).stream)).toEqual(new Uint8Array(0));
    expect(await store.remove(key)).toBe(true);
    expect(await store.has(key)).toBe(false);
  });
});
