/**
 * Baseline of benchmark 2: the naive fleet script a team writes first — N raw mqtt.js clients, each
 * its own TCP connection with its own keepalive interval, to an aedes broker listening in the same
 * process, each subscribing to its `cmd/ota` topic. Prints one JSON line: connects+subscribes per second.
 *
 * Run: `node dist/bench/fleet-naive-mqtt.js [devices]`.
 */
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../server/broker/index.js';

const devices = Number(process.argv[2] ?? 5000);
const broker = await EmbeddedBroker.create({ port: 0 });
const url = broker.url as string;
const clients: mqtt.MqttClient[] = [];
const t0 = performance.now();
await new Promise<void>((resolve, reject) => {
  let subscribed = 0;
  for (let i = 0; i < devices; i++) {
    const id = `naive-${String(i).padStart(6, '0')}`;
    const c = mqtt.connect(url, { clientId: id, keepalive: 15, reconnectPeriod: 0, protocolVersion: 4 });
    clients.push(c);
    c.on('error', reject);
    c.on('connect', () => {
      c.subscribe(`paku/edge/${id}/cmd/ota`, { qos: 1 }, (e) => {
        if (e) reject(e);
        else if (++subscribed === devices) resolve();
      });
    });
  }
});
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ devices, ms: Math.round(ms), perSecond: Math.round((devices * 1000) / ms), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) })}\n`);
await Promise.all(clients.map((c) => c.endAsync(true)));
await broker.close();
