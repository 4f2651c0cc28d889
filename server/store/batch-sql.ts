/**
 * Set-based batch writes: each kind of row goes in with ONE `INSERT … SELECT FROM unnest(…)`
 * statement, so a 1,000-message collector batch costs a handful of statements, not 1,000.
 * Every function runs on a transaction runner; the caller COMMITs.
 */
import type { SqlRunner } from './sql-port.js';
import { jsonParam } from './rows.js';
import type { DeviceAnnounce, EdgeStatusRecord, NewOtaEvent, StatusRecord } from './store.js';

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** Devices from edge status: last announcement per device wins; a MAC moves to its newest claimant. */
export async function upsertAnnounced(tx: SqlRunner, list: readonly DeviceAnnounce[], now: Date): Promise<void> {
  if (list.length === 0) return;
  const byDevice = new Map<string, DeviceAnnounce>();
  for (const d of list) byDevice.set(d.device_id, d);
  const byMac = new Map<string, string>(); // mac → device_id, last claimant wins
  for (const d of byDevice.values()) if (d.mac_address) byMac.set(d.mac_address, d.device_id);
  const rows = [...byDevice.values()].map((d) => ({
    ...d,
    mac_address: d.mac_address && byMac.get(d.mac_address) === d.device_id ? d.mac_address : null,
  }));
  if (byMac.size > 0) {
    // devices.mac_address is UNIQUE: release a MAC held by another device before claiming it.
    await tx.query(`UPDATE devices d SET mac_address = NULL
      FROM unnest($1::text[], $2::text[]) AS i(mac, device_id)
      WHERE d.mac_address = i.mac AND d.device_id <> i.device_id`, [[...byMac.keys()], [...byMac.values()]]);
  }
  const at = now.toISOString();
  // collector.py: ON CONFLICT update model, version and last_seen (paku-protocol-facts §1.9).
  await tx.query(`INSERT INTO devices (device_id, device_model, current_firmware_version, mac_address, last_seen, created_at)
    SELECT i.device_id, i.device_model, i.version, i.mac, $5::timestamptz, $5::timestamptz
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS i(device_id, device_model, version, mac)
    ON CONFLICT (device_id) DO UPDATE SET
      device_model = EXCLUDED.device_model,
      current_firmware_version = COALESCE(EXCLUDED.current_firmware_version, devices.current_firmware_version),
      mac_address = COALESCE(EXCLUDED.mac_address, devices.mac_address),
      last_seen = EXCLUDED.last_seen`,
  [rows.map((r) => r.device_id), rows.map((r) => r.device_model), rows.map((r) => r.current_firmware_version ?? null),
    rows.map((r) => r.mac_address), at]);
}

export async function insertEdgeStatuses(tx: SqlRunner, list: readonly EdgeStatusRecord[], now: Date): Promise<void> {
  if (list.length === 0) return;
  await tx.query(`INSERT INTO edge_device_status (site_id, device_id, status, ts, created_at)
    SELECT i.site_id, i.device_id, i.status, i.ts, $5::timestamptz
    FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[]) AS i(site_id, device_id, status, ts)`,
  [list.map((r) => r.site_id), list.map((r) => r.device_id), list.map((r) => jsonParam(r.status) ?? 'null'),
    list.map((r) => iso(r.ts ?? now)), now.toISOString()]);
}

export async function insertEvents(tx: SqlRunner, list: readonly NewOtaEvent[], now: Date): Promise<void> {
  if (list.length === 0) return;
  await tx.query(`INSERT INTO ota_events (event_type, device_id, firmware_version, rollout_id, event_data, created_at, created_by)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::jsonb[], $6::timestamptz[], $7::text[])`,
  [list.map((e) => e.event_type), list.map((e) => e.device_id ?? null), list.map((e) => e.firmware_version ?? null),
    list.map((e) => e.rollout_id ?? null), list.map((e) => jsonParam(e.event_data)),
    list.map((e) => iso(e.created_at ?? now)), list.map((e) => e.created_by ?? null)]);
}

/** A status record with its times resolved. */
interface Resolved {
  device_id: string;
  firmware_version: string | null;
  status: string;
  error_message: string | null;
  progress_percent: number | null;
  started_at: Date | null;
  completed_at: Date | null;
  reported_at: Date;
  metadata: Record<string, unknown> | null;
}

function resolve(r: StatusRecord, now: Date): Resolved {
  const at = r.reported_at ?? now;
  return {
    device_id: r.device_id,
    firmware_version: r.firmware_version ?? null,
    status: r.status,
    error_message: r.error_message ?? null,
    progress_percent: r.progress_percent ?? null,
    started_at: r.started ? at : null,
    completed_at: r.completed ? at : null,
    reported_at: at,
    metadata: r.metadata ?? null,
  };
}

