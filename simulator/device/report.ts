/**
 * What the device tells the server, and on which wire. A `Report` names the moment (accepted,
 * progress, rebooting, success, failure); `reportEffects` turns it into MQTT publishes for the
 * configured wire profile and/or an HTTP `update-status` body, as `reportVia` says.
 *
 * - `paku-edge`: the real firmware's shapes (paku-protocol-facts §1.4–§1.7): title-case progress
 *   states, `ota/result` with `current_version`, `target_version`, `result_code`, `message`.
 * - `paku-legacy`: seed 003's documented shapes: lower-case states, `ota/result`
 *   `{success, version, message, timestamp}`.
 * - HTTP: seed 002's `reportStatus` body `{device_id, firmware_version, status, progress_percent}`.
 *
 * Extra keys the real firmware lacks (`reason`, `detail`, `esp_err`, `partition`, `ota_state`) ride
 * along on MQTT, where the collector keeps unknown keys. Pure: no I/O.
 */
import type {
  EdgeStatusMessage, OtaProgressMessage, OtaResultMessage, OtaStatusMessage, UpdateStatusBody, UpdateStatusValue,
} from '../../protocol/payloads.js';
import { topics, type Topics } from '../../protocol/topics.js';
import type { DeviceConfig } from './config.js';
import { failureInfo, type FailureReason } from './reasons.js';
import type { BootInfo, DeviceEffect } from './types.js';
import { deviceTimestamp } from './wall-clock.js';
import type { ProgressStateName } from './behaviour.js';

type Running = Extract<BootInfo, { ok: true }>;

export type { ProgressStateName };

export type Report =
  /** The offer was accepted (MQTT ack). */
  | { readonly kind: 'accepted'; readonly target: string }
  | { readonly kind: 'progress'; readonly target: string; readonly state: ProgressStateName; readonly percent: number;
      readonly downloaded: number; readonly total: number; readonly elapsedMs: number }
  /** The boot partition is set; the device restarts after the configured delay. */
  | { readonly kind: 'rebooting'; readonly target: string }
  /** The new image runs and is confirmed (or, for firmware that reports before its restart, is installed). */
  | { readonly kind: 'success'; readonly target: string }
  /** The attempt failed; `percent` is how far the download got (for the `Failed` progress message). */
  | { readonly kind: 'failure'; readonly target: string; readonly reason: FailureReason; readonly detail: string;
      readonly esp?: string; readonly percent: number | null };

/** Per-call view of the device a report is built for. */
export interface ReportContext {
  readonly config: DeviceConfig;
  /** Device wall-clock time (runtime time + skew), ms. */
  readonly wallMs: number;
  readonly running: Running;
  /** Uptime, s. */
  readonly uptimeS: number;
}

const HTTP_STATUS: Record<ProgressStateName, UpdateStatusValue> = {
  Checking: 'downloading', Downloading: 'downloading', Verifying: 'downloaded', Installing: 'installing', Complete: 'installing',
};

/** The version a success report names: the offer's, or the running one when the offer named none. */
const installed = (c: ReportContext, target: string): string => (target === 'unknown' ? c.running.version : target);

/** The topic names of a device's configuration. */
export function deviceTopics(config: DeviceConfig): Topics {
  return topics({ prefix: config.topicPrefix, profile: config.protocol });
}

/** The retained `edge/{id}/status` payload: announce, and the `state` the device is in. */
export function edgeStatus(c: ReportContext, state: string): string {
  const { config, running } = c;
  return JSON.stringify({
    online: true,
    device_id: config.deviceId,
    mac_address: config.mac,
    wifi: { mac: config.mac },
    last_seen: deviceTimestamp(c.wallMs),
    uptime_seconds: c.uptimeS,
    firmware_version: running.version,
    device_model: config.deviceModel,
    state,
    partition: running.partition,
    ota_state: running.otaState,
  } satisfies EdgeStatusMessage);
}

