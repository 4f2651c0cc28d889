/**
 * The `paku-core` behaviour profile: the real firmware as built (paku-protocol-facts §1.1, §1.5–§1.6,
 * §4.3–§4.6, §6 quirks 29–31), each wart shown against an embedded `otasim server` and its memory
 * broker, and the `esp-idf` profile shown without it in the same test. Commands are published
 * the way the paku workflow does (`cmd/ota` at QoS 1, `{url, checksum, version}`).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROGRESS_STATES } from '../../protocol/payloads.js';
import type { Behaviour } from '../../simulator/device/config.js';
import { startServer, upload, type TestServer } from '../server/http-harness.js';
import { deviceRow, startDevice, until, type DeviceOptions, type TestDevice } from './e2e-kit.js';
import { image, sha256 } from './runtime-kit.js';

const SIZE = 200 * 1024;
const v2 = image('2.0.0', { size: SIZE });
const SUM = sha256(v2);
/** How long `/stall` holds the body: past 1.5 × a 1 s keepalive. */
const STALL_MS = 3000;

let s: TestServer;
let tester: MqttClient;
let side: Server;
let sideUrl: string;
/** Every message the tester saw, `topic payload`. */
const seen: string[] = [];

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function serve(url: string, res: ServerResponse): Promise<void> {
  const half = SIZE / 2;
  switch (url) {
    case '/206':
      res.writeHead(206, { 'content-length': String(SIZE), 'content-range': `bytes 0-${SIZE - 1}/${SIZE}` });
      res.end(v2);
      return;
    case '/chunked':
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
      res.write(v2.subarray(0, half));
      res.end(v2.subarray(half));
      return;
    case '/stall':
      res.writeHead(200, { 'content-length': String(SIZE) });
      res.write(v2.subarray(0, half));
      await pause(STALL_MS);
      res.end(v2.subarray(half));
      return;
    case '/trickle': // about 3 s, in 12 pieces
      res.writeHead(200, { 'content-length': String(SIZE) });
      for (let at = 0; at < SIZE; at += SIZE / 12) {
        res.write(v2.subarray(at, Math.min(SIZE, at + SIZE / 12)));
        await pause(250);
      }
      res.end();
      return;
    default:
      res.writeHead(404).end();
  }
}

