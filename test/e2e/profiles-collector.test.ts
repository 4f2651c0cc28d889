/**
 * The collector maps either dialect onto the same store rows. For each wire profile, one device
 * conversation is published as that profile sends it (its topics, its codecs, its QoS and retain
 * flags): the status announcement, the ack, every progress state the firmware emits, a result,
 * and the last will; a second device fails. The rows in devices, device_update_status and
 * ota_events, read after every message, must be the same for both profiles. Runs through the
 * embedded broker in memory and through Mosquitto (MQTT_URL; skipped with a notice when unreachable).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES, type CanonicalProgress, type WireProfile } from '../../protocol/profiles.js';
import { topics as makeTopics, type ProtocolProfile } from '../../protocol/topics.js';
import { endClient, type MqttClientFactory } from '../../server/broker/index.js';
import { Collector, collectorClientId } from '../../server/mqtt/index.js';
import { openPgliteHarness, type StoreHarness } from '../server/store-harness.js';
import { brokerTargets, recordingLogger, until } from '../server/mqtt-helpers.js';
import { uniquePrefix } from '../server/mqtt-env.js';

/** One step of a conversation: which device says what, in canonical form. */
type Step =
  | { device: string; kind: 'status'; online: boolean; version?: string }
  | { device: string; kind: 'ack'; from: string; to: string }
  | { device: string; kind: 'progress'; state: CanonicalProgress['state']; percent: number }
  | { device: string; kind: 'result'; success: boolean; code: number; message: string; from: string; to: string };

const OK = 'ESP32-20E955A0';
const BAD = 'ESP32-27C136B8';
/** Each device's MAC (devices.mac_address is UNIQUE). */
const MAC: Record<string, string> = { [OK]: 'AA:BB:CC:20:E9:55', [BAD]: 'AA:BB:CC:27:C1:36' };

/** What paku-core sends for one good and one stalled update (paku-protocol-facts §1.4–§1.7, §4.3). */
const CONVERSATION: readonly Step[] = [
  { device: OK, kind: 'status', online: true, version: '1.4.2' },
  { device: OK, kind: 'ack', from: '1.4.2', to: '1.4.3' },
  { device: OK, kind: 'progress', state: 'Checking', percent: 0 },
  { device: OK, kind: 'progress', state: 'Downloading', percent: 0 },
  { device: OK, kind: 'progress', state: 'Downloading', percent: 40 },
  { device: OK, kind: 'progress', state: 'Verifying', percent: 100 },
  { device: OK, kind: 'progress', state: 'Complete', percent: 100 },
  { device: OK, kind: 'result', success: true, code: 0, message: 'Success', from: '1.4.2', to: '1.4.3' },
  { device: OK, kind: 'status', online: false },
  { device: OK, kind: 'status', online: true, version: '1.4.3' },
  { device: BAD, kind: 'status', online: true, version: '1.4.2' },
  { device: BAD, kind: 'ack', from: '1.4.2', to: '1.4.3' },
  { device: BAD, kind: 'progress', state: 'Downloading', percent: 37 },
  { device: BAD, kind: 'progress', state: 'Failed', percent: 37 },
  { device: BAD, kind: 'result', success: false, code: 7, message: 'Timeout', from: '1.4.2', to: '1.4.3' },
];

/** The wire form of a step in `profile`: topic, payload, QoS, retain. */
function wire(profile: WireProfile, prefix: string, step: Step): { topic: string; payload: string; qos: 0 | 1; retain: boolean } {
  const t = makeTopics({ prefix, profile: profile.name });
  const { codecs, delivery } = profile;
  const reply = (kind: 'status' | 'progress' | 'result', body: Record<string, unknown>) =>
    ({ topic: t.otaReply(step.device, kind), payload: JSON.stringify(body), ...delivery.reply });
  switch (step.kind) {
    case 'status': {
      const body = codecs.status.encode({
        online: step.online, deviceId: step.device, deviceModel: 'lilygo-t-display-s3', firmwareVersion: step.version ?? null,
        macAddress: MAC[step.device] ?? null, lastSeen: '', uptimeSeconds: 3, state: 'continuous',
      });
      return { topic: t.edgeStatus(step.device), payload: JSON.stringify(body), ...(step.online ? delivery.status : delivery.will) };
    }
    case 'ack': return reply('status', codecs.ack.encode({ timestamp: '', currentVersion: step.from, targetVersion: step.to }));
    case 'progress': return reply('progress', codecs.progress.encode({
      timestamp: '', state: step.state, percent: step.percent, downloaded: step.percent * 10, total: 1000, elapsedMs: 100,
    }));
    case 'result': return reply('result', codecs.result.encode({
      timestamp: '', success: step.success, currentVersion: step.from, targetVersion: step.to, resultCode: step.code, message: step.message,
    }));
  }
}

