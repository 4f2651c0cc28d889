/**
 * Source addresses for device sockets (loadtest-anchors N1: each 127.x source address gives its own
 * ≈28,000 ephemeral ports towards one broker port): clients connect to a real aedes TCP listener,
 * each socket bound to the next address in turn, and get their CONNACK; a non-TCP URL is refused.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { EmbeddedBroker } from '../../server/broker/index.js';
import { mqttUrlConnector } from '../../simulator/device/transport-mqtt.js';

let broker: EmbeddedBroker;
beforeAll(async () => {
  broker = await EmbeddedBroker.create({ port: 0 });
});
afterAll(async () => {
  await broker?.close();
});

describe('mqttUrlConnector with source addresses', () => {
  it('binds each client to the next address and connects', async () => {
    const connect = mqttUrlConnector(broker.url as string, { reconnectPeriod: 0 }, ['127.0.0.2', '127.0.0.3']);
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await connect({ clientId: `bind-${i}` }));
    try {
      expect(clients.map((c) => c.connected)).toEqual([true, true, true]);
      expect(clients.map((c) => (c.stream as Socket).localAddress)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.2']);
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    }
  });

  it('refuses source addresses for a broker URL that is not plain TCP', () => {
    expect(() => mqttUrlConnector('ws://127.0.0.1:9001', {}, ['127.0.0.2'])).toThrow(ConfigError);
  });
});
