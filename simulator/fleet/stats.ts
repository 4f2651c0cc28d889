/**
 * Summary arithmetic: nearest-rank percentiles over update durations, and the summary record the
 * runner prints last (after the raw events). Pure.
 */
import { FLEET_STATES, type FleetState } from './states.js';

/** Nearest-rank percentile `p` (0–100) of `sorted` (ascending); null when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** The final summary of a fleet run. */
export interface FleetSummary {
  /** Devices this process ran (its shard). */
  readonly devices: number;
  /** Devices started by the ramp before the end. */
  readonly started: number;
  /** Devices by fleet state at the end. */
  readonly counts: Readonly<Record<FleetState, number>>;
  /** Update duration (first `downloading` to the reported outcome), ms; null when none ended. */
  readonly updateMs: { readonly count: number; readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
  /** HTTP body bytes devices received (downloads, checks). */
  readonly bytes: number;
  /** Failed and rolled-back updates by reason code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Wall time from start to the summary, ms (runner clock). */
  readonly elapsedMs: number;
  /** Why the run ended: `done` (every device reached an outcome or the goal), `duration`, `signal`. */
  readonly ended: 'done' | 'duration' | 'signal';
}

/** Counts array → record in FLEET_STATES order. */
export function countsRecord(counts: ArrayLike<number>): Record<FleetState, number> {
  return Object.fromEntries(FLEET_STATES.map((s, i) => [s, counts[i] ?? 0])) as Record<FleetState, number>;
}

/** Durations summary from an unsorted list. */
export function durationStats(durations: readonly number[]): FleetSummary['updateMs'] {
  const s = Float64Array.from(durations).sort();
  return { count: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
}

/** The summary as lines for people. */
export function formatSummary(s: FleetSummary): string {
  const ms = (v: number | null): string => (v === null ? '–' : `${(v / 1000).toFixed(2)} s`);
  const counts = FLEET_STATES.filter((k) => s.counts[k] > 0).map((k) => `${k} ${s.counts[k]}`).join(', ');
  const errors = Object.entries(s.errors).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `fleet: ${s.started}/${s.devices} devices started, ended by ${s.ended} after ${(s.elapsedMs / 1000).toFixed(1)} s`,
    `states: ${counts || 'none'}`,
    `updates: ${s.updateMs.count} ended; p50 ${ms(s.updateMs.p50)}, p95 ${ms(s.updateMs.p95)}, p99 ${ms(s.updateMs.p99)}`,
    `bytes received: ${s.bytes}`,
    `errors: ${errors || 'none'}`,
  ].join('\n') + '\n';
}
