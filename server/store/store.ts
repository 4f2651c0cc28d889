/**
 * The metadata store: one interface, two implementations sharing one SQL (PGlite embedded in a
 * data directory; PostgreSQL via a URL). Tables and columns are the seeds' paku schema
 * (paku-protocol-facts §3.1) so the seeds' Grafana SQL runs unchanged against either.
 *
 * Rows use the real column names (snake_case) so they map 1:1 to SQL and to the HTTP bodies.
 * Timestamps are `Date`; `id` columns (BIGSERIAL) are `number`.
 * Firmware bytes never live here: see `artifacts.ts`.
 */
import type { OtaEventType, TargetFilter, TargetType, UpdateStatusValue } from '../../protocol/payloads.js';

export type { OtaEventType, TargetFilter, TargetType, UpdateStatusValue };

/** `devices` row. Groups live in `metadata.groups` (seed 002 "Manage Device Groups"). */
export interface DeviceRow {
  id: number;
  device_id: string;
  mac_address: string | null;
  device_model: string;
  current_firmware_version: string | null;
  last_seen: Date | null;
  created_at: Date;
  metadata: Record<string, unknown> | null;
  /** `metadata.groups` as a string array (`[]` when absent). Derived, not a column. */
  groups: string[];
}

/** `firmware_releases` row. `file_path` is the artifact key (`sha256/<hex>`), not a path. */
export interface ReleaseRow {
  id: number;
  version: string;
  device_model: string;
  min_version: string | null;
  file_path: string;
  file_size: number;
  checksum_sha256: string;
  changelog: string | null;
  release_notes: string | null;
  is_signed: boolean;
  created_at: Date;
  created_by: string | null;
  metadata: Record<string, unknown> | null;
}

/** `device_update_status` row. */
export interface UpdateStatusRow {
  id: number;
  device_id: string;
  firmware_version: string;
  status: UpdateStatusValue;
  error_message: string | null;
  progress_percent: number | null;
  started_at: Date | null;
  completed_at: Date | null;
  reported_at: Date;
  metadata: Record<string, unknown> | null;
}

/** `rollout_configurations` row. */
export interface RolloutRow {
  id: number;
  name: string;
  firmware_version: string;
  device_model: string;
  target_type: TargetType;
  target_filter: TargetFilter | null;
  rollout_percentage: number | null;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
  created_by: string | null;
  metadata: Record<string, unknown> | null;
}

/** `ota_events` row. */
export interface OtaEventRow {
  id: number;
  event_type: OtaEventType;
  device_id: string | null;
  firmware_version: string | null;
  rollout_id: number | null;
  event_data: unknown;
  created_at: Date;
  created_by: string | null;
}

/** `rollout_plans` row (migration 003). `spec` and `state` are the engine's JSON (server/rollout). */
export interface PlanRow {
  id: number;
  name: string;
  /** The `rollout_configurations` row this plan drives (same name). */
  rollout_id: number;
  /** The plan a rollback plan undoes. */
  parent_id: number | null;
  kind: 'plan' | 'rollback';
  device_model: string;
  firmware_version: string;
  spec: unknown;
  state: unknown;
  status: string;
  created_at: Date;
  updated_at: Date;
}

