/**
 * The collector when the store misbehaves, when it is told to stop, and when it must push back —
 * over aedes in memory, with the store's failures injected through the store port.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { Counter, Registry } from 'prom-client';
import { topics as makeTopics, type Topics } from '../../protocol/topics.js';
import { EmbeddedBroker, endClient } from '../../server/broker/index.js';
import { Collector, sleepOn, type CollectorSettings, type Sleep } from '../../server/mqtt/index.js';
import { VirtualClock } from '../../protocol/clock.js';
import type { IngestBatch } from '../../server/store/store.js';
import { openPgliteHarness, type StoreHarness } from './store-harness.js';
import { uniquePrefix } from './mqtt-env.js';
import {
  ControlledStore, recordingLogger, storeClosed, storeInvalid, storeUnreachable, turns, until,
} from './mqtt-helpers.js';

let h: StoreHarness;
let broker: EmbeddedBroker;
let topics: Topics;
let dev: MqttClient;
const open: Collector[] = [];

beforeAll(async () => { h = await openPgliteHarness(); });
afterAll(async () => { await h.close(); });
beforeEach(async () => {
  await h.reset();
  broker = await EmbeddedBroker.create();
  topics = makeTopics({ prefix: uniquePrefix('collector-f') });
  dev = await broker.connect({ reconnectPeriod: 0 });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await endClient(dev, true);
  await broker.close();
});

/** A sleep that returns at once and remembers how long it was asked to wait. */
function fakeSleep(): { sleep: Sleep; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms, signal) => {
      delays.push(ms);
      if (signal.aborted) throw signal.reason;
    },
  };
}

async function collector(over: Partial<CollectorSettings>): Promise<Collector> {
  const c = await Collector.create({ clientFactory: broker.clientFactory, store: h.store, topics, logger: recordingLogger().logger, ...over });
  open.push(c);
  return c;
}

const ack = (id: string, version = '1.0.0'): Promise<unknown> =>
  dev.publishAsync(topics.otaReply(id, 'status'), JSON.stringify({ status: 'accepted', target_version: version }), { qos: 1 });
const devicesIn = (b: IngestBatch): string[] => (b.statuses ?? []).map((s) => s.device_id);

describe('an unreachable store', () => {
  it('is retried with exponential backoff, and the batch commits once it is back', async () => {
    const store = new ControlledStore(h.store);
    let failures = 3;
    store.failWith(() => (failures-- > 0 ? storeUnreachable() : undefined));
    const { sleep, delays } = fakeSleep();
    const failed: number[] = [];
    const c = await collector({ store, sleep, retryBaseMs: 100, hooks: { commitFailed: (_e, _n, retryInMs) => failed.push(retryInMs) } });
    await ack('d1');
    await until(() => c.stats.committed === 1);
    expect(delays).toEqual([100, 200, 400]);
    expect(failed).toEqual([100, 200, 400]);
    expect(c.stats.failedCommits).toBe(3);
    expect(await h.store.listStatus({ device_id: 'd1' })).toHaveLength(1);
  });

  it('waits on the shared Clock port: a virtual clock moves it through an outage in no real time', async () => {
    const clock = new VirtualClock({ start: 0 });
    const store = new ControlledStore(h.store);
    store.failWith(() => storeUnreachable());
    const c = await collector({ store, sleep: sleepOn(clock), retryBaseMs: 1_000, retryMaxMs: 60_000 });
    await ack('d1');
    // Twelve failed attempts: an outage of 1+2+4+…+60 s of virtual time.
    for (let i = 0; i < 12; i++) {
      await until(() => store.calls.length === i + 1 && clock.pending === 1);
      clock.advance(60_000);
    }
    store.failWith(undefined);
    await until(() => c.stats.committed === 1);
    expect(clock.now()).toBe(12 * 60_000);
    expect(c.stats.failedCommits).toBe(12);
  });

  it('caps the backoff at retryMaxMs', async () => {
    const store = new ControlledStore(h.store);
    let failures = 6;
    store.failWith(() => (failures-- > 0 ? storeUnreachable() : undefined));
    const { sleep, delays } = fakeSleep();
    const c = await collector({ store, sleep, retryBaseMs: 100, retryMaxMs: 1000 });
    await ack('d1');
    await until(() => c.stats.committed === 1);
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('does not hold shutdown: close() abandons the retry and leaves the message unacknowledged', async () => {
    const store = new ControlledStore(h.store);
    store.failWith(() => storeUnreachable());
    const c = await collector({ store, sleep: (_ms, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason))) });
    await ack('d1');
    await until(() => store.calls.length === 1);
    await c.close();
    expect(c.stats.committed).toBe(0);
    // The next session of the same collector gets it again and commits it.
    const next = await collector({});
    await until(() => next.stats.committed === 1);
  });
});

describe('a store that refuses some data', () => {
  it('splits the batch until the refused message is alone, commits the rest, and counts that one as malformed', async () => {
    const store = new ControlledStore(h.store);
    store.failWith((b) => (devicesIn(b).includes('poison') ? storeInvalid() : undefined));
    store.hold();
    const { logger, records } = recordingLogger();
    const c = await collector({ store, logger });
    await ack('first');
    await until(() => store.calls.length === 1);
    await Promise.all(['a', 'b', 'poison', 'c', 'd', 'e'].map((id) => ack(id)));
    await until(() => c.stats.received === 7);
    store.release();
    await until(() => c.stats.committed + c.stats.malformed === 7);
    await c.drained();
    expect(c.stats.malformed).toBe(1);
    expect(store.committed.flatMap(devicesIn).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'first']);
    expect(records.find((r) => r['msg'] === 'malformed MQTT message dropped')?.['reason']).toMatch(/store refused it/);
    // The poison was acknowledged: a new session does not get it again.
    await c.close();
    const again = new ControlledStore(h.store);
    const next = await collector({ store: again });
    await ack('fence');
    await until(() => next.stats.committed === 1);
    expect(again.committed.flatMap(devicesIn)).toEqual(['fence']);
  });

  it('isolates a message behind errors of unknown kind after three attempts', async () => {
    const store = new ControlledStore(h.store);
    store.failWith((b) => (devicesIn(b).includes('odd') ? new Error('something else') : undefined));
    const { sleep } = fakeSleep();
    const c = await collector({ store, sleep });
    await ack('odd');
    await until(() => c.stats.malformed === 1);
    expect(store.calls).toHaveLength(3);
  });
});

