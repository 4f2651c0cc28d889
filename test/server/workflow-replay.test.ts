/**
 * The paku-iot upload workflow (`.github/workflows/ota-update-esp.yaml`, paku-protocol-facts §2.8)
 * replayed step by step, as it sends its requests, against a real otasim server: OtaServer on
 * PGlite with its embedded broker on TCP, which `mosquitto_pub` would reach. The server runs as the
 * real service does: no `cmd/ota` of its own (`pushOnRollout: false`), since the workflow publishes
 * the commands. A fleet of paku-core devices on the paku-edge profile takes them.
 *
 * Runs, in order, each a workflow dispatch:
 * 1. 1.4.3 `single-device`: existence check without a key (401, so "build required"), the
 *    multipart upload, the rollout body with the wrong `target_device_ids` (accepted and ignored,
 *    with a warning), the MQTT trigger to the listed devices only.
 * 2. 1.4.3 again: the check still fails auth, so the workflow rebuilds and uploads the same version:
 *    409, and unlike the real service the existing release's file survives.
 * 3. 1.4.4 `canary-25`: the device list by family, seen in the last 7 days, first floor(25 %) of it.
 * 4. 1.4.5 `full`: every active device; then the version distribution is all 1.4.5.
 * Every commanded device's ack, progress and result land in device_update_status and ota_events.
 */
