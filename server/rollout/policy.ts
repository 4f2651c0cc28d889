/**
 * The rollout policy: one synchronous step from (plan, state, what the store shows, now) to the
 * next state, the decisions taken with the numbers that triggered them, and the devices to offer
 * the update now. Pure: no I/O, no clock, no randomness (STYLE.md §1). The engine (engine.ts)
 * feeds it store reads and Clock timers and persists what comes out.
 *
 * Per device (one attempt at a time): `offered` → `in_progress` on any progress report →
 * `success` | `failed` | `rolled_back` | `timed_out` (no report for `timeout_ms`, as AWS IoT Jobs'
 * in-progress timer, ota-server-anchors.md (e) 3). `failed` and `timed_out` are retried after
 * `retry_backoff_ms × 2^(attempt-1)` up to `max_retries` times (state `retry`); `rolled_back` is
 * final, since the device refuses a version it rolled back (ESP-IDF native_ota_example).
 * A later report wins, so a device that rolls back after reporting success counts as failed.
 *
 * Earlier phases advance on their gate alone; the last phase (and so the plan) completes only once
 * no device the plan tracks is still `offered`, `in_progress` or awaiting a `retry`, because a
 * completed plan offers nothing more and a pending retry would be dropped.
 */
import type { UpdateStatusValue } from '../../protocol/payloads.js';
import { gateOf, inTarget, phaseTarget, type PlanDevice, type PlanSpec } from './plan.js';
import { meetsMinVersion } from '../../protocol/versions.js';
import { hasVersion } from './offer.js';
import type { Bucketing } from './targeting.js';

/**
 * Plan status. `running` and `awaiting_approval` offer (the latter only its current phase); `paused`
 * waits; `completed` (the last gate passed and every device reached a final outcome), `aborted`, `rolled_back` and `cancelled` offer no more,
 * but devices already in flight are still followed to their outcome.
 */
export const PLAN_STATUSES = ['running', 'awaiting_approval', 'paused', 'completed', 'aborted', 'rolled_back', 'cancelled'] as const;
export type PlanStatus = (typeof PLAN_STATUSES)[number];

export type DeviceState = 'offered' | 'in_progress' | 'success' | 'failed' | 'rolled_back' | 'timed_out' | 'retry';

/** One device the plan has offered the update to. Times in ms (the engine's Clock). */
export interface Track {
  /** Phase it was first offered in. */
  phase: number;
  state: DeviceState;
  /** Offers so far (1 = first try). */
  attempts: number;
  offered_at: number;
  /** Time of the last report or offer, for the in-progress timeout. */
  last: number;
  /** The report last consumed (time and status), so the same row is never counted twice. */
  seen_at: number | null;
  seen_status: string | null;
  /** When a `retry` is due. */
  retry_at: number | null;
}

/** What the plan remembers between steps (persisted as JSON). */
export interface PlanState {
  status: PlanStatus;
  phase: number;
  phase_started_at: number;
  /** Since when the current phase's gate has held (soak), or null. */
  gate_met_at: number | null;
  devices: Record<string, Track>;
  /** Offer times in the last 60 s (only with `offers_per_minute`). */
  offer_times: number[];
  /** Final failures acknowledged by a resume: the policy trips again only on more than this. */
  ack_failed: number;
  /** Devices handed to the rollback plan so far. */
  rollback_ids: string[];
}

/** The latest report of a device for the plan's version. */
export interface Report {
  readonly status: UpdateStatusValue;
  /** Report time, ms. */
  readonly at: number;
}

/** A registered device as the policy reads it. */
export interface WorldDevice extends PlanDevice {
  /** When the device last announced itself, or null (offer.ts `hasVersion`). */
  readonly last_seen?: Date | null;
}

/** What the store shows the policy. */
export interface World {
  readonly now: number;
  /** Every registered device of the plan's model. */
  readonly devices: readonly WorldDevice[];
  /** The latest report per device for the plan's version since the plan was created. */
  readonly reports: ReadonlyMap<string, Report>;
  /**
   * Devices whose latest report for the plan's version, at any time (also before the plan), is a
   * `success`: its time, ms. Admission skips those that have not announced themselves since. When
   * absent, the successes among `reports`.
   */
  readonly succeeded?: ReadonlyMap<string, number>;
  /** The release's `min_version` (null = none). */
  readonly minVersion: string | null;
  readonly bucketing?: Bucketing;
}

