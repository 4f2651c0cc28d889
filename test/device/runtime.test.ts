/**
 * The runtime in virtual time: a VirtualClock, the embedded aedes reached in memory, and an undici
 * MockAgent as the HTTP port, so nothing waits on the wall clock. What is proven here is the
 * binding: timers on the one heap, MQTT reconnect backoff with jitter, keepalive on the clock, the
 * last will, poll mode over HTTP, power cuts at each phase, and determinism.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import type { IClientOptions, MqttClient } from 'mqtt';
import { VirtualClock } from '../../protocol/clock.js';
import { EmbeddedBroker } from '../../server/broker/index.js';
import { DeviceRuntime } from '../../simulator/device/runtime.js';
import type { DeviceConfigInput } from '../../simulator/device/config.js';
import type { MqttConnector, TransitionNote } from '../../simulator/device/ports.js';
import { FaultProfileSchema, type FaultProfileInput } from '../../simulator/faults/profile.js';
import { chip, image, sha256 } from './runtime-kit.js';

const ORIGIN = 'http://ota.test';
const V2 = image('2.0.0', { size: 128 * 1024 });

let broker: EmbeddedBroker;
beforeEach(async () => { broker = await EmbeddedBroker.create({}); });
afterEach(async () => { await broker.close(); });

interface Rig {
  rt: DeviceRuntime;
  clock: VirtualClock;
  http: MockAgent;
  transitions: TransitionNote[];
  logs: Array<[number, string]>;
  reports: Array<Record<string, unknown>>;
  /** Run virtual time in `stepMs` steps until `done()` or `maxMs` passed. */
  run(done: () => boolean, maxMs?: number, stepMs?: number): Promise<void>;
}

const BASE = { mac: 'AA:BB:CC:00:00:01' } as const;

/** A device in poll mode over a MockAgent that offers `V2` (or nothing) and records update-status bodies. */
function rig(o: { id: string; config?: Partial<DeviceConfigInput>; faults?: FaultProfileInput; mqtt?: (clock: VirtualClock) => MqttConnector; offer?: boolean }): Rig {
  const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  const http = new MockAgent({ connections: 1 });
  http.disableNetConnect();
  const pool = http.get(ORIGIN);
  const sent = { offered: false };
  pool.intercept({ path: (p) => p.startsWith('/api/firmware/check'), method: 'GET' }).reply(() => {
    const offer = (o.offer ?? true) && !sent.offered;
    sent.offered = true;
    return {
      statusCode: 200,
      data: JSON.stringify(offer
        ? { update_available: true, current_version: '1.0.0', latest_version: '2.0.0', download_url: '/api/firmware/download/2.0.0?device_model=esp32', file_size: V2.length, size: V2.length, checksum_sha256: sha256(V2), release_notes: null }
        : { update_available: false, current_version: '1.0.0', latest_version: null, download_url: null, file_size: null, size: null, checksum_sha256: null, release_notes: null }),
      responseOptions: { headers: { 'content-type': 'application/json' } },
    };
  }).persist();
  pool.intercept({ path: '/api/firmware/download/2.0.0?device_model=esp32', method: 'GET' })
    .reply(200, Buffer.from(V2), { headers: { 'content-length': String(V2.length), etag: `"${sha256(V2)}"` } }).persist();
  const reports: Array<Record<string, unknown>> = [];
  pool.intercept({ path: `/api/device/${o.id}/update-status`, method: 'POST' }).reply((req) => {
    reports.push(JSON.parse(String(req.body)) as Record<string, unknown>);
    return { statusCode: 200, data: '{"status":"ok","message":"Status reported successfully"}' };
  }).persist();
  const transitions: TransitionNote[] = [];
  const logs: Array<[number, string]> = [];
  const rt = DeviceRuntime.create({
    config: { deviceId: o.id, mode: 'poll', reportVia: 'http', ...BASE, ...o.config },
    faults: FaultProfileSchema.parse(o.faults ?? { faults: [] }), serverUrl: ORIGIN,
  }, {
    clock, http, chip: chip(), ...(o.mqtt ? { mqtt: o.mqtt(clock) } : {}),
    observer: { transition: (n) => transitions.push(n), log: (l, at) => logs.push([at, l]) },
  });
  return {
    rt, clock, http, transitions, logs, reports,
    async run(done, maxMs = 600_000, stepMs = 100) {
      const end = clock.now() + maxMs;
      while (!done() && clock.now() < end) await clock.advanceAsync(stepMs);
    },
  };
}