import { createHash, randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../protocol/clock.js';
import { PROFILES } from '../../protocol/profiles.js';
import { buildAppImage } from '../../simulator/esp32/index.js';
import { composition, Fleet } from '../../simulator/fleet/index.js';
import { registered, startEmbeddedServer, type EmbeddedServer } from '../../simulator/fleet/embedded.js';
import { http, sendJson, type Res } from './http-harness.js';

/** The device behaviour under test: the firmware as built. */
const BEHAVIOUR = 'paku-core' as const;
const N = 20;
const FAMILY = 'lilygo-t-display-s3';
/** The workflow's `device_model` input: a PlatformIO environment whose devices report the family. */
const ENV_MODEL = `${FAMILY}-heater`;
const RELEASE_NOTES = 'Automated OTA update from paku-core main branch';
const IMAGE_BYTES = 64 * 1024;
const edge = PROFILES['paku-edge'];

let s: EmbeddedServer;
let fleet: Fleet;
let clock: SystemClock;
let agent: Agent;
/** Sees every cmd/ota on the broker, whoever sends it. */
let spy: MqttClient;
const commands: Array<{ topic: string; payload: string; qos: number; retain: boolean }> = [];

const ids = Array.from({ length: N }, (_, i) => `ESP32-${String(i).padStart(6, '0')}`);
const versionOf = (id: string): string | undefined => fleet.runtime(ids.indexOf(id))?.state.running?.version;

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A GET, with the admin key when given. */
const get = (path: string, key?: string): Promise<Res> => http(s.url, 'GET', path, { key: key ?? null });

/**
 * The workflow's steps as it sends them. Field order, names, query encoding and the multipart
 * layout follow the YAML and python-requests; nothing here is otasim-specific.
 */
const workflow = {
  /** "Check if firmware already exists": curl without X-API-Key, then jq `.releases[]? | select(.version == V)`. */
  async existenceCheck(version: string) {
    const r = await get(`/api/admin/firmware/releases?device_model=${ENV_MODEL}&limit=50`);
    const releases: Array<{ version: string }> = Array.isArray(r.json?.releases) ? r.json.releases : [];
    return { status: r.status, exists: releases.some((x) => x.version === version) };
  },

  /** "Upload firmware to OTA service": requests.post(params=…, headers={X-API-Key}, files={'file': ('firmware.bin', f, 'application/octet-stream')}). */
  async upload(version: string, image: Uint8Array) {
    const boundary = randomBytes(16).toString('hex'); // urllib3's choose_boundary()
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="firmware.bin"\r\n`
      + 'Content-Type: application/octet-stream\r\n\r\n');
    const body = Buffer.concat([head, image, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const params = new URLSearchParams({ version, device_model: ENV_MODEL, is_signed: 'false', release_notes: RELEASE_NOTES });
    return http(s.url, 'POST', `/api/admin/firmware/upload?${params.toString()}`, {
      body, key: s.apiKey,
      headers: {
        'user-agent': 'python-requests/2.32.3', 'accept-encoding': 'gzip, deflate', accept: '*/*', connection: 'keep-alive',
        'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(body.length),
      },
    });
  },

  /** "Create rollout configuration": the jq-built body per strategy, curl with Content-Type and X-API-Key. */
  async createRollout(version: string, strategy: string, testDevices = '') {
    const name = `${ENV_MODEL}-${version}-${strategy}`;
    const base = { name, firmware_version: version, device_model: ENV_MODEL };
    const body = strategy === 'single-device'
      ? { ...base, target_type: 'specific', target_device_ids: testDevices.split(',').map((d) => d.trim()), is_active: true }
      : strategy.startsWith('canary-')
        ? { ...base, target_type: 'canary', rollout_percentage: Number(strategy.split('-')[1]), is_active: true }
        : { ...base, target_type: 'all', is_active: true };
    return sendJson(s.url, 'POST', '/api/admin/rollout/create', body, s.apiKey);
  },

  /** "Trigger device updates via MQTT": pick the devices per strategy, then mosquitto_pub -q 1 (not retained) to each. */
  async trigger(version: string, checksum: string, strategy: string, testDevices = ''): Promise<string[]> {
    let targets: string[];
    if (strategy === 'single-device') {
      targets = testDevices.split(',').map((d) => d.trim());
    } else {
      const family = ENV_MODEL.replace(/-heater(-emu)?$/, '');
      const r = await get(`/api/admin/devices?device_model=${family}&limit=500`, s.apiKey);
      expect(r.status).toBe(200);
      // SEVEN_DAYS_AGO=$(date -u -d '7 days ago' '+%Y-%m-%dT%H:%M:%S'), compared as strings by jq.
      const sevenDaysAgo = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 19);
      const active: string[] = r.json.devices.filter((d: { last_seen: string | null }) => (d.last_seen ?? '') > sevenDaysAgo)
        .map((d: { device_id: string }) => d.device_id);
      const pct = strategy.startsWith('canary-') ? Number(strategy.split('-')[1]) : 100;
      targets = active.slice(0, pct === 100 ? active.length : Math.max(1, Math.floor(active.length * pct / 100)));
    }
    const url = `${s.url}/api/firmware/download/${version}?device_model=${ENV_MODEL}`;
    // The workflow's heredoc: pretty-printed, keys in this order.
    const command = `{\n  "url": "${url}",\n  "version": "${version}",\n  "checksum": "${checksum}"\n}`;
    const pub = await mqtt.connectAsync(s.server.mqttUrl as string, { clientId: `mosqpub|${process.pid}-${randomBytes(3).toString('hex')}`, reconnectPeriod: 0 });
    try {
      for (const id of targets) await pub.publishAsync(`paku/edge/${id}/cmd/ota`, command, { qos: 1, retain: false });
    } finally {
      await pub.endAsync();
    }
    return targets;
  },
};

/** A firmware.bin of `version` for the family's chip (the workflow builds one per run). */
const firmware = (version: string): Uint8Array => buildAppImage({ chip: 'esp32s3', version, size: IMAGE_BYTES });
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Wait for every device in `targets` to run `version` and for the server to have recorded it. */
async function landed(targets: readonly string[], version: string): Promise<void> {
  await until(`${targets.length} devices on ${version}`, () => targets.every((id) => versionOf(id) === version));
  await until(`the server's rows for ${version}`, async () => {
    for (const id of targets) {
      const d = await s.server.store.getDevice(id);
      const [latest] = await s.server.store.listStatus({ device_id: id, limit: 1 });
      if (d?.current_firmware_version !== version || latest?.status !== 'success' || latest.firmware_version !== version) return false;
    }
    return true;
  });
}

/** Every commanded device's rows: the ack's `update_started`, the result's success and `update_completed`. */
async function expectRows(targets: readonly string[], version: string, from: string): Promise<void> {
  for (const id of targets) {
    const rows = await s.server.store.listStatus({ device_id: id, firmware_version: version });
    expect(rows, id).toHaveLength(1); // one ack, one row; progress and result updated it
    expect(rows[0]).toMatchObject({ status: 'success', progress_percent: 100, error_message: null });
    expect(rows[0]?.started_at).toBeInstanceOf(Date);
    expect(rows[0]?.completed_at).toBeInstanceOf(Date);
    const events = (await s.server.store.listEvents({ device_id: id })).filter((e) => e.firmware_version === version);
    expect(events.map((e) => e.event_type).sort(), id).toEqual(['update_completed', 'update_started']);
    const started = events.find((e) => e.event_type === 'update_started');
    expect(started?.event_data).toMatchObject({ status: 'accepted', current_version: from, target_version: version });
    const done = events.find((e) => e.event_type === 'update_completed');
    expect(done?.event_data).toMatchObject({ success: true, result_code: 0, message: 'Success', target_version: version });
    expect(edge.codecs.result.schema.safeParse(done?.event_data).success).toBe(true);
  }
}