/** Counts over a set of tracked devices. */
export interface Counts {
  offered: number;
  in_progress: number;
  retry: number;
  success: number;
  failed: number;
  rolled_back: number;
  timed_out: number;
  /** failed + rolled_back + timed_out. */
  failures: number;
  /** success + failures. */
  completed: number;
}

/** A decision, with the numbers that triggered it. */
export type Decision =
  | { kind: 'phase_advanced'; from: number; to: number; success: number; reports: number; success_percent: number; gate: ReturnType<typeof gateOf> }
  | { kind: 'gate_passed'; phase: number; success: number; reports: number; success_percent: number; gate: ReturnType<typeof gateOf> }
  | { kind: 'plan_completed'; phase: number; success: number; reports: number; success_percent: number }
  | { kind: 'threshold_tripped'; action: 'pause' | 'abort' | 'rollback'; phase: number; failures: number; completed: number;
    failed_percent: number; max_failed_percent: number | null; min_completed: number; max_failed_count: number | null }
  | { kind: 'rollback_started'; devices: string[] }
  | { kind: 'device_timed_out'; device_id: string; attempt: number; silent_ms: number };

export interface StepResult {
  readonly state: PlanState;
  readonly decisions: Decision[];
  /** Devices to send the update now (first offers and due retries). */
  readonly offer: string[];
  /** Devices that took the new image and must get the rollback release (new since the last step). */
  readonly rollback: string[];
  /** The next time something is due without a new report (timeout, retry, rate window, soak), or null. */
  readonly wakeAt: number | null;
}

/** A fresh state for a plan starting at `now`. */
export function initialState(now: number): PlanState {
  return { status: 'running', phase: 0, phase_started_at: now, gate_met_at: null, devices: {}, offer_times: [], ack_failed: 0, rollback_ids: [] };
}

const IN_FLIGHT: ReadonlySet<DeviceState> = new Set(['offered', 'in_progress']);

/** Count the tracks (of one phase when `phase` is given). */
export function countTracks(devices: Record<string, Track>, phase?: number): Counts {
  const c: Counts = { offered: 0, in_progress: 0, retry: 0, success: 0, failed: 0, rolled_back: 0, timed_out: 0, failures: 0, completed: 0 };
  for (const t of Object.values(devices)) {
    if (phase !== undefined && t.phase !== phase) continue;
    c[t.state]++;
  }
  c.failures = c.failed + c.rolled_back + c.timed_out;
  c.completed = c.success + c.failures;
  return c;
}

/** Whether the plan offers (or may offer after an approval). */
export const offering = (s: PlanStatus): boolean => s === 'running' || s === 'awaiting_approval';

