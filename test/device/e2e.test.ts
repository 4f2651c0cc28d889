/**
 * End to end: one virtual device, the memory transport to the embedded aedes, and an embedded
 * `otasim server` (issue 4 "Done when"). A test uploads a release, waits until the device has
 * registered by its edge status, creates a rollout (the orchestrator publishes `cmd/ota`) or
 * publishes a command itself, then checks what the device did, what it reported, and what the
 * server stored. Bad input (issue 4 "Bad input") must end in a failure report with a reason code,
 * the device still on its firmware, and nothing crashed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, upload, type TestServer } from '../server/http-harness.js';
import { deviceRow, rollout, served, startDevice, until, updates, type TestDevice } from './e2e-kit.js';
import { image } from './runtime-kit.js';
import { fixture, haveFixtures } from '../fixtures.js';

let s: TestServer;
let tester: MqttClient;
let side: Server;
let sideUrl: string;
const SIZE = 300 * 1024;
const v2 = image('2.0.0', { size: SIZE });

beforeAll(async () => {
  s = await startServer({ topicPrefix: 'e2e' });
  expect((await upload(s.url, '2.0.0', 'esp32', v2)).status).toBe(200);
  // A board name otasim cannot map to a chip: the server accepts any ESP32-family image for it.
  expect((await upload(s.url, '3.0.0', 'test-board', image('3.0.0', { chip: 'esp32c3', size: SIZE }))).status).toBe(200);
  tester = await s.server.mqttClientFactory({ clientId: 'e2e-tester', clean: true });
  // A misbehaving file server: HTML instead of firmware, and a Content-Length that lies.
  side = createServer((req, res) => {
    if (req.url === '/html') {
      const html = '<!doctype html><html><head><title>Sign in</title></head><body><form>captive portal</form></body></html>\n';
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(Buffer.byteLength(html)) });
      res.end(html);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(v2.length + 4096) });
    res.end(v2);
    res.socket?.destroy();
  });
  await new Promise<void>((resolve) => side.listen(0, '127.0.0.1', resolve));
  sideUrl = `http://127.0.0.1:${(side.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await tester?.endAsync();
  side?.closeAllConnections();
  await new Promise((r) => side?.close(r));
  await s?.[Symbol.asyncDispose]();
});

/** Start a device and wait until the server has registered it (so its cmd/ota subscription is in place). */
async function registered(o: Parameters<typeof startDevice>[1]): Promise<TestDevice> {
  const dev = startDevice(s, o);
  await until(`${o.id} registered`, () => deviceRow(s, o.id));
  return dev;
}

/** Publish a raw `cmd/ota` to `id`. */
function command(id: string, payload: string): Promise<unknown> {
  return tester.publishAsync(`e2e/edge/${id}/cmd/ota`, payload, { qos: 1 });
}

const downloadUrl = (version: string, model = 'esp32'): string => `${s.url}/api/firmware/download/${version}?device_model=${model}`;

/** The device still runs 1.0.0 from app0, confirmed, and is idle again. */
function stillOnOldFirmware(dev: TestDevice): void {
  expect(dev.rt.state.running).toMatchObject({ version: '1.0.0', partition: 'app0', otaState: 'VALID' });
  expect(dev.rt.state.phase).toBe('idle');
  expect(dev.rt.state.job).toBeNull();
}