/** The latest report of a device for a version (rollout engine input). */
export interface PlanReport {
  device_id: string;
  status: UpdateStatusValue;
  reported_at: Date;
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** A device seen on `GET /api/firmware/check`: on conflict only version and last_seen change (§2.4.1). */
export interface DeviceCheckIn {
  device_id: string;
  device_model: string;
  current_firmware_version: string;
}

/**
 * A device seen on `{prefix}/edge/{id}/status` with a `device_model`: on conflict model,
 * version and last_seen change (collector.py, §1.9). A `mac_address` is stored too (the real
 * collector drops it; MAC targeting needs it); a MAC claimed by another device moves here.
 */
export interface DeviceAnnounce {
  device_id: string;
  device_model: string;
  current_firmware_version: string | null;
  mac_address?: string | null;
}

export interface NewRelease {
  version: string;
  device_model: string;
  min_version?: string | null;
  /** Artifact key returned by `ArtifactStore.put` (`sha256/<hex>`). */
  file_path: string;
  /** Bytes. */
  file_size: number;
  checksum_sha256: string;
  changelog?: string | null;
  release_notes?: string | null;
  /** Default false. */
  is_signed?: boolean;
  /** Default 'admin' (the real service's value). */
  created_by?: string | null;
  metadata?: Record<string, unknown> | null;
}

export interface NewRollout {
  name: string;
  firmware_version: string;
  device_model: string;
  target_type: TargetType;
  target_filter?: TargetFilter | null;
  /** 0..100, default 100. */
  rollout_percentage?: number;
  /** Default true. */
  is_active?: boolean;
  created_by?: string | null;
}

export interface RolloutChange {
  target_type?: TargetType;
  target_filter?: TargetFilter | null;
  rollout_percentage?: number;
  is_active?: boolean;
}

/** A plan and its rollout row, created together. */
export interface NewPlan {
  name: string;
  kind: 'plan' | 'rollback';
  parent_id?: number | null;
  spec: unknown;
  state: unknown;
  status: string;
  /** The rollout row the plan drives; `name` must equal the plan's. */
  rollout: NewRollout;
  /** Events recorded with it (their `rollout_id` is set to the new rollout's). */
  events?: NewOtaEvent[];
}

/** One engine step or operator action, saved in ONE transaction. */
export interface PlanSave {
  state: unknown;
  status: string;
  spec?: unknown;
  /** Changes to the plan's rollout row. */
  rollout?: { is_active?: boolean; target_filter?: TargetFilter | null };
  /** Decisions (their `rollout_id` is set to the plan's rollout). */
  events?: NewOtaEvent[];
}

/**
 * One status report to persist.
 * - `mode: 'insert'` (default) appends a row (HTTP update-status; MQTT `ota/status` ack).
 * - `mode: 'latest'` updates the device's most recent row (MQTT `ota/progress`/`ota/result`,
 *   as collector.py does); when the device has no row yet, a row is inserted instead, so no
 *   report is lost. `firmware_version` may then be omitted ('unknown' on insert).
 * `started`/`completed` set `started_at`/`completed_at` to the report time.
 */
export interface StatusRecord {
  device_id: string;
  firmware_version?: string;
  status: UpdateStatusValue;
  error_message?: string | null;
  progress_percent?: number | null;
  started?: boolean;
  completed?: boolean;
  /** Report time; default the store clock's now. */
  reported_at?: Date;
  metadata?: Record<string, unknown> | null;
  mode?: 'insert' | 'latest';
}

export interface NewOtaEvent {
  event_type: OtaEventType;
  device_id?: string | null;
  firmware_version?: string | null;
  rollout_id?: number | null;
  event_data?: unknown;
  created_by?: string | null;
  /** Default the store clock's now. */
  created_at?: Date;
}

/** A raw `{prefix}/edge/{id}/status` payload for `edge_device_status` (collector.py keeps every one). */
export interface EdgeStatusRecord {
  site_id: string;
  device_id: string;
  status: unknown;
  /** Default the store clock's now. */
  ts?: Date;
}

/**
 * Everything one collector batch writes, committed in ONE transaction. Applied in this order:
 * device announcements, edge statuses, status records (in array order), events.
 */
export interface IngestBatch {
  devices?: DeviceAnnounce[];
  edgeStatuses?: EdgeStatusRecord[];
  statuses?: StatusRecord[];
  events?: NewOtaEvent[];
}

/** Aggregates for `/metrics`. Counts are integers. */
export interface StoreStats {
  total_devices: number;
  devices_by_model: Record<string, number>;
  /** Key '' for devices with no known version. */
  devices_by_version: Record<string, number>;
  /** Rows per status with `reported_at` in the last 24 h of the store clock. */
  recent_updates_24h: Record<string, number>;
  active_rollouts: number;
}

// ---------------------------------------------------------------------------------------------
// The interface

/**
 * The OTA metadata store. Every write resolves only after its transaction has COMMITted.
 * Typed failures (protocol/errors.ts): `ConflictError` for duplicates
 * (`OTASIM_ERR_DUPLICATE_RELEASE`, `OTASIM_ERR_DUPLICATE_ROLLOUT`), `NotFoundError`
 * (`OTASIM_ERR_NOT_FOUND`), `StoreError` for everything the database refuses.
 */
export interface Store extends AsyncDisposable {
  /** `'pglite'` or `'postgres'`. */
  readonly kind: 'pglite' | 'postgres';

  // devices
  checkIn(d: DeviceCheckIn): Promise<DeviceRow>;
  getDevice(deviceId: string): Promise<DeviceRow | undefined>;
  /** Ordered by `last_seen` DESC (NULLs last); `limit` default 50. */
  listDevices(q?: { device_model?: string; limit?: number }): Promise<DeviceRow[]>;
  /** Every device of a model (no limit), ordered by `device_id`; for targeting. */
  devicesOfModel(deviceModel: string): Promise<DeviceRow[]>;
  /** Replace `metadata.groups`; throws `NotFoundError` for an unknown device. */
  setDeviceGroups(deviceId: string, groups: string[]): Promise<DeviceRow>;
  /** After a reported `success`: set `current_firmware_version` and `last_seen` (§2.4.3). No-op for unknown devices. */
  setDeviceVersion(deviceId: string, version: string): Promise<void>;