/** `status:percent` per update-status body, percents cut to their tens (4 KiB writes land between them). */
const statuses = (r: Rig): string[] => r.reports.map((b) => `${String(b.status)}:${Math.floor(Number(b.progress_percent) / 10) * 10}`);

describe('poll mode over HTTP (seed 002), in virtual time', () => {
  it('checks at boot, downloads, reports every 10% over update-status, reboots into 2.0.0 and reports success', async () => {
    const r = rig({ id: 'poll_ok' });
    r.rt.start();
    await r.run(() => r.reports.some((b) => b.status === 'success'));
    expect(statuses(r)).toEqual([
      'downloading:0', 'downloading:10', 'downloading:20', 'downloading:30', 'downloading:40', 'downloading:50',
      'downloading:60', 'downloading:70', 'downloading:80', 'downloading:90', 'downloading:100',
      'downloaded:100', 'installing:100', 'success:100',
    ]);
    expect(r.reports.at(-1)).toMatchObject({ device_id: 'poll_ok', firmware_version: '2.0.0' });
    expect(r.rt.state.running).toMatchObject({ version: '2.0.0', otaState: 'VALID' });
    // Default firmware delays in virtual time: boot 300, reboot 3000, boot 300, self-test 2000.
    const t0 = r.transitions[0]!.at;
    expect(r.transitions.find((t) => t.to === 'self-test')!.at - t0).toBeGreaterThanOrEqual(300 + 3000 + 300);
    await r.http.close();
  });

  it('polls again after the interval and nothing else happens while idle', async () => {
    const r = rig({ id: 'poll_idle', offer: false, config: { pollIntervalMs: 60_000 } });
    r.rt.start();
    await r.clock.advanceAsync(1_000);
    const checks = (): number => r.logs.filter(([, l]) => l === 'check: no update available').length;
    expect(checks()).toBe(1);
    await r.run(() => checks() === 4, 200_000, 1_000);
    const times = r.logs.filter(([, l]) => l === 'check: no update available').map(([t]) => t);
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual([60_000, 60_000, 60_000]);
    expect(r.reports).toEqual([]);
    await r.rt.stop();
    expect(r.clock.pending).toBe(0);
    await r.http.close();
  });
});

describe('latency fault at the port', () => {
  it('delays each check answer by its ms, in virtual time', async () => {
    const at = async (latency: number): Promise<number> => {
      const r = rig({ id: 'lat', offer: false, faults: { faults: latency > 0 ? [{ kind: 'latency', ms: latency }] : [] } });
      r.rt.start();
      await r.run(() => r.logs.some(([, l]) => l === 'check: no update available'), 60_000, 10);
      const asked = r.transitions.find((t) => t.to === 'checking')!.at;
      const answered = r.logs.find(([, l]) => l === 'check: no update available')![0];
      await r.rt.stop();
      await r.http.close();
      return answered - asked;
    };
    expect(await at(0)).toBeLessThanOrEqual(10);
    const slow = await at(2_500);
    expect(slow).toBeGreaterThanOrEqual(2_500);
    expect(slow).toBeLessThanOrEqual(2_510);
  });
});

describe('power cuts at each phase (power_loss fault), applied at the chip', () => {
  const cases: Array<{ phase: string; atByte: number; version: string; report: string }> = [
    { phase: 'download', atByte: 40_000, version: '1.0.0', report: 'failed' },
    { phase: 'erase', atByte: 8_192, version: '1.0.0', report: 'failed' },
    { phase: 'write', atByte: 70_000, version: '1.0.0', report: 'failed' },
    { phase: 'otadata', atByte: 0, version: '1.0.0', report: 'failed' },
    // The bootloader's NEW → PENDING_VERIFY rewrite is cut; after power returns it boots 2.0.0 again.
    { phase: 'reboot', atByte: 0, version: '2.0.0', report: 'success' },
  ];
  for (const c of cases) {
    it(`${c.phase} at byte ${c.atByte}: the device comes back on ${c.version} and reports ${c.report}`, async () => {
      const r = rig({ id: `cut_${c.phase}`, faults: { faults: [{ kind: 'power_loss', phase: c.phase as 'download', at_byte: c.atByte }] } });
      r.rt.start();
      await r.run(() => r.reports.some((b) => b.status === 'success' || b.status === 'failed'));
      expect(r.logs.some(([, l]) => l === 'power lost')).toBe(true);
      expect(r.rt.state.running?.version).toBe(c.version);
      const last = r.reports.at(-1)!;
      expect(last.status).toBe(c.report);
      if (c.report === 'failed') expect(String(last.error_message)).toMatch(/^interrupted: /);
      await r.http.close();
    });
  }
});

