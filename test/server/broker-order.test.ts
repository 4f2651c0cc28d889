/**
 * Regression: aedes stores a retained message before forwarding it, so a plain publish sent right
 * behind it overtook it and subscribers saw a device's retained boot status after its ota/result.
 * The embedded broker keeps each client's publishes in order behind a retained one.
 */
import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { EmbeddedBroker, endClient, urlClientFactory, type MqttClientFactory } from '../../server/broker/index.js';

const ROUNDS = 20;

async function orderSeen(factory: MqttClientFactory, qos: 0 | 1): Promise<string[]> {
  const sub: MqttClient = await factory({ clientId: `sub-${qos}` });
  const pub: MqttClient = await factory({ clientId: `pub-${qos}` });
  const seen: string[] = [];
  const all = new Promise<void>((resolve) => {
    sub.on('message', (_topic, payload) => {
      seen.push(payload.toString());
      if (seen.length === 2 * ROUNDS) resolve();
    });
  });
  await sub.subscribeAsync('order/#', { qos: 1 });
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    sends.push(pub.publishAsync('order/status', `status-${i}`, { qos, retain: true }));
    sends.push(pub.publishAsync('order/result', `result-${i}`, { qos, retain: false }));
  }
  await Promise.all(sends);
  await all;
  await endClient(pub);
  await endClient(sub);
  return seen;
}

const expected = Array.from({ length: ROUNDS }, (_, i) => [`status-${i}`, `result-${i}`]).flat();

describe('embedded broker: a retained publish is not overtaken by the same client\'s next publish', () => {
  for (const qos of [0, 1] as const) {
    it(`in memory, QoS ${qos}`, async () => {
      await using broker = await EmbeddedBroker.create();
      expect(await orderSeen(broker.clientFactory, qos)).toEqual(expected);
    });

    it(`over TCP, QoS ${qos}`, async () => {
      await using broker = await EmbeddedBroker.create({ port: 0 });
      expect(await orderSeen(urlClientFactory(`mqtt://127.0.0.1:${broker.address?.port}`), qos)).toEqual(expected);
    });
  }
});
