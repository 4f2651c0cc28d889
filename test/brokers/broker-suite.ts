/**
 * The abstract broker suite (STYLE.md §4), run against every broker provider of
 * harness/brokers: connect, QoS 1 delivery, retained messages, last will, reconnect with a
 * persistent session, and 2,000 clients. It also runs the server's own broker suite
 * (test/server/broker.suite.ts: wildcards, QoS downgrade, ordering, redelivery of an unacked
 * message) on each provider, so one provider passing means the orchestrator, the collector and
 * the devices can all rely on it.
 *
 * A test that must show something did NOT arrive (a cleared retained message, the will of a
 * client that disconnected cleanly) waits for a later message that the broker can only send
 * after it, never for a span of wall-clock time.
 */
import { randomBytes } from 'node:crypto';
import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt';
import pLimit from 'p-limit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerHandle } from '../../harness/brokers/index.js';
import { endClient, type ClientSetup } from '../../server/broker/index.js';
import { brokerSuite } from '../server/broker.suite.js';
import { uniquePrefix } from '../server/mqtt-env.js';
import { until } from '../server/mqtt-helpers.js';

/** Options of {@link providerSuite}. */
export interface ProviderSuiteOptions {
  /** Clients in the many-clients test. Default 2,000 (4,000 file descriptors in one process over TCP). */
  readonly clients?: number;
}

interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
}

function record(client: MqttClient, into: Seen[]): void {
  client.on('message', (topic, payload, packet) => {
    into.push({ topic, payload: payload.toString('utf8'), qos: packet.qos, retain: packet.retain });
  });
}

const payloads = (seen: readonly Seen[]): string[] => seen.map((m) => m.payload);

/** Resolve on `client`'s next 'close'. */
const closed = (client: MqttClient): Promise<void> => new Promise((resolve) => client.once('close', () => resolve()));

/**
 * Register the suite for one provider. `open` gives a fresh handle; it is called once for the
 * provider tests and once per test of the server suite.
 */
