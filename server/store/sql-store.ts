/**
 * The Store over a SqlPort: one SQL for PGlite and PostgreSQL. Timestamps the store writes
 * come from the injected clock (STYLE.md §3), so a virtual-clock rehearsal stores virtual time.
 */
import { ConflictError, NotFoundError, OtasimError, StoreError } from '../../protocol/errors.js';
import { insertEdgeStatuses, insertEvents, upsertAnnounced, writeStatuses } from './batch-sql.js';
import * as plans from './plan-sql.js';
import { jsonParam, toDevice, toEvent, toRelease, toRollout, toStatus } from './rows.js';
import { pgErrorInfo, type SqlPort, type SqlRow, type SqlRunner } from './sql-port.js';
import type {
  DeviceCheckIn, DeviceRow, IngestBatch, NewOtaEvent, NewPlan, NewRelease, NewRollout, OtaEventRow, OtaEventType, PlanReport, PlanRow,
  PlanSave, ReleaseRow,
  RolloutChange, RolloutRow, StatusRecord, Store, StoreStats, UpdateStatusRow, UpdateStatusValue,
} from './store.js';

/** Translate a driver error into the store's typed errors (errors have one home: errors.ts). */
export function storeError(e: unknown, doing: string): OtasimError {
  if (e instanceof OtasimError) return e;
  const { code, constraint } = pgErrorInfo(e);
  const detail = e instanceof Error ? e.message : String(e);
  if (code === '23505' && constraint === 'firmware_releases_version_model_key') {
    return new ConflictError('OTASIM_ERR_DUPLICATE_RELEASE', 'a release with this version and device_model already exists; ' +
      'upload under a new version', { cause: e });
  }
  if (code === '23505' && constraint === 'rollout_configurations_name_key') {
    return new ConflictError('OTASIM_ERR_DUPLICATE_ROLLOUT', 'a rollout with this name already exists; choose another name ' +
      'or PATCH the existing rollout', { cause: e });
  }
  if (code !== undefined && (code.startsWith('08') || code === '57P01' || code === '57P03' || /^E[A-Z]+$/.test(code))) {
    return new StoreError(`database unreachable while ${doing}: ${detail}`, { cause: e, code: 'OTASIM_ERR_STORE_UNREACHABLE' });
  }
  // Class 22 (bad data: NUL bytes, out-of-range numbers), 23 (constraints) and 54 (a value too
  // deep or large to process) are the data's fault: retrying the same rows cannot succeed.
  if (code !== undefined && (code.startsWith('22') || code.startsWith('23') || code.startsWith('54'))) {
    return new StoreError(`the database refused the data while ${doing}: ${detail}`, { cause: e, code: 'OTASIM_ERR_STORE_INVALID' });
  }
  return new StoreError(`database error while ${doing}: ${detail}`, { cause: e });
}

const STATUS_COLUMNS = 'id, device_id, firmware_version, status, error_message, progress_percent, started_at, completed_at, reported_at, metadata';

export class SqlStore implements Store {
  readonly kind: 'pglite' | 'postgres';
  #closed = false;

  constructor(private readonly port: SqlPort, private readonly clock: () => Date = () => new Date()) {
    this.kind = port.kind;
  }

  async #q(doing: string, sql: string, params?: readonly unknown[]): Promise<SqlRow[]> {
    if (this.#closed) throw new StoreError(`store is closed (while ${doing})`, { code: 'OTASIM_ERR_STORE_CLOSED' });
    try {
      return (await this.port.query(sql, params)).rows;
    } catch (e) {
      throw storeError(e, doing);
    }
  }

