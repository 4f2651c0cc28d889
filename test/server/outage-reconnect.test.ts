/**
 * The server's own MQTT clients come back after a broker outage. While the embedded broker is
 * down it refuses every CONNECT with CONNACK 3 ("server unavailable"), as a real broker does while
 * it starts; mqtt.js ends a client for good after a refused CONNACK unless told otherwise, so the
 * orchestrator stopped sending offers after an outage (and a collector on an external broker stopped
 * storing reports; on the embedded broker the collector reads aedes directly).
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endClient } from '../../server/broker/index.js';
import { SERVER_START_MS, startServer, type TestServer } from './http-harness.js';

let s: TestServer;
beforeAll(async () => { s = await startServer({ topicPrefix: 'outage' }); }, SERVER_START_MS);
afterAll(async () => { await s?.[Symbol.asyncDispose](); });

const until = async (what: string, pred: () => boolean | Promise<boolean>, turns = 3000): Promise<void> => {
  for (let i = 0; i < turns; i++) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
};

it('after an outage the server\'s MQTT clients reconnect, and what devices publish is stored', async () => {
  const broker = s.server.broker;
  if (broker === null) throw new Error('the test server has an embedded broker');
  const connects: string[] = [];
  const off = broker.onConnect((id) => connects.push(id));
  // Down: every client is cut, and reconnects are refused for a while (several refusals).
  const cut = broker.setOutage(true);
  expect(cut).toBeGreaterThanOrEqual(1);
  await new Promise((r) => setTimeout(r, 2500));
  expect(connects).toEqual([]);
  broker.setOutage(false);
  // Every server client that was cut (the collector, and the orchestrator once it has connected) comes back on its own.
  await until('the server clients reconnect', () => connects.length >= cut);
  off();
  let device: MqttClient | undefined;
  try {
    device = await s.server.mqttClientFactory({ clientId: 'outage-dev-1', clean: true, reconnectPeriod: 0 });
    await device.publishAsync('outage/edge/outage-dev-1/status',
      JSON.stringify({ online: true, firmware_version: '1.0.0', device_model: 'esp32', mac: 'AA:BB:CC:00:00:01' }), { qos: 1, retain: true });
    await until('the device is stored', async () => (await s.server.store.devicesOfModel('esp32')).some((d) => d.device_id === 'outage-dev-1'));
  } finally {
    if (device !== undefined) await endClient(device, true);
  }
});
