/**
 * Conditions (`wait.for`) and assertions (`assert:`) judged against one snapshot of the run: what
 * the fleet's chips run, the fleet's state counts and outcomes, and the rollouts' and plans' states
 * as the server reports them. Each assertion key gives one CheckResult. Pure.
 */
import type { CheckResult } from '../report/model.js';
import type { FleetState } from '../../simulator/fleet/states.js';
import { durationStats } from '../../simulator/fleet/stats.js';
import type { AssertionsData, ConditionData } from '../scenario/schema.js';
import { formatMs, holds, type Comparison } from '../scenario/units.js';

/** A rollout or plan as the harness sees it. `state` for a seeds' rollout: active, inactive or completed. */
export interface RolloutStatus {
  readonly kind: 'rollout' | 'plan';
  readonly state: string;
  /** Plans: current phase index. */
  readonly phase?: number;
  /** Extra words for reports (`phase 2/3`, `180/200 targets updated`). */
  readonly detail?: string;
  /** Timeline label of the current span (`canary 10%`, `phase 2/3`). */
  readonly label?: string;
}

/** The run at one instant. */
export interface Snapshot {
  /** Devices in the fleet (denominator of `%`). */
  readonly devices: number;
  readonly counts: Readonly<Record<FleetState, number>>;
  /** Running version → devices. */
  readonly versions: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  readonly updateDurations: readonly number[];
  /** Devices that cannot boot any app; null when not inspected (conditions never need it). */
  readonly bricked: number | null;
  /** Statuses of the rollouts and plans the checks name. */
  readonly rollouts: ReadonlyMap<string, RolloutStatus>;
}

/** One comparison's verdict, with the texts a report shows. */
export interface Judged {
  readonly ok: boolean;
  readonly expected: string;
  readonly actual: string;
}

/** A count (devices) against `cmp`; `%` is a share of `total`. */
export function judgeCount(cmp: Comparison, actual: number, total: number): Judged {
  if (cmp.unit === 'percent') {
    const pct = total === 0 ? 0 : (actual / total) * 100;
    return { ok: holds(cmp.op, pct, cmp.value), expected: cmp.text, actual: `${actual} of ${total} (${pct.toFixed(1)}%)` };
  }
  return { ok: holds(cmp.op, actual, cmp.value), expected: cmp.text, actual: String(actual) };
}

/** A rate in 0…1 against `cmp` (`99%` and `0.99` mean the same). */
export function judgeRate(cmp: Comparison, rate: number | null): Judged {
  if (rate === null) return { ok: false, expected: cmp.text, actual: 'no update ended' };
  const want = cmp.unit === 'percent' ? cmp.value / 100 : cmp.value;
  return { ok: holds(cmp.op, rate, want), expected: cmp.text, actual: rate.toFixed(4) };
}

/** A duration (ms) against `cmp` (a bare number is ms). */
export function judgeMs(cmp: Comparison, ms: number | null): Judged {
  if (ms === null) return { ok: false, expected: cmp.text, actual: 'no update ended' };
  return { ok: holds(cmp.op, ms, cmp.value), expected: cmp.text, actual: formatMs(ms) };
}

/** The rollout and plan names `c` or `a` needs statuses for. */
export function rolloutNames(c: Pick<ConditionData, 'rollout'> | null, a: Pick<AssertionsData, 'rollout'> | null): string[] {
  return [...(c?.rollout === undefined ? [] : [c.rollout]), ...Object.keys(a?.rollout ?? {})];
}

function judgeRollout(name: string, want: string, s: Snapshot): Judged {
  const st = s.rollouts.get(name);
  if (st === undefined) return { ok: false, expected: want, actual: 'not found on the server' };
  return { ok: st.state === want, expected: want, actual: st.detail === undefined ? st.state : `${st.state} (${st.detail})` };
}

const outcomes = (s: Snapshot): number => s.counts.success + s.counts.failed + s.counts['rolled back'];