  async #tx<T>(doing: string, fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreError(`store is closed (while ${doing})`, { code: 'OTASIM_ERR_STORE_CLOSED' });
    try {
      return await this.port.transaction(fn);
    } catch (e) {
      throw storeError(e, doing);
    }
  }

  #now(): string {
    return this.clock().toISOString();
  }

  // -- devices ---------------------------------------------------------------------------------

  async checkIn(d: DeviceCheckIn): Promise<DeviceRow> {
    // ota_service.py /check: on conflict only version and last_seen change (§2.4.1 step 1).
    const rows = await this.#q('registering a device', `INSERT INTO devices (device_id, device_model, current_firmware_version, last_seen, created_at)
      VALUES ($1, $2, $3, $4::timestamptz, $4::timestamptz)
      ON CONFLICT (device_id) DO UPDATE SET current_firmware_version = EXCLUDED.current_firmware_version, last_seen = EXCLUDED.last_seen
      RETURNING *`, [d.device_id, d.device_model, d.current_firmware_version, this.#now()]);
    return toDevice(rows[0]!);
  }

  async getDevice(deviceId: string): Promise<DeviceRow | undefined> {
    const rows = await this.#q('reading a device', 'SELECT * FROM devices WHERE device_id = $1', [deviceId]);
    return rows[0] && toDevice(rows[0]);
  }

  async listDevices(q: { device_model?: string; limit?: number } = {}): Promise<DeviceRow[]> {
    const rows = await this.#q('listing devices', `SELECT * FROM devices WHERE ($1::text IS NULL OR device_model = $1)
      ORDER BY last_seen DESC NULLS LAST, id DESC LIMIT $2`, [q.device_model ?? null, q.limit ?? 50]);
    return rows.map(toDevice);
  }

  async devicesOfModel(deviceModel: string): Promise<DeviceRow[]> {
    const rows = await this.#q('listing devices of a model', 'SELECT * FROM devices WHERE device_model = $1 ORDER BY device_id',
      [deviceModel]);
    return rows.map(toDevice);
  }

  async setDeviceGroups(deviceId: string, groups: string[]): Promise<DeviceRow> {
    // The seeds' own statement shape (seed 002 "Setting device groups").
    const rows = await this.#q('setting device groups', `UPDATE devices
      SET metadata = jsonb_set(COALESCE(metadata, '{}'::jsonb), '{groups}', $2::jsonb)
      WHERE device_id = $1 RETURNING *`, [deviceId, jsonParam([...new Set(groups)])]);
    if (rows[0] === undefined) throw new NotFoundError(`no device ${JSON.stringify(deviceId)}; a device registers on check or edge status`);
    return toDevice(rows[0]);
  }

  async setDeviceVersion(deviceId: string, version: string): Promise<void> {
    await this.#q('recording a device version', 'UPDATE devices SET current_firmware_version = $2, last_seen = $3::timestamptz WHERE device_id = $1',
      [deviceId, version, this.#now()]);
  }

  // -- releases --------------------------------------------------------------------------------

  async insertRelease(r: NewRelease): Promise<ReleaseRow> {
    const rows = await this.#q('adding a release', `INSERT INTO firmware_releases (version, device_model, min_version, file_path, file_size,
      checksum_sha256, changelog, release_notes, is_signed, created_at, created_by, metadata)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $11, $12::jsonb) RETURNING *`,
    [r.version, r.device_model, r.min_version ?? null, r.file_path, r.file_size, r.checksum_sha256, r.changelog ?? null,
      r.release_notes ?? null, r.is_signed ?? false, this.#now(), r.created_by === undefined ? 'admin' : r.created_by,
      jsonParam(r.metadata)]);
    return toRelease(rows[0]!);
  }

  async getRelease(version: string, deviceModel?: string): Promise<ReleaseRow | undefined> {
    const rows = await this.#q('reading a release', `SELECT * FROM firmware_releases WHERE version = $1 AND ($2::text IS NULL OR device_model = $2)
      ORDER BY created_at DESC, id DESC LIMIT 1`, [version, deviceModel ?? null]);
    return rows[0] && toRelease(rows[0]);
  }

  async latestRelease(deviceModel: string): Promise<ReleaseRow | undefined> {
    const rows = await this.#q('reading the latest release', `SELECT * FROM firmware_releases WHERE device_model = $1
      ORDER BY created_at DESC, id DESC LIMIT 1`, [deviceModel]);
    return rows[0] && toRelease(rows[0]);
  }

  async listReleases(q: { device_model?: string; limit?: number } = {}): Promise<ReleaseRow[]> {
    const rows = await this.#q('listing releases', `SELECT * FROM firmware_releases WHERE ($1::text IS NULL OR device_model = $1)
      ORDER BY created_at DESC, id DESC LIMIT $2`, [q.device_model ?? null, q.limit ?? 10]);
    return rows.map(toRelease);
  }

  async artifactInUse(filePath: string): Promise<boolean> {
    const rows = await this.#q('checking an artifact', 'SELECT 1 AS one FROM firmware_releases WHERE file_path = $1 LIMIT 1', [filePath]);
    return rows.length > 0;
  }

  // -- rollouts --------------------------------------------------------------------------------

  async insertRollout(r: NewRollout): Promise<RolloutRow> {
    const now = this.#now();
    const rows = await this.#q('creating a rollout', `INSERT INTO rollout_configurations (name, firmware_version, device_model, target_type,
      target_filter, rollout_percentage, is_active, created_at, updated_at, created_by)
      VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::timestamptz, $8::timestamptz, $9) RETURNING *`,
    [r.name, r.firmware_version, r.device_model, r.target_type, jsonParam(r.target_filter), r.rollout_percentage ?? 100,
      r.is_active ?? true, now, r.created_by === undefined ? 'admin' : r.created_by]);
    return toRollout(rows[0]!);
  }

  async getRollout(nameOrId: string | number): Promise<RolloutRow | undefined> {
    const rows = typeof nameOrId === 'number'
      ? await this.#q('reading a rollout', 'SELECT * FROM rollout_configurations WHERE id = $1', [nameOrId])
      : await this.#q('reading a rollout', 'SELECT * FROM rollout_configurations WHERE name = $1', [nameOrId]);
    return rows[0] && toRollout(rows[0]);
  }

  async updateRollout(nameOrId: string | number, change: RolloutChange): Promise<RolloutRow> {
    const sets: string[] = ['updated_at = $2::timestamptz'];
    const params: unknown[] = [nameOrId, this.#now()];
    const add = (col: string, v: unknown, cast = ''): void => {
      params.push(v);
      sets.push(`${col} = $${params.length}${cast}`);
    };
    if (change.target_type !== undefined) add('target_type', change.target_type);
    if (change.target_filter !== undefined) add('target_filter', jsonParam(change.target_filter), '::jsonb');
    if (change.rollout_percentage !== undefined) add('rollout_percentage', change.rollout_percentage);
    if (change.is_active !== undefined) add('is_active', change.is_active);
    const where = typeof nameOrId === 'number' ? 'id = $1' : 'name = $1';
    const rows = await this.#q('updating a rollout', `UPDATE rollout_configurations SET ${sets.join(', ')} WHERE ${where} RETURNING *`, params);
    if (rows[0] === undefined) throw new NotFoundError(`no rollout ${JSON.stringify(nameOrId)}`);
    return toRollout(rows[0]);
  }

  async activeRollout(firmwareVersion: string, deviceModel: string): Promise<RolloutRow | undefined> {
    const rows = await this.#q('reading the active rollout', `SELECT * FROM rollout_configurations
      WHERE firmware_version = $1 AND device_model = $2 AND is_active = true ORDER BY created_at DESC, id DESC LIMIT 1`,
    [firmwareVersion, deviceModel]);
    return rows[0] && toRollout(rows[0]);
  }

  async listRollouts(q: { device_model?: string; active?: boolean; limit?: number } = {}): Promise<RolloutRow[]> {
    const rows = await this.#q('listing rollouts', `SELECT * FROM rollout_configurations
      WHERE ($1::text IS NULL OR device_model = $1) AND ($2::boolean IS NULL OR COALESCE(is_active, false) = $2)
      ORDER BY created_at DESC, id DESC LIMIT $3`, [q.device_model ?? null, q.active ?? null, q.limit ?? 100]);
    return rows.map(toRollout);
  }

  // -- update status ---------------------------------------------------------------------------

  insertStatus(r: StatusRecord): Promise<void> {
    return this.insertStatusBatch([r]);
  }

  async insertStatusBatch(records: StatusRecord[]): Promise<void> {
    if (records.length === 0) return;
    const now = this.clock();
    await this.#tx('writing update status', (tx) => writeStatuses(tx, records, now));
  }

  async listStatus(q: { device_id?: string; firmware_version?: string; limit?: number } = {}): Promise<UpdateStatusRow[]> {
    const rows = await this.#q('listing update status', `SELECT ${STATUS_COLUMNS} FROM device_update_status
      WHERE ($1::text IS NULL OR device_id = $1) AND ($2::text IS NULL OR firmware_version = $2)
      ORDER BY reported_at DESC, id DESC LIMIT $3`, [q.device_id ?? null, q.firmware_version ?? null, q.limit ?? 50]);
    return rows.map(toStatus);
  }

  async statusCounts(firmwareVersion: string, deviceModel?: string): Promise<Partial<Record<UpdateStatusValue, number>>> {
    const rows = await this.#q('counting update status', `SELECT status, COUNT(*) AS n FROM (
        SELECT DISTINCT ON (s.device_id) s.status FROM device_update_status s
        WHERE s.firmware_version = $1
          AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM devices d WHERE d.device_id = s.device_id AND d.device_model = $2))
        ORDER BY s.device_id, s.reported_at DESC, s.id DESC) latest
      GROUP BY status`, [firmwareVersion, deviceModel ?? null]);
    return Object.fromEntries(rows.map((r) => [String(r['status']), Number(r['n'])]));
  }

  // -- rollout plans ---------------------------------------------------------------------------

  async insertPlan(p: NewPlan): Promise<{ plan: PlanRow; rollout: RolloutRow }> {
    return this.#tx('creating a rollout plan', (tx) => plans.insertPlan(tx, p, this.clock()));
  }

  async getPlan(nameOrId: string | number): Promise<PlanRow | undefined> {
    const rows = await this.#q('reading a rollout plan', `SELECT * FROM rollout_plans WHERE ${typeof nameOrId === 'number' ? 'id' : 'name'} = $1`, [nameOrId]);
    return rows[0] === undefined ? undefined : plans.toPlan(rows[0]);
  }

  async listPlans(q: { statuses?: readonly string[]; device_model?: string } = {}): Promise<PlanRow[]> {
    const rows = await this.#q('listing rollout plans', `SELECT * FROM rollout_plans WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))
      AND ($2::text IS NULL OR device_model = $2) ORDER BY created_at DESC, id DESC`, [q.statuses ?? null, q.device_model ?? null]);
    return rows.map(plans.toPlan);
  }

  async savePlan(id: number, save: PlanSave): Promise<PlanRow> {
    return this.#tx('saving a rollout plan', async (tx) => {
      const exists = await tx.query('SELECT 1 FROM rollout_plans WHERE id = $1', [id]);
      if (exists.rows.length === 0) throw new NotFoundError(`no rollout plan with id ${id}`);
      return plans.savePlan(tx, id, save, this.clock());
    });
  }

  async latestReports(version: string, since: Date): Promise<PlanReport[]> {
    return this.#tx('reading the latest reports', (tx) => plans.latestReports(tx, version, since));
  }

  // -- events ----------------------------------------------------------------------------------

  async insertEvent(e: NewOtaEvent): Promise<OtaEventRow> {
    const rows = await this.#q('recording an event', `INSERT INTO ota_events (event_type, device_id, firmware_version, rollout_id, event_data,
      created_at, created_by) VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz, $7) RETURNING *`,
    [e.event_type, e.device_id ?? null, e.firmware_version ?? null, e.rollout_id ?? null, jsonParam(e.event_data),
      (e.created_at ?? this.clock()).toISOString(), e.created_by ?? null]);
    return toEvent(rows[0]!);
  }

  async listEvents(q: { event_type?: OtaEventType; device_id?: string; firmware_version?: string; limit?: number } = {}): Promise<OtaEventRow[]> {
    const rows = await this.#q('listing events', `SELECT * FROM ota_events
      WHERE ($1::text IS NULL OR event_type = $1) AND ($2::text IS NULL OR device_id = $2) AND ($3::text IS NULL OR firmware_version = $3)
      ORDER BY created_at DESC, id DESC LIMIT $4`,
    [q.event_type ?? null, q.device_id ?? null, q.firmware_version ?? null, q.limit ?? 50]);
    return rows.map(toEvent);
  }

  // -- collector -------------------------------------------------------------------------------

  async ingest(batch: IngestBatch): Promise<void> {
    const { devices = [], edgeStatuses = [], statuses = [], events = [] } = batch;
    if (devices.length + edgeStatuses.length + statuses.length + events.length === 0) return;
    const now = this.clock();
    await this.#tx('ingesting a batch', async (tx) => {
      await upsertAnnounced(tx, devices, now);
      await insertEdgeStatuses(tx, edgeStatuses, now);
      await writeStatuses(tx, statuses, now);
      await insertEvents(tx, events, now);
    });
  }

  // -- ops -------------------------------------------------------------------------------------

  async stats(): Promise<StoreStats> {
    const count = (rows: SqlRow[]): Record<string, number> =>
      Object.fromEntries(rows.map((r) => [String(r['k'] ?? ''), Number(r['n'])]));
    const byModel = await this.#q('computing stats', 'SELECT device_model AS k, COUNT(*) AS n FROM devices GROUP BY device_model');
    const byVersion = await this.#q('computing stats',
      `SELECT COALESCE(current_firmware_version, '') AS k, COUNT(*) AS n FROM devices GROUP BY 1`);
    const recent = await this.#q('computing stats', `SELECT status AS k, COUNT(*) AS n FROM device_update_status
      WHERE reported_at > $1::timestamptz - INTERVAL '24 hours' GROUP BY status`, [this.#now()]);
    const active = await this.#q('computing stats', 'SELECT COUNT(*) AS n FROM rollout_configurations WHERE is_active = true');
    const devices_by_model = count(byModel);
    return {
      total_devices: Object.values(devices_by_model).reduce((a, b) => a + b, 0),
      devices_by_model,
      devices_by_version: count(byVersion),
      recent_updates_24h: count(recent),
      active_rollouts: Number(active[0]?.['n'] ?? 0),
    };
  }

  async ping(): Promise<void> {
    await this.#q('checking health', 'SELECT 1 AS one');
  }

  async rawQuery(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    return this.#tx('running a read-only query', async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      return (await tx.query(sql, params)).rows;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.port.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
