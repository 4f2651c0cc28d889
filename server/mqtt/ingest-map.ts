/**
 * What one device → server MQTT message means for the store. Pure: topic + bytes in, rows or a
 * named refusal out; no I/O, no clock (the receipt time is passed in).
 *
 * The mapping is the paku-iot collector's (`stack/collector/collector.py`, handle_ota_message;
 * paku-protocol-facts §1.9), which seed 003's Phase 1/2 plan describes:
 * - `ota/status` (the ack) inserts a `pending` row with `started_at` and an `update_started` event;
 * - `ota/progress` updates the device's latest row: state → status, `percent` → progress_percent;
 * - `ota/result` updates the latest row to `success` (progress 100) or `failed` (message as
 *   error_message) with `completed_at`, and adds `update_completed` / `update_failed`;
 * - `edge/{id}/status` keeps the raw JSON in `edge_device_status` and, when it names a
 *   `device_model`, registers (upserts) the device.
 *
 * Payloads are read through the wire profile's codecs (protocol/profiles.ts), so either dialect
 * lands in the same rows: `target_version` or the seeds' `version`, title-case or lower-case states.
 */
import type { z } from 'zod';
import { DeviceId } from '../../protocol/payloads.js';
import { wireProfile, type CanonicalAck, type CanonicalDeviceStatus, type CanonicalProgress, type CanonicalResult,
  type WireProfile } from '../../protocol/profiles.js';
import type { Topics } from '../../protocol/topics.js';
import type { DeviceAnnounce, EdgeStatusRecord, NewOtaEvent, StatusRecord } from '../store/store.js';

/** Message kinds, as metrics label them. */
export type MessageKind = 'status' | 'progress' | 'result' | 'edge_status' | 'unknown';

/** Largest payload the collector parses, in bytes. Real device messages fit in 1 KiB (§1.1). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;

/** The rows one valid message contributes to a batch. */
export interface IngestRows {
  devices: DeviceAnnounce[];
  edgeStatuses: EdgeStatusRecord[];
  statuses: StatusRecord[];
  events: NewOtaEvent[];
}

/** A message understood: its rows, plus what the server's hooks may want to know. */
export interface Accepted {
  outcome: 'ok';
  kind: Exclude<MessageKind, 'unknown'>;
  deviceId: string;
  /** The validated payload (unknown keys kept). */
  payload: Record<string, unknown>;
  rows: IngestRows;
}

/** A message refused (`malformed`: bad JSON or schema) or not ours (`ignored`). */
export interface Refused {
  outcome: 'malformed' | 'ignored';
  kind: MessageKind;
  /** What is wrong, for the log line. */
  reason: string;
}

export type Mapped = Accepted | Refused;

/** The codec that reads each message kind. */
function codecFor(profile: WireProfile, kind: Accepted['kind']) {
  switch (kind) {
    case 'status': return profile.codecs.ack;
    case 'progress': return profile.codecs.progress;
    case 'result': return profile.codecs.result;
    case 'edge_status': return profile.codecs.status;
  }
}

/** Options of {@link mapMessage}. */
export interface MapOptions {
  /** Receipt time stamped on rows; omit to let the store's clock stamp them at commit. */
  receivedAt?: Date;
  /** Default {@link DEFAULT_MAX_PAYLOAD_BYTES}. */
  maxPayloadBytes?: number;
}

/** Describe the first zod issue as `path: message`. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'does not match the schema';
  const path = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
  return `${path}: ${issue.message}`;
}

/** True when a string anywhere in `v` (keys included) contains U+0000. */
export function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x));
  return false;
}

/** Map one PUBLISH to store rows, or say why not. Never throws. */
export function mapMessage(topics: Topics, topic: string, payload: Uint8Array, opts: MapOptions = {}): Mapped {
  const parsed = topics.parse(topic);
  if (parsed === undefined) return { outcome: 'ignored', kind: 'unknown', reason: `topic ${topic} is not an OTA reply or edge status` };
  const kind: Accepted['kind'] = parsed.kind === 'edge-status' ? 'edge_status' : parsed.reply;
  const id = DeviceId.safeParse(parsed.deviceId);
  if (!id.success) return { outcome: 'malformed', kind, reason: `device id in topic: ${firstIssue(id.error)}` };
  // An empty retained payload is how a retained status is cleared, not a report.
  if (payload.length === 0) return { outcome: 'ignored', kind, reason: 'empty payload (a retained-message clear)' };
  const max = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (payload.length > max) return { outcome: 'malformed', kind, reason: `payload is ${payload.length} bytes, over the ${max}-byte limit` };
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { outcome: 'malformed', kind, reason: `not JSON: ${(e as Error).message}` };
  }
  // PostgreSQL jsonb/text cannot hold U+0000 (SQLSTATE 22P05): refuse it here, not in the commit.
  if ((text.includes('\\u0000') || text.includes('\u0000')) && hasNul(json)) {
    return { outcome: 'malformed', kind, reason: 'contains U+0000, which PostgreSQL text cannot store' };
  }
  const profile = wireProfile(topics.profile);
  const decoded = codecFor(profile, kind).decode(json);
  if (!decoded.ok) return { outcome: 'malformed', kind, reason: decoded.reason };
  const rows = rowsFor(profile, kind, id.data, decoded.value, decoded.payload, topics.prefix, opts.receivedAt);
  return { outcome: 'ok', kind, deviceId: id.data, payload: decoded.payload, rows };
}

type Canonical = CanonicalAck | CanonicalProgress | CanonicalResult | CanonicalDeviceStatus;

function rowsFor(profile: WireProfile, kind: Accepted['kind'], deviceId: string, value: Canonical, p: Record<string, unknown>,
  site: string, at: Date | undefined): IngestRows {
  const rows: IngestRows = { devices: [], edgeStatuses: [], statuses: [], events: [] };
  const stamp = at === undefined ? {} : { reported_at: at };
  const when = at === undefined ? {} : { created_at: at };
  switch (kind) {
    case 'status': {
      const version = (value as CanonicalAck).targetVersion;
      rows.statuses.push({ device_id: deviceId, firmware_version: version, status: 'pending', started: true, mode: 'insert', ...stamp });
      rows.events.push({ event_type: 'update_started', device_id: deviceId, firmware_version: version, event_data: p, ...when });
      break;
    }
    case 'progress': {
      const m = value as CanonicalProgress;
      rows.statuses.push({
        device_id: deviceId, status: profile.vocabulary.progressStatus(m.state), progress_percent: m.percent, mode: 'latest', ...stamp,
      });
      break;
    }
    case 'result': {
      const m = value as CanonicalResult;
      const version = m.targetVersion;
      rows.statuses.push(m.success
        ? { device_id: deviceId, firmware_version: version, status: 'success', progress_percent: 100, completed: true, mode: 'latest', ...stamp }
        : { device_id: deviceId, firmware_version: version, status: 'failed', error_message: m.message ?? null, completed: true, mode: 'latest', ...stamp });
      rows.events.push({
        event_type: m.success ? 'update_completed' : 'update_failed', device_id: deviceId, firmware_version: version, event_data: p, ...when,
      });
      break;
    }
    case 'edge_status': {
      const m = value as CanonicalDeviceStatus;
      rows.edgeStatuses.push({ site_id: site, device_id: deviceId, status: p, ...(at === undefined ? {} : { ts: at }) });
      if (m.deviceModel !== null && m.deviceModel.length > 0) {
        rows.devices.push({
          device_id: deviceId, device_model: m.deviceModel, current_firmware_version: m.firmwareVersion, mac_address: m.macAddress,
        });
      }
      break;
    }
  }
  return rows;
}
