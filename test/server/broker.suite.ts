/**
 * The abstract broker suite (STYLE.md §4): the MQTT behaviour the orchestrator, the collector
 * and the simulated devices rely on, written once and run against every broker we ship or
 * support — aedes over in-memory duplexes, aedes over TCP, and the real Mosquitto.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { endClient, type ClientSetup, type MqttClientFactory } from '../../server/broker/index.js';
import { uniquePrefix } from './mqtt-env.js';

/** A broker under test: a client factory plus its own teardown. */
export interface BrokerUnderTest extends AsyncDisposable {
  connect: MqttClientFactory;
}

interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

/** Record every PUBLISH `client` receives. */
function recorder(client: MqttClient): Received[] {
  const seen: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    seen.push({ topic, payload: payload.toString('utf8'), qos: packet.qos, retain: packet.retain });
  });
  return seen;
}

/** Resolve once `pred()` holds, re-checking on every event-loop turn (bounded by the test timeout). */
async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setImmediate(r));
}

/** Resolve after `n` more PUBLISH packets reach `client`. */
function nextMessages(client: MqttClient, n: number): Promise<IPublishPacket[]> {
  return new Promise((resolve) => {
    const got: IPublishPacket[] = [];
    const on = (_t: string, _p: Buffer, packet: IPublishPacket): void => {
      got.push(packet);
      if (got.length === n) {
        client.off('message', on);
        resolve(got);
      }
    };
    client.on('message', on);
  });
}

