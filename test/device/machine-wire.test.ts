/**
 * What goes on the wire: payloads that the protocol schemas accept on both wire profiles and over
 * HTTP, progress at each 10 %, poll mode, the MQTT reconnect backoff, and stale events.
 */
import { describe, expect, it } from 'vitest';
import {
  EdgeStatusMessage, OtaProgressMessage, OtaResultMessage, OtaStatusMessage, UpdateStatusBody,
} from '../../protocol/payloads.js';
import { topics } from '../../protocol/topics.js';
import { backoffDelay, handlerFor, initialState, transition, transitions, type DeviceEvent } from '../../simulator/device/index.js';
import { Loopback, fileServer, image, sha256 } from './loopback.js';

const IMG = image('1.1.0');
const OFFER = { url: '/fw/1.1.0', version: '1.1.0', checksum: sha256(IMG) };
const server = fileServer({ '/fw/1.1.0': IMG });
const SCHEMA = { status: OtaStatusMessage, progress: OtaProgressMessage, result: OtaResultMessage } as const;

describe('payloads on both wire profiles', () => {
  it.each(['paku-edge', 'paku-legacy'] as const)('%s: every message parses with the protocol schemas, on its topics', (protocol) => {
    const d = new Loopback({ server, config: { protocol }, profile: { faults: [{ kind: 'boot_crash', mode: 'always', version: '1.1.0' }] } }).start();
    d.offer(OFFER);
    const t = topics({ profile: protocol });
    expect(d.published.length).toBeGreaterThan(5);
    for (const p of d.published) {
      const parsed = t.parse(p.topic);
      expect(parsed, p.topic).toBeDefined();
      const schema = parsed?.kind === 'edge-status' ? EdgeStatusMessage : SCHEMA[parsed?.kind === 'ota' ? parsed.reply : 'status'];
      expect(schema.safeParse(JSON.parse(p.payload)).success, p.payload).toBe(true);
      expect(p.retain).toBe(parsed?.kind === 'edge-status');
    }
    const result = JSON.parse(d.published.find((p) => p.topic.endsWith('/ota/result'))?.payload ?? '{}');
    if (protocol === 'paku-legacy') {
      expect(Object.keys(result).sort()).toEqual(['message', 'success', 'timestamp', 'version']);
      expect(result).toMatchObject({ success: false, version: '1.1.0', message: expect.stringMatching(/^boot_crash: /) });
      expect(d.published.some((p) => p.topic === 'paku/devices/esp32_001/ota/progress' && JSON.parse(p.payload).state === 'downloading')).toBe(true);
    } else {
      expect(result).toMatchObject({ success: false, current_version: '1.0.0', target_version: '1.1.0', result_code: 4, message: 'Installation failed', reason: 'boot_crash' });
      expect(d.published.some((p) => p.topic === 'paku/edge/esp32_001/ota/progress' && JSON.parse(p.payload).state === 'Rolled back')).toBe(true);
    }
  });

  it('the announce carries firmware_version, device_model, wifi.mac, the partition and the OTA state; the LWT is {"online":false}', () => {
    const d = new Loopback({ server }).start();
    d.offer(OFFER);
    const last = JSON.parse(d.published.filter((p) => p.topic === 'paku/edge/esp32_001/status').at(-1)?.payload ?? '{}');
    expect(last).toMatchObject({
      online: true, device_id: 'esp32_001', firmware_version: '1.1.0', device_model: 'esp32', mac_address: 'AA:BB:CC:00:00:01',
      wifi: { mac: 'AA:BB:CC:00:00:01' }, partition: 'ota_1', ota_state: 'VALID', state: 'running',
    });
    const connect = d.effects.find((e) => e.type === 'mqtt-connect');
    expect(connect).toMatchObject({ clientId: 'esp32_001', keepaliveS: 15, will: { topic: 'paku/edge/esp32_001/status', payload: '{"online":false}', qos: 1, retain: true } });
  });

  it('progress goes out once per 10 % crossed, never twice for one step', () => {
    const d = new Loopback({ server }).start();
    d.offer(OFFER);
    const pct = d.statusLog.filter((l) => l.startsWith('ota/progress Downloading')).map((l) => Number(l.split(' ').at(-1)));
    expect(pct[0]).toBe(0);
    expect(pct.at(-1)).toBe(100);
    const steps = pct.map((p) => Math.floor(p / 10));
    for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1] ?? -1);
    expect(steps).toHaveLength(11); // 0 … 100 with 4 KiB writes of a 40 kB image
  });

  it('reportVia both: MQTT and HTTP carry the same story', () => {
    const d = new Loopback({ server, config: { reportVia: 'both' } }).start();
    d.offer(OFFER);
    const http = d.httpReports.map((b) => `${b.status} ${b.progress_percent}`);
    expect(http[0]).toBe('downloading 0');
    expect(http.slice(-3)).toEqual(['downloaded 100', 'installing 100', 'success 100']);
    for (const b of d.httpReports) expect(UpdateStatusBody.safeParse(b).success).toBe(true);
    expect(d.statusLog.slice(-2)).toEqual(['ota/result ok 1.1.0', 'http success 1.1.0 100']);
  });
});

