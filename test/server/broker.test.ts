/**
 * The abstract broker suite against every broker: embedded aedes over in-memory duplexes,
 * embedded aedes over TCP on port 0, and the real Mosquitto (MQTT_URL).
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedBroker, duplexPair, endClient, urlClientFactory } from '../../server/broker/index.js';
import { brokerSuite } from './broker.suite.js';
import { mosquitto } from './mqtt-env.js';

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
