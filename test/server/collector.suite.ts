/**
 * The collector against one broker: what reaches the store, and when a QoS 1 message is
 * acknowledged. Run by collector.test.ts for an MQTT subscription on aedes in memory, aedes over
 * TCP and Mosquitto, and for the embedded broker's interceptor (devices over TCP).
 *
 * "Acknowledged only after commit" is proved the way it matters for each source:
 * - subscription: the PUBACK goes to the broker, so a collector that dies before its commit
 *   lands must get the message again in its next session, and one that committed must not (the
 *   publisher's own PUBACK comes from the broker then, and says nothing);
 * - embedded: the broker's PUBACK to the device itself waits for the COMMIT.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { topics as makeTopics, type ProtocolProfile, type Topics } from '../../protocol/topics.js';
import { endClient, type EmbeddedBroker, type MqttClientFactory } from '../../server/broker/index.js';
import { Collector, collectorClientId, type CollectorSettings, type CollectorSource } from '../../server/mqtt/index.js';
import { openPgliteHarness, type StoreHarness } from './store-harness.js';
import { uniquePrefix } from './mqtt-env.js';
import { ControlledStore, capturing, recordingLogger, storeClosed, until, type BrokerTarget } from './mqtt-helpers.js';

const statusPayload = (id: string, version: string) => JSON.stringify({
  online: true, device_id: id, mac_address: 'AA:BB:CC:00:00:01', last_seen: '', signal_strength_dbm: -60, uptime_seconds: 5,
  firmware_version: version, device_model: 'esp32', state: 'continuous', heater_status: 0, mqtt_broker: 'LOCAL',
  mqtt_host: '127.0.0.1', active_scenario: 'default',
});

/** How the collector under test takes its messages. */
export type SourceKind = 'subscription' | 'embedded';