describe('poll mode (seed 002)', () => {
  const check = (latest: string | null, url = '/fw/1.1.0') => () => ({
    status: 200,
    body: JSON.stringify({
      update_available: latest !== null, current_version: '1.0.0', latest_version: latest, download_url: latest === null ? null : url,
      file_size: IMG.length, size: IMG.length, checksum_sha256: latest === null ? null : sha256(IMG), release_notes: null,
    }),
  });

  it('checks at boot, updates, and reports over HTTP only', () => {
    const d = new Loopback({ server, config: { mode: 'poll' }, check: check('1.1.0') }).start(120_000);
    expect(d.published).toEqual([]);
    expect(d.effects.filter((e) => e.type === 'mqtt-connect')).toEqual([]);
    expect(d.statusLog[0]).toBe('http downloading 1.1.0 0');
    expect(d.statusLog.slice(-3)).toEqual(['http downloaded 1.1.0 100', 'http installing 1.1.0 100', 'http success 1.1.0 100']);
    expect(d.running).toBe('ota_1:1.1.0');
  });

  it('checks again every interval, and a failed attempt reports `failed` with its reason', () => {
    const d = new Loopback({ server, config: { mode: 'poll', pollIntervalMs: 600_000 }, check: check('1.1.0', '/fw/gone') }).start(1_300_000);
    const checks = d.effects.filter((e) => e.type === 'http-check');
    expect(checks).toHaveLength(3); // at boot, +10 min, +20 min
    expect(d.statusLog.filter((l) => l.startsWith('http failed'))).toEqual(Array(3).fill('http failed 1.1.0 0 http_status'));
    expect(d.running).toBe('ota_0:1.0.0');
  });

  it('a rollback is reported as rolled_back', () => {
    const d = new Loopback({ server, config: { mode: 'poll', pollIntervalMs: 3_600_000 }, check: check('1.1.0'), profile: { faults: [{ kind: 'self_test_fail' }] } }).start(120_000);
    expect(d.statusLog.at(-1)).toBe('http rolled_back 1.1.0 - self_test_failed');
  });

  it('no update: the device waits for the next check', () => {
    const d = new Loopback({ server, config: { mode: 'poll', pollIntervalMs: 1000 }, check: check(null) }).start(10_500);
    expect(d.effects.filter((e) => e.type === 'http-check').length).toBe(11);
    expect(d.statusLog).toEqual([]);
  });
});

describe('MQTT reconnect', () => {
  it('backs off exponentially with seeded jitter, capped, the same for the same seed', () => {
    const times = (seed: number) => new Loopback({ brokerDown: true, config: { seed, mqttBackoff: { baseMs: 1000, maxMs: 16_000, jitter: 0.5 } } }).start(120_000).connects;
    const a = times(5);
    expect(times(5)).toEqual(a);
    expect(times(6)).not.toEqual(a);
    const gaps = a.slice(1).map((t, i) => t - (a[i] ?? 0));
    gaps.forEach((g, i) => {
      const full = Math.min(16_000, 1000 * 2 ** i);
      expect(g).toBeGreaterThanOrEqual(full / 2);
      expect(g).toBeLessThanOrEqual(full);
    });
    expect(gaps.length).toBeGreaterThan(8);
  });

  it('backoffDelay: base·2^(n−1), capped, shortened by jitter·u', () => {
    const p = { baseMs: 500, maxMs: 10_000, jitter: 0.2 };
    expect([1, 2, 3, 5, 6, 60].map((n) => backoffDelay(p, n, 0))).toEqual([500, 1000, 2000, 8000, 10_000, 10_000]);
    expect(backoffDelay(p, 3, 0.5)).toBe(1800);
    expect(backoffDelay({ ...p, jitter: 1 }, 1, 0.999_999)).toBe(0);
  });
});

describe('the transition table', () => {
  const ctx = new Loopback().ctx;

  it('ignores an event its phase does not list: same state, no effects', () => {
    const stale: DeviceEvent[] = [
      { type: 'download-end', written: 5, sha256: '' }, { type: 'timer', name: 'reboot' }, { type: 'mqtt-up' },
      { type: 'ota-done', op: 'end' }, { type: 'check-response', status: 200, body: '{}' },
    ];
    const s = initialState();
    for (const e of stale) {
      expect(handlerFor('off', e)).toBeUndefined();
      const out = transition(ctx, s, e, 0);
      expect(out.state).toBe(s);
      expect(out.effects).toEqual([]);
    }
  });

  it('a stalled transfer with no retries left fails as timeout (result_code 7), driven event by event', () => {
    const d = new Loopback({ config: { downloadRetries: 0 } });
    const boot = { ok: true, version: '1.0.0', secureVersion: 0, partition: 'ota_0', otaState: 'VALID', efuseSecureVersion: 0, chipId: 0,
      nextSlot: 'ota_1', nextSlotBytes: 0x40000, rollback: true } as const;
    const events: DeviceEvent[] = [
      { type: 'power-on' }, { type: 'timer', name: 'boot-done' }, { type: 'booted', boot }, { type: 'mqtt-up' },
      { type: 'mqtt-message', topic: 'paku/edge/esp32_001/cmd/ota', payload: JSON.stringify(OFFER) },
      { type: 'download-response', response: { status: 200, contentLength: 40_000, contentRange: null, contentType: null, etag: null } },
    ];
    let s = initialState();
    for (const e of events) s = transition(d.ctx, s, e, 0).state;
    expect(s.phase).toBe('downloading');
    const out = transition(d.ctx, s, { type: 'download-error', written: 0, reason: 'no data for 300000 ms', stalled: true }, 0);
    expect(out.state.phase).toBe('idle');
    const result = out.effects.find((e) => e.type === 'mqtt-publish' && e.topic.endsWith('/ota/result'));
    expect(JSON.parse(result?.type === 'mqtt-publish' ? result.payload : '{}')).toMatchObject({ reason: 'timeout', result_code: 7, message: 'Timeout' });
  });

  it('lists each (phase, event) pair once', () => {
    const seen = new Set<string>();
    for (const { phases, on } of transitions()) {
      for (const p of phases) {
        expect(seen.has(`${p}/${on}`), `${p}/${on}`).toBe(false);
        seen.add(`${p}/${on}`);
      }
    }
    expect(seen.size).toBeGreaterThan(40);
  });
});
