/**
 * The collector's pure mapping from MQTT messages to store rows: the paku collector's semantics
 * (paku-protocol-facts §1.9) for the real firmware's payloads (§1.4–§1.7) and seed 003's.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { topics } from '../../protocol/topics.js';
import { mapMessage, type Accepted, type Mapped } from '../../server/mqtt/ingest-map.js';

const edge = topics({ prefix: 'paku', profile: 'paku-edge' });
const legacy = topics({ prefix: 'paku', profile: 'paku-legacy' });
const at = new Date('2026-05-05T10:00:00Z');
const bytes = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function ok(m: Mapped): Accepted {
  if (m.outcome !== 'ok') throw new Error(`expected ok, got ${m.outcome}: ${m.reason}`);
  return m;
}

describe('valid OTA replies become the paku collector rows', () => {
  it('ota/status (the ack) inserts a pending row with started_at and an update_started event', () => {
    const payload = { timestamp: '2025-12-26T14:03:11+02:00', status: 'accepted', current_version: '1.4.2', target_version: '1.4.3' };
    const m = ok(mapMessage(edge, 'paku/edge/ESP32-20E955A0/ota/status', bytes(payload), { receivedAt: at }));
    expect(m.kind).toBe('status');
    expect(m.rows.statuses).toEqual([{ device_id: 'ESP32-20E955A0', firmware_version: '1.4.3', status: 'pending',
      started: true, mode: 'insert', reported_at: at }]);
    expect(m.rows.events).toEqual([{ event_type: 'update_started', device_id: 'ESP32-20E955A0', firmware_version: '1.4.3',
      event_data: payload, created_at: at }]);
  });

  it.each([
    ['Checking', 'downloading'], ['Downloading', 'downloading'], ['Verifying', 'downloaded'],
    ['Complete', 'downloading'], ['Failed', 'downloading'], ['Installing', 'installing'],
  ] as const)('ota/progress state %s updates the latest row to %s with the percent', (state, status) => {
    const m = ok(mapMessage(edge, 'paku/edge/d1/ota/progress',
      bytes({ timestamp: '', state, percent: 40, downloaded: 400, total: 1000, elapsed_ms: 1200 })));
    expect(m.rows.statuses).toEqual([{ device_id: 'd1', status, progress_percent: 40, mode: 'latest' }]);
    expect(m.rows.events).toEqual([]);
  });

  it('ota/progress without percent records 0, as collector.py does', () => {
    const m = ok(mapMessage(edge, 'paku/edge/d1/ota/progress', bytes({ state: 'Downloading' })));
    expect(m.rows.statuses[0]?.progress_percent).toBe(0);
  });

  it('ota/result success sets success, 100 %, completed_at, and update_completed', () => {
    const payload = { timestamp: '', current_version: '1.4.2', target_version: '1.4.3', success: true, result_code: 0, message: 'Success' };
    const m = ok(mapMessage(edge, 'paku/edge/d1/ota/result', bytes(payload)));
    expect(m.rows.statuses).toEqual([{ device_id: 'd1', firmware_version: '1.4.3', status: 'success', progress_percent: 100,
      completed: true, mode: 'latest' }]);
    expect(m.rows.events).toEqual([{ event_type: 'update_completed', device_id: 'd1', firmware_version: '1.4.3', event_data: payload }]);
  });

  it('ota/result failure keeps the message as error_message and adds update_failed', () => {
    const payload = { current_version: '1.4.2', target_version: '1.4.3', success: false, result_code: 3, message: 'Verification failed' };
    const m = ok(mapMessage(edge, 'paku/edge/d1/ota/result', bytes(payload)));
    expect(m.rows.statuses).toEqual([{ device_id: 'd1', firmware_version: '1.4.3', status: 'failed',
      error_message: 'Verification failed', completed: true, mode: 'latest' }]);
    expect(m.rows.events[0]?.event_type).toBe('update_failed');
  });

  it("seed 003's result {success, version, message, timestamp} on the legacy topics", () => {
    const m = ok(mapMessage(legacy, 'paku/devices/esp32_001/ota/result',
      bytes({ success: true, version: '1.2.0', message: 'ok', timestamp: '2025-12-08T15:30:45Z' })));
    expect(m.deviceId).toBe('esp32_001');
    expect(m.rows.statuses[0]).toMatchObject({ firmware_version: '1.2.0', status: 'success' });
  });

  it('a reply on the other profile\'s OTA topics is ignored, not misfiled', () => {
    expect(mapMessage(edge, 'paku/devices/d1/ota/result', bytes({ success: true })).outcome).toBe('ignored');
    expect(mapMessage(legacy, 'paku/edge/d1/ota/result', bytes({ success: true })).outcome).toBe('ignored');
  });
});

describe('edge status registers devices', () => {
  const status = {
    online: true, device_id: 'ESP32-20E955A0', mac_address: 'AA:BB:CC:DD:EE:FF', last_seen: '', signal_strength_dbm: -61,
    uptime_seconds: 12, firmware_version: '1.4.2', device_model: 'lilygo-t-display-s3', state: 'continuous', heater_status: 1,
    mqtt_broker: 'LOCAL', mqtt_host: 'homeassistant.local', active_scenario: 'heater_active',
  };

  it('a status with device_model upserts the device and keeps the raw JSON', () => {
    const m = ok(mapMessage(edge, 'paku/edge/ESP32-20E955A0/status', bytes(status), { receivedAt: at }));
    expect(m.rows.devices).toEqual([{ device_id: 'ESP32-20E955A0', device_model: 'lilygo-t-display-s3',
      current_firmware_version: '1.4.2', mac_address: 'AA:BB:CC:DD:EE:FF' }]);
    expect(m.rows.edgeStatuses).toEqual([{ site_id: 'paku', device_id: 'ESP32-20E955A0', status, ts: at }]);
  });

  it('the last will {"online":false} only adds a status row', () => {
    const m = ok(mapMessage(legacy, 'paku/edge/ESP32-20E955A0/status', bytes('{"online":false}')));
    expect(m.rows.devices).toEqual([]);
    expect(m.rows.edgeStatuses).toHaveLength(1);
  });

  it('the device id comes from the topic, not the payload', () => {
    const m = ok(mapMessage(edge, 'paku/edge/real-id/status', bytes({ ...status, device_id: 'spoofed' })));
    expect(m.rows.devices[0]?.device_id).toBe('real-id');
  });

  it('an empty retained payload (a clear) is ignored', () => {
    expect(mapMessage(edge, 'paku/edge/d1/status', Buffer.alloc(0))).toMatchObject({ outcome: 'ignored', kind: 'edge_status' });
  });
});

describe('malformed messages are refused with a reason, never thrown', () => {
  it.each([
    ['not JSON', 'paku/edge/d1/ota/result', '{"success": tru', /not JSON/],
    ['JSON but not an object', 'paku/edge/d1/ota/result', '42', /payload/],
    ['null', 'paku/edge/d1/status', 'null', /payload/],
    ['an array', 'paku/edge/d1/ota/progress', '[1,2]', /payload/],
    ['success as a string', 'paku/edge/d1/ota/result', '{"success":"yes"}', /success/],
    ['percent over 100', 'paku/edge/d1/ota/progress', '{"state":"Downloading","percent":150}', /percent/],
    ['a status without online', 'paku/edge/d1/status', '{"device_model":"esp32"}', /online/],
    ['a U+0000 PostgreSQL cannot store', 'paku/edge/d1/status', '{"online":true,"device_model":"a\\u0000b"}', /U\+0000/],
  ])('%s', (_name, topic, payload, reason) => {
    const m = mapMessage(edge, topic, bytes(payload));
    expect(m.outcome).toBe('malformed');
    expect(m.outcome !== 'ok' && m.reason).toMatch(reason);
  });

  it('refuses a payload over the size limit before parsing it', () => {
    const m = mapMessage(edge, 'paku/edge/d1/status', Buffer.alloc(2048, 0x20), { maxPayloadBytes: 1024 });
    expect(m).toMatchObject({ outcome: 'malformed', reason: expect.stringMatching(/2048 bytes, over the 1024-byte limit/) });
  });

  it('refuses a device id longer than 128 characters', () => {
    const m = mapMessage(edge, `paku/edge/${'x'.repeat(129)}/ota/result`, bytes({ success: true }));
    expect(m).toMatchObject({ outcome: 'malformed', reason: expect.stringMatching(/device id/) });
  });

  it('ignores topics that are not OTA replies or edge status', () => {
    for (const t of ['paku/edge/d1/ota/other', 'paku/edge/d1/config/report', 'other/edge/d1/status', 'paku/edge/d1/status/fan']) {
      expect(mapMessage(edge, t, bytes({ online: true })).outcome).toBe('ignored');
    }
  });

  it('never throws, whatever the topic and bytes (property)', () => {
    fc.assert(fc.property(
      fc.constantFrom('paku/edge/d/ota/status', 'paku/edge/d/ota/progress', 'paku/edge/d/ota/result', 'paku/edge/d/status', 'paku/x'),
      fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => new TextEncoder().encode(j))),
      (topic, payload) => {
        const m = mapMessage(edge, topic, payload);
        expect(['ok', 'malformed', 'ignored']).toContain(m.outcome);
      },
    ), { numRuns: 2000 });
  });
});