/** Whether the engine must keep stepping the plan. */
export function isLive(state: PlanState): boolean {
  if (offering(state.status) || state.status === 'paused') return true;
  if (state.status === 'cancelled') return false;
  return Object.values(state.devices).some((t) => IN_FLIGHT.has(t.state));
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** One attempt ended badly: retry it later, or make it final. */
function endAttempt(t: Track, outcome: 'failed' | 'rolled_back' | 'timed_out', at: number, spec: PlanSpec): void {
  if (outcome !== 'rolled_back' && t.attempts <= spec.device.max_retries) {
    t.state = 'retry';
    t.retry_at = at + spec.device.retry_backoff_ms * 2 ** (t.attempts - 1);
  } else {
    t.state = outcome;
    t.retry_at = null;
  }
}

/** Fold the reports and the timeouts into the tracks. */
function foldReports(spec: PlanSpec, s: PlanState, w: World, decisions: Decision[]): void {
  const onVersion = new Set(w.devices.filter((d) => d.current_firmware_version === spec.firmware_version).map((d) => d.device_id));
  for (const [id, t] of Object.entries(s.devices)) {
    const r = w.reports.get(id);
    if (r !== undefined && (t.seen_at === null || r.at > t.seen_at || (r.at === t.seen_at && r.status !== t.seen_status))) {
      t.seen_at = r.at;
      t.seen_status = r.status;
      if (r.status === 'success') {
        if (t.state !== 'retry') t.state = 'success';
      } else if (r.status === 'failed' || r.status === 'rolled_back') {
        if (IN_FLIGHT.has(t.state) || t.state === 'success') endAttempt(t, r.status, r.at, spec);
      } else if (IN_FLIGHT.has(t.state)) {
        t.state = 'in_progress';
        t.last = Math.max(t.last, r.at);
      }
    }
    // A device that announces the plan's version runs it, whatever report was lost on the way (the
    // server killed before its commit, an HTTP report sent while it was down). Timing it out and
    // offering again would make it refuse the offer as not newer: a success counted as a failure.
    if ((IN_FLIGHT.has(t.state) || t.state === 'retry' || t.state === 'timed_out') && onVersion.has(id)) {
      t.state = 'success';
      t.retry_at = null;
    }
    if (IN_FLIGHT.has(t.state) && w.now - t.last >= spec.device.timeout_ms) {
      decisions.push({ kind: 'device_timed_out', device_id: id, attempt: t.attempts, silent_ms: w.now - t.last });
      endAttempt(t, 'timed_out', w.now, spec);
    }
  }
}

/** The failure policy over the whole plan; returns the trip decision or null. */
function checkFailure(spec: PlanSpec, s: PlanState): Decision | null {
  const f = spec.failure;
  if (f === undefined) return null;
  const c = countTracks(s.devices);
  if (c.failures <= s.ack_failed) return null;
  const pctFailed = c.completed === 0 ? 0 : (c.failures / c.completed) * 100;
  const byPct = f.max_failed_percent !== undefined && c.completed >= f.min_completed && pctFailed > f.max_failed_percent;
  const byCount = f.max_failed_count !== undefined && c.failures >= f.max_failed_count;
  if (!byPct && !byCount) return null;
  return {
    kind: 'threshold_tripped', action: f.action, phase: s.phase, failures: c.failures, completed: c.completed, failed_percent: round(pctFailed),
    max_failed_percent: f.max_failed_percent ?? null, min_completed: f.min_completed, max_failed_count: f.max_failed_count ?? null,
  };
}

/** When `id`'s latest report for the plan's version is a success, its time (see {@link World.succeeded}). */
function successAt(w: World, id: string): Date | undefined {
  let at: number | undefined;
  if (w.succeeded !== undefined) at = w.succeeded.get(id);
  else {
    const r = w.reports.get(id);
    if (r?.status === 'success') at = r.at;
  }
  return at === undefined ? undefined : new Date(at);
}

/**
 * Devices of the current cumulative target not yet offered and without the version: neither
 * announcing it nor having reported success for it since their last announcement (a paku-core
 * device reports success before its restart; the push path applies the same rule).
 */
function untracked(spec: PlanSpec, s: PlanState, w: World): WorldDevice[] {
  const target = phaseTarget(spec.phases, s.phase);
  const release = { device_model: spec.device_model, firmware_version: spec.firmware_version };
  return w.devices.filter((d) => s.devices[d.device_id] === undefined
    && !hasVersion({ ...d, device_model: spec.device_model }, spec.firmware_version, successAt(w, d.device_id))
    && meetsMinVersion(d.current_firmware_version ?? '', w.minVersion) && inTarget(target, d, release, w.bucketing));
}

/**
 * The success gate of the current phase (status `running` only). The last phase also waits until
 * no device of the plan is in flight or awaiting a retry: completing drops what is still pending.
 */
function checkGate(spec: PlanSpec, s: PlanState, w: World, pending: number, decisions: Decision[]): void {
  const gate = gateOf(spec, s.phase);
  const last = s.phase === spec.phases.length - 1;
  const c = countTracks(s.devices, s.phase);
  const all = last ? countTracks(s.devices) : null;
  const unsettled = all === null ? 0 : all.offered + all.in_progress + all.retry;
  const successPct = c.completed === 0 ? 100 : (c.success / c.completed) * 100;
  const ok = pending === 0 && unsettled === 0 && c.completed >= gate.min_reports && successPct >= gate.min_success_percent;
  if (!ok) {
    s.gate_met_at = null;
    return;
  }
  s.gate_met_at ??= w.now;
  if (w.now - s.gate_met_at < gate.soak_ms) return;
  const numbers = { success: c.success, reports: c.completed, success_percent: round(successPct) };
  if (last) {
    s.status = 'completed';
    decisions.push({ kind: 'plan_completed', phase: s.phase, ...numbers });
  } else if (spec.advance === 'manual') {
    s.status = 'awaiting_approval';
    decisions.push({ kind: 'gate_passed', phase: s.phase, ...numbers, gate });
  } else {
    decisions.push({ kind: 'phase_advanced', from: s.phase, to: s.phase + 1, ...numbers, gate });
    s.phase += 1;
    s.phase_started_at = w.now;
    s.gate_met_at = null;
  }
}

/** Choose what to offer now within the concurrency and rate limits. */
function admit(spec: PlanSpec, s: PlanState, w: World): string[] {
  const { max_concurrent, offers_per_minute } = spec.device;
  s.offer_times = s.offer_times.filter((t) => t > w.now - 60_000);
  const inFlight = Object.values(s.devices).filter((t) => IN_FLIGHT.has(t.state)).length;
  let budget = Math.min(max_concurrent === undefined ? Infinity : max_concurrent - inFlight,
    offers_per_minute === undefined ? Infinity : offers_per_minute - s.offer_times.length);
  const out: string[] = [];
  const offer = (id: string, t: Track): void => {
    t.state = 'offered';
    t.attempts += 1;
    t.offered_at = t.last = w.now;
    t.retry_at = null;
    out.push(id);
    if (offers_per_minute !== undefined) s.offer_times.push(w.now);
    budget--;
  };
  const due = Object.entries(s.devices).filter(([, t]) => t.state === 'retry' && (t.retry_at ?? 0) <= w.now)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [id, t] of due) {
    if (budget <= 0) return out;
    offer(id, t);
  }
  for (const d of untracked(spec, s, w)) {
    if (budget <= 0) return out;
    const r = w.reports.get(d.device_id);
    const t: Track = { phase: s.phase, state: 'offered', attempts: 0, offered_at: w.now, last: w.now,
      seen_at: r?.at ?? null, seen_status: r?.status ?? null, retry_at: null };
    s.devices[d.device_id] = t;
    offer(d.device_id, t);
  }
  return out;
}