export function collectorSuite(target: BrokerTarget, kind: SourceKind): void {
  let h: StoreHarness;
  let broker: { factory: MqttClientFactory; close(): Promise<void>; embedded?: EmbeddedBroker };
  let topics: Topics;
  const cleanup: Array<() => Promise<void>> = [];

  beforeAll(async () => { h = await openPgliteHarness(); });
  afterAll(async () => { await h.close(); });
  beforeEach(async () => {
    await h.reset();
    broker = await target.open();
    topics = makeTopics({ prefix: uniquePrefix('collector') });
  });
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    // Persistent sessions outlive us on a real broker: end them.
    if (kind === 'subscription') await endClient(await broker.factory({ clientId: collectorClientId(topics), clean: true, reconnectPeriod: 0 }));
    await broker.close();
  });

  const publisher = async (): Promise<MqttClient> => {
    const c = await broker.factory({ reconnectPeriod: 0 });
    cleanup.push(() => endClient(c, true));
    return c;
  };
  const source = (factory?: MqttClientFactory): CollectorSource => {
    if (kind === 'subscription') return { clientFactory: factory ?? broker.factory };
    if (broker.embedded === undefined) throw new Error('the embedded source needs an EmbeddedBroker target');
    return { embedded: broker.embedded };
  };
  const collector = async (over: Partial<CollectorSettings> = {}): Promise<Collector> => {
    const c = await Collector.create({ ...source(), store: h.store, topics, logger: recordingLogger().logger, ...over });
    cleanup.push(() => c.close());
    return c;
  };

  it('persists a device\'s whole OTA conversation as the paku collector does', async () => {
    const c = await collector();
    const dev = await publisher();
    const id = 'ESP32-20E955A0';
    await dev.publishAsync(topics.edgeStatus(id), statusPayload(id, '1.4.2'), { qos: 1, retain: false });
    await dev.publishAsync(topics.otaReply(id, 'status'), JSON.stringify({ timestamp: '', status: 'accepted', current_version: '1.4.2',
      target_version: '1.4.3' }), { qos: 1 });
    for (const [state, percent] of [['Checking', 0], ['Downloading', 50], ['Verifying', 100]] as const) {
      await dev.publishAsync(topics.otaReply(id, 'progress'), JSON.stringify({ timestamp: '', state, percent, downloaded: percent * 10,
        total: 1000, elapsed_ms: 10 }), { qos: 1 });
    }
    await dev.publishAsync(topics.otaReply(id, 'result'), JSON.stringify({ timestamp: '', current_version: '1.4.2', target_version: '1.4.3',
      success: true, result_code: 0, message: 'Success' }), { qos: 1 });
    await until(() => c.stats.committed === 6);

    expect(await h.store.getDevice(id)).toMatchObject({ device_model: 'esp32', current_firmware_version: '1.4.2', mac_address: 'AA:BB:CC:00:00:01' });
    const rows = await h.store.listStatus({ device_id: id });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ firmware_version: '1.4.3', status: 'success', progress_percent: 100 });
    expect(rows[0]?.started_at).toBeInstanceOf(Date);
    expect(rows[0]?.completed_at).toBeInstanceOf(Date);
    expect((await h.store.listEvents({ device_id: id })).map((e) => e.event_type).sort()).toEqual(['update_completed', 'update_started']);
    expect(await h.store.rawQuery('SELECT device_id, site_id FROM edge_device_status')).toEqual([{ device_id: id, site_id: topics.prefix }]);
  });

  it.runIf(kind === 'embedded')('holds the device\'s own PUBACK until the COMMIT has landed', async () => {
    const held = new ControlledStore(h.store);
    held.hold();
    const c = await collector({ store: held });
    const dev = await publisher();
    let acked = false;
    const sent = dev.publishAsync(topics.otaReply('d1', 'result'), '{"success":true,"target_version":"2.0.0"}', { qos: 1 })
      .then(() => { acked = true; });
    await until(() => held.calls.length === 1); // stuck in COMMIT
    await dev.publishAsync(`${topics.prefix}/elsewhere`, 'fence', { qos: 1 }); // a later round trip on the same connection
    expect(acked).toBe(false);
    expect(await h.store.listStatus({ device_id: 'd1' })).toEqual([]);
    held.release();
    await sent;
    expect(c.stats.committed).toBe(1);
    expect(await h.store.listStatus({ device_id: 'd1' })).toMatchObject([{ status: 'success' }]);
  });

  it.runIf(kind === 'subscription')('a collector that dies before its commit lands gets the QoS 1 message again in its next session', async () => {
    const held = new ControlledStore(h.store);
    held.hold();
    const first = capturing(broker.factory);
    const a = await Collector.create({ ...source(first.factory), store: held, topics, logger: recordingLogger().logger });
    const dev = await publisher();
    await dev.publishAsync(topics.otaReply('d1', 'status'), '{"status":"accepted","target_version":"2.0.0"}', { qos: 1 });
    await until(() => held.calls.length === 1); // read, batched, and stuck in COMMIT
    first.clients[0]?.end(true); // the process dies: no PUBACK, no DISCONNECT
    held.failWith(storeClosed);
    held.release();
    await a.close();
    expect(a.stats.committed).toBe(0);

    const b = await collector();
    await until(() => b.stats.committed === 1);
    expect(await h.store.listStatus({ device_id: 'd1' })).toMatchObject([{ status: 'pending', firmware_version: '2.0.0' }]);
  });

  it.runIf(kind === 'subscription')('a collector that committed has acknowledged: its next session is not sent the message again', async () => {
    const spy = new ControlledStore(h.store);
    const first = capturing(broker.factory);
    const a = await Collector.create({ ...source(first.factory), store: spy, topics, logger: recordingLogger().logger });
    const dev = await publisher();
    await dev.publishAsync(topics.otaReply('d1', 'status'), '{"status":"accepted","target_version":"2.0.0"}', { qos: 1 });
    await until(() => a.stats.committed === 1);
    const stream = first.clients[0]?.stream;
    await until(() => (stream?.writableLength ?? 0) === 0); // the PUBACK has left the process
    first.clients[0]?.end(true);
    await a.close();

    const again = new ControlledStore(h.store);
    const b = await collector({ store: again });
    await dev.publishAsync(topics.otaReply('d2', 'status'), '{"status":"accepted","target_version":"2.0.0"}', { qos: 1 });
    await until(() => b.stats.committed >= 1);
    await b.drained();
    // A redelivery of d1 would precede the fence d2 on the same session.
    expect(again.committed.flatMap((x) => x.statuses ?? []).map((s) => s.device_id)).toEqual(['d2']);
  });

  it('keeps reading QoS 0 reports while a commit is held, and commits them together after', async () => {
    const held = new ControlledStore(h.store);
    const c = await collector({ store: held });
    held.hold();
    const dev = await publisher();
    const n = 200;
    const report = (i: number): void => {
      dev.publish(topics.otaReply(`dev-${i}`, 'status'), JSON.stringify({ status: 'accepted', target_version: '3.0.0' }), { qos: 0 });
    };
    report(0);
    await until(() => held.calls.length === 1); // the first batch is stuck in COMMIT
    for (let i = 1; i < n; i++) report(i);
    await until(() => c.stats.received === n); // the rest are read all the same
    expect(held.committed).toHaveLength(0);
    held.release();
    await until(() => c.stats.committed === n);
    expect(c.stats.batches).toBe(2); // the first message, then everything that queued behind it
    expect(await h.store.rawQuery('SELECT COUNT(*)::int AS n FROM device_update_status')).toEqual([{ n }]);
  });

  it('counts and logs malformed payloads, keeps going, and acknowledges them so they do not come back', async () => {
    const { logger, records } = recordingLogger();
    const counts: string[] = [];
    const metrics = { countMqttMessage: (kind: string, outcome: string) => { counts.push(`${kind}/${outcome}`); }, countStatusReport: () => {} };
    const c = await collector({ logger, metrics });
    const dev = await publisher();
    await dev.publishAsync(topics.otaReply('d1', 'result'), '{"success":', { qos: 1 });
    await dev.publishAsync(topics.otaReply('d1', 'progress'), '{"state":"Downloading","percent":"half"}', { qos: 1 });
    await dev.publishAsync(topics.edgeStatus('d1'), Buffer.from([0xff, 0xfe, 0x00]), { qos: 1 });
    await dev.publishAsync(topics.otaReply('d1', 'status'), '{"status":"accepted","target_version":"1.0.1"}', { qos: 1 });
    await until(() => c.stats.committed === 1);
    expect(c.stats.malformed).toBe(3);
    expect(counts.filter((x) => x.endsWith('/malformed')).sort()).toEqual(['edge_status/malformed', 'progress/malformed', 'result/malformed']);
    expect(records.filter((r) => r['msg'] === 'malformed MQTT message dropped').map((r) => r['topic'])).toHaveLength(3);
    expect(await h.store.listStatus({ device_id: 'd1' })).toMatchObject([{ status: 'pending', firmware_version: '1.0.1' }]);
  });

  it('records the last will {"online":false} of a device that vanished', async () => {
    const c = await collector();
    const id = 'ESP32-0DEAD000';
    const dev = await broker.factory({ reconnectPeriod: 0, will: { topic: topics.edgeStatus(id), payload: Buffer.from('{"online":false}'), qos: 1, retain: false } });
    dev.stream.destroy(); // no DISCONNECT: the broker publishes the will
    await until(() => c.stats.committed === 1);
    expect(await h.store.rawQuery('SELECT device_id, status FROM edge_device_status')).toEqual([{ device_id: id, status: { online: false } }]);
    expect(await h.store.getDevice(id)).toBeUndefined(); // no device_model: nothing to register
    await endClient(dev, true);
  });

  it.each(['paku-edge', 'paku-legacy'] as ProtocolProfile[])('collects the %s profile\'s reply topics', async (profile) => {
    topics = makeTopics({ prefix: topics.prefix, profile });
    const c = await collector();
    const dev = await publisher();
    await dev.publishAsync(topics.otaReply('d9', 'result'), '{"success":false,"version":"1.2.0","message":"Download failed"}', { qos: 1 });
    await until(() => c.stats.committed === 1);
    expect(await h.store.listStatus({ device_id: 'd9' })).toMatchObject([{ status: 'failed', error_message: 'Download failed' }]);
  });
}
