/**
 * The abstract broker suite against every broker: embedded aedes over in-memory duplexes,
 * embedded aedes over TCP on port 0, and the real Mosquitto (MQTT_URL).
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedBroker, duplexPair, endClient, urlClientFactory } from '../../server/broker/index.js';
import { brokerSuite } from './broker.suite.js';
import { mosquitto } from './mqtt-env.js';
import { until } from './mqtt-helpers.js';

describe('aedes over in-memory duplex streams', () => {
  brokerSuite(async () => {
    const broker = await EmbeddedBroker.create();
    return { connect: broker.clientFactory, [Symbol.asyncDispose]: () => broker.close() };
  });
});

describe('aedes over TCP (port 0)', () => {
  brokerSuite(async () => {
    const broker = await EmbeddedBroker.create({ port: 0 });
    const url = broker.url;
    if (url === null) throw new Error('a broker created with a port has a url');
    return { connect: urlClientFactory(url), [Symbol.asyncDispose]: () => broker.close() };
  });
});

describe.skipIf(!mosquitto.reachable)(`Mosquitto at ${mosquitto.url}`, () => {
  brokerSuite(async () => ({ connect: urlClientFactory(mosquitto.url), [Symbol.asyncDispose]: async () => {} }));
});

describe('EmbeddedBroker lifecycle', () => {
  it('has no listener and no url when created without a port', async () => {
    await using broker = await EmbeddedBroker.create();
    expect(broker.address).toBeNull();
    expect(broker.url).toBeNull();
  });

  it('binds the port it was given and reports the real one for port 0', async () => {
    await using broker = await EmbeddedBroker.create({ port: 0 });
    expect(broker.address?.host).toBe('127.0.0.1');
    expect(broker.address?.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.address?.port}`);
  });

  it('refuses a port already in use with the listen error, leaving nothing running', async () => {
    await using first = await EmbeddedBroker.create({ port: 0 });
    await expect(EmbeddedBroker.create({ port: first.address?.port ?? 0 })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('counts connected clients and disconnects them all on close', async () => {
    const broker = await EmbeddedBroker.create({ port: 0 });
    const tcp = await urlClientFactory(broker.url ?? '')({ reconnectPeriod: 0 });
    const mem = await broker.connect({ reconnectPeriod: 0 });
    expect(broker.connectedClients).toBe(2);
    const closed = Promise.all([tcp, mem].map((c) => new Promise<void>((r) => c.once('close', () => r()))));
    await broker.close();
    await closed;
    expect(tcp.connected || mem.connected).toBe(false);
    await broker.close(); // idempotent
    await Promise.all([endClient(tcp, true), endClient(mem, true)]);
  });

  it('destroys streams handed to it after close instead of serving them', async () => {
    const broker = await EmbeddedBroker.create();
    await broker.close();
    const [, brokerSide] = duplexPair();
    broker.handle(brokerSide);
    expect(brokerSide.destroyed).toBe(true);
  });

  it('rejects an in-memory connect to a closed broker with a typed connect error', async () => {
    const broker = await EmbeddedBroker.create();
    await broker.close();
    await expect(broker.connect({ reconnectPeriod: 0 })).rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_CONNECT' });
  });

  it('rejects a TCP connect to a port with no broker with a typed connect error naming the URL', async () => {
    const broker = await EmbeddedBroker.create({ port: 0 });
    const url = broker.url ?? '';
    await broker.close();
    const error = await urlClientFactory(url)({ reconnectPeriod: 0 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OTASIM_ERR_MQTT_CONNECT' });
    expect(String((error as Error).message)).toContain(url);
  });
});

describe('EmbeddedBroker.intercept', () => {
  it('shows every client PUBLISH to the interceptors in order, before any subscriber gets it', async () => {
    await using broker = await EmbeddedBroker.create();
    const log: string[] = [];
    broker.intercept((m, release) => { log.push(`a:${m.topic}:${m.qos}:${m.payload.toString()}`); release(); });
    const removeB = broker.intercept((m, release) => { log.push(`b:${m.topic}`); release(); });
    const sub = await broker.connect({ reconnectPeriod: 0 }, (c) => c.on('message', (t) => log.push(`sub:${t}`)));
    await sub.subscribeAsync('x/#', { qos: 1 });
    const pub = await broker.connect({ reconnectPeriod: 0, clientId: 'pub-1' });
    await pub.publishAsync('x/1', 'hello', { qos: 1 });
    await until(() => log.includes('sub:x/1'));
    expect(log).toEqual(['a:x/1:1:hello', 'b:x/1', 'sub:x/1']);
    removeB();
    await pub.publishAsync('x/2', 'again', { qos: 0 });
    await until(() => log.includes('sub:x/2'));
    expect(log.slice(3)).toEqual(['a:x/2:0:again', 'sub:x/2']);
    await Promise.all([endClient(sub, true), endClient(pub, true)]);
  });

  it('holds the publisher\'s PUBACK until the interceptor releases', async () => {
    await using broker = await EmbeddedBroker.create();
    let release: (() => void) | undefined;
    broker.intercept((_m, r) => { release = r; });
    const pub = await broker.connect({ reconnectPeriod: 0 });
    let acked = false;
    const sent = pub.publishAsync('t', 'x', { qos: 1 }).then(() => { acked = true; });
    await until(() => release !== undefined);
    await new Promise((r) => setImmediate(r));
    expect(acked).toBe(false);
    release?.();
    await sent;
    await endClient(pub, true);
  });

  it('drops the connection of a client whose publish is refused, and of one publishing under $SYS/', async () => {
    await using broker = await EmbeddedBroker.create();
    broker.intercept((m, release) => release(m.topic === 'no' ? new Error('refused') : undefined));
    for (const topic of ['no', '$SYS/fake']) {
      const pub = await broker.connect({ reconnectPeriod: 0 });
      const closed = new Promise<void>((r) => pub.once('close', () => r()));
      pub.publish(topic, 'x', { qos: 1 });
      await closed;
      await endClient(pub, true);
    }
  });
});
