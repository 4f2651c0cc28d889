/**
 * The rollout engine: applies the pure policy (policy.ts) to what the store shows, on the Clock
 * port. Each live plan is stepped every `pollMs` and at the time its state says something is due
 * (timeout, retry, rate window, soak end). A step reads the model's devices and the latest reports
 * for the plan's version, then saves the new state, the plan's rollout row and every decision (an
 * `ota_events` row with its numbers) in ONE transaction, and only then sends the offers: a crash
 * in between leaves devices marked offered that never heard, and they time out and are retried.
 * Everything lives in the store, so a new engine on the same store resumes each plan where it was
 * (hawkBit's rollout scheduler also re-evaluates from the database, ota-server-anchors.md).
 */
import type { Logger } from 'pino';
import type { Cancel, Clock } from '../../protocol/clock.js';
import { RequestError } from '../../protocol/errors.js';
import type { NewOtaEvent, PlanRow, ReleaseRow, Store } from '../store/store.js';
import { applyAction, setPhasePercent, type ActionRecord, type PlanAction } from './actions.js';
import { PlanSpec } from './plan.js';
import { countTracks, initialState, isLive, offering, step, type Decision, type PlanState, type PlanStatus, type Report } from './policy.js';
import type { Bucketing } from './targeting.js';
import { checkNewPlan } from './plan-checks.js';

/** Sends the update to devices (the MQTT orchestrator's `offer`). */
export type OfferPort = (deviceIds: readonly string[], release: ReleaseRow, context: { rollout: string }) => Promise<unknown>;

/** What the engine counts. */
export interface RolloutMetrics {
  countRolloutDecision(decision: string): void;
}

/** Options of {@link RolloutEngine.create}. */
export interface RolloutEngineOptions {
  store: Store;
  clock: Clock;
  offer: OfferPort;
  logger: Logger;
  metrics?: RolloutMetrics;
  /** How often a live plan re-reads reports, ms. Default 1,000. */
  pollMs?: number;
  /** Bucketing of percent phases (targeting.ts). Default `release`. */
  bucketing?: Bucketing;
}

/** A plan as the status API shows it. */
export interface PlanStatusView {
  name: string;
  id: number;
  kind: 'plan' | 'rollback';
  parent_id: number | null;
  rollout_id: number;
  status: PlanStatus;
  phase: number;
  spec: PlanSpec;
  /** Per phase: what its devices did. */
  phases: Array<{ index: number; counts: ReturnType<typeof countTracks> }>;
  totals: ReturnType<typeof countTracks>;
  rollback_plan: string | null;
  decisions: Array<{ at: string; event_type: string; data: unknown }>;
}

const EVENT_TYPE: Record<Decision['kind'] | 'operator', NewOtaEvent['event_type']> = {
  phase_advanced: 'rollout_updated', gate_passed: 'rollout_updated', plan_completed: 'rollout_updated',
  threshold_tripped: 'rollout_updated', rollback_started: 'rollback_initiated', device_timed_out: 'update_failed', operator: 'rollout_updated',
};

export class RolloutEngine implements AsyncDisposable {
  readonly #o: Required<Omit<RolloutEngineOptions, 'metrics'>> & Pick<RolloutEngineOptions, 'metrics'>;
  readonly #timers = new Map<number, { at: number; cancel: Cancel }>();
  readonly #chains = new Map<number, Promise<void>>();
  #closed = false;

  private constructor(o: RolloutEngineOptions) {
    this.#o = { pollMs: 1000, bucketing: 'release', ...o };
  }

  /** Start: every live plan in the store is resumed (its timers recomputed by a first step). */
  static async create(o: RolloutEngineOptions): Promise<RolloutEngine> {
    const e = new RolloutEngine(o);
    for (const p of await o.store.listPlans({ statuses: ['running', 'awaiting_approval', 'paused', 'completed', 'aborted', 'rolled_back'] })) {
      if (isLive(p.state as PlanState)) e.#schedule(p.id, o.clock.now());
    }
    return e;
  }

