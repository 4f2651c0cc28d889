/**
 * Firmware download semantics: the real service's headers, `Range` (206), unsatisfiable ranges
 * (416), `If-Range` with the ETag and with Last-Modified, HEAD, If-None-Match — against a
 * started server, plus the pure range rules.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { contentRange, ifNoneMatchHits, ifRangeAllows, parseRange } from '../../server/http/range.js';
import { http, image, startServer, upload, type TestServer, SERVER_START_MS } from './http-harness.js';

describe('parseRange (RFC 9110 §14)', () => {
  it.each([
    [undefined, 100, { kind: 'full' }],
    ['bytes=0-9', 100, { kind: 'partial', start: 0, end: 9 }],
    ['bytes=90-', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', 100, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=50-500', 100, { kind: 'partial', start: 50, end: 99 }],
    ['BYTES = 1-1', 100, { kind: 'partial', start: 1, end: 1 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=100-200', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-0', 0, { kind: 'unsatisfiable' }],
    ['bytes=200-300, 400-', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-1, 200-300', 100, { kind: 'partial', start: 0, end: 1 }],
    ['bytes=0-1,5-6', 100, { kind: 'full' }],
    ['bytes=5-1', 100, { kind: 'full' }],
    ['bytes=a-b', 100, { kind: 'full' }],
    ['bytes=-', 100, { kind: 'full' }],
    ['items=0-1', 100, { kind: 'full' }],
    ['bytes=', 100, { kind: 'full' }],
  ] as const)('%s of %i bytes', (h, size, want) => {
    expect(parseRange(h, size)).toEqual(want);
  });

  it('a partial range is always inside the representation', () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: 0, max: 1e6 }), (h, size) => {
      const d = parseRange(`bytes=${h}`, size);
      if (d.kind === 'partial') {
        expect(d.start).toBeGreaterThanOrEqual(0);
        expect(d.end).toBeGreaterThanOrEqual(d.start);
        expect(d.end).toBeLessThan(size);
      }
    }));
    fc.assert(fc.property(fc.nat(1000), fc.nat(1000), fc.integer({ min: 1, max: 1000 }), (a, b, size) => {
      const d = parseRange(`bytes=${a}-${b}`, size);
      if (a > b) expect(d).toEqual({ kind: 'full' });
      else if (a >= size) expect(d).toEqual({ kind: 'unsatisfiable' });
      else expect(d).toEqual({ kind: 'partial', start: a, end: Math.min(b, size - 1) });
    }));
  });

  it('If-Range: strong ETag match or exact date; weak tags never', () => {
    const v = { etag: '"abc"', lastModified: Date.UTC(2026, 0, 2, 3, 4, 5, 678) };
    expect(ifRangeAllows(undefined, v)).toBe(true);
    expect(ifRangeAllows('"abc"', v)).toBe(true);
    expect(ifRangeAllows('"abd"', v)).toBe(false);
    expect(ifRangeAllows('W/"abc"', v)).toBe(false);
    expect(ifRangeAllows(new Date(v.lastModified).toUTCString(), v)).toBe(true);
    expect(ifRangeAllows(new Date(v.lastModified + 1000).toUTCString(), v)).toBe(false);
    expect(ifRangeAllows('not a date', v)).toBe(false);
    expect(ifNoneMatchHits('"x", W/"abc"', '"abc"')).toBe(true);
    expect(ifNoneMatchHits('*', '"abc"')).toBe(true);
    expect(ifNoneMatchHits('"x"', '"abc"')).toBe(false);
    expect(contentRange(0, 9, 100)).toBe('bytes 0-9/100');
  });
});

const MODES = [['from the verified memory cache', 64 * 1024 * 1024], ['streamed from disk', 0]] as const;

for (const [mode, downloadCacheBytes] of MODES) describe(`GET/HEAD /api/firmware/download/{version} (${mode})`, () => {
  let s: TestServer;
  const bytes = image('1.4.3', 'esp32s3', 200 * 1024);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const path = '/api/firmware/download/1.4.3?device_model=lilygo-t-display-s3-heater';
  beforeAll(async () => {
    s = await startServer({ downloadCacheBytes });
    expect((await upload(s.url, '1.4.3', 'lilygo-t-display-s3-heater', bytes)).status).toBe(200);
  }, SERVER_START_MS);
  afterAll(async () => {
    await s?.[Symbol.asyncDispose]();
  });

  it('200 with the real service\'s headers and the exact bytes (the workflow\'s URL shape)', async () => {
    const r = await http(s.url, 'GET', path);
    expect(r.status).toBe(200);
    expect(r.bytes.equals(Buffer.from(bytes))).toBe(true);
    expect(r.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length),
      'x-firmware-version': '1.4.3',
      'x-checksum-sha256': sha,
      'content-disposition': 'attachment; filename="lilygo-t-display-s3-heater_1.4.3.bin"',
      'accept-ranges': 'bytes',
      etag: `"${sha}"`,
    });
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(Date.parse(String(r.headers['last-modified']))).toBeGreaterThan(0);
    // Without device_model: the release of that version (only one model has it).
    expect((await http(s.url, 'GET', '/api/firmware/download/1.4.3')).bytes.equals(Buffer.from(bytes))).toBe(true);
  });

  it('Range gives 206 with Content-Range and exactly those bytes', async () => {
    for (const [h, start, end] of [['bytes=0-15', 0, 15], ['bytes=1000-', 1000, bytes.length - 1], ['bytes=-24', bytes.length - 24, bytes.length - 1],
      [`bytes=${bytes.length - 1}-${bytes.length + 100}`, bytes.length - 1, bytes.length - 1]] as const) {
      const r = await http(s.url, 'GET', path, { headers: { range: h } });
      expect(r.status, h).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${bytes.length}`);
      expect(r.headers['content-length']).toBe(String(end - start + 1));
      expect(r.bytes.equals(Buffer.from(bytes.subarray(start, end + 1)))).toBe(true);
      expect(r.headers['x-checksum-sha256']).toBe(sha);
    }
  });

  it('a resumed download stitched from ranges hashes to X-Checksum-SHA256', async () => {
    const parts: Buffer[] = [];
    for (let off = 0; off < bytes.length; off += 65_536) {
      parts.push((await http(s.url, 'GET', path, { headers: { range: `bytes=${off}-${off + 65_535}` } })).bytes);
    }
    expect(createHash('sha256').update(Buffer.concat(parts)).digest('hex')).toBe(sha);
  });

  it('an unsatisfiable range is 416 with Content-Range: bytes */size and the error body', async () => {
    const r = await http(s.url, 'GET', path, { headers: { range: `bytes=${bytes.length}-` } });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${bytes.length}`);
    expect(r.json.error.code).toBe('OTASIM_ERR_RANGE_NOT_SATISFIABLE');
  });

  it('a Range the server cannot or will not serve as one part is ignored: 200, whole body', async () => {
    for (const h of ['bytes=0-1,10-11', 'bytes=9-1', 'lines=1-2', 'bytes=x']) {
      const r = await http(s.url, 'GET', path, { headers: { range: h } });
      expect(r.status, h).toBe(200);
      expect(r.bytes.length).toBe(bytes.length);
    }
  });

  it('If-Range with the current ETag or Last-Modified honours the Range; a stale validator gets the whole body', async () => {
    const head = await http(s.url, 'HEAD', path);
    const lm = String(head.headers['last-modified']);
    const partial = async (ifRange: string) => http(s.url, 'GET', path, { headers: { range: 'bytes=0-9', 'if-range': ifRange } });
    expect((await partial(`"${sha}"`)).status).toBe(206);
    expect((await partial(lm)).status).toBe(206);
    for (const stale of ['"0000"', `W/"${sha}"`, new Date(Date.parse(lm) - 60_000).toUTCString()]) {
      const r = await partial(stale);
      expect(r.status, stale).toBe(200);
      expect(r.bytes.length).toBe(bytes.length);
    }
  });

  it('HEAD: the GET headers and no body; Range is ignored for HEAD', async () => {
    const r = await http(s.url, 'HEAD', path, { headers: { range: 'bytes=0-9' } });
    expect(r.status).toBe(200);
    expect(r.bytes.length).toBe(0);
    expect(r.headers).toMatchObject({ 'content-length': String(bytes.length), 'x-checksum-sha256': sha, 'x-firmware-version': '1.4.3', etag: `"${sha}"` });
    expect((await http(s.url, 'HEAD', '/api/firmware/download/0.0.0')).status).toBe(404);
  });

  it('If-None-Match with the ETag is 304 with no body', async () => {
    const r = await http(s.url, 'GET', path, { headers: { 'if-none-match': `"${sha}"` } });
    expect(r.status).toBe(304);
    expect(r.bytes.length).toBe(0);
  });

  it('two models may share a version; device_model picks the right bytes', async () => {
    const other = image('1.4.3', 'esp32', 70 * 1024);
    expect((await upload(s.url, '1.4.3', 'esp32', other)).status).toBe(200);
    const a = await http(s.url, 'GET', '/api/firmware/download/1.4.3?device_model=esp32');
    expect(a.bytes.equals(Buffer.from(other))).toBe(true);
    expect((await http(s.url, 'GET', path)).bytes.equals(Buffer.from(bytes))).toBe(true);
  });
});
