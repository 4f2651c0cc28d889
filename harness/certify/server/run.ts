/**
 * `certifyServer(options)`: the server conformance suite. A preflight makes sure the suite can
 * judge at all (the URL answers, the API key is accepted, the broker takes a connection) and
 * throws a `UsageError` with one line when not; then every requirement (requirements.ts) runs in
 * order, and the rollouts the run created are deactivated whatever happened.
 */
import { UsageError } from '../../../protocol/errors.js';
import type { ProtocolProfile } from '../../../protocol/topics.js';
import type { SuiteReport } from '../../report/model.js';
import { SuiteRecorder } from '../common/index.js';
import { healthAndAuth } from './auth.js';
import { badInput } from './bad-input.js';
import { CertifyRun } from './context.js';
import { networkCode, ServerHttp } from './http.js';
import { CommandWatch, mqttChecks, type MqttSettings } from './mqtt.js';
import { releasesAndChecks } from './releases.js';
import { SRV } from './requirements.js';
import { targeting } from './targeting.js';

export interface CertifyServerOptions {
  /** Base URL of the server under test, e.g. `http://staging:8080` or `https://example.org/ota`. */
  readonly url: string;
  /** Its admin `X-API-Key`. */
  readonly apiKey: string;
  /** The server's MQTT broker URL; without it the MQTT requirements (and MAC targeting) are skipped. */
  readonly broker?: string;
  /** MQTT wire profile the server speaks. Default `paku-edge`. */
  readonly protocol?: ProtocolProfile;
  /** MQTT topic prefix the server uses. Default `paku`. */
  readonly topicPrefix?: string;
  /** Per-request timeout, and how long to wait for MQTT effects, ms. Default 10,000. */
  readonly timeoutMs?: number;
  /** Devices in the canary fleet. Default 200. */
  readonly devices?: number;
  /** Requests in flight during a fleet sweep. Default 16. */
  readonly concurrency?: number;
  /** Namespace of this run (hex); default random. */
  readonly runId?: string;
}

/** The requirements that need a broker, skipped without one. */
const MQTT_REQUIREMENTS = [SRV.mqttStatus, SRV.mac, SRV.cmdOta, SRV.cmdUntargeted, SRV.results];

/** Preflight: throws a one-line `UsageError` when the server cannot be judged. */
async function preflight(http: ServerHttp, url: string): Promise<void> {
  try {
    await http.get('/health');
  } catch (e) {
    throw new UsageError(`cannot reach ${url}: ${networkCode(e)}`, { cause: e });
  }
  const r = await http.get('/api/admin/firmware/releases?limit=1', { key: true });
  if (r.status === 401 || r.status === 403) throw new UsageError(`API key rejected by ${url} (${r.status})`);
}

/** Run the suite. Rejects only with a preflight `UsageError`; requirement failures are in the report. */
export async function certifyServer(o: CertifyServerOptions): Promise<SuiteReport> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const http = new ServerHttp(o.url, o.apiKey, timeoutMs);
  await preflight(http, o.url);
  const run = new CertifyRun(http, { concurrency: o.concurrency ?? 16, ...(o.runId === undefined ? {} : { runId: o.runId }) });
  const mqtt: MqttSettings | undefined = o.broker === undefined ? undefined
    : { broker: o.broker, prefix: o.topicPrefix ?? 'paku', profile: o.protocol ?? 'paku-edge', timeoutMs };
  let watch: CommandWatch | undefined;
  if (mqtt !== undefined) {
    try {
      watch = await CommandWatch.open(mqtt, `otasim-certify-${run.id}`);
    } catch (e) {
      throw new UsageError(`cannot reach broker ${mqtt.broker}: ${networkCode(e)}`, { cause: e });
    }
  }
  const rec = new SuiteRecorder('server', o.url);
  let stopped: string | undefined;
  try {
    await healthAndAuth(rec, run);
    await releasesAndChecks(rec, run);
    await badInput(rec, run);
    await targeting(rec, run, o.devices ?? 200);
    if (watch === undefined || mqtt === undefined) for (const r of MQTT_REQUIREMENTS) rec.skip(r, 'needs --broker (the server\'s MQTT broker)');
    else await mqttChecks(rec, run, watch, mqtt);
  } catch (e) {
    stopped = `the suite stopped: ${(e as Error).message}`;
  } finally {
    const left = await run.cleanup();
    if (left.length > 0) {
      rec.finding({ id: 'SRV-CLEANUP', name: 'rollouts created by this run are deactivated', status: 'skip', message: `still active: ${left.join(', ')}` });
    }
    await watch?.[Symbol.asyncDispose]();
  }
  return rec.finish(stopped);
}
