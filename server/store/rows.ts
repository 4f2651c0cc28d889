/**
 * Driver rows → typed rows. node-postgres returns int8 as text and PGlite as a number; both
 * return timestamptz as Date and jsonb as a parsed value. These mappers make both identical.
 */
import type { SqlRow } from './sql-port.js';
import type {
  DeviceRow, OtaEventRow, ReleaseRow, RolloutRow, TargetFilter, TargetType, UpdateStatusRow, UpdateStatusValue, OtaEventType,
} from './store.js';

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
function date(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}
function dateOrNull(v: unknown): Date | null {
  return v === null || v === undefined ? null : date(v);
}
function str(v: unknown): string {
  return String(v);
}
function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** `metadata.groups` as strings; anything else there counts as no groups. */
export function groupsOf(metadata: Record<string, unknown> | null): string[] {
  const g = metadata?.['groups'];
  return Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : [];
}

export function toDevice(r: SqlRow): DeviceRow {
  const metadata = obj(r['metadata']);
  return {
    id: num(r['id']),
    device_id: str(r['device_id']),
    mac_address: strOrNull(r['mac_address']),
    device_model: str(r['device_model']),
    current_firmware_version: strOrNull(r['current_firmware_version']),
    last_seen: dateOrNull(r['last_seen']),
    created_at: date(r['created_at']),
    metadata,
    groups: groupsOf(metadata),
  };
}

export function toRelease(r: SqlRow): ReleaseRow {
  return {
    id: num(r['id']),
    version: str(r['version']),
    device_model: str(r['device_model']),
    min_version: strOrNull(r['min_version']),
    file_path: str(r['file_path']),
    file_size: num(r['file_size']),
    checksum_sha256: str(r['checksum_sha256']),
    changelog: strOrNull(r['changelog']),
    release_notes: strOrNull(r['release_notes']),
    is_signed: r['is_signed'] === true,
    created_at: date(r['created_at']),
    created_by: strOrNull(r['created_by']),
    metadata: obj(r['metadata']),
  };
}

export function toStatus(r: SqlRow): UpdateStatusRow {
  return {
    id: num(r['id']),
    device_id: str(r['device_id']),
    firmware_version: str(r['firmware_version']),
    status: str(r['status']) as UpdateStatusValue,
    error_message: strOrNull(r['error_message']),
    progress_percent: numOrNull(r['progress_percent']),
    started_at: dateOrNull(r['started_at']),
    completed_at: dateOrNull(r['completed_at']),
    reported_at: date(r['reported_at']),
    metadata: obj(r['metadata']),
  };
}

export function toRollout(r: SqlRow): RolloutRow {
  return {
    id: num(r['id']),
    name: str(r['name']),
    firmware_version: str(r['firmware_version']),
    device_model: str(r['device_model']),
    target_type: str(r['target_type']) as TargetType,
    target_filter: obj(r['target_filter']) as TargetFilter | null,
    rollout_percentage: numOrNull(r['rollout_percentage']),
    // As the real /check's `is_active = true`: NULL is not active.
    is_active: r['is_active'] === true,
    created_at: date(r['created_at']),
    updated_at: date(r['updated_at']),
    created_by: strOrNull(r['created_by']),
    metadata: obj(r['metadata']),
  };
}

export function toEvent(r: SqlRow): OtaEventRow {
  return {
    id: num(r['id']),
    event_type: str(r['event_type']) as OtaEventType,
    device_id: strOrNull(r['device_id']),
    firmware_version: strOrNull(r['firmware_version']),
    rollout_id: numOrNull(r['rollout_id']),
    event_data: r['event_data'] ?? null,
    created_at: date(r['created_at']),
    created_by: strOrNull(r['created_by']),
  };
}

/** A JSON value as a jsonb parameter. Both drivers would send a JS array as a PG array, so stringify. */
export function jsonParam(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}
