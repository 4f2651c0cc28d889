/**
 * Wire profiles: each codec sends its dialect's exact shape (paku-protocol-facts §1.3–§1.7 for
 * paku-edge; the seed documents for paku-legacy), reads what it sends back to the same meaning,
 * and reads the other dialect's spelling too, as the paku collector does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PROFILES, canonicalState, wireProfile, type CanonicalAck, type CanonicalDeviceStatus, type CanonicalProgress, type CanonicalResult,
} from '../../protocol/profiles.js';
import { PROGRESS_STATES, UPDATE_STATUSES } from '../../protocol/payloads.js';
import { PROTOCOL_PROFILES, topics } from '../../protocol/topics.js';

const edge = PROFILES['paku-edge'];
const legacy = PROFILES['paku-legacy'];

const ack: CanonicalAck = { timestamp: '2025-12-26T14:03:11+02:00', currentVersion: '1.4.2', targetVersion: '1.4.3' };
const progress: CanonicalProgress = { timestamp: '', state: 'Downloading', percent: 42, downloaded: 420, total: 1000, elapsedMs: 1500 };
const result: CanonicalResult = {
  timestamp: '', success: false, currentVersion: '1.4.2', targetVersion: '1.4.3', resultCode: 3, message: 'Verification failed',
};
const status: CanonicalDeviceStatus = {
  online: true, deviceId: 'ESP32-20E955A0', deviceModel: 'lilygo-t-display-s3', firmwareVersion: '1.4.2', macAddress: 'AA:BB:CC:20:E9:55',
  lastSeen: '', uptimeSeconds: 12, state: 'continuous',
};

describe('profile table', () => {
  it('has a profile for every name, and wireProfile() refuses unknown names', () => {
    expect(Object.keys(PROFILES).sort()).toEqual([...PROTOCOL_PROFILES].sort());
    expect(wireProfile().name).toBe('paku-edge');
    expect(() => wireProfile('paku-v3')).toThrow(/unknown protocol profile "paku-v3"; use paku-edge or paku-legacy/);
  });

  it('paku-edge topics are the firmware\'s, paku-legacy the seeds\'; topics() follows the templates', () => {
    expect(edge.topics.cmdOta).toBe('{prefix}/edge/{id}/cmd/ota');
    expect(legacy.topics.otaReply).toBe('{prefix}/devices/{id}/ota/{reply}');
    for (const p of [edge, legacy]) {
      const t = topics({ profile: p.name, prefix: 'x/y' });
      expect(t.cmdOta('D1')).toBe(p.topics.cmdOta.replace('{prefix}', 'x/y').replace('{id}', 'D1'));
      expect(t.otaReply('D1', 'result')).toBe(p.topics.otaReply.replace('{prefix}', 'x/y').replace('{id}', 'D1').replace('{reply}', 'result'));
      expect(t.edgeStatus('D1')).toBe('x/y/edge/D1/status');
    }
  });

  it('QoS and retain: command QoS 1 not retained, device QoS 0 subscription with a clean session, retained status, QoS 1 retained will', () => {
    for (const p of [edge, legacy]) {
      expect(p.delivery).toEqual({
        command: { qos: 1, retain: false }, commandSubscribeQos: 0, cleanSession: true, reply: { qos: 0, retain: false },
        status: { qos: 0, retain: true }, will: { qos: 1, retain: true, payload: '{"online":false}' },
      });
    }
  });

  it('vocabularies: title-case states and codes 0–11 on paku-edge, lower-case states and no codes on paku-legacy', () => {
    expect(edge.vocabulary.progressStates).toEqual(PROGRESS_STATES);
    expect(edge.vocabulary.progressStatesEmitted).toEqual(['Checking', 'Downloading', 'Verifying', 'Complete', 'Failed']);
    expect(edge.vocabulary.resultMessages).toHaveLength(12);
    expect(edge.vocabulary.resultMessages[3]).toBe('Verification failed');
    expect(legacy.vocabulary.progressStates).toContain('downloading');
    expect(legacy.vocabulary.resultMessages).toEqual([]);
    for (const p of [edge, legacy]) {
      expect(p.vocabulary.updateStatuses).toEqual(UPDATE_STATUSES);
      expect(p.vocabulary.ackStatuses).toEqual(['accepted']);
    }
  });

  it('progress states map to store statuses as the paku collector maps them (§1.9), rolled back kept', () => {
    const map = (s: string): string => edge.vocabulary.progressStatus(s);
    expect(['Checking', 'Downloading', 'Complete', 'Failed', 'Idle'].map(map)).toEqual(Array(5).fill('downloading'));
    expect(map('Verifying')).toBe('downloaded');
    expect(map('installing')).toBe('installing');
    expect(map('Rolled back')).toBe('rolled_back');
  });

  it('canonicalState reads any casing and the snake-case spelling', () => {
    expect(canonicalState('DOWNLOADING')).toBe('Downloading');
    expect(canonicalState('rolled_back')).toBe('Rolled back');
    expect(canonicalState('starting')).toBeUndefined();
  });
});

describe('paku-edge codecs send the firmware\'s exact payloads', () => {
  it('command: exactly {url, version, checksum}; the device defaults a missing version and checksum', () => {
    const c = { url: 'http://ota/api/firmware/download/1.4.3?device_model=m', version: '1.4.3', checksum: 'ab'.repeat(32) };
    expect(edge.codecs.command.encode(c)).toEqual(c);
    expect(Object.keys(edge.codecs.command.encode(c)).sort()).toEqual(['checksum', 'url', 'version']);
    expect(edge.codecs.command.decode({ url: 'http://x' })).toMatchObject({ ok: true, value: { url: 'http://x', version: 'unknown', checksum: '' } });
    expect(edge.codecs.command.decode({ version: '1' })).toMatchObject({ ok: false, reason: /url/ });
  });

  it('ack: {timestamp, status: "accepted", current_version, target_version}', () => {
    const wire = edge.codecs.ack.encode(ack);
    expect(wire).toEqual({ timestamp: ack.timestamp, status: 'accepted', current_version: '1.4.2', target_version: '1.4.3' });
    expect(edge.codecs.ack.schema.safeParse(wire).success).toBe(true);
  });

  it('progress: {timestamp, state, percent, downloaded, total, elapsed_ms} with the title-case state', () => {
    const wire = edge.codecs.progress.encode(progress);
    expect(wire).toEqual({ timestamp: '', state: 'Downloading', percent: 42, downloaded: 420, total: 1000, elapsed_ms: 1500 });
    expect(edge.codecs.progress.schema.safeParse(wire).success).toBe(true);
    expect(edge.codecs.progress.schema.safeParse({ ...wire, state: 'downloading' }).success).toBe(false);
  });

  it('result: {timestamp, current_version, target_version, success, result_code, message}; extra keys ride along', () => {
    const wire = edge.codecs.result.encode(result, { reason: 'checksum_mismatch' });
    expect(wire).toEqual({
      reason: 'checksum_mismatch', timestamp: '', current_version: '1.4.2', target_version: '1.4.3', success: false, result_code: 3,
      message: 'Verification failed',
    });
    expect(edge.codecs.result.schema.safeParse(wire).success).toBe(true);
    // A code and no message: the firmware's resultToString text.
    expect(edge.codecs.result.encode({ ...result, resultCode: 7, message: null }).message).toBe('Timeout');
  });

  it('status: the §1.7 keys with mac_address; the last will is exactly {"online":false}', () => {
    expect(edge.codecs.status.encode(status)).toEqual({
      online: true, device_id: 'ESP32-20E955A0', last_seen: '', uptime_seconds: 12, firmware_version: '1.4.2',
      device_model: 'lilygo-t-display-s3', state: 'continuous', mac_address: 'AA:BB:CC:20:E9:55',
    });
    expect(JSON.stringify(edge.codecs.status.encode({ ...status, online: false }))).toBe(edge.delivery.will.payload);
  });
});

describe('paku-legacy codecs send the seed documents\' payloads', () => {
  it('ack: {timestamp, status: "accepted", version}', () => {
    expect(legacy.codecs.ack.encode(ack)).toEqual({ timestamp: ack.timestamp, status: 'accepted', version: '1.4.3' });
  });

  it('progress: a lower-case state', () => {
    const wire = legacy.codecs.progress.encode(progress);
    expect(wire).toMatchObject({ state: 'downloading', percent: 42 });
    expect(legacy.codecs.progress.schema.safeParse(wire).success).toBe(true);
    expect(legacy.codecs.progress.encode({ ...progress, downloaded: null, total: null, elapsedMs: null })).toEqual({ timestamp: '', state: 'downloading', percent: 42 });
  });

  it('result: {timestamp, success, version, message} (seed 003 Phase 2), no result_code', () => {
    expect(legacy.codecs.result.encode(result)).toEqual({ timestamp: '', success: false, version: '1.4.3', message: 'Verification failed' });
  });

  it('status: the MAC under wifi.mac, as seed 003 Phase 1 reads it', () => {
    const wire = legacy.codecs.status.encode(status);
    expect(wire).toMatchObject({ online: true, firmware_version: '1.4.2', device_model: 'lilygo-t-display-s3', wifi: { mac: 'AA:BB:CC:20:E9:55' } });
    expect(wire).not.toHaveProperty('mac_address');
    expect(legacy.codecs.status.schema.safeParse(wire).success).toBe(true);
  });
});

describe('decoding', () => {
  it('every codec reads back what it sends, in both profiles (property)', () => {
    const str = fc.string({ maxLength: 12 });
    const version = fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}$/);
    fc.assert(fc.property(fc.constantFrom(edge, legacy), str, version, version, fc.boolean(), fc.integer({ min: 0, max: 11 }),
      fc.constantFrom(...PROGRESS_STATES), fc.integer({ min: 0, max: 100 }),
      (p, ts, cur, target, success, code, state, percent) => {
        const a = p.codecs.ack.decode(JSON.parse(JSON.stringify(p.codecs.ack.encode({ timestamp: ts, currentVersion: cur, targetVersion: target }))));
        expect(a).toMatchObject({ ok: true, value: { timestamp: ts, targetVersion: target } });
        const pr = p.codecs.progress.decode(p.codecs.progress.encode({ timestamp: ts, state, percent, downloaded: 1, total: 2, elapsedMs: 3 }));
        expect(pr).toMatchObject({ ok: true, value: { state, percent } });
        const r = p.codecs.result.decode(p.codecs.result.encode({
          timestamp: ts, success, currentVersion: cur, targetVersion: target, resultCode: success ? 0 : code, message: 'm',
        }));
        expect(r).toMatchObject({ ok: true, value: { success, targetVersion: target, message: 'm' } });
        const s = p.codecs.status.decode(p.codecs.status.encode({ ...status, firmwareVersion: cur }));
        expect(s).toMatchObject({ ok: true, value: { firmwareVersion: cur, macAddress: status.macAddress, deviceModel: status.deviceModel } });
      }));
  });

  it('each profile reads the other dialect\'s version field and state casing (Postel, as collector.py)', () => {
    for (const p of [edge, legacy]) {
      expect(p.codecs.ack.decode(legacy.codecs.ack.encode(ack))).toMatchObject({ ok: true, value: { targetVersion: '1.4.3', currentVersion: null } });
      expect(p.codecs.ack.decode(edge.codecs.ack.encode(ack))).toMatchObject({ ok: true, value: { targetVersion: '1.4.3', currentVersion: '1.4.2' } });
      expect(p.codecs.result.decode(legacy.codecs.result.encode(result))).toMatchObject({ ok: true, value: { targetVersion: '1.4.3', resultCode: null } });
      expect(p.codecs.progress.decode({ state: 'verifying', percent: 100 })).toMatchObject({ ok: true, value: { state: 'Verifying', downloaded: null } });
      expect(p.codecs.ack.decode({ status: 'accepted' })).toMatchObject({ ok: true, value: { targetVersion: 'unknown' } });
    }
  });

  it('keeps unknown keys in the payload and unknown states as sent', () => {
    const d = edge.codecs.progress.decode({ state: 'Starting', percent: 5, heap_free: 1234 });
    expect(d).toMatchObject({ ok: true, value: { state: 'Starting' }, payload: { heap_free: 1234 } });
    expect(edge.vocabulary.progressStatus('Starting')).toBe('downloading');
  });

  it('refuses what no dialect sends, naming the field', () => {
    expect(edge.codecs.result.decode({ message: 'x' })).toMatchObject({ ok: false, reason: /success/ });
    expect(edge.codecs.progress.decode({ state: 'Downloading', percent: 101 })).toMatchObject({ ok: false, reason: /percent/ });
    expect(edge.codecs.status.decode({ device_model: 'm' })).toMatchObject({ ok: false, reason: /online/ });
    expect(edge.codecs.ack.decode('accepted')).toMatchObject({ ok: false });
  });
});