/** The rows as the collector left them, without ids, times and raw payloads. */
async function snapshot(h: StoreHarness): Promise<unknown> {
  const devices = await h.store.rawQuery(
    'SELECT device_id, device_model, current_firmware_version, mac_address FROM devices ORDER BY device_id');
  const statuses = await h.store.rawQuery(`SELECT device_id, firmware_version, status, progress_percent, error_message,
    started_at IS NOT NULL AS started, completed_at IS NOT NULL AS completed FROM device_update_status ORDER BY device_id, id`);
  const events = await h.store.rawQuery('SELECT device_id, firmware_version, event_type FROM ota_events ORDER BY device_id, id');
  const edge = await h.store.rawQuery(`SELECT device_id, status->>'online' AS online FROM edge_device_status ORDER BY device_id, id`);
  return { devices, statuses, events, edge };
}

const targets = brokerTargets.filter((b) => b.name !== 'aedes over TCP');

for (const target of targets) {
  describe.skipIf(!target.available)(`collector, both dialects through ${target.name}`, () => {
    let h: StoreHarness;
    const trails: Partial<Record<ProtocolProfile, unknown[]>> = {};
    const cleanup: Array<() => Promise<void>> = [];

    beforeAll(async () => { h = await openPgliteHarness(); });
    afterAll(async () => { await h.close(); });
    afterEach(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });

    /** Publish the conversation in `profile`'s dialect; the rows after every message. */
    async function replay(profile: WireProfile): Promise<unknown[]> {
      await h.reset();
      const broker = await target.open();
      cleanup.push(() => broker.close());
      const prefix = uniquePrefix(`collector-${profile.name}`);
      const topics = makeTopics({ prefix, profile: profile.name });
      const factory: MqttClientFactory = broker.factory;
      const collector = await Collector.create({ clientFactory: factory, store: h.store, topics, logger: recordingLogger().logger });
      cleanup.push(async () => {
        await collector.close();
        await endClient(await factory({ clientId: collectorClientId(topics), clean: true, reconnectPeriod: 0 }), true);
      });
      const device = await factory({ clientId: `${prefix.replace(/\//g, '_')}-dev`, clean: true, reconnectPeriod: 0 });
      cleanup.push(() => endClient(device, true));
      const trail: unknown[] = [];
      for (const [i, step] of CONVERSATION.entries()) {
        const w = wire(profile, prefix, step);
        await device.publishAsync(w.topic, w.payload, { qos: w.qos, retain: w.retain });
        await until(() => collector.stats.committed === i + 1);
        trail.push(await snapshot(h));
        if (w.retain) await device.publishAsync(w.topic, '', { qos: 0, retain: true }); // a shared broker must not keep it
      }
      expect(collector.stats.malformed).toBe(0);
      return trail;
    }

    it.each(['paku-edge', 'paku-legacy'] as const)('%s: every reply kind lands in devices, device_update_status and ota_events', async (name) => {
      const trail = await replay(PROFILES[name]);
      trails[name] = trail;
      const at = (i: number) => trail[i] as { statuses: Array<Record<string, unknown>>; events: unknown[]; devices: unknown[] };
      // The ack opens a pending row and an update_started event.
      expect(at(1).statuses).toEqual([{ device_id: OK, firmware_version: '1.4.3', status: 'pending', progress_percent: null,
        error_message: null, started: true, completed: false }]);
      // Progress moves the row as the paku collector maps states: Verifying → downloaded, the rest → downloading.
      expect([2, 3, 4, 5, 6].map((i) => [at(i).statuses[0]?.status, at(i).statuses[0]?.progress_percent])).toEqual([
        ['downloading', 0], ['downloading', 0], ['downloading', 40], ['downloaded', 100], ['downloading', 100]]);
      const end = at(CONVERSATION.length - 1);
      expect(end).toEqual({
        devices: [
          { device_id: OK, device_model: 'lilygo-t-display-s3', current_firmware_version: '1.4.3', mac_address: MAC[OK] },
          { device_id: BAD, device_model: 'lilygo-t-display-s3', current_firmware_version: '1.4.2', mac_address: MAC[BAD] },
        ].sort((a, b) => a.device_id.localeCompare(b.device_id)),
        statuses: [
          { device_id: OK, firmware_version: '1.4.3', status: 'success', progress_percent: 100, error_message: null, started: true, completed: true },
          { device_id: BAD, firmware_version: '1.4.3', status: 'failed', progress_percent: 37, error_message: 'Timeout', started: true, completed: true },
        ].sort((a, b) => a.device_id.localeCompare(b.device_id)),
        events: [
          { device_id: OK, firmware_version: '1.4.3', event_type: 'update_started' },
          { device_id: OK, firmware_version: '1.4.3', event_type: 'update_completed' },
          { device_id: BAD, firmware_version: '1.4.3', event_type: 'update_started' },
          { device_id: BAD, firmware_version: '1.4.3', event_type: 'update_failed' },
        ].sort((a, b) => a.device_id.localeCompare(b.device_id)),
        edge: expect.arrayContaining([{ device_id: OK, online: 'false' }]),
      });
    });

    it('both dialects leave the same rows after every message', () => {
      expect(trails['paku-edge']).toBeDefined();
      expect(trails['paku-legacy']).toEqual(trails['paku-edge']);
    });
  });
}