/** Every part of `c` that holds, and a one-line account of the first that does not. */
export function judgeCondition(c: ConditionData, s: Snapshot): { ok: boolean; detail: string } {
  const parts: Array<[string, Judged]> = [];
  if (c.rollout !== undefined) {
    const st = s.rollouts.get(c.rollout);
    if (c.state !== undefined) parts.push([`rollout ${c.rollout} state`, judgeRollout(c.rollout, c.state, s)]);
    if (c.phase !== undefined) {
      const phase = st?.phase ?? -1;
      parts.push([`plan ${c.rollout} phase`, { ok: phase >= c.phase, expected: `>= ${c.phase}`, actual: String(phase) }]);
    }
  }
  for (const [v, cmp] of Object.entries(c.versions ?? {})) parts.push([`devices on ${v}`, judgeCount(cmp, s.versions[v] ?? 0, s.devices)]);
  for (const [st, cmp] of Object.entries(c.states ?? {}) as Array<[FleetState, Comparison]>) parts.push([`devices ${st}`, judgeCount(cmp, s.counts[st], s.devices)]);
  if (c.outcomes !== undefined) parts.push(['devices with an outcome', judgeCount(c.outcomes, outcomes(s), s.devices)]);
  for (const [code, cmp] of Object.entries(c.errors ?? {})) parts.push([`errors ${code}`, judgeCount(cmp, s.errors[code] ?? 0, s.devices)]);
  const bad = parts.find(([, j]) => !j.ok);
  const line = (p: [string, Judged]): string => `${p[0]}: ${p[1].actual} (want ${p[1].expected})`;
  return bad === undefined ? { ok: true, detail: parts.map(line).join('; ') } : { ok: false, detail: line(bad) };
}

/** One CheckResult per assertion key (per entry of the map-valued ones), ids `{prefix}#{n}`. */
export function judgeAssertions(a: AssertionsData, s: Snapshot, prefix: string, atMs: number): CheckResult[] {
  const out: CheckResult[] = [];
  const add = (name: string, j: Judged): void => {
    out.push({
      id: `${prefix}#${out.length + 1}`, name, status: j.ok ? 'pass' : 'fail', expected: j.expected, actual: j.actual, atMs,
      ...(j.ok ? {} : { message: `${name}: ${j.actual}, expected ${j.expected}` }),
    });
  };
  for (const [v, cmp] of Object.entries(a.versions ?? {})) add(`devices running ${v}`, judgeCount(cmp, s.versions[v] ?? 0, s.devices));
  if (a.success_rate !== undefined) {
    const n = outcomes(s);
    add('update success rate', judgeRate(a.success_rate, n === 0 ? null : s.counts.success / n));
  }
  if (a.bricked !== undefined) {
    add('bricked devices', s.bricked === null
      ? { ok: false, expected: a.bricked.text, actual: 'not inspected' }
      : judgeCount(a.bricked, s.bricked, s.devices));
  }
  for (const [name, want] of Object.entries(a.rollout ?? {})) add(`rollout ${name} state`, judgeRollout(name, want, s));
  const stats = durationStats(s.updateDurations);
  if (a.p50_update !== undefined) add('p50 update duration', judgeMs(a.p50_update, stats.p50));
  if (a.p95_update !== undefined) add('p95 update duration', judgeMs(a.p95_update, stats.p95));
  if (a.p99_update !== undefined) add('p99 update duration', judgeMs(a.p99_update, stats.p99));
  for (const [code, cmp] of Object.entries(a.errors ?? {})) add(`updates failed with ${code}`, judgeCount(cmp, s.errors[code] ?? 0, s.devices));
  for (const [st, cmp] of Object.entries(a.states ?? {}) as Array<[FleetState, Comparison]>) add(`devices ${st}`, judgeCount(cmp, s.counts[st], s.devices));
  if (a.outcomes !== undefined) add('devices with an update outcome', judgeCount(a.outcomes, outcomes(s), s.devices));
  return out;
}