export function providerSuite(open: () => Promise<BrokerHandle>, options: ProviderSuiteOptions = {}): void {
  describe('server broker suite', () => {
    brokerSuite(async () => {
      const h = await open();
      return { connect: h.connector, [Symbol.asyncDispose]: () => h.close() };
    });
  });

  describe('provider suite', () => {
    let broker: BrokerHandle;
    let prefix: string;
    const clients: MqttClient[] = [];
    /** Persistent sessions to drop after the test: real brokers keep them across runs. */
    const sessions: string[] = [];

    /** A tracked client; `reconnectPeriod: 0` unless the test wants mqtt.js to reconnect. */
    const connect = async (o: IClientOptions = {}, setup?: ClientSetup): Promise<MqttClient> => {
      const c = await broker.connector({ reconnectPeriod: 0, ...o }, setup);
      clients.push(c);
      return c;
    };
    /** A client that records every message it gets, from before its CONNACK. */
    const recording = async (o: IClientOptions = {}): Promise<{ client: MqttClient; seen: Seen[]; connack: IConnackPacket[] }> => {
      const seen: Seen[] = [];
      const connack: IConnackPacket[] = [];
      const client = await connect(o, (c) => {
        record(c, seen);
        c.on('connect', (p) => connack.push(p));
      });
      return { client, seen, connack };
    };
    const clientId = (label: string): string => `otasim-${label}-${randomBytes(5).toString('hex')}`;

    beforeAll(async () => {
      broker = await open();
    });
    afterAll(async () => {
      await broker?.close();
    });
    // A fresh topic space per test: real brokers outlive the run, and other runs share them.
    beforeEach(() => { prefix = uniquePrefix('provider'); });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => endClient(c, true)));
      for (const id of sessions.splice(0)) await endClient(await broker.connector({ clientId: id, clean: true, reconnectPeriod: 0 }));
    });

    it('describes itself: kind, label, and a URL unless it lives in memory', () => {
      expect(broker.label.length).toBeGreaterThan(0);
      expect(broker.label).not.toContain('\n');
      if (broker.kind === 'memory') expect(broker.url).toBeNull();
      else expect(broker.url).toMatch(/^(mqtts?|wss?|tcp|tls):\/\//);
      expect(broker.embedded !== null).toBe(broker.kind === 'memory' || broker.kind === 'aedes-tcp');
    });

    it('connects: CONNACK without a session for a clean client; the same client id again takes the connection over', async () => {
      const id = clientId('connect');
      const first = await recording({ clientId: id, clean: true });
      expect(first.client.connected).toBe(true);
      expect(first.connack).toHaveLength(1);
      expect(first.connack[0]?.sessionPresent).toBe(false);
      const gone = closed(first.client);
      const second = await connect({ clientId: id, clean: true });
      await gone; // MQTT-3.1.4-2: the broker disconnects the existing client with that id
      expect(second.connected).toBe(true);
      expect(first.client.connected).toBe(false);
    });

    it('QoS 1: exactly the published set arrives, at least once, and every publish gets its PUBACK', async () => {
      const sub = await recording();
      await sub.client.subscribeAsync(`${prefix}/qos/#`, { qos: 1 });
      const pub = await connect();
      const pubacks = new Set<number>();
      pub.on('packetreceive', (p) => { if (p.cmd === 'puback' && p.messageId !== undefined) pubacks.add(p.messageId); });
      const n = 200;
      const sent = Array.from({ length: n }, (_, i) => `m${i}`);
      await Promise.all(sent.map((m, i) => pub.publishAsync(`${prefix}/qos/${i % 4}`, m, { qos: 1 })));
      expect(pubacks.size).toBe(n); // message ids are distinct while in flight, and none was reused before its PUBACK
      await pub.publishAsync(`${prefix}/qos/fence`, 'fence', { qos: 1 });
      await until(() => sub.seen.some((m) => m.payload === 'fence'));
      const got = sub.seen.filter((m) => m.payload !== 'fence');
      expect(new Set(payloads(got))).toEqual(new Set(sent));
      expect(got.every((m) => m.qos === 1 && m.topic.startsWith(`${prefix}/qos/`))).toBe(true);
    });

    it('retained: a new subscriber gets the last retained message; an empty retained payload clears it', async () => {
      const topic = `${prefix}/retained/status`;
      const pub = await connect();
      await pub.publishAsync(topic, 'v1', { qos: 1, retain: true });
      await pub.publishAsync(topic, 'v2', { qos: 1, retain: true });
      try {
        const late = await recording();
        await late.client.subscribeAsync(topic, { qos: 1 });
        await until(() => late.seen.length >= 1);
        expect(late.seen[0]).toEqual({ topic, payload: 'v2', qos: 1, retain: true });

        await pub.publishAsync(topic, '', { qos: 1, retain: true });
        const later = await recording();
        await later.client.subscribeAsync(topic, { qos: 1 });
        // Two round trips through the broker after the SUBACK: a retained message would come first.
        await pub.publishAsync(topic, 'fence', { qos: 1 });
        await until(() => later.seen.some((m) => m.payload === 'fence'));
        await later.client.publishAsync(topic, 'fence2', { qos: 1 });
        await until(() => later.seen.some((m) => m.payload === 'fence2'));
        expect(payloads(later.seen)).toEqual(['fence', 'fence2']);
        expect(later.seen.some((m) => m.retain)).toBe(false);
      } finally {
        await pub.publishAsync(topic, '', { qos: 1, retain: true });
      }
    });

    it('last will: an abrupt socket close publishes the will; a clean DISCONNECT does not', async () => {
      const watcher = await recording();
      await watcher.client.subscribeAsync(`${prefix}/will/#`, { qos: 1 });
      const will = (name: string): IClientOptions['will'] => ({ topic: `${prefix}/will/${name}`, payload: Buffer.from(`gone-${name}`), qos: 1, retain: false });

      const a = await connect({ will: will('a') });
      a.stream.destroy(); // a cut cable: no DISCONNECT
      await until(() => watcher.seen.some((m) => m.payload === 'gone-a'));

      const b = await connect({ will: will('b') });
      await endClient(b); // DISCONNECT: the broker must discard the will (MQTT-3.14.4-3)

      // `d` connects after `b` has left; its will can only be published after the broker read b's DISCONNECT.
      const d = await connect({ will: will('d') });
      d.stream.destroy();
      await until(() => watcher.seen.some((m) => m.payload === 'gone-d'));
      expect(payloads(watcher.seen)).toEqual(['gone-a', 'gone-d']);
      expect(watcher.seen.map((m) => m.topic)).toEqual([`${prefix}/will/a`, `${prefix}/will/d`]);
    });

    it('reconnect: a persistent session resumes with its subscription, and QoS 1 messages sent while offline arrive', async () => {
      const id = clientId('session');
      sessions.push(id);
      const first = await connect({ clientId: id, clean: false });
      await first.subscribeAsync(`${prefix}/session/#`, { qos: 1 });
      await endClient(first);
      const pub = await connect();
      const offline = ['q0', 'q1', 'q2', 'q3', 'q4'];
      for (const m of offline) await pub.publishAsync(`${prefix}/session/x`, m, { qos: 1 });

      const back = await recording({ clientId: id, clean: false, resubscribe: false });
      expect(back.connack[0]?.sessionPresent).toBe(true);
      await until(() => back.seen.length >= offline.length);
      expect(new Set(payloads(back.seen))).toEqual(new Set(offline));
      // No SUBSCRIBE was sent this time: the subscription is the session's.
      await pub.publishAsync(`${prefix}/session/x`, 'live', { qos: 1 });
      await until(() => back.seen.some((m) => m.payload === 'live'));
    });

    it('reconnect: mqtt.js reconnects by itself after the connection drops, and nothing published meanwhile is lost', async () => {
      const id = clientId('redial');
      sessions.push(id);
      const c = await recording({ clientId: id, clean: false, reconnectPeriod: 20, resubscribe: false });
      await c.client.subscribeAsync(`${prefix}/redial/#`, { qos: 1 });
      const dropped = closed(c.client);
      c.client.stream.destroy();
      await dropped;
      const pub = await connect();
      const sent = ['r0', 'r1', 'r2'];
      for (const m of sent) await pub.publishAsync(`${prefix}/redial/x`, m, { qos: 1 });
      await until(() => sent.every((m) => c.seen.some((s) => s.payload === m)));
      await until(() => c.connack.length >= 2);
      expect(c.connack[1]?.sessionPresent).toBe(true);
      c.client.options.reconnectPeriod = 0;
    });

    it(`${options.clients ?? 2000} clients connected and subscribed each receive their one message`, async () => {
      const n = options.clients ?? 2000;
      const got: string[][] = Array.from({ length: n }, () => []);
      const base = clientId('many');
      // Paced: Mosquitto's listen backlog is 100, and SYNs dropped past it are retried only after 1 s.
      const pace = pLimit(50);
      await Promise.all(Array.from({ length: n }, (_, i) => pace(async () => {
        const c = await connect({ clientId: `${base}-${i}` }, (client) => client.on('message', (_t, p) => got[i]?.push(p.toString())));
        await c.subscribeAsync(`${prefix}/many/${i}`, { qos: 1 });
      })));
      const pub = await connect();
      const send = pLimit(200);
      await Promise.all(Array.from({ length: n }, (_, i) => send(() => pub.publishAsync(`${prefix}/many/${i}`, String(i), { qos: 1 }))));
      await until(() => got.every((m) => m.length >= 1));
      const wrong = got.flatMap((m, i) => m.filter((p) => p !== String(i)).map((p) => `${i}←${p}`));
      expect(wrong).toEqual([]);
    }, 180_000);
  });
}