/** Register the suite's tests for one broker. */
export function brokerSuite(makeBroker: () => Promise<BrokerUnderTest>): void {
  let broker: BrokerUnderTest;
  let prefix: string;
  const open: MqttClient[] = [];
  const retained: string[] = [];
  const sessions: string[] = [];

  const connect = async (options: IClientOptions = {}, setup?: ClientSetup): Promise<MqttClient> => {
    const c = await broker.connect({ reconnectPeriod: 0, ...options }, setup);
    open.push(c);
    return c;
  };

  beforeEach(async () => {
    broker = await makeBroker();
    prefix = uniquePrefix('broker');
  });

  afterEach(async () => {
    // Real brokers persist retained messages and sessions between runs: leave nothing behind.
    if (retained.length > 0 || sessions.length > 0) {
      const janitor = await connect();
      for (const t of retained.splice(0)) await janitor.publishAsync(t, '', { qos: 1, retain: true });
      for (const id of sessions.splice(0)) await endClient(await broker.connect({ clientId: id, clean: true, reconnectPeriod: 0 }));
    }
    await Promise.all(open.splice(0).map((c) => endClient(c, true)));
    await broker[Symbol.asyncDispose]();
  });

  it('delivers QoS 1 publishes to + and # wildcard subscribers, and only those', async () => {
    const sub = await connect();
    const seen = recorder(sub);
    await sub.subscribeAsync([`${prefix}/devices/+/ota/#`], { qos: 1 });
    const pub = await connect();
    await pub.publishAsync(`${prefix}/devices/d1/ota/result`, '{"success":true}', { qos: 1 });
    await pub.publishAsync(`${prefix}/edge/d1/status`, '{"online":true}', { qos: 1 });
    await pub.publishAsync(`${prefix}/devices/d2/ota/progress`, '{"state":"Downloading"}', { qos: 1 });
    await until(() => seen.length >= 2);
    // A QoS 1 round trip after the last publish proves nothing else is still on its way.
    await pub.publishAsync(`${prefix}/devices/d3/ota/status`, 'fence', { qos: 1 });
    await until(() => seen.length >= 3);
    expect(seen.map((m) => [m.topic, m.payload, m.qos])).toEqual([
      [`${prefix}/devices/d1/ota/result`, '{"success":true}', 1],
      [`${prefix}/devices/d2/ota/progress`, '{"state":"Downloading"}', 1],
      [`${prefix}/devices/d3/ota/status`, 'fence', 1],
    ]);
  });

  it('downgrades delivery to the subscription QoS (a device subscribed at QoS 0 gets QoS 0)', async () => {
    const sub = await connect();
    const got = nextMessages(sub, 1);
    await sub.subscribeAsync(`${prefix}/edge/dev/cmd/ota`, { qos: 0 });
    const pub = await connect();
    await pub.publishAsync(`${prefix}/edge/dev/cmd/ota`, '{"url":"http://x/fw.bin"}', { qos: 1 });
    const [packet] = await got;
    expect(packet?.qos).toBe(0);
  });

  it('keeps a retained status for subscribers that arrive later', async () => {
    const topic = `${prefix}/edge/d1/status`;
    retained.push(topic);
    const pub = await connect();
    await pub.publishAsync(topic, '{"online":true,"device_model":"esp32"}', { qos: 1, retain: true });
    const late = await connect();
    const got = nextMessages(late, 1);
    await late.subscribeAsync(`${prefix}/edge/+/status`, { qos: 1 });
    const [packet] = await got;
    expect(packet?.retain).toBe(true);
    expect(packet?.payload.toString()).toBe('{"online":true,"device_model":"esp32"}');
  });

  it('publishes the retained last will when a device vanishes without DISCONNECT', async () => {
    const topic = `${prefix}/edge/dying/status`;
    retained.push(topic);
    const watcher = await connect();
    const got = nextMessages(watcher, 1);
    await watcher.subscribeAsync(`${prefix}/edge/+/status`, { qos: 1 });
    const device = await connect({ will: { topic, payload: Buffer.from('{"online":false}'), qos: 1, retain: true } });
    device.stream.destroy(); // the cable is cut: no DISCONNECT packet
    const [packet] = await got;
    expect(packet?.topic).toBe(topic);
    expect(packet?.payload.toString()).toBe('{"online":false}');
  });

  it('queues QoS 1 messages for an offline persistent session and delivers them in order', async () => {
    const clientId = `otasim-suite-${prefix.slice(-12)}`;
    sessions.push(clientId);
    const first = await connect({ clientId, clean: false });
    await first.subscribeAsync(`${prefix}/devices/+/ota/#`, { qos: 1 });
    await endClient(first);
    const pub = await connect();
    for (let i = 0; i < 5; i++) await pub.publishAsync(`${prefix}/devices/d/ota/progress`, `m${i}`, { qos: 1 });
    let seen: Received[] = [];
    // Queued messages follow the CONNACK at once: record from before the first packet.
    await connect({ clientId, clean: false }, (c) => { seen = recorder(c); });
    await until(() => seen.length >= 5);
    expect(seen.map((m) => m.payload)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('redelivers a QoS 1 message whose PUBACK was withheld when the session reconnects', async () => {
    const clientId = `otasim-suite-${prefix.slice(-12)}`;
    sessions.push(clientId);
    const holder = await connect({ clientId, clean: false });
    holder.handleMessage = () => { /* never call back: no PUBACK, as when a commit never lands */ };
    const arrived = nextMessages(holder, 1);
    await holder.subscribeAsync(`${prefix}/devices/+/ota/result`, { qos: 1 });
    const pub = await connect();
    await pub.publishAsync(`${prefix}/devices/d/ota/result`, 'unacked', { qos: 1 });
    await arrived;
    holder.stream.destroy();
    await until(() => holder.disconnected || !holder.connected);
    let seen: Received[] = [];
    await connect({ clientId, clean: false }, (c) => { seen = recorder(c); });
    await until(() => seen.length >= 1);
    expect(seen[0]?.payload).toBe('unacked');
  });

  it('keeps the order of many QoS 1 messages from one publisher', async () => {
    const sub = await connect();
    const seen = recorder(sub);
    await sub.subscribeAsync(`${prefix}/devices/+/ota/progress`, { qos: 1 });
    const pub = await connect();
    const n = 300;
    await Promise.all(Array.from({ length: n }, (_, i) =>
      pub.publishAsync(`${prefix}/devices/d/ota/progress`, String(i), { qos: 1 })));
    await until(() => seen.length >= n);
    expect(seen.map((m) => Number(m.payload))).toEqual(Array.from({ length: n }, (_, i) => i));
  });
}