describe('MQTT session on the clock', () => {
  /** A connector that refuses the first `failures` attempts and records when each attempt was made. */
  function flaky(clock: VirtualClock, failures: number, attempts: number[], onClient?: (c: MqttClient) => void): MqttConnector {
    return async (opts: IClientOptions) => {
      attempts.push(clock.now());
      if (attempts.length <= failures) throw new Error('ECONNREFUSED (test)');
      const c = await broker.clientFactory(opts);
      onClient?.(c);
      return c;
    };
  }

  it('reconnects with exponential backoff and seeded jitter, the same for the same seed', async () => {
    const runOnce = async (seed: number): Promise<number[]> => {
      const attempts: number[] = [];
      const r = rig({
        id: 'mqtt_backoff', config: { mode: 'mqtt', reportVia: 'mqtt', seed, mqttBackoff: { baseMs: 1000, maxMs: 60_000, jitter: 0.5 } },
        mqtt: (clock) => flaky(clock, 5, attempts),
      });
      const rt = r.rt;
      rt.start();
      await r.run(() => rt.state.link === 'up', 200_000, 50);
      await rt.stop();
      await r.http.close();
      return attempts.slice(1).map((t, i) => t - attempts[i]!);
    };
    const gaps = await runOnce(7);
    expect(gaps).toHaveLength(5);
    gaps.forEach((g, i) => {
      const full = 1000 * 2 ** i;
      expect(g).toBeGreaterThanOrEqual(full * 0.5 - 50);
      expect(g).toBeLessThanOrEqual(full + 50);
    });
    expect(await runOnce(7)).toEqual(gaps);
    expect(await runOnce(8)).not.toEqual(gaps);
  });

  it('keepalive pings run on the virtual clock, and stopping drops the session so the broker publishes the last will', async () => {
    const clock = new VirtualClock();
    const http = new MockAgent();
    http.disableNetConnect();
    let pings = 0;
    const rt = DeviceRuntime.create({ config: { deviceId: 'mqtt_ka', keepaliveS: 15, ...BASE }, serverUrl: ORIGIN }, {
      clock, http, chip: chip(),
      mqtt: flaky(clock, 0, [], (c) => c.on('packetsend', (p) => { if (p.cmd === 'pingreq') pings++; })),
    });
    const spy = await broker.connect({ clientId: 'spy', clean: true });
    const wills: string[] = [];
    spy.on('message', (_t, p) => wills.push(p.toString()));
    await spy.subscribeAsync('paku/edge/mqtt_ka/status');
    rt.start();
    while (rt.state.link !== 'up') await clock.advanceAsync(50);
    for (let i = 0; i < 60; i++) await clock.advanceAsync(1_000);
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(rt.state.link).toBe('up');
    await rt.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(wills.at(-1)).toBe('{"online":false}');
    await spy.endAsync();
    await http.close();
  });
});

describe('determinism', () => {
  it('the same device, seed and faults give the same state chain at the same virtual times', async () => {
    const once = async (): Promise<string[]> => {
      const r = rig({ id: 'det', faults: { faults: [{ kind: 'drop', at_byte: 60_000 }, { kind: 'boot_crash', version: '2.0.0', mode: 'probability', probability: 0.5 }] } });
      r.rt.start();
      await r.run(() => r.reports.some((b) => b.status === 'success' || b.status === 'rolled_back'));
      await r.rt.stop();
      await r.http.close();
      return r.transitions.map((t) => `${t.at - r.transitions[0]!.at} ${t.from}→${t.to} (${t.event})`);
    };
    const a = await once();
    expect(a.length).toBeGreaterThan(8);
    expect(await once()).toEqual(a);
  });
});