  /** Validate and create a plan (RequestError 4xx on bad input), then step it at once. */
  async createPlan(input: unknown): Promise<PlanRow> {
    const { spec, release } = await checkNewPlan(this.#o.store, input);
    const now = this.#o.clock.now();
    const { plan } = await this.#o.store.insertPlan({
      name: spec.name, kind: 'plan', spec, state: initialState(now), status: 'running',
      rollout: { name: spec.name, firmware_version: release.version, device_model: release.device_model, target_type: 'specific',
        target_filter: { device_ids: [] }, rollout_percentage: 100, is_active: true, created_by: 'admin' },
      events: [{ event_type: 'rollout_created', firmware_version: release.version, created_by: 'admin',
        event_data: { decision: 'plan_created', plan: spec.name, phases: spec.phases.length } }],
    });
    this.#o.metrics?.countRolloutDecision('plan_created');
    await this.stepNow(plan.id);
    return plan;
  }

  /** An operator action (approve, pause, resume, cancel). */
  async act(name: string, action: PlanAction): Promise<PlanStatusView> {
    const plan = await this.#plan(name);
    await this.#serial(plan.id, async () => {
      const fresh = await this.#plan(plan.id);
      const { state, record } = applyAction(fresh.spec as PlanSpec, fresh.state as PlanState, action, this.#o.clock.now());
      await this.#saveAction(fresh, state, record);
    });
    await this.stepNow(plan.id);
    return this.status(name);
  }

  /** PATCH: a new percentage for the current phase. */
  async setPercent(name: string, percent: number): Promise<PlanStatusView> {
    const plan = await this.#plan(name);
    await this.#serial(plan.id, async () => {
      const fresh = await this.#plan(plan.id);
      const { spec, record } = setPhasePercent(PlanSpec.parse(fresh.spec), fresh.state as PlanState, percent);
      await this.#saveAction(fresh, fresh.state as PlanState, record, spec);
    });
    await this.stepNow(plan.id);
    return this.status(name);
  }

  /** Plans (newest first) as summaries; `statuses` filters. */
  async list(statuses?: readonly string[]): Promise<Array<{ name: string; kind: string; firmware_version: string; device_model: string;
    status: string; phase: number; phases: number; totals: ReturnType<typeof countTracks> }>> {
    const rows = await this.#o.store.listPlans(statuses === undefined || statuses.length === 0 ? {} : { statuses });
    return rows.map((p) => {
      const st = p.state as PlanState;
      return { name: p.name, kind: p.kind, firmware_version: p.firmware_version, device_model: p.device_model, status: st.status,
        phase: st.phase, phases: (p.spec as PlanSpec).phases.length, totals: countTracks(st.devices) };
    });
  }

  /** The plan, per-phase counts and its decisions, oldest first. */
  async status(nameOrId: string | number): Promise<PlanStatusView> {
    const p = await this.#plan(nameOrId);
    const spec = p.spec as PlanSpec;
    const state = p.state as PlanState;
    const events = await this.#o.store.rawQuery(`SELECT event_type, event_data, created_at FROM ota_events WHERE rollout_id = $1
      AND event_type <> 'update_failed' ORDER BY created_at, id`, [p.rollout_id]);
    const child = (await this.#o.store.listPlans({ device_model: p.device_model })).find((c) => c.parent_id === p.id);
    return {
      name: p.name, id: p.id, kind: p.kind, parent_id: p.parent_id, rollout_id: p.rollout_id, status: state.status, phase: state.phase, spec,
      phases: spec.phases.map((_, index) => ({ index, counts: countTracks(state.devices, index) })),
      totals: countTracks(state.devices), rollback_plan: child?.name ?? null,
      decisions: events.map((e) => ({ at: new Date(e['created_at'] as string | Date).toISOString(), event_type: String(e['event_type']), data: e['event_data'] })),
    };
  }

  /** Step a plan now and wait for it. */
  async stepNow(id: number): Promise<void> {
    await this.#serial(id, () => this.#step(id));
  }

  /** Resolves when no step is running. */
  async idle(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  /** Cancel every timer and wait for steps in flight. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
    await this.idle();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #plan(nameOrId: string | number): Promise<PlanRow> {
    const p = await this.#o.store.getPlan(nameOrId);
    if (p === undefined) throw new RequestError(404, 'OTASIM_ERR_NOT_FOUND', `no rollout plan ${JSON.stringify(nameOrId)}`);
    return p;
  }

  /** One step at a time per plan. */
  #serial(id: number, fn: () => Promise<void>): Promise<void> {
    const prev = this.#chains.get(id) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => {}).finally(() => {
      if (this.#chains.get(id) === tail) this.#chains.delete(id);
    });
    this.#chains.set(id, tail);
    return run;
  }

  #schedule(id: number, at: number): void {
    if (this.#closed) return;
    const current = this.#timers.get(id);
    if (current !== undefined && current.at <= at) return;
    current?.cancel();
    const cancel = this.#o.clock.setTimer({ at }, () => {
      this.#timers.delete(id);
      this.#serial(id, () => this.#step(id)).catch((err: unknown) => {
        this.#o.logger.error({ err, plan: id }, 'rollout step failed; retrying at the next poll');
        this.#schedule(id, this.#o.clock.now() + this.#o.pollMs);
      });
    });
    this.#timers.set(id, { at, cancel });
  }

  async #saveAction(p: PlanRow, state: PlanState, record: ActionRecord, spec?: PlanSpec): Promise<void> {
    await this.#o.store.savePlan(p.id, {
      state, status: state.status, ...(spec === undefined ? {} : { spec }),
      rollout: { is_active: rolloutActive(state.status) },
      events: [{ event_type: 'rollout_updated', firmware_version: p.firmware_version, created_by: 'admin', event_data: { decision: 'operator', plan: p.name, ...record } }],
    });
    this.#o.metrics?.countRolloutDecision(`operator_${record.action}`);
  }

  async #step(id: number): Promise<void> {
    if (this.#closed) return;
    const { store, clock } = this.#o;
    const p = await this.#plan(id);
    const spec = PlanSpec.parse(p.spec);
    let state = p.state as PlanState;
    const extra: NewOtaEvent[] = [];
    const rollout = await store.getRollout(p.rollout_id);
    if (rollout !== undefined && !rollout.is_active && offering(state.status)) {
      // Deactivated through the seeds' endpoint: that is a cancel.
      extra.push({ event_type: 'rollout_updated', firmware_version: p.firmware_version, event_data: { decision: 'operator', plan: p.name,
        kind: 'operator', action: 'deactivate', from: state.status, to: 'cancelled', phase: state.phase } });
      state = { ...state, status: 'cancelled' };
    }
    const release = await store.getRelease(p.firmware_version, p.device_model);
    const devices = await store.devicesOfModel(p.device_model);
    // The plan follows reports made since it began; admission also skips a device whose latest
    // report for the version, however old, is a success it has not announced over yet (policy.ts).
    const reports = new Map<string, Report>();
    const succeeded = new Map<string, number>();
    for (const r of await store.latestReports(p.firmware_version, new Date(0))) {
      const at = r.reported_at.getTime();
      if (r.status === 'success') succeeded.set(r.device_id, at);
      if (at >= p.created_at.getTime()) reports.set(r.device_id, { status: r.status, at });
    }
    const now = clock.now();
    const r = step(spec, state, { now, devices, reports, succeeded, minVersion: release?.min_version ?? null, bucketing: this.#o.bucketing });
    const events = [...extra, ...r.decisions.map((d): NewOtaEvent => ({
      event_type: EVENT_TYPE[d.kind], firmware_version: p.firmware_version, device_id: d.kind === 'device_timed_out' ? d.device_id : null,
      created_by: 'rollout-engine', event_data: { decision: d.kind, plan: p.name, ...d },
    }))];
    const changed = events.length > 0 || r.offer.length > 0 || JSON.stringify(r.state) !== JSON.stringify(p.state);
    if (changed) {
      await store.savePlan(p.id, {
        state: r.state, status: r.state.status, events,
        rollout: { is_active: rolloutActive(r.state.status), target_filter: { device_ids: offerable(r.state) } },
      });
      for (const d of r.decisions) this.#o.metrics?.countRolloutDecision(d.kind);
      for (const d of r.decisions) {
        if (d.kind !== 'device_timed_out') this.#o.logger.info({ plan: p.name, ...d }, `rollout decision: ${d.kind}`);
      }
    }
    if (r.rollback.length > 0) await this.#rollback(p, spec, r.rollback);
    if (r.offer.length > 0 && release !== undefined) await this.#o.offer(r.offer, release, { rollout: p.name });
    if (isLive(r.state)) this.#schedule(id, Math.min(r.wakeAt ?? Infinity, now + this.#o.pollMs));
  }

  /** Create the rollback plan, or add devices to it: the previous release, as a plan of its own. */
  async #rollback(parent: PlanRow, spec: PlanSpec, deviceIds: string[]): Promise<void> {
    const { store } = this.#o;
    const target = spec.failure?.rollback_to; // fixed by plan-checks.ts when the plan was created
    if (target === undefined) {
      this.#o.logger.error({ plan: parent.name }, 'rollback has no previous release to publish');
      return;
    }
    const name = rollbackName(parent.name);
    const child = await store.getPlan(name);
    if (child === undefined) {
      const childSpec = PlanSpec.parse({
        name, firmware_version: target, device_model: parent.device_model, phases: [{ device_ids: deviceIds }],
        gate: { min_success_percent: 100, min_reports: 1 }, device: spec.device,
      });
      const { plan } = await store.insertPlan({
        name, kind: 'rollback', parent_id: parent.id, spec: childSpec, state: initialState(this.#o.clock.now()), status: 'running',
        rollout: { name, firmware_version: target, device_model: parent.device_model, target_type: 'specific',
          target_filter: { device_ids: [] }, is_active: true, created_by: 'rollout-engine' },
        events: [{ event_type: 'rollback_initiated', firmware_version: target, created_by: 'rollout-engine',
          event_data: { decision: 'rollback_plan_created', plan: name, parent: parent.name, from_version: parent.firmware_version, devices: deviceIds.length } }],
      });
      this.#schedule(plan.id, this.#o.clock.now());
      return;
    }
    await this.#serial(child.id, async () => {
      const fresh = await this.#plan(child.id);
      const cs = PlanSpec.parse(fresh.spec);
      const first = cs.phases[0];
      const ids = first !== undefined && 'device_ids' in first ? first.device_ids : [];
      const phases = [{ ...first, device_ids: [...new Set([...ids, ...deviceIds])] }, ...cs.phases.slice(1)];
      const st = fresh.state as PlanState;
      // A rollback plan that completed before these devices arrived runs again for them.
      const state = st.status === 'completed' ? { ...st, status: 'running' as const } : st;
      await store.savePlan(child.id, { spec: { ...cs, phases }, state, status: state.status });
    });
    this.#schedule(child.id, this.#o.clock.now());
  }
}

/** The rollback plan's name for a plan. */
export const rollbackName = (plan: string): string => `${plan.slice(0, 118)}-rollback`;

/** Whether a plan's rollout row is active (what `/api/firmware/check` offers) in `status`. */
const rolloutActive = (s: PlanStatus): boolean => s === 'running' || s === 'awaiting_approval' || s === 'completed';

/** Devices `/api/firmware/check` may offer: every tracked device whose update has not finally failed. */
function offerable(s: PlanState): string[] {
  return Object.entries(s.devices).filter(([, t]) => t.state !== 'failed' && t.state !== 'rolled_back' && t.state !== 'timed_out')
    .map(([id]) => id).sort();
}
