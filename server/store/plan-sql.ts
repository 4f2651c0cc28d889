/**
 * The SQL of rollout plans (migration 003), over a SqlRunner so SqlStore runs it inside its own
 * transactions. A plan, its rollout row and the decisions of one engine step are written in ONE
 * transaction: a decision is never recorded without the state it led to, nor the reverse.
 */
import { insertEvents } from './batch-sql.js';
import { jsonParam, toRollout } from './rows.js';
import type { SqlRow, SqlRunner } from './sql-port.js';
import type { NewOtaEvent, NewPlan, PlanReport, PlanRow, PlanSave, RolloutRow } from './store.js';

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}
function date(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}

export function toPlan(r: SqlRow): PlanRow {
  return {
    id: num(r['id']), name: String(r['name']), rollout_id: num(r['rollout_id']),
    parent_id: r['parent_id'] === null || r['parent_id'] === undefined ? null : num(r['parent_id']),
    kind: r['kind'] === 'rollback' ? 'rollback' : 'plan', device_model: String(r['device_model']),
    firmware_version: String(r['firmware_version']), spec: r['spec'], state: r['state'], status: String(r['status']),
    created_at: date(r['created_at']), updated_at: date(r['updated_at']),
  };
}

/** Insert the plan's rollout row, the plan and its creation events. */
export async function insertPlan(tx: SqlRunner, p: NewPlan, now: Date): Promise<{ plan: PlanRow; rollout: RolloutRow }> {
  const r = p.rollout;
  const rr = await tx.query(`INSERT INTO rollout_configurations (name, firmware_version, device_model, target_type, target_filter,
    rollout_percentage, is_active, created_at, updated_at, created_by, metadata)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::timestamptz, $8::timestamptz, $9, $10::jsonb) RETURNING *`,
  [r.name, r.firmware_version, r.device_model, r.target_type, jsonParam(r.target_filter), r.rollout_percentage ?? 100,
    r.is_active ?? true, now.toISOString(), r.created_by ?? 'admin', JSON.stringify({ plan: p.name })]);
  const rollout = toRollout(rr.rows[0]!);
  const pr = await tx.query(`INSERT INTO rollout_plans (name, rollout_id, parent_id, kind, device_model, firmware_version, spec, state,
    status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10::timestamptz, $10::timestamptz) RETURNING *`,
  [p.name, rollout.id, p.parent_id ?? null, p.kind, r.device_model, r.firmware_version, JSON.stringify(p.spec), JSON.stringify(p.state),
    p.status, now.toISOString()]);
  const plan = toPlan(pr.rows[0]!);
  await insertEvents(tx, (p.events ?? []).map((e) => ({ ...e, rollout_id: rollout.id })), now);
  return { plan, rollout };
}

/** Persist one engine step (or operator action): state, spec, the rollout row and the events. */
export async function savePlan(tx: SqlRunner, id: number, save: PlanSave, now: Date): Promise<PlanRow> {
  const rows = await tx.query(`UPDATE rollout_plans SET state = $2::jsonb, status = $3, spec = COALESCE($4::jsonb, spec),
    updated_at = $5::timestamptz WHERE id = $1 RETURNING *`,
  [id, JSON.stringify(save.state), save.status, save.spec === undefined ? null : JSON.stringify(save.spec), now.toISOString()]);
  const plan = toPlan(rows.rows[0]!);
  const rc = save.rollout;
  if (rc !== undefined) {
    await tx.query(`UPDATE rollout_configurations SET is_active = COALESCE($2, is_active),
      target_filter = CASE WHEN $3::boolean THEN $4::jsonb ELSE target_filter END, updated_at = $5::timestamptz WHERE id = $1`,
    [plan.rollout_id, rc.is_active ?? null, rc.target_filter !== undefined, jsonParam(rc.target_filter), now.toISOString()]);
  }
  const events: NewOtaEvent[] = (save.events ?? []).map((e) => ({ ...e, rollout_id: plan.rollout_id }));
  await insertEvents(tx, events, now);
  return plan;
}

/** The latest report per device for `version` since `since` (one row per device). */
export async function latestReports(tx: SqlRunner, version: string, since: Date): Promise<PlanReport[]> {
  const rows = await tx.query(`SELECT DISTINCT ON (device_id) device_id, status, reported_at FROM device_update_status
    WHERE firmware_version = $1 AND reported_at >= $2::timestamptz ORDER BY device_id, reported_at DESC, id DESC`,
  [version, since.toISOString()]);
  return rows.rows.map((r) => ({ device_id: String(r['device_id']), status: String(r['status']) as PlanReport['status'], reported_at: date(r['reported_at']) }));
}
