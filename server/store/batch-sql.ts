/**
 * Set-based batch writes: each kind of row goes in with ONE statement whose rows arrive as a
 * single JSON array parameter (`json_to_recordset`), so a 1,000-message collector batch costs a
 * handful of statements and parameters, not 1,000. Every function runs on a transaction
 * runner; the caller COMMITs.
 *
 * Device-supplied text may hold NUL, which PostgreSQL text and jsonb cannot store; it becomes
 * U+FFFD here, so one odd message cannot fail a whole batch.
 */
import type { SqlRunner } from './sql-port.js';
import type { DeviceAnnounce, EdgeStatusRecord, NewOtaEvent, StatusRecord } from './store.js';

/** A `\u0000` escape in JSON text (preceded by an even number of backslashes), and its replacement. */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/** Rows as one JSON text parameter: NUL-free, Dates as ISO strings (JSON.stringify's default). */
export function rowsParam(rows: readonly object[]): string {
  // A row's null fields are left out (json_to_recordset reads a missing key as NULL; less text
  // parses faster). Nulls inside JSON values such as event_data are kept.
  const compact = rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) if (v !== null && v !== undefined) out[k] = v;
    return out;
  });
  return JSON.stringify(compact).replace(NUL_ESCAPE, '$1\\ufffd');
}

/** Devices from edge status: last announcement per device wins; a MAC moves to its newest claimant. */
export async function upsertAnnounced(tx: SqlRunner, list: readonly DeviceAnnounce[], now: Date): Promise<void> {
  if (list.length === 0) return;
  const byDevice = new Map<string, DeviceAnnounce>();
  for (const d of list) byDevice.set(d.device_id, d);
  const byMac = new Map<string, string>(); // mac → device_id, last claimant wins
  for (const d of byDevice.values()) if (d.mac_address) byMac.set(d.mac_address, d.device_id);
  const rows = [...byDevice.values()].map((d) => ({
    device_id: d.device_id,
    device_model: d.device_model,
    version: d.current_firmware_version ?? null,
    mac: d.mac_address && byMac.get(d.mac_address) === d.device_id ? d.mac_address : null,
  }));
  if (byMac.size > 0) {
    // devices.mac_address is UNIQUE: release a MAC held by another device before claiming it.
    await tx.query(`UPDATE devices d SET mac_address = NULL
      FROM json_to_recordset($1::json) AS i(mac text, device_id text)
      WHERE d.mac_address = i.mac AND d.device_id <> i.device_id`,
    [rowsParam([...byMac].map(([mac, device_id]) => ({ mac, device_id })))]);
  }
  // collector.py: ON CONFLICT update model, version and last_seen (paku-protocol-facts §1.9).
  await tx.query(`INSERT INTO devices (device_id, device_model, current_firmware_version, mac_address, last_seen, created_at)
    SELECT i.device_id, i.device_model, i.version, i.mac, $2::timestamptz, $2::timestamptz
    FROM json_to_recordset($1::json) AS i(device_id text, device_model text, version text, mac text)
    ON CONFLICT (device_id) DO UPDATE SET
      device_model = EXCLUDED.device_model,
      current_firmware_version = COALESCE(EXCLUDED.current_firmware_version, devices.current_firmware_version),
      mac_address = COALESCE(EXCLUDED.mac_address, devices.mac_address),
      last_seen = EXCLUDED.last_seen`, [rowsParam(rows), now.toISOString()]);
}

export async function insertEdgeStatuses(tx: SqlRunner, list: readonly EdgeStatusRecord[], now: Date): Promise<void> {
  if (list.length === 0) return;
  await tx.query(`INSERT INTO edge_device_status (site_id, device_id, status, ts, created_at)
    SELECT i.site_id, i.device_id, COALESCE(i.status, 'null'::jsonb), i.ts, $2::timestamptz
    FROM json_to_recordset($1::json) AS i(site_id text, device_id text, status jsonb, ts timestamptz)`,
  [rowsParam(list.map((r) => ({ site_id: r.site_id, device_id: r.device_id, status: r.status ?? null, ts: r.ts ?? now }))), now.toISOString()]);
}

export async function insertEvents(tx: SqlRunner, list: readonly NewOtaEvent[], now: Date): Promise<void> {
  if (list.length === 0) return;
  await tx.query(`INSERT INTO ota_events (event_type, device_id, firmware_version, rollout_id, event_data, created_at, created_by)
    SELECT i.event_type, i.device_id, i.firmware_version, i.rollout_id, i.event_data, i.created_at, i.created_by
    FROM json_to_recordset($1::json)
      AS i(event_type text, device_id text, firmware_version text, rollout_id bigint, event_data jsonb, created_at timestamptz, created_by text)`,
  [rowsParam(list.map((e) => ({
    event_type: e.event_type, device_id: e.device_id ?? null, firmware_version: e.firmware_version ?? null, rollout_id: e.rollout_id ?? null,
    event_data: e.event_data ?? null, created_at: e.created_at ?? now, created_by: e.created_by ?? null,
  })))]);
}

/** A status record with its times resolved; field names are the JSON keys the SQL reads. */
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

const RECORD = `AS i(device_id text, firmware_version text, status text, error_message text, progress_percent int,
  started_at timestamptz, completed_at timestamptz, reported_at timestamptz, metadata jsonb)`;

const INSERT_STATUS = `INSERT INTO device_update_status
  (device_id, firmware_version, status, error_message, progress_percent, started_at, completed_at, reported_at, metadata)`;

async function insertStatusRows(tx: SqlRunner, rows: readonly Resolved[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(`${INSERT_STATUS}
    SELECT i.device_id, COALESCE(i.firmware_version, 'unknown'), i.status, i.error_message, i.progress_percent, i.started_at,
      i.completed_at, i.reported_at, i.metadata
    FROM json_to_recordset($1::json) ${RECORD}`, [rowsParam(rows)]);
}

/**
 * Update each device's latest row (collector.py's "latest row for the device", §1.9); the
 * devices that have no row yet get one inserted, so a report whose ack was lost still lands.
 * One statement: the UPDATE is a data-modifying CTE (PostgreSQL runs it even unreferenced), and
 * the INSERT takes the devices it found no row for.
 */
async function updateLatest(tx: SqlRunner, rows: readonly Resolved[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(`WITH i AS (
      SELECT * FROM json_to_recordset($1::json) ${RECORD}
    ), t AS (
      SELECT l.id, i.* FROM i CROSS JOIN LATERAL (
        SELECT s.id FROM device_update_status s WHERE s.device_id = i.device_id
        ORDER BY s.reported_at DESC, s.id DESC LIMIT 1) l
    ), u AS (
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
    )
    ${INSERT_STATUS}
    SELECT i.device_id, COALESCE(i.firmware_version, 'unknown'), i.status, i.error_message, i.progress_percent, i.started_at,
      i.completed_at, i.reported_at, i.metadata
    FROM i WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.device_id = i.device_id)`, [rowsParam(rows)]);
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
