/**
 * Named wire profiles: everything that makes one Paku dialect differ from the other, as data.
 * Server (orchestrator, collector), simulator and harness take a profile by name and read from it
 * rather than branching on the name. Pure: no I/O.
 *
 * - `paku-edge` (default): the deployed firmware ≥ 1.4.2 and the paku-iot backend, as their code
 *   does it (paku-protocol-facts §1.2–§1.7, §2.6).
 * - `paku-legacy`: the seed documents' layout and payloads (seeds 001–003; paku-core docs
 *   OTA_QUICK_GUIDE.md, ota-integration.md), which firmware ≤ 1.3.0 spoke.
 *
 * A profile holds: topic templates, one codec per message (its zod wire schema, `encode` from
 * otasim's canonical form, `decode` back to it), QoS and retain flags, the state and status
 * vocabularies, and the canary bucketing rule. docs/protocol.md lays the two side by side.
 */
import { z } from 'zod';
import type { Bucketing } from './bucketing.js';
import {
  EdgeStatusMessage, OTA_RESULT_MESSAGES, OtaCommand, OtaProgressMessage, OtaResultMessage, OtaStatusMessage, PROGRESS_STATES,
  UPDATE_STATUSES, progressStatus, replyVersion, type ProgressState, type UpdateStatusValue,
} from './payloads.js';
import { DEFAULT_PROFILE, PROTOCOL_PROFILES, TOPIC_TEMPLATES, type ProtocolProfile, type TopicTemplates } from './topics.js';

// ---------------------------------------------------------------------------------------------
// Canonical forms: what a message means, whatever dialect carried it.

/** `cmd/ota`: where to download, what version it is, its SHA-256 ("" = skip the check, §4.6). */
export interface CanonicalCommand {
  readonly url: string;
  readonly version: string;
  readonly checksum: string;
}

/** `ota/status`: an accepted command. */
export interface CanonicalAck {
  /** Device local time `YYYY-MM-DDTHH:MM:SS±HH:MM`, or "" before NTP sync (§1.4). */
  readonly timestamp: string;
  /** The running version; null when the dialect does not carry it. */
  readonly currentVersion: string | null;
  readonly targetVersion: string;
}

/** `ota/progress`. */
export interface CanonicalProgress {
  readonly timestamp: string;
  /**
   * The state as `OtaClient::stateToString` names it (any casing decodes to it); a state neither
   * dialect defines is kept as sent, as the paku collector keeps it (it stores `downloading`).
   */
  readonly state: ProgressState | (string & {});
  readonly percent: number;
  /** Bytes written so far; null when the dialect does not carry it. */
  readonly downloaded: number | null;
  /** Content-Length, 0 before the response; null when the dialect does not carry it. */
  readonly total: number | null;
  /** ms since the update began; null when the dialect does not carry it. */
  readonly elapsedMs: number | null;
}

/** `ota/result`. */
export interface CanonicalResult {
  readonly timestamp: string;
  readonly success: boolean;
  /** The version that ran when the attempt began; null when the dialect does not carry it. */
  readonly currentVersion: string | null;
  readonly targetVersion: string;
  /** `OtaResult` code 0–11 (§1.6); null when the dialect does not carry it. */
  readonly resultCode: number | null;
  readonly message: string | null;
}

/** `edge/{id}/status`: the device's announcement (retained), or its last will `{"online":false}`. */
export interface CanonicalDeviceStatus {
  readonly online: boolean;
  readonly deviceId: string | null;
  readonly deviceModel: string | null;
  readonly firmwareVersion: string | null;
  /** `AA:BB:CC:DD:EE:FF`. */
  readonly macAddress: string | null;
  /** Device local time, or "" before NTP sync; null when absent. */
  readonly lastSeen: string | null;
  readonly uptimeSeconds: number | null;
  /** What the device is doing (`continuous` in real firmware; the simulator adds its own states). */
  readonly state: string | null;
}

/** A decoded message: its meaning, and the payload as validated (unknown keys kept, for event_data). */
export type Decoded<C> = { ok: true; value: C; payload: Record<string, unknown> } | { ok: false; reason: string };

