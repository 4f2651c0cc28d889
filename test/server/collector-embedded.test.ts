/**
 * The embedded broker and its collector die together with the server process. What a device was
 * told is safe must then already be in the store; what was not, the device must send again to
 * the next server. Proved over TCP with a real reconnecting mqtt.js device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics as makeTopics } from '../../protocol/topics.js';
import { EmbeddedBroker, endClient, urlClientFactory } from '../../server/broker/index.js';
import { Collector } from '../../server/mqtt/index.js';
import { openPgliteHarness, type StoreHarness } from './store-harness.js';
import { uniquePrefix } from './mqtt-env.js';
import { ControlledStore, recordingLogger, storeClosed, until } from './mqtt-helpers.js';

let h: StoreHarness;
beforeAll(async () => { h = await openPgliteHarness(); });
afterAll(async () => { await h.close(); });

describe('embedded broker + collector crash', () => {
  it('a report whose commit never landed is not acknowledged, and the device delivers it to the next server', async () => {
    const topics = makeTopics({ prefix: uniquePrefix('embedded-crash') });
    const logger = recordingLogger().logger;
    const first = await EmbeddedBroker.create({ port: 0 });
    const port = first.address?.port ?? 0;
    const stuck = new ControlledStore(h.store);
    stuck.hold();
    const a = await Collector.create({ embedded: first, store: stuck, topics, logger });

    const device = await urlClientFactory(first.url ?? '')({ clientId: 'ESP32-CRASH001', clean: false, reconnectPeriod: 50 });
    let acked = false;
    const sent = device.publishAsync(topics.otaReply('ESP32-CRASH001', 'result'),
      '{"success":false,"target_version":"1.4.3","result_code":3,"message":"Verification failed"}', { qos: 1 })
      .then(() => { acked = true; });
    await until(() => stuck.calls.length === 1);

    // The server process dies: broker and collector go down with the commit still pending.
    await first.close();
    stuck.failWith(storeClosed);
    stuck.release();
    await a.close();
    expect(acked).toBe(false);
    expect(await h.store.listStatus({ device_id: 'ESP32-CRASH001' })).toEqual([]);

    // The next server comes up on the same port; the device reconnects and sends it again.
    await using second = await EmbeddedBroker.create({ port });
    const b = await Collector.create({ embedded: second, store: h.store, topics, logger });
    await sent;
    expect(b.stats.committed).toBe(1);
    expect(await h.store.listStatus({ device_id: 'ESP32-CRASH001' }))
      .toMatchObject([{ status: 'failed', error_message: 'Verification failed', firmware_version: '1.4.3' }]);
    await endClient(device, true);
    await b.close();
  });

  it('refuses reports that arrive while it shuts down, so devices send them again rather than lose them', async () => {
    const topics = makeTopics({ prefix: uniquePrefix('embedded-close') });
    await using broker = await EmbeddedBroker.create();
    const held = new ControlledStore(h.store);
    held.hold();
    const c = await Collector.create({ embedded: broker, store: held, topics, logger: recordingLogger().logger });
    const early = await broker.connect({ reconnectPeriod: 0 });
    const committed = early.publishAsync(topics.otaReply('early', 'status'), '{"status":"accepted"}', { qos: 1 });
    await until(() => held.calls.length === 1);
    const closing = c.close();
    const late = await broker.connect({ reconnectPeriod: 0 });
    const dropped = new Promise<void>((resolve) => late.once('close', () => resolve()));
    late.publish(topics.otaReply('late', 'status'), '{"status":"accepted"}', { qos: 1 });
    await dropped; // refused: the broker cut the connection instead of acknowledging
    held.release();
    await committed;
    await closing;
    expect(held.committed.flatMap((b) => (b.statuses ?? []).map((s) => s.device_id))).toEqual(['early']);
    await endClient(early, true);
    await endClient(late, true);
  });

  it('tells devices to send again (drops them) once its store is closed for good, instead of leaving them hanging', async () => {
    const topics = makeTopics({ prefix: uniquePrefix('embedded-dead') });
    await using broker = await EmbeddedBroker.create();
    const store = new ControlledStore(h.store);
    store.failWith(storeClosed);
    const c = await Collector.create({ embedded: broker, store, topics, logger: recordingLogger().logger });
    for (const id of ['first', 'later']) {
      const dev = await broker.connect({ reconnectPeriod: 0 });
      const dropped = new Promise<void>((resolve) => dev.once('close', () => resolve()));
      dev.publish(topics.otaReply(id, 'status'), '{"status":"accepted"}', { qos: 1 });
      await dropped;
      await endClient(dev, true);
    }
    expect(store.calls).toHaveLength(1); // the second was refused without trying a dead store
    await c.close();
  });
});
