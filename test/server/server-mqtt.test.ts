/**
 * The whole server over MQTT, written once and run against: the embedded aedes broker (device in
 * memory), aedes over TCP (device on a socket), and Mosquitto + PostgreSQL (external broker and
 * database, unique topic prefix and schema; skipped in one line when either is unreachable).
 *
 * A device announces itself on `{prefix}/edge/{id}/status` (registering with its MAC), a rollout
 * targeting that MAC makes the orchestrator publish `cmd/ota` to it, the device downloads the URL
 * it was given and checks the SHA-256, then reports ack, progress and result; the collector
 * stores them, survives a malformed payload, and /metrics counts it.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { urlClientFactory, type MqttClientFactory } from '../../server/broker/index.js';
import { mosquitto, uniquePrefix } from './mqtt-env.js';
import { DATABASE_URL, dropSchema, postgresReachable, uniqueSchema } from './store-harness.js';
import { http, image, sendJson, startServer, TEST_KEY, upload, type TestServer, SERVER_START_MS } from './http-harness.js';
import type { ServerConfigInput } from '../../server/index.js';

const pgUp = await postgresReachable('server-mqtt');

interface Target {
  name: string;
  available: boolean;
  config(): ServerConfigInput;
  /** How the device connects, given the running server. */
  deviceFactory(s: TestServer): MqttClientFactory;
  cleanup?(): Promise<void>;
}

const schema = uniqueSchema('srvmqtt');
const targets: Target[] = [
  { name: 'aedes in memory + PGlite', available: true, config: () => ({ topicPrefix: uniquePrefix('srv-mem') }),
    deviceFactory: (s) => s.server.mqttClientFactory },
  { name: 'aedes over TCP + PGlite', available: true, config: () => ({ topicPrefix: uniquePrefix('srv-tcp') }),
    deviceFactory: (s) => urlClientFactory(s.server.mqttUrl ?? 'missing') },
  { name: `Mosquitto + PostgreSQL (${mosquitto.url})`, available: mosquitto.reachable && pgUp,
    config: () => ({ topicPrefix: uniquePrefix('srv-mosq'), broker: mosquitto.url, database: DATABASE_URL, databaseSchema: schema }),
    deviceFactory: () => urlClientFactory(mosquitto.url), cleanup: () => dropSchema(schema) },
];