beforeAll(async () => {
  s = await startServer({ topicPrefix: 'pk' });
  expect((await upload(s.url, '2.0.0', 'esp32', v2)).status).toBe(200);
  tester = await s.server.mqttClientFactory({ clientId: 'pk-tester', clean: true });
  tester.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
  await tester.subscribeAsync('pk/edge/+/status', { qos: 1 });
  side = createServer((req, res) => void serve(req.url ?? '/', res));
  await new Promise<void>((resolve) => side.listen(0, '127.0.0.1', resolve));
  sideUrl = `http://127.0.0.1:${(side.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await tester?.endAsync();
  side?.closeAllConnections();
  await new Promise((r) => side?.close(r));
  await s?.[Symbol.asyncDispose]();
});

const PROFILES: readonly Behaviour[] = ['paku-core', 'esp-idf'];
const serverUrl = `/api/firmware/download/2.0.0?device_model=esp32`;

async function registered(id: string, behaviour: Behaviour, o: Partial<DeviceOptions> = {}): Promise<TestDevice> {
  const dev = startDevice(s, { id, ...o, config: { behaviour, ...o.config } });
  await until(`${id} registered`, () => deviceRow(s, id));
  return dev;
}

/** Publish the workflow's `cmd/ota` to `id`. */
function command(id: string, body: { url: string; checksum?: string; version?: string }): Promise<unknown> {
  return tester.publishAsync(`pk/edge/${id}/cmd/ota`, JSON.stringify(body), { qos: 1 });
}

const statusOf = (id: string): string[] => seen.filter((m) => m.startsWith(`pk/edge/${id}/status `)).map((m) => m.slice(m.indexOf(' ') + 1));
const online = (id: string): number => statusOf(id).filter((p) => p.includes('"online":true')).length;
const offline = (id: string): number => statusOf(id).filter((p) => p === '{"online":false}').length;
const result = (dev: TestDevice): Record<string, unknown> | undefined => dev.published('result').at(-1);

describe('paku-core behaves as built; esp-idf does not share its warts', () => {
  it.each(PROFILES)('%s: a new image that fails its self-test — paku-core marked it valid at boot and keeps it', async (b) => {
    const id = `pk_selftest_${b}`;
    await using dev = await registered(id, b, { faults: { faults: [{ kind: 'self_test_fail', version: '2.0.0' }] } });
    await command(id, { url: `${s.url}${serverUrl}`, checksum: SUM, version: '2.0.0' });
    if (b === 'paku-core') {
      await until('2.0.0 confirmed', () => dev.rt.state.running?.version === '2.0.0' && dev.rt.state.running.otaState === 'VALID' && dev.rt.state.phase === 'idle');
      expect(dev.logs).toContain('esp_ota_mark_app_valid_cancel_rollback at the top of setup()');
    } else {
      await until('rolled back', () => result(dev)?.reason === 'self_test_failed');
      expect(dev.rt.state.running).toMatchObject({ version: '1.0.0', otaState: 'VALID' });
    }
  });

  it.each(PROFILES)('%s: a download cut half way — paku-core cannot resume (result_code 2), esp-idf resumes with Range', async (b) => {
    const id = `pk_cut_${b}`;
    await using dev = await registered(id, b, { faults: { faults: [{ kind: 'drop', at_byte: SIZE / 2 }] } });
    await command(id, { url: `${s.url}${serverUrl}`, checksum: SUM, version: '2.0.0' });
    await until('a result', () => result(dev));
    if (b === 'paku-core') {
      expect(result(dev)).toMatchObject({ success: false, result_code: 2, message: 'Download failed', current_version: '1.0.0', target_version: '2.0.0' });
      expect(dev.wire.filter((w) => w.kind === 'http' && w.method === 'GET' && w.url.includes('/download/'))).toHaveLength(1);
      expect(dev.rt.state.running?.version).toBe('1.0.0');
    } else {
      expect(result(dev)).toMatchObject({ success: true, result_code: 0, current_version: '2.0.0' });
      expect(dev.logs.some((l) => l.startsWith('resumed at byte'))).toBe(true);
    }
  });

  it.each(PROFILES)('%s: a 206 from byte 0 — paku-core needs exactly 200 (result_code 2), esp-idf takes it', async (b) => {
    const id = `pk_206_${b}`;
    await using dev = await registered(id, b);
    await command(id, { url: `${sideUrl}/206`, checksum: SUM, version: '2.0.0' });
    await until('a result', () => result(dev));
    if (b === 'paku-core') expect(result(dev)).toMatchObject({ success: false, result_code: 2, message: 'Download failed', reason: 'http_status' });
    else expect(result(dev)).toMatchObject({ success: true, current_version: '2.0.0' });
  });

  it('paku-core: a chunked body (no Content-Length) fails with result_code 2', async () => {
    await using dev = await registered('pk_chunked', 'paku-core');
    await command('pk_chunked', { url: `${sideUrl}/chunked`, checksum: SUM, version: '2.0.0' });
    await until('a result', () => result(dev));
    expect(result(dev)).toMatchObject({ success: false, result_code: 2, message: 'Download failed', reason: 'content_length' });
    expect(dev.rt.state.running?.version).toBe('1.0.0');
  });

  it.each(PROFILES)('%s: a download stalled past 1.5 × keepalive — paku-core stops servicing MQTT, the broker drops it and publishes its LWT; it reconnects after', async (b) => {
    const id = `pk_keepalive_${b}`;
    await using dev = await registered(id, b, { config: { keepaliveS: 1 }, runtime: { stallTimeoutMs: 30_000 } });
    const before = online(id);
    await command(id, { url: `${sideUrl}/stall`, checksum: SUM, version: '2.0.0' });
    await until('2.0.0 runs and is back online', () => dev.rt.state.running?.version === '2.0.0' && dev.rt.state.phase === 'idle' && dev.rt.state.link === 'up', 90_000);
    await until('announced again', () => online(id) > before);
    if (b === 'paku-core') {
      expect(offline(id)).toBeGreaterThanOrEqual(1); // the keepalive LWT (and the restart's: no DISCONNECT)
      expect(dev.logs.some((l) => l.startsWith('mqtt lost: connection lost'))).toBe(true);
    } else {
      expect(offline(id)).toBe(0); // pings kept the session; the restart is graceful
      expect(dev.logs.some((l) => l.startsWith('mqtt lost'))).toBe(false);
    }
  });

  it.each(PROFILES)('%s: a command sent while the device is offline — paku-core (QoS 0, clean session) loses it, esp-idf gets it on reconnect', async (b) => {
    const id = `pk_offline_${b}`;
    await using dev = await registered(id, b, { config: { powerRestoreMs: 1500 } });
    await until('first announce seen', () => online(id) >= 1);
    dev.rt.powerCut();
    await until('offline (LWT)', () => offline(id) >= 1);
    await command(id, { url: `${s.url}${serverUrl}`, checksum: SUM, version: '2.0.0' });
    await until('back online', () => online(id) >= 2);
    if (b === 'paku-core') {
      await pause(1500); // time for a queued message, had there been one
      expect(dev.published('status')).toEqual([]);
      expect(dev.rt.state.running?.version).toBe('1.0.0');
    } else {
      await until('updated', () => result(dev)?.success === true);
      expect(dev.published('status')).toEqual([expect.objectContaining({ status: 'accepted', target_version: '2.0.0' })]);
    }
  });

  it.each(PROFILES)('%s: progress in the real payload shape; paku-core at most once per second, esp-idf at each 10 percent', async (b) => {
    const id = `pk_progress_${b}`;
    await using dev = await registered(id, b);
    await command(id, { url: `${sideUrl}/trickle`, checksum: SUM, version: '2.0.0' });
    await until('success', () => dev.published('result').find((r) => r.success === true), 90_000);
    const progress = dev.published('progress');
    for (const p of progress) {
      expect(Object.keys(p).sort()).toEqual(['downloaded', 'elapsed_ms', 'percent', 'state', 'timestamp', 'total']);
      expect(PROGRESS_STATES).toContain(p.state);
    }
    const downloading = progress.filter((p) => p.state === 'Downloading' && p.total > 0);
    if (b === 'paku-core') {
      expect(progress.map((p) => p.state).filter((x, i, a) => a[i - 1] !== x)).toEqual(['Checking', 'Downloading', 'Verifying', 'Complete']);
      expect(progress.slice(0, 2)).toMatchObject([{ state: 'Checking', percent: 0, total: 0 }, { state: 'Downloading', percent: 0, total: 0 }]);
      expect(downloading.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < downloading.length; i++) expect(downloading[i].elapsed_ms - downloading[i - 1].elapsed_ms).toBeGreaterThanOrEqual(1000);
    } else {
      expect(progress.map((p) => p.state).filter((x, i, a) => a[i - 1] !== x)).toEqual(['Downloading', 'Verifying', 'Installing']);
      expect(downloading.map((p) => Math.floor(p.percent / 10))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
  });

  it.each(PROFILES)('%s: the success result — paku-core sends it before the restart from the old image, and nothing after', async (b) => {
    const id = `pk_result_${b}`;
    await using dev = await registered(id, b);
    await command(id, { url: `${s.url}${serverUrl}`, checksum: SUM, version: '2.0.0' });
    await until('2.0.0 announced', () => statusOf(id).some((p) => p.includes('"firmware_version":"2.0.0"')));
    const results = dev.published('result');
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ success: true, result_code: 0, message: 'Success', target_version: '2.0.0' });
    const log = dev.mqttLog();
    const resultAt = log.findIndex((l) => l.startsWith('ota/result'));
    if (b === 'paku-core') {
      expect(results[0].current_version).toBe('1.0.0');
      // Published by 1.0.0 right after `Complete`, before 2.0.0 ever announced itself.
      expect(log[resultAt - 1]).toContain('"state":"Complete"');
      expect(log.findIndex((l) => l.includes('"firmware_version":"2.0.0"'))).toBeGreaterThan(resultAt);
    } else {
      expect(results[0].current_version).toBe('2.0.0');
    }
  });

  it.each(PROFILES)('%s: a wrong checksum — result_code 3 either way; paku-core has already set the boot partition, so the next restart runs the unverified image', async (b) => {
    const id = `pk_sum_${b}`;
    await using dev = await registered(id, b, { config: { powerRestoreMs: 30 } });
    await command(id, { url: `${s.url}${serverUrl}`, checksum: 'ab'.repeat(32), version: '2.0.0' });
    await until('a result', () => result(dev));
    expect(result(dev)).toMatchObject({ success: false, result_code: 3, message: 'Verification failed', current_version: '1.0.0' });
    expect(dev.rt.state.running?.version).toBe('1.0.0');
    const boots = dev.rt.state.boots;
    dev.rt.powerCut();
    await until('booted again', () => dev.rt.state.boots > boots && dev.rt.state.phase === 'idle');
    expect(dev.rt.state.running?.version).toBe(b === 'paku-core' ? '2.0.0' : '1.0.0');
  });

  it.each(PROFILES)('%s: a command it cannot read — paku-core logs and drops it (no ack, no result), esp-idf reports it', async (b) => {
    const id = `pk_badcmd_${b}`;
    await using dev = await registered(id, b);
    await tester.publishAsync(`pk/edge/${id}/cmd/ota`, '{"version": "2.0.0"', { qos: 1 }); // not JSON
    await command(id, { url: '', version: '2.0.0' }); // no url
    await command(id, { url: `${s.url}${serverUrl}`, checksum: SUM, version: '2.0.0' });
    await until('success', () => dev.published('result').find((r) => r.success === true));
    const failures = dev.published('result').filter((r) => r.success === false);
    if (b === 'paku-core') {
      expect(failures).toEqual([]);
      expect(dev.published('status')).toHaveLength(1);
      expect(dev.logs.filter((l) => l.startsWith('cmd/ota ignored:'))).toHaveLength(2);
    } else {
      expect(failures).toMatchObject([{ result_code: 6, reason: 'offer_malformed' }, { result_code: 6, reason: 'offer_malformed' }]);
    }
  });

  it('a fleet composition mixes the two profiles, drawn from the seed', async () => {
    const { composition, traitsOf } = await import('../../simulator/fleet/composition.js');
    const c = composition({ behaviours: { 'esp-idf': 1, 'paku-core': 1 } });
    const drawn = Array.from({ length: 200 }, (_, i) => traitsOf(c, 7, `sim-${i}`).behaviour);
    expect(new Set(drawn)).toEqual(new Set(['esp-idf', 'paku-core']));
    expect(Array.from({ length: 200 }, (_, i) => traitsOf(c, 7, `sim-${i}`).behaviour)).toEqual(drawn);
    expect(traitsOf(composition({}), 7, 'sim-0').behaviour).toBeNull();
  });
});
