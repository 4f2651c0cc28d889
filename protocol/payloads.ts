/**
 * Schemas (zod 4) for every OTA payload on the wire: the MQTT messages between server and
 * device, and the HTTP request/response bodies of the seeds' API. Field names are the real
 * service's, quoted from paku-protocol-facts (§1.3–§1.7 MQTT, §2.4 HTTP) and seeds 001–003.
 *
 * Policy: what devices send (MQTT) is parsed leniently — unknown keys are kept, because real
 * firmware adds fields; what operators send (HTTP bodies) is strict — unknown keys are an error.
 * Pure: no I/O.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Shared vocabularies

/** Status values of `device_update_status.status` (paku ota_schema.sql CHECK; UpdateStatus regex). */
export const UPDATE_STATUSES = ['pending', 'downloading', 'downloaded', 'installing', 'success', 'failed', 'rolled_back'] as const;
export type UpdateStatusValue = (typeof UPDATE_STATUSES)[number];

/** `rollout_configurations.target_type` (paku ota_schema.sql CHECK; RolloutConfig regex). */
export const TARGET_TYPES = ['all', 'group', 'canary', 'specific'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

/** `ota_events.event_type` (paku ota_schema.sql CHECK). */
export const OTA_EVENT_TYPES = ['firmware_uploaded', 'rollout_created', 'rollout_updated', 'update_started',
  'update_completed', 'update_failed', 'rollback_initiated'] as const;
export type OtaEventType = (typeof OTA_EVENT_TYPES)[number];

/** `OtaClient::stateToString` values, exactly (paku-protocol-facts §1.5). */
export const PROGRESS_STATES = ['Idle', 'Checking', 'Downloading', 'Verifying', 'Installing', 'Complete', 'Failed', 'Rolled back'] as const;
export type ProgressState = (typeof PROGRESS_STATES)[number];

/** `OtaResult` enum in `OtaClient.h` order: result_code → message (paku-protocol-facts §1.6). */
export const OTA_RESULT_MESSAGES = ['Success', 'WiFi not connected', 'Download failed', 'Verification failed',
  'Installation failed', 'No partition available', 'Invalid URL', 'Timeout', 'Insufficient space', 'Invalid firmware',
  'Update already running', 'Rollback failed'] as const;

/**
 * A version or device-model slug. The real upload handler requires `^[A-Za-z0-9._-]+$`
 * (ota_service.py, commit ad9c9a4 "prevent path traversal"); we also refuse `.`/`..` and cap the
 * length, so a slug can never name a directory.
 */
export const SLUG_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
export const Slug = z.string().regex(SLUG_PATTERN, 'must be 1–128 of A-Z a-z 0-9 . _ -')
  .refine((s) => s !== '.' && s !== '..', 'must not be "." or ".."');

/** Lower-case SHA-256 hex digest. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters');

/** Device ids appear as MQTT topic levels, so no `/`, `+`, `#`. */
export const DeviceId = z.string().min(1).max(128).regex(/^[^/+#]+$/, 'must not contain / + #')
  .refine((s) => !s.includes('\0'), 'must not contain NUL');

/** Device timestamp: `YYYY-MM-DDTHH:MM:SS±HH:MM`, or `""` before NTP sync (paku-protocol-facts §1.4). */
const DeviceTimestamp = z.string();

// ---------------------------------------------------------------------------------------------
// MQTT: server → device

/**
 * `{prefix}/…/{id}/cmd/ota`. The workflow sends exactly `{url, version, checksum}`; the device
 * requires only `url` and ignores other keys (paku-protocol-facts §1.3).
 */
export const OtaCommand = z.looseObject({
  url: z.string().min(1),
  version: z.string().optional(),
  checksum: z.string().optional(),
});
export type OtaCommand = z.infer<typeof OtaCommand>;

// ---------------------------------------------------------------------------------------------
// MQTT: device → server

/** `ota/status`: the ack, once per accepted command (paku-protocol-facts §1.4). */
export const OtaStatusMessage = z.looseObject({
  timestamp: DeviceTimestamp.optional(),
  status: z.string().min(1), // always "accepted" in real firmware
  current_version: z.string().optional(),
  target_version: z.string().optional(),
  version: z.string().optional(), // the docs' (seed/legacy) shape
});
export type OtaStatusMessage = z.infer<typeof OtaStatusMessage>;

/**
 * `ota/progress` (paku-protocol-facts §1.5). Real firmware sends title-case states; the legacy
 * docs show lower-case ones, so the state is matched case-insensitively by `progressState()`.
 */
export const OtaProgressMessage = z.looseObject({
  timestamp: DeviceTimestamp.optional(),
  state: z.string().min(1),
  percent: z.number().int().min(0).max(100).optional(),
  downloaded: z.number().int().min(0).optional(),
  total: z.number().int().min(0).optional(),
  elapsed_ms: z.number().int().min(0).optional(),
});
export type OtaProgressMessage = z.infer<typeof OtaProgressMessage>;

/**
 * `ota/result`. Seed 003 gives `{success, version, message, timestamp}`; real firmware sends
 * `{timestamp, current_version, target_version, success, result_code, message}` (§1.6).
 */
export const OtaResultMessage = z.looseObject({
  timestamp: DeviceTimestamp.optional(),
  success: z.boolean(),
  version: z.string().optional(),
  current_version: z.string().optional(),
  target_version: z.string().optional(),
  result_code: z.number().int().optional(),
  message: z.string().optional(),
});
export type OtaResultMessage = z.infer<typeof OtaResultMessage>;

/**
 * `{prefix}/edge/{id}/status`, retained; the LWT is exactly `{"online":false}` (§1.1, §1.7).
 * A `device_model` is what lets the collector register the device.
 */
export const EdgeStatusMessage = z.looseObject({
  online: z.boolean(),
  device_id: z.string().optional(),
  mac_address: z.string().optional(),
  friendly_name: z.string().optional(),
  last_seen: z.string().optional(),
  signal_strength_dbm: z.number().optional(),
  uptime_seconds: z.number().optional(),
  firmware_version: z.string().optional(),
  device_model: z.string().optional(),
  state: z.string().optional(),
  heater_status: z.number().optional(),
  mqtt_broker: z.string().optional(),
  mqtt_host: z.string().optional(),
  active_scenario: z.string().optional(),
});
export type EdgeStatusMessage = z.infer<typeof EdgeStatusMessage>;

/** The version an OTA reply is about: collector.py uses `target_version`, else `version`, else "unknown". */
export function replyVersion(p: { target_version?: string | undefined; version?: string | undefined }): string {
  return p.target_version ?? p.version ?? 'unknown';
}

/**
 * The `device_update_status.status` a progress state maps to. collector.py maps `verifying` →
 * `downloaded`, `installing` → `installing`, all else → `downloading` (§1.9, quirk 27); we keep
 * that, except `rolled back` → `rolled_back`, which the real collector cannot express.
 */
export function progressStatus(state: string): UpdateStatusValue {
  const s = state.toLowerCase();
  if (s === 'verifying') return 'downloaded';
  if (s === 'installing') return 'installing';
  if (s === 'rolled back' || s === 'rolled_back') return 'rolled_back';
  return 'downloading';
}

// ---------------------------------------------------------------------------------------------
// HTTP: device routes

/** `GET /api/firmware/check` query; all three are required (§2.4.1). */
export const FirmwareCheckQuery = z.strictObject({
  device_id: DeviceId,
  device_model: Slug,
  current_version: z.string().min(1).max(128),
});
export type FirmwareCheckQuery = z.infer<typeof FirmwareCheckQuery>;

/**
 * `FirmwareCheckResponse`: every key always present, `null` when unknown (§2.4.1). `size`
 * duplicates `file_size` because issue 3 names it; `download_url` is relative as in the real service.
 */
export const FirmwareCheckResponse = z.strictObject({
  update_available: z.boolean(),
  current_version: z.string().nullable(),
  latest_version: z.string().nullable(),
  download_url: z.string().nullable(),
  file_size: z.number().int().nullable(),
  size: z.number().int().nullable(),
  checksum_sha256: z.string().nullable(),
  release_notes: z.string().nullable(),
});
export type FirmwareCheckResponse = z.infer<typeof FirmwareCheckResponse>;

/** `GET /api/firmware/download/{version}` query (§2.4.2). */
export const FirmwareDownloadQuery = z.strictObject({ device_model: Slug.optional() });

/** `POST /api/device/{device_id}/update-status` body `UpdateStatus` (§2.4.3); strict here. */
export const UpdateStatusBody = z.strictObject({
  device_id: z.string().min(1),
  firmware_version: z.string().min(1).max(128),
  status: z.enum(UPDATE_STATUSES),
  error_message: z.string().nullable().optional(),
  progress_percent: z.number().int().min(0).max(100).nullable().optional(),
});
export type UpdateStatusBody = z.infer<typeof UpdateStatusBody>;

/** `{"status":"ok","message":…}` — the real service's success body. */
export const OkResponse = z.looseObject({ status: z.literal('ok'), message: z.string() });

// ---------------------------------------------------------------------------------------------
// HTTP: admin routes

/** Query booleans arrive as text: `true|false|1|0` (FastAPI's bool parsing accepts these). */
const QueryBool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');

/** `limit` query: integer text within [1, max], default `def` (§2.4.5, §2.4.7, §2.4.8). */
export function limitQuery(def: number, max: number) {
  return z.coerce.number().int().min(1).max(max).default(def);
}

/** `POST /api/admin/firmware/upload` query (§2.4.4). */
export const FirmwareUploadQuery = z.strictObject({
  version: Slug,
  device_model: Slug,
  min_version: Slug.optional(),
  changelog: z.string().max(65536).optional(),
  release_notes: z.string().max(65536).optional(),
  is_signed: QueryBool.default(false),
});
export type FirmwareUploadQuery = z.infer<typeof FirmwareUploadQuery>;

export const FirmwareUploadResponse = z.strictObject({
  status: z.literal('ok'),
  message: z.string(),
  version: z.string(),
  file_size: z.number().int(),
  checksum_sha256: Sha256Hex,
});

/** `GET /api/admin/firmware/releases` query: default 10, max 100 (§2.4.5). */
export const ReleasesQuery = z.strictObject({ device_model: Slug.optional(), limit: limitQuery(10, 100) });

/** One release in the releases list (§2.4.5); timestamps are ISO strings. */
export const ReleaseView = z.strictObject({
  version: z.string(),
  device_model: z.string(),
  file_size: z.number().int(),
  checksum_sha256: z.string(),
  is_signed: z.boolean(),
  created_at: z.string().nullable(),
  release_notes: z.string().nullable(),
});
export const ReleasesResponse = z.strictObject({ releases: z.array(ReleaseView) });

/**
 * `target_filter`: `{device_ids, mac_addresses, groups}` (seeds 001/002; the SQL COMMENT's
 * `{"group": "production"}` single form is accepted too).
 */
export const TargetFilter = z.strictObject({
  device_ids: z.array(z.string().min(1)).optional(),
  mac_addresses: z.array(z.string().min(1)).optional(),
  groups: z.array(z.string().min(1)).optional(),
  group: z.string().min(1).optional(),
});
export type TargetFilter = z.infer<typeof TargetFilter>;

/** `POST /api/admin/rollout/create` body `RolloutConfig` (§2.4.6); strict here. */
export const RolloutConfig = z.strictObject({
  name: Slug,
  firmware_version: Slug,
  device_model: Slug,
  target_type: z.enum(TARGET_TYPES),
  target_filter: TargetFilter.nullable().optional(),
  rollout_percentage: z.number().int().min(0).max(100).default(100),
  is_active: z.boolean().default(true),
});
export type RolloutConfig = z.infer<typeof RolloutConfig>;

/** `PATCH /api/admin/rollout/{name}` body (seed 002 "Phase 2"); at least one field. */
export const RolloutPatch = z.strictObject({
  target_type: z.enum(TARGET_TYPES).optional(),
  target_filter: TargetFilter.nullable().optional(),
  rollout_percentage: z.number().int().min(0).max(100).optional(),
  is_active: z.boolean().optional(),
}).refine((p) => Object.keys(p).length > 0, 'give at least one field to change');
export type RolloutPatch = z.infer<typeof RolloutPatch>;

/** A rollout as the admin API shows it. */
export const RolloutView = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  firmware_version: z.string(),
  device_model: z.string(),
  target_type: z.enum(TARGET_TYPES),
  target_filter: TargetFilter.nullable(),
  rollout_percentage: z.number().int().nullable(),
  is_active: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});

/** `GET /api/admin/devices` query: default 50, max 500 (§2.4.7). */
export const DevicesQuery = z.strictObject({ device_model: Slug.optional(), limit: limitQuery(50, 500) });

export const DeviceView = z.strictObject({
  device_id: z.string(),
  device_model: z.string(),
  current_firmware_version: z.string().nullable(),
  last_seen: z.string().nullable(),
  created_at: z.string().nullable(),
  mac_address: z.string().nullable(),
  groups: z.array(z.string()),
});
export const DevicesResponse = z.strictObject({ devices: z.array(DeviceView) });

/** Body that sets a device's groups (stored in `devices.metadata.groups`, seed 002 §5). */
export const DeviceGroupsBody = z.strictObject({ groups: z.array(z.string().min(1).max(128)).max(256) });

/** `GET /api/admin/update-status` query: default 50, max 500 (§2.4.8). */
export const UpdateStatusQuery = z.strictObject({
  device_id: z.string().min(1).optional(),
  firmware_version: z.string().min(1).optional(),
  limit: limitQuery(50, 500),
});

export const UpdateStatusView = z.strictObject({
  device_id: z.string(),
  firmware_version: z.string(),
  status: z.enum(UPDATE_STATUSES),
  error_message: z.string().nullable(),
  progress_percent: z.number().int().nullable(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  reported_at: z.string().nullable(),
});
export const UpdateStatusResponse = z.strictObject({ updates: z.array(UpdateStatusView) });

/** Every 4xx/5xx body otasim's server sends (issue 3 "Bad input"). */
export const ErrorBody = z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) });
export type ErrorBody = z.infer<typeof ErrorBody>;