/** Poll `f` until it returns a value (each poll is a real HTTP round-trip; bounded by the test timeout). */
async function eventually<T>(f: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const t of targets) {
  describe.skipIf(!t.available)(`server over MQTT: ${t.name}`, () => {
    let s: TestServer;
    let device: MqttClient;
    let prefix: string;
    const id = 'ESP32-0A0B0C0D';
    const mac = 'AA:BB:CC:0A:0B:0C';
    const commands: Array<{ url: string; version: string; checksum: string }> = [];

    beforeAll(async () => {
      const cfg = t.config();
      prefix = cfg.topicPrefix as string;
      s = await startServer(cfg);
      device = await t.deviceFactory(s)({ clientId: id, clean: true, reconnectPeriod: 0 });
      device.on('message', (topic, payload) => {
        if (topic === `${prefix}/edge/${id}/cmd/ota`) commands.push(JSON.parse(payload.toString()));
      });
      await device.subscribeAsync(`${prefix}/edge/${id}/cmd/ota`, { qos: 0 });
    }, SERVER_START_MS);
    afterAll(async () => {
      await device?.endAsync();
      await s?.[Symbol.asyncDispose]();
      await t.cleanup?.();
    });

    const publish = (sub: string, body: unknown) =>
      device.publishAsync(`${prefix}/edge/${id}/${sub}`, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });

    it('a device registers from its edge status (model, version, MAC)', async () => {
      await publish('status', { online: true, device_id: id, mac_address: mac, firmware_version: '1.4.2', device_model: 'esp32-s3', uptime_seconds: 5 });
      const d = await eventually(async () => {
        const r = await http(s.url, 'GET', '/api/admin/devices', { key: TEST_KEY });
        return r.json.devices.find((x: { device_id: string }) => x.device_id === id);
      });
      expect(d).toMatchObject({ device_model: 'esp32-s3', current_firmware_version: '1.4.2', mac_address: mac });
    });

    it('a rollout targeting its MAC publishes cmd/ota; the URL downloads bytes with that checksum', async () => {
      const bytes = image('1.4.3', 'esp32s3');
      expect((await upload(s.url, '1.4.3', 'esp32-s3', bytes)).status).toBe(200);
      const r = await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'by-mac', firmware_version: '1.4.3',
        device_model: 'esp32-s3', target_type: 'specific', target_filter: { mac_addresses: ['aa-bb-cc-0a-0b-0c'] } });
      expect(r.status).toBe(200);
      const cmd = await eventually(async () => commands[0]);
      const sha = createHash('sha256').update(bytes).digest('hex');
      expect(cmd).toEqual({ url: `${s.url}/api/firmware/download/1.4.3?device_model=esp32-s3`, version: '1.4.3', checksum: sha });
      const dl = await http(cmd.url, 'GET', '');
      expect(dl.status).toBe(200);
      expect(createHash('sha256').update(dl.bytes).digest('hex')).toBe(cmd.checksum);
      // The same rollout decides the HTTP check for the same device.
      const c = await http(s.url, 'GET', `/api/firmware/check?device_id=${id}&device_model=esp32-s3&current_version=1.4.2`);
      expect(c.json).toMatchObject({ update_available: true, latest_version: '1.4.3', checksum_sha256: sha });
    });

    it('ack, progress and result land in update-status; a malformed payload is counted and does not stop the collector', async () => {
      await publish('ota/status', { timestamp: '', status: 'accepted', current_version: '1.4.2', target_version: '1.4.3' });
      await publish('ota/result', '{"success": tru');
      await publish('ota/progress', { timestamp: '', state: 'Downloading', percent: 40, downloaded: 4, total: 10, elapsed_ms: 900 });
      await publish('ota/result', { timestamp: '', current_version: '1.4.2', target_version: '1.4.3', success: true, result_code: 0, message: 'Success' });
      const rows = await eventually(async () => {
        const r = await http(s.url, 'GET', `/api/admin/update-status?device_id=${id}`, { key: TEST_KEY });
        return r.json.updates[0]?.status === 'success' ? r.json.updates : undefined;
      });
      expect(rows[0]).toMatchObject({ device_id: id, firmware_version: '1.4.3', status: 'success', progress_percent: 100 });
      const m = await http(s.url, 'GET', '/metrics');
      expect(m.text).toMatch(/^otasim_mqtt_messages_total\{kind="[^"]+",outcome="malformed"\} 1$/m);
      expect(m.text).toMatch(/^otasim_ota_commands_total\{outcome="published"\} 1$/m);
    });

    it('after reboot the new version in the status message moves the device; a new rollout no longer commands it', async () => {
      await publish('status', { online: true, device_id: id, mac_address: mac, firmware_version: '1.4.3', device_model: 'esp32-s3' });
      await eventually(async () => {
        const r = await http(s.url, 'GET', '/api/admin/devices', { key: TEST_KEY });
        return r.json.devices.find((x: { device_id: string; current_firmware_version: string }) => x.device_id === id && x.current_firmware_version === '1.4.3');
      });
      const before = commands.length;
      const r = await sendJson(s.url, 'PATCH', '/api/admin/rollout/by-mac', { target_filter: { mac_addresses: [mac], device_ids: [id] } });
      expect(r.status).toBe(200);
      // Prove the orchestrator ran: a second device, registered now, does get a command for a new rollout.
      const other = await t.deviceFactory(s)({ clientId: 'ESP32-0A0B0C0E', clean: true, reconnectPeriod: 0 });
      try {
        const got: string[] = [];
        other.on('message', (topic) => got.push(topic));
        await other.subscribeAsync(`${prefix}/edge/ESP32-0A0B0C0E/cmd/ota`, { qos: 0 });
        await other.publishAsync(`${prefix}/edge/ESP32-0A0B0C0E/status`, JSON.stringify({ online: true, firmware_version: '1.4.2', device_model: 'esp32-s3' }), { qos: 1 });
        await eventually(async () => ((await http(s.url, 'GET', '/api/admin/devices', { key: TEST_KEY })).json.devices.length === 2 ? true : undefined));
        expect((await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'all-s3', firmware_version: '1.4.3', device_model: 'esp32-s3', target_type: 'all' })).status).toBe(200);
        await eventually(async () => (got.length > 0 ? true : undefined));
        expect(got).toEqual([`${prefix}/edge/ESP32-0A0B0C0E/cmd/ota`]);
        expect(commands.length).toBe(before);
      } finally {
        await other.endAsync();
      }
    });
  });
}