/** One counter of the server's /metrics text. */
async function metric(name: string, labels: string): Promise<number> {
  const text = await (await request(`${s.url}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

beforeAll(async () => {
  s = await startEmbeddedServer({ mqttPort: 0, over: { protocol: 'paku-edge', pushOnRollout: false } });
  spy = await s.server.mqttClientFactory({ clientId: 'workflow-spy', clean: true, reconnectPeriod: 0 });
  spy.on('message', (topic, payload, packet) => commands.push({ topic, payload: payload.toString('utf8'), qos: packet.qos, retain: packet.retain }));
  await spy.subscribeAsync('paku/+/+/cmd/ota', { qos: 1 });
  clock = new SystemClock();
  agent = new Agent({ connections: 32 });
  fleet = Fleet.create({
    devices: N, prefix: 'ESP32', seed: 3, serverUrl: s.url, clock, http: agent, downloads: 8, rampPerSecond: 1000,
    mqtt: (o) => s.server.mqttClientFactory(o),
    composition: composition({ models: { [FAMILY]: { weight: 1, chip: 'esp32s3' } }, versions: { '1.4.2': 1 } }, 'workflow replay'),
    deviceConfig: { topicPrefix: 'paku', protocol: 'paku-edge', behaviour: BEHAVIOUR, bootMs: 10, selfTestMs: 20, rebootDelayMs: 20 },
  });
  await fleet.all('idle');
  await registered(s, FAMILY, N, 50);
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  clock?.close();
  await agent?.close();
  await spy?.endAsync();
  await s?.[Symbol.asyncDispose]();
});

describe(`the upload workflow against otasim server, ${N} ${BEHAVIOUR} devices on paku-edge`, () => {
  const firstFw = firmware('1.4.3');

  it('run 1, 1.4.3 single-device: unauthenticated check, multipart upload, the wrong field ignored, MQTT to the listed devices', async () => {
    // The check sends no key: 401, so jq finds no release and the workflow builds.
    expect(await workflow.existenceCheck('1.4.3')).toEqual({ status: 401, exists: false });

    const up = await workflow.upload('1.4.3', firstFw);
    expect(up).toMatchObject({ status: 200, json: { status: 'ok', version: '1.4.3', file_size: IMAGE_BYTES, checksum_sha256: sha256(firstFw) } });
    const [release] = (await get(`/api/admin/firmware/releases?device_model=${ENV_MODEL}`, s.apiKey)).json.releases;
    expect(release).toMatchObject({ version: '1.4.3', device_model: ENV_MODEL, is_signed: false, release_notes: RELEASE_NOTES });

    // The single-device body's target_device_ids is accepted and ignored, as the real service does; the answer says so.
    const listed = 'ESP32-000003, ESP32-000007';
    const ro = await workflow.createRollout('1.4.3', 'single-device', listed);
    expect(ro.status).toBe(200);
    expect(ro.json.rollout).toMatchObject({ name: `${ENV_MODEL}-1.4.3-single-device`, target_type: 'specific', target_filter: null, is_active: true });
    expect(ro.json.warnings.join(' ')).toMatch(/target_device_ids is not a rollout field and was ignored.*targets nobody/);
    // Bookkeeping only: through /check it offers nothing, even to the listed devices.
    const offer = await get(`/api/firmware/check?device_id=ESP32-000003&device_model=${ENV_MODEL}&current_version=1.4.2`);
    expect(offer.json.update_available).toBe(false);

    const targets = await workflow.trigger('1.4.3', sha256(firstFw), 'single-device', listed);
    expect(targets).toEqual(['ESP32-000003', 'ESP32-000007']);
    await landed(targets, '1.4.3');
    await expectRows(targets, '1.4.3', '1.4.2');
    for (const id of ids.filter((x) => !targets.includes(x))) expect(versionOf(id), id).toBe('1.4.2');

    // Only the workflow's two commands went out: exactly its shape, QoS 1, not retained, with ?device_model=.
    expect(commands.map((c) => c.topic)).toEqual(['paku/edge/ESP32-000003/cmd/ota', 'paku/edge/ESP32-000007/cmd/ota']);
    for (const c of commands) {
      expect(c).toMatchObject({ qos: 1, retain: false });
      const cmd = JSON.parse(c.payload) as Record<string, unknown>;
      expect(Object.keys(cmd)).toEqual(['url', 'version', 'checksum']);
      expect(cmd.url).toBe(`${s.url}/api/firmware/download/1.4.3?device_model=${ENV_MODEL}`);
      expect(edge.codecs.command.decode(cmd)).toMatchObject({ ok: true, value: { version: '1.4.3', checksum: sha256(firstFw) } });
    }
    expect(await metric('otasim_ota_commands_total', 'outcome="published"')).toBe(0);
    // The progress reports landed too (the result then completed the same row).
    expect(await metric('otasim_mqtt_messages_total', 'kind="progress",outcome="ok"')).toBeGreaterThanOrEqual(2 * 3);
    expect(await metric('otasim_update_reports_total', 'status="downloading",source="mqtt"')).toBeGreaterThanOrEqual(2);
  }, 240_000);

  it('run 2, 1.4.3 again: the failed check makes it upload the same version; 409, and the release\'s file is intact', async () => {
    expect(await workflow.existenceCheck('1.4.3')).toEqual({ status: 401, exists: false });
    // Another build of the same tag: a valid image with other bytes.
    const rebuilt = buildAppImage({ chip: 'esp32s3', version: '1.4.3', size: IMAGE_BYTES, seed: 2, time: '12:00:01' });
    expect(sha256(rebuilt)).not.toBe(sha256(firstFw));
    const up = await workflow.upload('1.4.3', rebuilt);
    expect(up.status).toBe(409); // the workflow stops here (it expects 200)
    expect(up.json.error.code).toBe('OTASIM_ERR_DUPLICATE_RELEASE');
    // The real service would have overwritten and then deleted the file (facts §6.18); here it still downloads.
    const res = await request(`${s.url}/api/firmware/download/1.4.3?device_model=${ENV_MODEL}`);
    expect(res.statusCode).toBe(200);
    expect(sha256(new Uint8Array(await res.body.arrayBuffer()))).toBe(sha256(firstFw));
  }, 60_000);

  it('run 3, 1.4.4 canary-25: the first floor(25%) of the family\'s active devices, in the API\'s last_seen order', async () => {
    const fw = firmware('1.4.4');
    expect((await workflow.existenceCheck('1.4.4')).exists).toBe(false);
    expect((await workflow.upload('1.4.4', fw)).status).toBe(200);
    const ro = await workflow.createRollout('1.4.4', 'canary-25');
    expect(ro.status).toBe(200);
    expect(ro.json.rollout).toMatchObject({ target_type: 'canary', rollout_percentage: 25, is_active: true });
    expect(ro.json.warnings).toEqual([]);
    const before = new Map(ids.map((id) => [id, versionOf(id)]));
    commands.length = 0;
    const targets = await workflow.trigger('1.4.4', sha256(fw), 'canary-25');
    expect(targets).toHaveLength(Math.floor(N * 25 / 100));
    await landed(targets, '1.4.4');
    for (const id of targets) await expectRows([id], '1.4.4', before.get(id) as string);
    for (const id of ids.filter((x) => !targets.includes(x))) expect(versionOf(id), id).toBe(before.get(id));
    expect(commands.map((c) => c.topic).sort()).toEqual(targets.map((id) => `paku/edge/${id}/cmd/ota`).sort());
  }, 240_000);

  it('run 4, 1.4.5 full: every active device of the family; the distribution after is all 1.4.5', async () => {
    const fw = firmware('1.4.5');
    expect((await workflow.upload('1.4.5', fw)).status).toBe(200);
    expect((await workflow.createRollout('1.4.5', 'full')).json.rollout).toMatchObject({ target_type: 'all', rollout_percentage: 100 });
    const before = new Map(ids.map((id) => [id, versionOf(id)]));
    const targets = await workflow.trigger('1.4.5', sha256(fw), 'full');
    expect([...targets].sort()).toEqual(ids);
    await landed(ids, '1.4.5');
    for (const id of ids) await expectRows([id], '1.4.5', before.get(id) as string);
    const devices = (await get(`/api/admin/devices?device_model=${FAMILY}&limit=500`, s.apiKey)).json.devices as Array<{ current_firmware_version: string }>;
    const distribution: Record<string, number> = {};
    for (const d of devices) distribution[d.current_firmware_version] = (distribution[d.current_firmware_version] ?? 0) + 1;
    expect(distribution).toEqual({ '1.4.5': N });
  }, 240_000);
});
