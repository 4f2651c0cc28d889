/**
 * MQTT (needs `--broker`): device status registers devices (and their MACs, so MAC targeting can
 * be checked); a rollout publishes `cmd/ota` to exactly the registered devices it targets, on the
 * profile's topic with `{url, version, checksum}` (paku-protocol-facts §1.3, §2.8 step 6); the
 * devices' `ota/status|progress|result` reports are collected into update-status (§1.9).
 *
 * The suite subscribes to `{prefix}/+/+/cmd/ota`, wider than the profile's topic, so a command on
 * the wrong topic is named in the failure. Its own publishes are not retained: nothing is left on
 * a shared broker.
 */
import type { MqttClient } from 'mqtt';
import { topics as makeTopics, type ProtocolProfile, type Topics } from '../../../protocol/topics.js';
import { endClient, urlClientFactory } from '../../../server/broker/clients.js';
import { ensure, type SuiteRecorder } from '../common/index.js';
import { CertifyRun, pollFor, sha256, type Uploaded } from './context.js';
import { describe } from './http.js';
import { SRV } from './requirements.js';

/** How long the suite waits for stray commands once the expected ones arrived, ms. */
const SETTLE_MS = 500;

export interface MqttSettings {
  readonly broker: string;
  readonly prefix: string;
  readonly profile: ProtocolProfile;
  readonly timeoutMs: number;
}

/** The suite's broker connection and every `cmd/ota` it has seen. */
export class CommandWatch implements AsyncDisposable {
  readonly seen: Array<{ topic: string; payload: string }> = [];

  private constructor(readonly client: MqttClient, readonly topics: Topics) {}

  /** Connect and subscribe; rejects with an MqttError (`OTASIM_ERR_MQTT_CONNECT`) when the broker cannot be reached. */
  static async open(s: MqttSettings, clientId: string): Promise<CommandWatch> {
    const client = await urlClientFactory(s.broker, { reconnectPeriod: 1000, connectTimeout: s.timeoutMs })({ clientId, clean: true });
    const watch = new CommandWatch(client, makeTopics({ prefix: s.prefix, profile: s.profile }));
    client.on('message', (topic, payload) => watch.seen.push({ topic, payload: payload.toString('utf8') }));
    await client.subscribeAsync(`${s.prefix}/+/+/cmd/ota`, { qos: 1 });
    return watch;
  }

  /** Commands whose topic names `deviceId` at the device level (on any layout). */
  commandsFor(deviceId: string): Array<{ topic: string; payload: string }> {
    return this.seen.filter((m) => m.topic.split('/').at(-3) === deviceId);
  }

  publish(topic: string, body: unknown): Promise<unknown> {
    return this.client.publishAsync(topic, JSON.stringify(body), { qos: 1, retain: false });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await endClient(this.client);
  }
}

const mac = (run: CertifyRun, i: number): string => {
  const hex = `${run.id}${String(i).padStart(2, '0')}`.toUpperCase();
  return `C7:0F:${hex.match(/../g)?.join(':') ?? ''}`;
};

