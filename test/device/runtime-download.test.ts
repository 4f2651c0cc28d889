import { afterAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { SystemClock, VirtualClock, type Clock } from '../../protocol/clock.js';
import { ChipDriver } from '../../simulator/device/runtime-chip.js';
import { HEADER_BYTES, Transfer } from '../../simulator/device/runtime-download.js';
import type { DeviceEvent } from '../../simulator/device/types.js';
import { FAULT_CUT } from '../../simulator/faults/apply-http.js';
import type { DeviceFaults } from '../../simulator/faults/decide.js';
import { CLEAN, chip, image, imageServer, networkFaults, rangeHandler, sha256 } from './runtime-kit.js';

const http = new Agent({ keepAliveTimeout: 10 });
afterAll(() => http.close());

const TERMINAL = new Set(['download-end', 'download-error', 'power-lost', 'ota-done']);

/** A booted 1.0.0 device and a Transfer whose events are recorded; a good header is accepted at once. */
function rig(opts: { faults?: DeviceFaults; clock?: Clock; stallTimeoutMs?: number; serverUrl?: string | null; accept?: boolean } = {}) {
  const driver = new ChipDriver(chip());
  expect(driver.boot()).toMatchObject({ ok: true, version: '1.0.0', partition: 'app0' });
  const events: DeviceEvent[] = [];
  let settle: (e: DeviceEvent[]) => void = () => {};
  let size = 0;
  const transfer: Transfer = new Transfer({
    clock: opts.clock ?? new SystemClock(), http, faults: opts.faults ?? networkFaults(), chip: driver,
    serverUrl: opts.serverUrl ?? null, stallTimeoutMs: opts.stallTimeoutMs ?? 5_000,
    emit: (e) => {
      events.push(e);
      if (e.type === 'download-response') size = e.response.contentLength ?? 0;
      if (e.type === 'download-header' && e.header.magicOk && (opts.accept ?? true)) transfer.accept(size);
      if (TERMINAL.has(e.type) || (e.type === 'download-header' && !(e.header.magicOk && (opts.accept ?? true)))) settle(events);
    },
  });
  const run = (url: string, offset = 0, ifRange: string | null = null, request = 0): Promise<DeviceEvent[]> => {
    events.length = 0;
    const done = new Promise<DeviceEvent[]>((resolve) => { settle = (e) => resolve([...e]); });
    transfer.start({ type: 'download', url, offset, ifRange, version: '2.0.0', job: 0, request });
    return done;
  };
  return { driver, transfer, events, run };
}

const last = (events: DeviceEvent[]): DeviceEvent | undefined => events[events.length - 1];

describe('download into esp_ota_write', () => {
  it('streams a full image into the next slot; esp_ota_end and set_boot then boot it PENDING_VERIFY', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer(rangeHandler(img));
    const { driver, run } = rig();
    const events = await run(`${srv.url}/fw.bin`);
    expect(events[0]).toMatchObject({ type: 'download-response', response: { status: 200, contentLength: img.length, etag: `"${sha256(img)}"` } });
    expect(events[1]).toMatchObject({ type: 'download-header', header: { bytes: HEADER_BYTES, magicOk: true, chipId: 0, app: { version: '2.0.0', secureVersion: 0 } } });
    const progress = events.filter((e) => e.type === 'download-progress').map((e) => (e as { written: number }).written);
    expect(progress.length).toBeGreaterThan(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(last(events)).toEqual({ type: 'download-end', written: img.length, sha256: sha256(img) });
    expect(driver.slot?.label).toBe('app1');
    expect(driver.end()).toEqual({ kind: 'ok' });
    expect(driver.setBoot()).toEqual({ kind: 'ok' });
    expect(driver.boot()).toMatchObject({ ok: true, version: '2.0.0', partition: 'app1', otaState: 'PENDING_VERIFY' });
  });

  it('never holds the image: flash has the first half before the server sends the second', async () => {
    const img = image('2.0.0');
    const half = img.length >> 1;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    await using srv = await imageServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(img.length) });
      res.write(img.subarray(0, half));
      void gate.then(() => res.end(img.subarray(half)));
    });
    const { driver, events, run } = rig();
    const done = run(`${srv.url}/fw.bin`);
    while (!events.some((e) => e.type === 'download-progress' && e.written === half)) await new Promise((r) => setTimeout(r, 5));
    const slot = driver.slot!;
    expect(Buffer.from(driver.chip.flash.read(slot.offset, half)).equals(Buffer.from(img.subarray(0, half)))).toBe(true);
    expect(events.some((e) => e.type === 'download-end')).toBe(false);
    release();
    expect(last(await done)).toMatchObject({ type: 'download-end', written: img.length, sha256: sha256(img) });
  });

  it('a cut at 50% stops at exactly that byte; the resume sends Range + If-Range and completes the same hash', async () => {
    const img = image('2.0.0');
    const cut = Math.floor(img.length / 2) + 7;
    await using srv = await imageServer(rangeHandler(img));
    const { driver, run } = rig({ faults: networkFaults((r) => (r.request === 0 ? { ...CLEAN, cutAfter: cut } : CLEAN)) });
    const first = await run(`${srv.url}/fw.bin`);
    expect(last(first)).toMatchObject({ type: 'download-error', written: cut });
    expect((last(first) as { reason: string }).reason).toContain(FAULT_CUT);
    const etag = `"${sha256(img)}"`;
    const second = await run(`${srv.url}/fw.bin`, cut, etag, 1);
    expect(second[0]).toMatchObject({ type: 'download-response', response: { status: 206, contentRange: `bytes ${cut}-${img.length - 1}/${img.length}` } });
    expect(second.some((e) => e.type === 'download-header')).toBe(false);
    expect(last(second)).toEqual({ type: 'download-end', written: img.length, sha256: sha256(img) });
    expect(srv.seen.map((s) => [s.range, s.ifRange, s.status])).toEqual([[undefined, undefined, 200], [`bytes=${cut}-`, etag, 206]]);
    expect(driver.end()).toEqual({ kind: 'ok' });
  });

  it('a resume after the hash was lost rebuilds it from what flash holds', async () => {
    const img = image('2.0.0');
    const cut = 100_000;
    await using srv = await imageServer(rangeHandler(img));
    const { driver, transfer, run } = rig({ faults: networkFaults((r) => (r.request === 0 ? { ...CLEAN, cutAfter: cut } : CLEAN)) });
    await run(`${srv.url}/fw.bin`);
    // A fresh Transfer over the same chip and open handle: RAM counters gone, flash and handle kept.
    transfer.cancel();
    const events: DeviceEvent[] = [];
    const again = new Transfer({ clock: new SystemClock(), http, faults: networkFaults(), chip: driver, serverUrl: null, stallTimeoutMs: 5_000, emit: (e) => events.push(e) });
    again.start({ type: 'download', url: `${srv.url}/fw.bin`, offset: cut, ifRange: null, version: '2.0.0', job: 0, request: 1 });
    while (!events.some((e) => TERMINAL.has(e.type))) await new Promise((r) => setTimeout(r, 5));
    expect(last(events)).toEqual({ type: 'download-end', written: img.length, sha256: sha256(img) });
  });

  it('a server that ignores Range (200 to a resume) is an error, not bytes appended at the wrong offset', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer(rangeHandler(img));
    const { run } = rig({ faults: networkFaults((r) => (r.request === 0 ? { ...CLEAN, cutAfter: 5000 } : CLEAN)) });
    await run(`${srv.url}/fw.bin`);
    srv.handler = (_req, res) => { res.writeHead(200, { 'content-length': String(img.length) }); res.end(img); };
    const events = await run(`${srv.url}/fw.bin`, 5000, null, 1);
    expect(last(events)).toMatchObject({ type: 'download-error', written: 5000 });
    expect((last(events) as { reason: string }).reason).toContain('ignored Range');
  });

  it('bytes corrupted in transit change the hash, and esp_ota_end refuses the image', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer(rangeHandler(img));
    const { driver, run } = rig({ faults: networkFaults(() => ({ ...CLEAN, corrupt: [{ at: 70_000, xor: 0x01 }] })) });
    const events = await run(`${srv.url}/fw.bin`);
    const end = last(events) as Extract<DeviceEvent, { type: 'download-end' }>;
    expect(end.written).toBe(img.length);
    const flipped = Uint8Array.from(img);
    flipped[70_000] = (flipped[70_000] as number) ^ 1;
    expect(end.sha256).toBe(sha256(flipped));
    expect(driver.end()).toMatchObject({ kind: 'error', error: { code: 'ESP_ERR_OTA_VALIDATE_FAILED' } });
  });

  it('a bandwidth cap takes size / rate in virtual time', async () => {
    const img = image('2.0.0', { size: 64 * 1024 });
    await using srv = await imageServer(rangeHandler(img));
    const clock = new VirtualClock({ start: 1_000_000 });
    const { events, run } = rig({ clock, faults: networkFaults(() => ({ ...CLEAN, bytesPerSecond: 8 * 1024 })), stallTimeoutMs: 1_000 });
    const done = run(`${srv.url}/fw.bin`);
    while (!events.some((e) => TERMINAL.has(e.type))) await clock.advanceAsync(50);
    expect(last(await done)).toMatchObject({ type: 'download-end', written: img.length });
    const seconds = (clock.now() - 1_000_000) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(img.length / (8 * 1024) - 0.1);
    expect(seconds).toBeLessThan(img.length / (8 * 1024) + 1);
  });

  it('a body that stops arriving is a stall after the timeout', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(img.length) });
      res.write(img.subarray(0, 50_000));
    });
    const clock = new VirtualClock();
    const { events, run } = rig({ clock, stallTimeoutMs: 30_000 });
    const done = run(`${srv.url}/fw.bin`);
    while (!events.some((e) => e.type === 'download-progress' && e.written === 50_000)) await new Promise((r) => setTimeout(r, 5));
    clock.advance(29_999);
    expect(events.some((e) => TERMINAL.has(e.type))).toBe(false);
    clock.advance(1);
    expect(last(await done)).toMatchObject({ type: 'download-error', written: 50_000, stalled: true });
  });

  it('a download-phase power cut writes the bytes before it and turns the chip off', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer(rangeHandler(img));
    const { driver, run } = rig();
    driver.arm('download', 123_457);
    const events = await run(`${srv.url}/fw.bin`);
    expect(last(events)).toEqual({ type: 'power-lost' });
    expect(driver.chip.state).toBe('off');
    const slot = driver.slot!;
    expect(Buffer.from(driver.chip.flash.read(slot.offset, 123_457)).equals(Buffer.from(img.subarray(0, 123_457)))).toBe(true);
    expect(driver.boot()).toMatchObject({ ok: true, version: '1.0.0' });
  });

  it('an erase-phase power cut fires inside esp_ota_begin; the old image still boots', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer(rangeHandler(img));
    const { driver, run } = rig();
    driver.arm('erase', 10_000);
    expect(last(await run(`${srv.url}/fw.bin`))).toEqual({ type: 'power-lost' });
    expect(driver.boot()).toMatchObject({ ok: true, version: '1.0.0' });
  });

  it('HTML instead of an image is reported as a short, non-image header and nothing is written', async () => {
    await using srv = await imageServer((_req, res) => {
      const html = '<html><body>Not the firmware!</body></html>\n';
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(Buffer.byteLength(html)) });
      res.end(html);
    });
    const { driver, run } = rig();
    const events = await run(`${srv.url}/fw.bin`);
    expect(last(events)).toEqual({ type: 'download-header', header: { bytes: 44, magicOk: false, chipId: null, app: null } });
    expect(driver.open).toBe(false);
    expect(driver.chip.flash.stats.bytesWritten).toBe(0);
  });

  it('a 404 is answered as a response and then an error', async () => {
    await using srv = await imageServer((_req, res) => { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"detail":"Firmware version not found"}'); });
    const { run } = rig();
    const events = await run(`${srv.url}/fw.bin`);
    expect(events[0]).toMatchObject({ type: 'download-response', response: { status: 404 } });
    expect(last(events)).toMatchObject({ type: 'download-error', written: 0, reason: expect.stringContaining('HTTP 404') });
  });

  it('a Content-Length larger than the body is a broken transfer at the last byte received', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(img.length + 1000) });
      res.end(img);
      res.socket?.destroy();
    });
    const { run } = rig();
    const events = await run(`${srv.url}/fw.bin`);
    expect(last(events)).toMatchObject({ type: 'download-error', written: img.length });
  });

  it('relative URLs resolve against the server, keeping its base path; bad URLs are an error', async () => {
    const img = image('2.0.0');
    await using srv = await imageServer(rangeHandler(img));
    const { run } = rig({ serverUrl: `${srv.url}/ota` });
    expect(last(await run('/api/firmware/download/2.0.0?device_model=esp32'))).toMatchObject({ type: 'download-end' });
    expect(srv.seen[0]?.url).toBe('/ota/api/firmware/download/2.0.0?device_model=esp32');
    const bad = rig({ serverUrl: null });
    expect(last(await bad.run('not a url'))).toMatchObject({ type: 'download-error', reason: expect.stringContaining('OTASIM_ERR_INVALID_URL') });
    expect(last(await bad.run('ftp://example.org/fw.bin'))).toMatchObject({ type: 'download-error', reason: expect.stringContaining('unsupported scheme') });
  });
});