/** The earliest time something is due without a new report. */
function nextWake(spec: PlanSpec, s: PlanState): number | null {
  let at = Infinity;
  for (const t of Object.values(s.devices)) {
    if (IN_FLIGHT.has(t.state)) at = Math.min(at, t.last + spec.device.timeout_ms);
    if (t.state === 'retry' && offering(s.status)) at = Math.min(at, t.retry_at ?? 0);
  }
  const oldest = s.offer_times[0];
  if (oldest !== undefined && offering(s.status)) at = Math.min(at, oldest + 60_000);
  if (s.status === 'running' && s.gate_met_at !== null) at = Math.min(at, s.gate_met_at + gateOf(spec, s.phase).soak_ms);
  return at === Infinity ? null : at;
}

/** Devices that took the new image and have not been handed to the rollback yet. */
function tookNewImage(s: PlanState): string[] {
  const handed = new Set(s.rollback_ids);
  return Object.entries(s.devices).filter(([id, t]) => t.state === 'success' && !handed.has(id)).map(([id]) => id).sort();
}

/**
 * One step. `state` is not modified; the result holds a new one. Order: reports and timeouts,
 * then the failure policy (a trip stops everything after it), then the gate, then admission.
 */
export function step(spec: PlanSpec, state: PlanState, w: World): StepResult {
  const s: PlanState = structuredClone(state);
  const decisions: Decision[] = [];
  foldReports(spec, s, w, decisions);
  if (offering(s.status)) {
    const trip = checkFailure(spec, s);
    if (trip !== null && trip.kind === 'threshold_tripped') {
      decisions.push(trip);
      s.status = trip.action === 'pause' ? 'paused' : trip.action === 'abort' ? 'aborted' : 'rolled_back';
      s.gate_met_at = null;
    }
  }
  let rollback: string[] = [];
  if (s.status === 'rolled_back') {
    rollback = tookNewImage(s);
    if (rollback.length > 0) {
      s.rollback_ids.push(...rollback);
      decisions.push({ kind: 'rollback_started', devices: rollback });
    }
  }
  let offer: string[] = [];
  if (offering(s.status)) {
    if (s.status === 'running') checkGate(spec, s, w, untracked(spec, s, w).length, decisions);
    offer = admit(spec, s, w);
    // A gate checked before admission saw devices still pending; one that now sees none can pass next step.
  }
  return { state: s, decisions, offer, rollback, wakeAt: nextWake(spec, s) };
}