export async function mqttChecks(rec: SuiteRecorder, run: CertifyRun, watch: CommandWatch, s: MqttSettings): Promise<void> {
  const t = watch.topics;

  // Registration by device status, then MAC targeting on those devices.
  const macModel = run.model('mac');
  const macIds = run.devices('mac', 4);
  const registered = await rec.check(SRV.mqttStatus, async () => {
    for (const [i, id] of macIds.entries()) {
      await watch.publish(t.edgeStatus(id), { online: true, device_id: id, mac_address: mac(run, i), firmware_version: run.v1, device_model: macModel, state: 'continuous' });
    }
    const all = await pollFor(async () => {
      const list = await run.listDevices(macModel);
      return macIds.every((id) => list.some((d) => d.device_id === id && d.current_firmware_version === run.v1)) ? list : undefined;
    }, s.timeoutMs);
    ensure(all !== undefined, 'devices that announced their status were not registered', { expected: `${macIds.length} devices of ${macModel}`, actual: 'not listed in time' });
    // A server that lists no MAC cannot be checked here; SRV-TARGET-002 still needs it to have one.
    const wrong = macIds.filter((id, i) => {
      const d = all.find((x) => x.device_id === id);
      return d !== undefined && d.mac_address != null && String(d.mac_address).toUpperCase() !== mac(run, i);
    });
    ensure(wrong.length === 0, 'a registered device does not carry the MAC it announced', { actual: wrong.join(', ') });
  });

  await rec.check(SRV.mac, async () => {
    // Without registered MACs there is nothing to target: the check cannot run (an error, not a failure).
    if (registered.status !== 'pass') throw new Error(`needs ${SRV.mqttStatus.id}: the devices and their MACs are not registered`);
    await run.upload(macModel, run.v2);
    const chosen = [macIds[1], macIds[3]] as string[];
    await run.createRollout({ name: run.rolloutName('mac'), firmware_version: run.v2, device_model: macModel, target_type: 'specific',
      target_filter: { mac_addresses: [mac(run, 1), mac(run, 3)] } });
    const offered = CertifyRun.offered(await run.checkAll(macIds, macModel, run.v1));
    ensure(offered.length === chosen.length && chosen.every((id) => offered.includes(id)), 'the MAC rollout offered other devices than its MACs',
      { expected: chosen.join(', '), actual: offered.join(', ') || 'none' });
  });

  // cmd/ota to a specific rollout's devices, registered by checking in.
  const model = run.model('m');
  const ids = run.devices('m', 6);
  const targeted = ids.slice(0, 3);
  let release: Uploaded | undefined;
  let setup: unknown;
  try {
    await run.checkAll(ids, model, run.v1);
    release = await run.upload(model, run.v2);
    await run.createRollout({ name: run.rolloutName('m'), firmware_version: run.v2, device_model: model, target_type: 'specific', target_filter: { device_ids: targeted } });
    await pollFor(async () => (targeted.every((id) => watch.commandsFor(id).length > 0) ? true : undefined), s.timeoutMs, 50);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  } catch (e) {
    setup = e;
  }

  await rec.check(SRV.cmdOta, async () => {
    if (setup !== undefined || release === undefined) throw setup;
    const rel = release;
    const problems: string[] = [];
    for (const id of targeted) {
      const before = problems.length;
      const got = watch.commandsFor(id);
      const right = got.filter((m) => m.topic === t.cmdOta(id));
      if (right.length === 0) {
        problems.push(got.length === 0 ? `${id}: no cmd/ota` : `${id}: cmd/ota on ${got[0]?.topic ?? ''}, expected ${t.cmdOta(id)}`);
        continue;
      }
      let cmd: Record<string, unknown>;
      try {
        cmd = JSON.parse(right[0]?.payload ?? '') as Record<string, unknown>;
      } catch {
        problems.push(`${id}: the payload is not JSON`);
        continue;
      }
      if (typeof cmd.url !== 'string' || !/^https?:\/\//.test(cmd.url)) problems.push(`${id}: url ${JSON.stringify(cmd.url)} is not an absolute http(s) URL`);
      if (cmd.version !== rel.version) problems.push(`${id}: version ${JSON.stringify(cmd.version)}, expected ${rel.version}`);
      if (typeof cmd.checksum !== 'string' || cmd.checksum.toLowerCase() !== rel.sha256) problems.push(`${id}: checksum ${JSON.stringify(cmd.checksum)}, expected ${rel.sha256}`);
      if (problems.length === before && typeof cmd.url === 'string') {
        const r = await run.http.get(cmd.url);
        if (r.status !== 200 || sha256(r.body) !== rel.sha256) problems.push(`${id}: the command's url answered ${describe(r)} (SHA-256 ${sha256(r.body)})`);
      }
    }
    ensure(problems.length === 0, `cmd/ota wrong for ${problems.length} targeted device(s)`, { expected: `{url, version, checksum} on ${t.cmdOta('{id}')}`, actual: problems.join(' | ') });
  });

  await rec.check(SRV.cmdUntargeted, () => {
    if (setup !== undefined) throw setup;
    const stray = ids.slice(3).filter((id) => watch.commandsFor(id).length > 0);
    ensure(stray.length === 0, 'untargeted devices got cmd/ota', { expected: 'none', actual: stray.join(', ') });
  });

  await rec.check(SRV.results, async () => {
    if (setup !== undefined) throw setup;
    const [ok, bad] = targeted as [string, string];
    const ts = '';
    const reply = (id: string, kind: 'status' | 'progress' | 'result', body: Record<string, unknown>): Promise<unknown> =>
      watch.publish(t.otaReply(id, kind), { timestamp: ts, ...body });
    for (const id of [ok, bad]) await reply(id, 'status', { status: 'accepted', current_version: run.v1, target_version: run.v2 });
    await reply(ok, 'progress', { state: 'Downloading', percent: 50, downloaded: 16_384, total: 32_768, elapsed_ms: 800 });
    // Real firmware's fields plus seed 003's `version`, so either collector finds the version.
    await reply(ok, 'result', { current_version: run.v1, target_version: run.v2, version: run.v2, success: true, result_code: 0, message: 'Success' });
    await reply(bad, 'result', { current_version: run.v1, target_version: run.v2, version: run.v2, success: false, result_code: 3, message: 'Verification failed' });
    const row = (rows: Array<Record<string, unknown>>, status: string): Record<string, unknown> | undefined =>
      rows.find((x) => x.firmware_version === run.v2 && x.status === status);
    const okRow = await pollFor(async () => row(await run.listStatus(ok), 'success'), s.timeoutMs);
    const badRow = await pollFor(async () => row(await run.listStatus(bad), 'failed'), okRow === undefined ? 0 : s.timeoutMs);
    ensure(okRow !== undefined && badRow !== undefined, 'reported results are not in update-status',
      { expected: `${ok}: success, ${bad}: failed`, actual: `${ok}: ${okRow === undefined ? 'no success row' : 'success'}, ${bad}: ${badRow === undefined ? 'no failed row' : 'failed'}` });
    ensure(String(badRow.error_message ?? '').includes('Verification failed'), 'the failed row does not carry the result message',
      { expected: 'error_message "Verification failed"', actual: String(badRow.error_message) });
  });
}