  // releases
  /** Throws `ConflictError` `OTASIM_ERR_DUPLICATE_RELEASE` on a duplicate (version, device_model). */
  insertRelease(r: NewRelease): Promise<ReleaseRow>;
  /** With `device_model`: that exact row. Without: the newest release of that version, any model. */
  getRelease(version: string, deviceModel?: string): Promise<ReleaseRow | undefined>;
  /** The most recently uploaded release of a model (the real `/check`'s "latest"). */
  latestRelease(deviceModel: string): Promise<ReleaseRow | undefined>;
  /** Ordered by `created_at` DESC; `limit` default 10. */
  listReleases(q?: { device_model?: string; limit?: number }): Promise<ReleaseRow[]>;
  /** True when some release still refers to this artifact key. */
  artifactInUse(filePath: string): Promise<boolean>;

  // rollouts
  /** Throws `ConflictError` `OTASIM_ERR_DUPLICATE_ROLLOUT` on a duplicate name. */
  insertRollout(r: NewRollout): Promise<RolloutRow>;
  getRollout(nameOrId: string | number): Promise<RolloutRow | undefined>;
  /** Sets `updated_at`; throws `NotFoundError` for an unknown rollout. */
  updateRollout(nameOrId: string | number, change: RolloutChange): Promise<RolloutRow>;
  /** Newest active rollout for (firmware_version, device_model) (§2.4.1 step 5). */
  activeRollout(firmwareVersion: string, deviceModel: string): Promise<RolloutRow | undefined>;
  /** Ordered by `created_at` DESC. */
  listRollouts(q?: { device_model?: string; active?: boolean; limit?: number }): Promise<RolloutRow[]>;

  // rollout plans (migration 003)
  /** Create a plan with its rollout row in ONE transaction; a taken name is `OTASIM_ERR_DUPLICATE_ROLLOUT`. */
  insertPlan(p: NewPlan): Promise<{ plan: PlanRow; rollout: RolloutRow }>;
  getPlan(nameOrId: string | number): Promise<PlanRow | undefined>;
  /** Plans, newest first; `statuses` filters. */
  listPlans(q?: { statuses?: readonly string[]; device_model?: string }): Promise<PlanRow[]>;
  /** Save a step: state, status, spec, rollout row and events in ONE transaction; `NotFoundError` for an unknown id. */
  savePlan(id: number, save: PlanSave): Promise<PlanRow>;
  /** The latest report per device for `version`, reported at or after `since`. */
  latestReports(version: string, since: Date): Promise<PlanReport[]>;

  // update status
  insertStatus(r: StatusRecord): Promise<void>;
  /** Persist a batch of status records in ONE transaction; resolves after COMMIT. */
  insertStatusBatch(records: StatusRecord[]): Promise<void>;
  /** Ordered by `reported_at` DESC; filters exact; `limit` default 50. */
  listStatus(q?: { device_id?: string; firmware_version?: string; limit?: number }): Promise<UpdateStatusRow[]>;
  /** Per status, how many devices' LATEST row for this version has it (rollout progress). */
  statusCounts(firmwareVersion: string, deviceModel?: string): Promise<Partial<Record<UpdateStatusValue, number>>>;

  // events
  insertEvent(e: NewOtaEvent): Promise<OtaEventRow>;
  /** Ordered by `created_at` DESC, `id` DESC; `limit` default 50. */
  listEvents(q?: { event_type?: OtaEventType; device_id?: string; firmware_version?: string; limit?: number }): Promise<OtaEventRow[]>;

  // collector
  /** Apply a whole collector batch in ONE transaction; resolves after COMMIT. */
  ingest(batch: IngestBatch): Promise<void>;

  // ops
  stats(): Promise<StoreStats>;
  /** Round-trip to the database (for `/health`); throws `StoreError` when it is unreachable. */
  ping(): Promise<void>;
  /**
   * Run read-only SQL as given (used by tests to run the seeds' Grafana queries unchanged).
   * Rows come back as the driver returns them.
   */
  rawQuery(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** Where the store lives: a PGlite data directory, or a PostgreSQL URL (optional schema). */
export type StoreLocation =
  | { data: string }
  | { memory: true }
  | { database: string; schema?: string };

/** Options for `openStore`. */
export interface StoreOptions {
  /** Wall clock used for every timestamp the store writes; default `() => new Date()`. */
  clock?: () => Date;
  /** Max PostgreSQL pool connections; default 10. Ignored by PGlite. */
  poolSize?: number;
  /**
   * Directory for the cached template of a fresh PGlite (about 5 MB, one file per PGlite
   * version and schema). A fresh data directory or memory store then unpacks the template
   * instead of running initdb: seconds faster. Default: none (always initdb). Ignored by PostgreSQL.
   */
  pgliteTemplateDir?: string;
}