/** Fold a later 'latest' report onto an earlier one for the same device: later non-null fields win. */
function fold(a: Resolved, b: Resolved): Resolved {
  return {
    device_id: a.device_id,
    firmware_version: b.firmware_version ?? a.firmware_version,
    status: b.status,
    error_message: b.error_message ?? a.error_message,
    progress_percent: b.progress_percent ?? a.progress_percent,
    started_at: a.started_at ?? b.started_at,
    completed_at: b.completed_at ?? a.completed_at,
    reported_at: b.reported_at,
    metadata: b.metadata ?? a.metadata,
  };
}

async function insertStatusRows(tx: SqlRunner, rows: readonly Resolved[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(`INSERT INTO device_update_status
      (device_id, firmware_version, status, error_message, progress_percent, started_at, completed_at, reported_at, metadata)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::timestamptz[], $7::timestamptz[],
      $8::timestamptz[], $9::jsonb[])`,
  [rows.map((r) => r.device_id), rows.map((r) => r.firmware_version ?? 'unknown'), rows.map((r) => r.status),
    rows.map((r) => r.error_message), rows.map((r) => r.progress_percent), rows.map((r) => iso(r.started_at)),
    rows.map((r) => iso(r.completed_at)), rows.map((r) => iso(r.reported_at)), rows.map((r) => jsonParam(r.metadata))]);
}

/**
 * Update each device's latest row (collector.py's "latest row for the device", §1.9); the
 * devices that have no row yet get one inserted, so a report whose ack was lost still lands.
 */
async function updateLatest(tx: SqlRunner, rows: readonly Resolved[]): Promise<void> {
  if (rows.length === 0) return;
  const { rows: hit } = await tx.query<{ device_id: string }>(`WITH i AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::timestamptz[], $7::timestamptz[],
        $8::timestamptz[], $9::jsonb[])
        AS i(device_id, firmware_version, status, error_message, progress_percent, started_at, completed_at, reported_at, metadata)
    ), t AS (
      SELECT l.id, i.* FROM i CROSS JOIN LATERAL (
        SELECT s.id FROM device_update_status s WHERE s.device_id = i.device_id
        ORDER BY s.reported_at DESC, s.id DESC LIMIT 1) l
    )
    UPDATE device_update_status d SET
      status = t.status,
      firmware_version = CASE WHEN d.firmware_version = 'unknown' AND t.firmware_version IS NOT NULL
        THEN t.firmware_version ELSE d.firmware_version END,
      error_message = COALESCE(t.error_message, d.error_message),
      progress_percent = COALESCE(t.progress_percent, d.progress_percent),
      started_at = COALESCE(d.started_at, t.started_at),
      completed_at = COALESCE(t.completed_at, d.completed_at),
      reported_at = t.reported_at,
      metadata = COALESCE(t.metadata, d.metadata)
    FROM t WHERE d.id = t.id
    RETURNING d.device_id`,
  [rows.map((r) => r.device_id), rows.map((r) => r.firmware_version), rows.map((r) => r.status),
    rows.map((r) => r.error_message), rows.map((r) => r.progress_percent), rows.map((r) => iso(r.started_at)),
    rows.map((r) => iso(r.completed_at)), rows.map((r) => iso(r.reported_at)), rows.map((r) => jsonParam(r.metadata))]);
  const updated = new Set(hit.map((h) => h.device_id));
  await insertStatusRows(tx, rows.filter((r) => !updated.has(r.device_id)));
}

/**
 * Apply status records in array order with two statements per segment. A segment ends where
 * an 'insert' follows a 'latest' for the same device, because that 'latest' must land on the
 * row that existed before the insert.
 */
export async function writeStatuses(tx: SqlRunner, records: readonly StatusRecord[], now: Date): Promise<void> {
  let inserts: Resolved[] = [];
  let latest = new Map<string, Resolved>();
  const flush = async (): Promise<void> => {
    await insertStatusRows(tx, inserts);
    await updateLatest(tx, [...latest.values()]);
    inserts = [];
    latest = new Map();
  };
  for (const rec of records) {
    const r = resolve(rec, now);
    if ((rec.mode ?? 'insert') === 'insert') {
      if (latest.has(r.device_id)) await flush();
      inserts.push(r);
    } else {
      const prev = latest.get(r.device_id);
      latest.set(r.device_id, prev ? fold(prev, r) : r);
    }
  }
  await flush();
}