describe('a closed store', () => {
  it('stops the collector without crashing it, leaving the messages for the next session', async () => {
    const store = new ControlledStore(h.store);
    store.failWith(() => storeClosed());
    const { logger, records } = recordingLogger();
    const c = await collector({ store, logger });
    await ack('d1');
    await until(() => store.calls.length === 1);
    await c.drained();
    await ack('d2'); // still read, never committed
    await c.close();
    expect(c.stats.committed).toBe(0);
    expect(records.some((r) => r['level'] === 50 && String(r['msg']).includes('store closed'))).toBe(true);
    const next = await collector({});
    await until(() => next.stats.committed === 2);
  });
});

describe('lifecycle and flow control', () => {
  it('close() commits and acknowledges what it had already read', async () => {
    const store = new ControlledStore(h.store);
    store.hold();
    const c = await collector({ store });
    await Promise.all(['a', 'b', 'c'].map((id) => ack(id)));
    await until(() => c.stats.received === 3);
    const closing = c.close();
    store.release();
    await closing;
    expect(c.stats.committed).toBe(3);
    expect(await h.store.rawQuery('SELECT COUNT(*)::int AS n FROM device_update_status')).toEqual([{ n: 3 }]);
  });

  it('stops reading its connection above highWater, and resumes when the store catches up', async () => {
    const store = new ControlledStore(h.store);
    store.hold();
    const c = await collector({ store, maxBatch: 10, highWater: 20 });
    for (let i = 0; i < 100; i++) dev.publish(topics.otaReply(`d${i}`, 'status'), '{"status":"accepted"}', { qos: 0 });
    await until(() => c.stats.received >= 20);
    await turns(200);
    // One batch (10) is stuck in COMMIT and 20 wait behind it; the other 70 stay in the broker.
    expect(c.stats.received).toBe(30);
    store.release();
    await until(() => c.stats.committed === 100);
    expect(Math.max(...store.committed.map((b) => (b.statuses ?? []).length))).toBeLessThanOrEqual(10);
  });

  it('hands committed messages to the hook, and survives a hook that throws', async () => {
    const seen: string[] = [];
    const { logger, records } = recordingLogger();
    const c = await collector({
      logger,
      hooks: { committed: (ms) => { seen.push(...ms.map((m) => `${m.kind}:${m.deviceId}`)); throw new Error('hook bug'); } },
    });
    await dev.publishAsync(topics.otaReply('d1', 'result'), '{"success":true,"target_version":"2.0.0"}', { qos: 1 });
    await until(() => c.stats.committed === 1);
    await ack('d2');
    await until(() => c.stats.committed === 2);
    expect(seen).toEqual(['result:d1', 'status:d2']);
    expect(records.filter((r) => r['msg'] === 'collector hook threw')).toHaveLength(2);
  });

  it('feeds a prom-client counter that /metrics can expose', async () => {
    const registry = new Registry();
    const messages = new Counter({ name: 'otasim_mqtt_messages_total', help: 'h', labelNames: ['kind', 'outcome'] as const, registers: [registry] });
    const reports = new Counter({ name: 'otasim_update_reports_total', help: 'h', labelNames: ['status', 'source'] as const, registers: [registry] });
    const c = await collector({
      metrics: {
        countMqttMessage: (kind, outcome) => messages.inc({ kind, outcome }),
        countStatusReport: (status, source) => reports.inc({ status, source }),
      },
    });
    await dev.publishAsync(topics.otaReply('d1', 'result'), 'not json', { qos: 1 });
    await dev.publishAsync(topics.otaReply('d1', 'result'), '{"success":true}', { qos: 1 });
    await until(() => c.stats.committed === 1);
    const text = await registry.metrics();
    expect(text).toContain('otasim_mqtt_messages_total{kind="result",outcome="malformed"} 1');
    expect(text).toContain('otasim_mqtt_messages_total{kind="result",outcome="ok"} 1');
    expect(text).toContain('otasim_update_reports_total{status="success",source="mqtt"} 1');
  });

  it('refuses to start with a typed error when the broker is gone', async () => {
    await broker.close();
    await expect(Collector.create({ clientFactory: broker.clientFactory, store: h.store, topics, logger: recordingLogger().logger }))
      .rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_CONNECT' });
  });
});

describe('a flood of malformed messages', () => {
  it('counts every one but samples the log, and the valid report behind them still lands', async () => {
    const { logger, records } = recordingLogger();
    const c = await collector({ logger });
    for (let i = 0; i < 1000; i++) dev.publish(topics.otaReply('broken', 'progress'), `garbage ${i}`, { qos: 0 });
    await ack('fine');
    await until(() => c.stats.committed === 1);
    expect(c.stats.malformed).toBe(1000);
    const lines = records.filter((r) => r['msg'] === 'malformed MQTT message dropped');
    expect(lines.map((r) => r['malformedTotal'])).toEqual([...Array.from({ length: 100 }, (_, i) => i + 1), 1000]);
  });
});
