/**
 * The real MQTT broker on this machine (Mosquitto at 127.0.0.1:1883 unless MQTT_URL says
 * otherwise), probed once per test file. Suites that need it use
 * `describe.skipIf(!mosquitto.reachable)`; when it is down they skip with a one-line notice.
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';

/** `MQTT_URL`, default the Mosquitto of the dev/CI machine. */
export const mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

async function probe(url: string): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2_000 }, false);
    await client.endAsync();
    return true;
  } catch {
    return false;
  }
}

/** Whether the real broker answered a CONNECT just now. */
export const mosquitto = { url: mqttUrl, reachable: await probe(mqttUrl) };

if (!mosquitto.reachable) {
  process.stderr.write(`mqtt: no broker at ${mqttUrl} (set MQTT_URL); real-broker suites skip\n`);
}

/**
 * A topic prefix nobody else uses: brokers (Mosquitto, with persistence) outlive test runs, so
 * every run and every test gets its own.
 */
export function uniquePrefix(label: string): string {
  return `otasim-test/${label}-${randomBytes(6).toString('hex')}`;
}