/** One message's codec in one profile. */
export interface Codec<C> {
  /** Exactly what this profile sends: the keys it always has (extra keys are tolerated). */
  readonly schema: z.ZodType<Record<string, unknown>>;
  /** The canonical form → this profile's JSON object. `extra` keys ride along after the profile's own. */
  encode(value: C, extra?: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /**
   * Any JSON value → the canonical form. Lenient as the paku collector is: a field the other
   * dialect uses in its place is read too (`target_version` or `version`), since devices in the
   * field speak whichever their firmware does.
   */
  decode(json: unknown): Decoded<C>;
}

/** How one kind of publish goes on the wire. */
export interface Delivery {
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/** A complete wire profile. */
export interface WireProfile {
  readonly name: ProtocolProfile;
  /** One line for `--help` and reports. */
  readonly summary: string;
  readonly topics: TopicTemplates;
  readonly codecs: {
    readonly command: Codec<CanonicalCommand>;
    readonly ack: Codec<CanonicalAck>;
    readonly progress: Codec<CanonicalProgress>;
    readonly result: Codec<CanonicalResult>;
    readonly status: Codec<CanonicalDeviceStatus>;
  };
  readonly delivery: {
    /** The server's `cmd/ota` publish (the workflow's `mosquitto_pub -q 1`, not retained, §2.8). */
    readonly command: Delivery;
    /**
     * QoS of the paku firmware's `cmd/ota` subscription: PubSubClient subscribes at 0 (§1.1). A
     * device behaviour may differ (simulator/device/behaviour.ts: `esp-idf` subscribes at 1).
     */
    readonly commandSubscribeQos: 0 | 1;
    /** The paku firmware's clean-session flag: true, so a command sent while it is offline is lost. Behaviours may differ. */
    readonly cleanSession: boolean;
    /** `ota/status|progress|result` publishes. */
    readonly reply: Delivery;
    /** The device's `edge/{id}/status` publishes. */
    readonly status: Delivery;
    /** The last will on `edge/{id}/status`, payload exactly `{"online":false}` (§1.1). */
    readonly will: Delivery & { readonly payload: string };
  };
  readonly vocabulary: {
    /** The ack's `status` values. */
    readonly ackStatuses: readonly string[];
    /** Progress `state` values the dialect defines, in its spelling. */
    readonly progressStates: readonly string[];
    /** The subset a device of this dialect actually emits (§1.5: never Idle, Installing, Rolled back). */
    readonly progressStatesEmitted: readonly string[];
    /** `result_code` → `message`, index = code; empty when the dialect has no codes. */
    readonly resultMessages: readonly string[];
    /** `device_update_status.status` values both dialects land in (the store's CHECK). */
    readonly updateStatuses: readonly UpdateStatusValue[];
    /** The store status a progress state maps to (the paku collector's rule, §1.9). */
    progressStatus(state: string): UpdateStatusValue;
  };
  /** Canary bucketing (protocol/bucketing.ts). How often a device reports progress is its firmware's behaviour, not the wire's. */
  readonly bucketing: Bucketing;
}

// ---------------------------------------------------------------------------------------------
// Codec helpers

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'does not match the schema';
  return `${issue.path.length > 0 ? issue.path.join('.') : '(payload)'}: ${issue.message}`;
}

/** Parse with `schema`, then map to the canonical form. */
function decoder<S extends z.ZodType<Record<string, unknown>>, C>(schema: S, map: (p: z.output<S>) => C | string):
(json: unknown) => Decoded<C> {
  return (json) => {
    const r = schema.safeParse(json);
    if (!r.success) return { ok: false, reason: firstIssue(r.error) };
    const value = map(r.data);
    if (typeof value === 'string') return { ok: false, reason: value };
    return { ok: true, value, payload: r.data };
  };
}

/** The canonical progress state for any casing (`downloading`, `DOWNLOADING` → `Downloading`). */
export function canonicalState(state: string): ProgressState | undefined {
  const s = state.toLowerCase().replace(/_/g, ' ');
  return PROGRESS_STATES.find((x) => x.toLowerCase() === s);
}

const Timestamp = z.string();

// The command is the same in both dialects: `{url, version, checksum}` (§1.3; seed 003 Phase 4).
const commandSchema = z.looseObject({ url: z.string().min(1), version: z.string(), checksum: z.string() });
const commandCodec: Codec<CanonicalCommand> = {
  schema: commandSchema,
  encode: (c, extra) => ({ ...extra, url: c.url, version: c.version, checksum: c.checksum }),
  // The device: missing or null version → "unknown", checksum → "" (skip), url required (§1.3).
  decode: decoder(OtaCommand, (p) => ({ url: p.url, version: p.version ?? 'unknown', checksum: p.checksum ?? '' })),
};

/** Progress decoding is shared: any known state in any casing; numbers the dialect lacks are null. */
const progressDecode = decoder(OtaProgressMessage, (p): CanonicalProgress => ({
    timestamp: p.timestamp ?? '', state: canonicalState(p.state) ?? p.state, percent: p.percent ?? 0,
    downloaded: p.downloaded ?? null, total: p.total ?? null, elapsedMs: p.elapsed_ms ?? null,
}));

const ackDecode = decoder(OtaStatusMessage, (p): CanonicalAck => ({
  timestamp: p.timestamp ?? '', currentVersion: p.current_version ?? null, targetVersion: replyVersion(p),
}));

const resultDecode = decoder(OtaResultMessage, (p): CanonicalResult => ({
  timestamp: p.timestamp ?? '', success: p.success, currentVersion: p.current_version ?? null, targetVersion: replyVersion(p),
  resultCode: p.result_code ?? null, message: p.message ?? null,
}));

/** Status decoding is shared; the seeds put the MAC in `wifi.mac` (seed 003 Phase 1), real firmware in `mac_address`. */
const statusDecode = decoder(EdgeStatusMessage, (p): CanonicalDeviceStatus => {
  const wifi = p['wifi'];
  const wifiMac = typeof wifi === 'object' && wifi !== null && typeof (wifi as { mac?: unknown }).mac === 'string'
    ? (wifi as { mac: string }).mac : null;
  return {
    online: p.online, deviceId: p.device_id ?? null, deviceModel: p.device_model ?? null, firmwareVersion: p.firmware_version ?? null,
    macAddress: p.mac_address ?? wifiMac, lastSeen: p.last_seen ?? null, uptimeSeconds: p.uptime_seconds ?? null, state: p.state ?? null,
  };
});

/** The keys of a status both dialects send, the last will `{"online":false}` aside. */
function statusKeys(s: CanonicalDeviceStatus): Record<string, unknown> {
  if (!s.online) return { online: false };
  return {
    online: true,
    ...(s.deviceId === null ? {} : { device_id: s.deviceId }),
    ...(s.lastSeen === null ? {} : { last_seen: s.lastSeen }),
    ...(s.uptimeSeconds === null ? {} : { uptime_seconds: s.uptimeSeconds }),
    ...(s.firmwareVersion === null ? {} : { firmware_version: s.firmwareVersion }),
    ...(s.deviceModel === null ? {} : { device_model: s.deviceModel }),
    ...(s.state === null ? {} : { state: s.state }),
  };
}

// ---------------------------------------------------------------------------------------------
// paku-edge: the deployed firmware (paku-protocol-facts §1.4–§1.6)

const edgeCodecs: WireProfile['codecs'] = {
  command: commandCodec,
  ack: {
    schema: z.looseObject({ timestamp: Timestamp, status: z.literal('accepted'), current_version: z.string(), target_version: z.string() }),
    encode: (a, extra) => ({
      ...extra, timestamp: a.timestamp, status: 'accepted', current_version: a.currentVersion ?? 'unknown', target_version: a.targetVersion,
    }),
    decode: ackDecode,
  },
  progress: {
    schema: z.looseObject({
      timestamp: Timestamp, state: z.enum(PROGRESS_STATES), percent: z.number().int().min(0).max(100),
      downloaded: z.number().int().min(0), total: z.number().int().min(0), elapsed_ms: z.number().int().min(0),
    }),
    encode: (p, extra) => ({
      ...extra, timestamp: p.timestamp, state: p.state, percent: p.percent,
      downloaded: p.downloaded ?? 0, total: p.total ?? 0, elapsed_ms: p.elapsedMs ?? 0,
    }),
    decode: progressDecode,
  },
  result: {
    schema: z.looseObject({
      timestamp: Timestamp, current_version: z.string(), target_version: z.string(), success: z.boolean(),
      result_code: z.number().int().min(0), message: z.string(),
    }),
    encode: (r, extra) => {
      const code = r.resultCode ?? (r.success ? 0 : 2);
      return {
        ...extra, timestamp: r.timestamp, current_version: r.currentVersion ?? 'unknown', target_version: r.targetVersion,
        success: r.success, result_code: code, message: r.message ?? OTA_RESULT_MESSAGES[code] ?? 'Unknown error',
      };
    },
    decode: resultDecode,
  },
  status: {
    // §1.7; the LWT `{"online":false}` is a status too, so only `online` is always there.
    schema: z.looseObject({ online: z.boolean(), device_id: z.string().optional(), mac_address: z.string().optional(),
      firmware_version: z.string().optional(), device_model: z.string().optional() }),
    encode: (st, extra) => ({
      ...extra, ...statusKeys(st), ...(st.online && st.macAddress !== null ? { mac_address: st.macAddress } : {}),
    }),
    decode: statusDecode,
  },
};

// ---------------------------------------------------------------------------------------------
// paku-legacy: the seed documents' shapes (OTA_QUICK_GUIDE.md, ota-integration.md; facts §6.1–§6.3)

const LEGACY_STATES = PROGRESS_STATES.map((s) => s.toLowerCase());

const legacyCodecs: WireProfile['codecs'] = {
  command: commandCodec,
  ack: {
    schema: z.looseObject({ timestamp: Timestamp, status: z.literal('accepted'), version: z.string() }),
    encode: (a, extra) => ({ ...extra, timestamp: a.timestamp, status: 'accepted', version: a.targetVersion }),
    decode: ackDecode,
  },
  progress: {
    schema: z.looseObject({
      timestamp: Timestamp, state: z.enum(LEGACY_STATES as [string, ...string[]]), percent: z.number().int().min(0).max(100),
    }),
    // The docs show `{state, percent}`; byte counts ride along when known, as they cost nothing.
    encode: (p, extra) => ({
      ...extra, timestamp: p.timestamp, state: p.state.toLowerCase(), percent: p.percent,
      ...(p.downloaded === null ? {} : { downloaded: p.downloaded }), ...(p.total === null ? {} : { total: p.total }),
      ...(p.elapsedMs === null ? {} : { elapsed_ms: p.elapsedMs }),
    }),
    decode: progressDecode,
  },
  result: {
    // Seed 003 Phase 2 reads `success`, `version`, `message`, `timestamp`.
    schema: z.looseObject({ timestamp: Timestamp, success: z.boolean(), version: z.string(), message: z.string() }),
    encode: (r, extra) => ({
      ...extra, timestamp: r.timestamp, success: r.success, version: r.targetVersion, message: r.message ?? (r.success ? 'Success' : 'Failed'),
    }),
    decode: resultDecode,
  },
  status: {
    // Seed 003 Phase 1 reads `wifi.mac`, `firmware_version` and `device_model`.
    schema: z.looseObject({ online: z.boolean(), wifi: z.looseObject({ mac: z.string() }).optional(),
      firmware_version: z.string().optional(), device_model: z.string().optional() }),
    encode: (st, extra) => ({
      ...extra, ...statusKeys(st), ...(st.online && st.macAddress !== null ? { wifi: { mac: st.macAddress } } : {}),
    }),
    decode: statusDecode,
  },
};

// ---------------------------------------------------------------------------------------------
// The profiles

/** Both dialects run PubSubClient on the device (§1.1): QoS 0 out, QoS 0 subscriptions, clean session. */
const PUBSUB_DELIVERY: WireProfile['delivery'] = Object.freeze({
  command: Object.freeze({ qos: 1, retain: false }),
  commandSubscribeQos: 0,
  cleanSession: true,
  reply: Object.freeze({ qos: 0, retain: false }),
  status: Object.freeze({ qos: 0, retain: true }),
  will: Object.freeze({ qos: 1, retain: true, payload: '{"online":false}' }),
});

const STORE_STATUSES: readonly UpdateStatusValue[] = UPDATE_STATUSES;

export const PROFILES: Readonly<Record<ProtocolProfile, WireProfile>> = Object.freeze({
  'paku-edge': Object.freeze({
    name: 'paku-edge',
    summary: 'the deployed paku-core firmware ≥ 1.4.2 and paku-iot backend: paku/edge/{id}/…, title-case states, result codes, SHA-256(device_id) canaries',
    topics: TOPIC_TEMPLATES['paku-edge'],
    codecs: Object.freeze(edgeCodecs),
    delivery: PUBSUB_DELIVERY,
    vocabulary: Object.freeze({
      ackStatuses: ['accepted'],
      progressStates: PROGRESS_STATES,
      progressStatesEmitted: ['Checking', 'Downloading', 'Verifying', 'Complete', 'Failed'],
      resultMessages: OTA_RESULT_MESSAGES,
      updateStatuses: STORE_STATUSES,
      progressStatus,
    }),
    bucketing: 'device',
  }),
  'paku-legacy': Object.freeze({
    name: 'paku-legacy',
    summary: 'the seed documents (firmware ≤ 1.3.0): paku/devices/{id}/…, lower-case states, result {success, version, message}, per-release canaries',
    topics: TOPIC_TEMPLATES['paku-legacy'],
    codecs: Object.freeze(legacyCodecs),
    delivery: PUBSUB_DELIVERY,
    vocabulary: Object.freeze({
      ackStatuses: ['accepted'],
      progressStates: LEGACY_STATES,
      progressStatesEmitted: ['checking', 'downloading', 'verifying', 'installing', 'complete', 'failed'],
      resultMessages: [],
      updateStatuses: STORE_STATUSES,
      progressStatus,
    }),
    bucketing: 'release',
  }),
});

/**
 * The profile called `name` (default `paku-edge`).
 * @throws TypeError for an unknown name, listing the known ones.
 */
export function wireProfile(name: string = DEFAULT_PROFILE): WireProfile {
  const p = (PROFILES as Readonly<Record<string, WireProfile>>)[name];
  if (p === undefined) throw new TypeError(`unknown protocol profile "${name}"; use ${PROTOCOL_PROFILES.join(' or ')}`);
  return p;
}