/** The LWT: exactly `{"online":false}` (paku-protocol-facts §1.1). */
export const OFFLINE_PAYLOAD = '{"online":false}';

function mqttReport(c: ReportContext, r: Report): DeviceEffect[] {
  const t = deviceTopics(c.config);
  const id = c.config.deviceId;
  const legacy = c.config.protocol === 'paku-legacy';
  const ts = deviceTimestamp(c.wallMs);
  const pub = (reply: 'status' | 'progress' | 'result', body: OtaStatusMessage | OtaProgressMessage | OtaResultMessage): DeviceEffect =>
    ({ type: 'mqtt-publish', topic: t.otaReply(id, reply), payload: JSON.stringify(body), qos: c.config.reportQos, retain: false });
  const progress = (state: string, percent: number, downloaded: number, total: number, elapsedMs: number): DeviceEffect =>
    pub('progress', { timestamp: ts, state: legacy ? state.toLowerCase() : state, percent, downloaded, total, elapsed_ms: elapsedMs });
  switch (r.kind) {
    case 'accepted':
      return [pub('status', legacy
        ? { timestamp: ts, status: 'accepted', version: r.target }
        : { timestamp: ts, status: 'accepted', current_version: c.running.version, target_version: r.target })];
    case 'progress':
      return [progress(r.state, r.percent, r.downloaded, r.total, r.elapsedMs)];
    case 'rebooting':
      return [{ type: 'mqtt-publish', topic: t.edgeStatus(id), payload: edgeStatus(c, 'rebooting'), qos: 0, retain: true }];
    case 'success':
      return [pub('result', legacy
        ? { timestamp: ts, success: true, version: installed(c, r.target), message: 'Success' }
        : { timestamp: ts, current_version: c.running.version, target_version: r.target, success: true, result_code: 0, message: 'Success' })];
    case 'failure': {
      const f = failureInfo(r.reason, r.esp);
      const out: DeviceEffect[] = [];
      if (r.percent !== null && !f.rolledBack) out.push(progress('Failed', r.percent, 0, 0, 0));
      out.push(pub('result', legacy
        ? { timestamp: ts, success: false, version: r.target, message: `${r.reason}: ${r.detail}` }
        : {
            timestamp: ts, current_version: c.running.version, target_version: r.target, success: false,
            result_code: f.result, message: f.message, reason: r.reason, detail: r.detail, ...(f.esp === null ? {} : { esp_err: f.esp }),
          }));
      if (f.rolledBack) out.push(progress('Rolled back', 0, 0, 0, 0));
      return out;
    }
  }
}

function httpReport(c: ReportContext, r: Report): DeviceEffect[] {
  const body = (firmware_version: string, status: UpdateStatusValue, progress_percent: number | null, error_message?: string): DeviceEffect => {
    const b: UpdateStatusBody = { device_id: c.config.deviceId, firmware_version, status, progress_percent };
    return { type: 'http-report', body: error_message === undefined ? b : { ...b, error_message } };
  };
  switch (r.kind) {
    case 'accepted': return [];
    case 'rebooting': return [];
    case 'progress': return [body(r.target, HTTP_STATUS[r.state], r.percent)];
    case 'success': return [body(installed(c, r.target), 'success', 100)];
    case 'failure': {
      const f = failureInfo(r.reason, r.esp);
      const esp = f.esp === null ? '' : ` (${f.esp})`;
      return [body(r.target, f.rolledBack ? 'rolled_back' : 'failed', r.percent, `${r.reason}: ${r.detail}${esp}`)];
    }
  }
}

/** The effects that send report `r`, on MQTT and/or HTTP as `config.reportVia` says. */
export function reportEffects(c: ReportContext, r: Report): DeviceEffect[] {
  const via = c.config.reportVia;
  return [
    ...(via === 'http' ? [] : mqttReport(c, r)),
    ...(via === 'mqtt' ? [] : httpReport(c, r)),
  ];
}