describe('one device against an embedded otasim server', () => {
  it('a full OTA over MQTT ends in success: new image confirmed and reported; the server records it', async () => {
    await using dev = await registered({ id: 'esp32_full' });
    await rollout(s, 'full', '2.0.0', 'esp32', ['esp32_full']);
    await until('success result', () => dev.published('result').find((r) => r.success === true));
    expect(dev.rt.state.running).toMatchObject({ version: '2.0.0', partition: 'app1', otaState: 'VALID' });
    expect(dev.published('status')).toEqual([expect.objectContaining({ status: 'accepted', current_version: '1.0.0', target_version: '2.0.0' })]);
    expect(dev.published('result')).toEqual([expect.objectContaining({ success: true, result_code: 0, message: 'Success', current_version: '2.0.0', target_version: '2.0.0' })]);
    const progress = dev.published('progress');
    const downloading = progress.filter((p) => p.state === 'Downloading').map((p) => p.percent);
    expect(downloading.map((p) => Math.floor(p / 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(progress.map((p) => p.state).filter((st) => st !== 'Downloading')).toEqual(['Verifying', 'Installing']);
    expect(dev.transitions.map((t) => t.to)).toEqual(['booting', 'idle', 'downloading', 'verifying', 'activating', 'rebooting', 'booting', 'self-test', 'marking', 'idle']);
    await until('success row', async () => (await updates(s, 'esp32_full'))[0]?.status === 'success');
    expect((await updates(s, 'esp32_full'))[0]).toMatchObject({ status: 'success', firmware_version: '2.0.0', progress_percent: 100 });
    // The retained boot status (new version) must not be overtaken by the result (broker-order.test.ts).
    await until('server sees 2.0.0', () => deviceRow(s, 'esp32_full', '2.0.0'));
    expect(await served(s, '/api/firmware/download/:version', 200)).toBeGreaterThanOrEqual(1);
  });

  it('in HTTP poll mode (seed 002): check, download by the relative URL, update-status reports; the server records 2.0.0', async () => {
    await rollout(s, 'poll', '2.0.0', 'esp32', ['esp32_poll']);
    await using dev = startDevice(s, { id: 'esp32_poll', config: { mode: 'poll', pollIntervalMs: 200 } });
    await until('server sees 2.0.0', () => deviceRow(s, 'esp32_poll', '2.0.0'));
    expect(dev.rt.state.running).toMatchObject({ version: '2.0.0', otaState: 'VALID' });
    const posts = dev.wire.filter((w) => w.kind === 'http' && w.method === 'POST').map((w) => JSON.parse((w as { body: string }).body));
    expect(posts.map((p) => p.status)).toEqual([...Array(11).fill('downloading'), 'downloaded', 'installing', 'success']);
    expect(dev.wire.some((w) => w.kind === 'mqtt')).toBe(false);
    const gets = dev.wire.filter((w) => w.kind === 'http' && w.method === 'GET').map((w) => (w as { url: string }).url);
    expect(gets).toContain('/api/firmware/download/2.0.0?device_model=esp32');
    await until('success row', async () => (await updates(s, 'esp32_poll'))[0]?.status === 'success');
  });

  it('a bad image is rejected and the device stays on the old version (built for another chip)', async () => {
    await using dev = await registered({ id: 'esp32_chip', config: { deviceModel: 'test-board' } });
    await rollout(s, 'wrong-chip', '3.0.0', 'test-board', ['esp32_chip']);
    const [result] = [await until('failure result', () => dev.published('result').find((r) => r.success === false))];
    expect(result).toMatchObject({ success: false, target_version: '3.0.0', current_version: '1.0.0', reason: 'chip_mismatch', result_code: 9, esp_err: 'ESP_ERR_INVALID_VERSION' });
    stillOnOldFirmware(dev);
    expect(dev.rt.state.nvs.lastInstalled).toBeNull();
    await until('failed row', async () => (await updates(s, 'esp32_chip'))[0]?.status === 'failed');
  });

  it('a bad image is rejected and the device stays on the old version (corrupted in transit: SHA-256 ≠ offer)', async () => {
    await using dev = await registered({ id: 'esp32_corrupt', faults: { faults: [{ kind: 'corrupt', at_byte: 100_000 }] } });
    await rollout(s, 'corrupt', '2.0.0', 'esp32', ['esp32_corrupt']);
    const result = await until('failure result', () => dev.published('result').find((r) => r.success === false));
    expect(result).toMatchObject({ reason: 'checksum_mismatch', result_code: 3, message: 'Verification failed', target_version: '2.0.0' });
    stillOnOldFirmware(dev);
    expect(dev.published('progress').at(-1)).toMatchObject({ state: 'Failed' });
  });

  it('a boot crash of the new image is rolled back by the bootloader and reported with the running version', async () => {
    await using dev = await registered({ id: 'esp32_crash', faults: { faults: [{ kind: 'boot_crash', version: '2.0.0', mode: 'always', after_ms: 20 }] } });
    await rollout(s, 'crash', '2.0.0', 'esp32', ['esp32_crash']);
    const result = await until('failure result', () => dev.published('result').find((r) => r.success === false));
    expect(result).toMatchObject({ success: false, reason: 'boot_crash', current_version: '1.0.0', target_version: '2.0.0' });
    expect(dev.rt.state.running).toMatchObject({ version: '1.0.0', partition: 'app0' });
    expect(dev.transitions.map((t) => t.to)).toEqual(expect.arrayContaining(['rebooting', 'crashing', 'booting', 'idle']));
    expect(dev.logs).toEqual(expect.arrayContaining(['reset (panic)']));
    expect(dev.published('progress').at(-1)).toMatchObject({ state: 'Rolled back' });
    await until('rolled_back row', async () => (await updates(s, 'esp32_crash'))[0]?.status === 'rolled_back');
  });

  it('a cut at 50% is resumed with Range (the server answers 206) and the update succeeds', async () => {
    const before = await served(s, '/api/firmware/download/:version', 206);
    await using dev = await registered({ id: 'esp32_cut', faults: { faults: [{ kind: 'drop', at_byte: SIZE / 2 }] } });
    await rollout(s, 'cut', '2.0.0', 'esp32', ['esp32_cut']);
    await until('success result', () => dev.published('result').find((r) => r.success === true));
    expect(dev.rt.state.running).toMatchObject({ version: '2.0.0', otaState: 'VALID' });
    expect(dev.logs.some((l) => l.startsWith(`download cut at ${SIZE / 2} bytes`))).toBe(true);
    expect(dev.logs).toEqual(expect.arrayContaining([`resumed at byte ${SIZE / 2} (206)`]));
    const gets = dev.wire.filter((w) => w.kind === 'http' && w.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(await served(s, '/api/firmware/download/:version', 206)).toBe(before + 1);
  });
});

describe.skipIf(!haveFixtures)('a real Espressif .bin uploaded to the server (issue 4 "Real images")', () => {
  const REAL = 'v1.4.1-2-g0296947-dirty'; // esp_app_desc_t.version of the hello_world fixture

  beforeAll(async () => {
    expect((await upload(s.url, REAL, 'esp32', fixture('app/idf-v5.2.2_esp32_hello_world.bin'))).status).toBe(200);
  });

  it('installs, boots through the emulated bootloader, passes its self-test and is reported', async () => {
    await using dev = await registered({ id: 'esp32_real' });
    await rollout(s, 'real', REAL, 'esp32', ['esp32_real']);
    await until('success result', () => dev.published('result').find((r) => r.success === true));
    expect(dev.rt.state.running).toMatchObject({ version: REAL, partition: 'app1', otaState: 'VALID', secureVersion: 0 });
  });

  it('takes its behaviour from the fault profile: a boot crash keyed to its version rolls it back', async () => {
    await using dev = await registered({ id: 'esp32_real_crash', faults: { faults: [{ kind: 'boot_crash', version: REAL, mode: 'always', after_ms: 20 }] } });
    await rollout(s, 'real-crash', REAL, 'esp32', ['esp32_real_crash']);
    const result = await until('failure result', () => dev.published('result').find((r) => r.success === false));
    expect(result).toMatchObject({ reason: 'boot_crash', current_version: '1.0.0', target_version: REAL });
  });
});

describe('bad input: a failure report with a reason code, the old firmware keeps running', () => {
  const cases: Array<{ name: string; id: string; payload: () => string; reason: string; faults?: object }> = [
    { name: 'a payload that is not JSON', id: 'bad_json', payload: () => '{"url": "http://x/fw.bin", ', reason: 'offer_malformed' },
    { name: 'a command without a url', id: 'bad_nourl', payload: () => JSON.stringify({ version: '2.0.0' }), reason: 'offer_malformed' },
    { name: 'an offer for another model', id: 'bad_model', payload: () => JSON.stringify({ url: downloadUrl('2.0.0', 'esp32-s3'), version: '2.0.0' }), reason: 'model_mismatch' },
    { name: 'a download_url that returns HTML', id: 'bad_html', payload: () => JSON.stringify({ url: `${sideUrl}/html`, version: '2.0.0' }), reason: 'not_an_image' },
    { name: 'a 404', id: 'bad_404', payload: () => JSON.stringify({ url: downloadUrl('9.9.9'), version: '9.9.9' }), reason: 'http_status' },
    { name: 'a Content-Length larger than the image', id: 'bad_length', payload: () => JSON.stringify({ url: `${sideUrl}/lying`, version: '2.0.0' }), reason: 'download_failed' },
    {
      name: 'an image too big for the OTA slot', id: 'bad_big', payload: () => JSON.stringify({ url: downloadUrl('2.0.0'), version: '2.0.0' }),
      reason: 'image_too_big', faults: { faults: [{ kind: 'flash_too_small', slot_bytes: 256 * 1024 }] },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await using dev = await registered({ id: c.id, ...(c.faults ? { faults: c.faults } : {}), config: { downloadRetries: 2 } });
      await command(c.id, c.payload());
      const result = await until(`${c.id} failure result`, () => dev.published('result').find((r) => r.success === false));
      expect(result).toMatchObject({ success: false, reason: c.reason, current_version: '1.0.0' });
      expect(typeof result.result_code).toBe('number');
      expect(result.result_code).toBeGreaterThan(0);
      stillOnOldFirmware(dev);
      expect(dev.logs.some((l) => l.startsWith('internal error'))).toBe(false);
    });
  }
});
