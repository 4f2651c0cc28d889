/**
 * A rollout plan, as data (issue 6): phases, a success gate, a failure policy and per-device
 * controls, validated once by one zod schema. Pure.
 *
 * Phases are cumulative: phase k targets every device any phase 0…k names. A phase is
 * - `{ percent }`: that share of the model's devices by sticky bucket (targeting.ts), so raising
 *   it keeps the devices already in;
 * - `{ device_ids }`: these devices;
 * - `{ groups }`: every device in any of these groups (`devices.metadata.groups`).
 * Each phase must grow the target: a higher percent, a device id or a group not named before
 * (hawkBit fills groups from the remaining targets the same way, ota-server-anchors.md (a)).
 */
import { z } from 'zod';
import { DeviceId, Slug } from '../../protocol/payloads.js';
import { bucketOf, inPercentage, rolloutIdentity, type Bucketing } from './targeting.js';

const pct = z.number().min(0).max(100);
const ms = z.number().int().min(0).max(366 * 24 * 3600 * 1000);

/** The success gate of a phase: ≥ `min_success_percent` of the phase's reporting devices succeeded, after ≥ `min_reports` reports, held for `soak_ms`. */
export const Gate = z.strictObject({
  /** Percent (0–100) of the phase's completed devices that must have succeeded. Default 95. */
  min_success_percent: pct.default(95),
  /** Completed devices (success or final failure) the phase needs before the gate can pass. Default 1. */
  min_reports: z.number().int().min(0).max(1_000_000).default(1),
  /** How long the gate must hold before the phase is done, ms. Default 0. */
  soak_ms: ms.default(0),
});
export type Gate = z.output<typeof Gate>;

const PhaseBase = { name: z.string().min(1).max(64).optional(), gate: Gate.optional() };

/** One phase; `gate` overrides the plan's. */
export const Phase = z.union([
  z.strictObject({ ...PhaseBase, percent: z.number().int().min(1).max(100) }),
  z.strictObject({ ...PhaseBase, device_ids: z.array(DeviceId).min(1).max(100_000) }),
  z.strictObject({ ...PhaseBase, groups: z.array(z.string().min(1).max(64)).min(1).max(100) }),
]);
export type Phase = z.output<typeof Phase>;

/** When the plan stops itself (AWS IoT Jobs abortConfig and Azure's failed count, ota-server-anchors.md). */
export const FailurePolicy = z.strictObject({
  /** Trips when failed / completed × 100 exceeds this, once `min_completed` devices completed. */
  max_failed_percent: pct.optional(),
  /** Completed devices (whole plan) before the percentage is judged. Default 10. */
  min_completed: z.number().int().min(1).max(1_000_000).default(10),
  /** Trips when this many devices have failed (whole plan), whatever the sample. */
  max_failed_count: z.number().int().min(1).max(1_000_000).optional(),
  /** What a trip does. Default `pause`. */
  action: z.enum(['pause', 'abort', 'rollback']).default('pause'),
  /** Release to roll back to (`rollback`); default the model's release uploaded before the plan's. */
  rollback_to: Slug.optional(),
}).refine((f) => f.max_failed_percent !== undefined || f.max_failed_count !== undefined,
  { message: 'give max_failed_percent or max_failed_count (or both)' });
export type FailurePolicy = z.output<typeof FailurePolicy>;

/** Per-device controls. */
export const DeviceControls = z.strictObject({
  /** A device offered the update that reports nothing for this long is `timed_out`, ms. Default 30 min. */
  timeout_ms: z.number().int().min(1).max(30 * 24 * 3600 * 1000).default(30 * 60 * 1000),
  /** Re-offers after a failure or timeout. Default 0. */
  max_retries: z.number().int().min(0).max(20).default(0),
  /** Wait before the first retry, ms; doubles with each retry. Default 60 s. */
  retry_backoff_ms: ms.default(60_000),
  /** Devices updating at once across the plan, at most. Default unlimited. */
  max_concurrent: z.number().int().min(1).max(10_000_000).optional(),
  /** Offers in any 60 s window, at most. Default unlimited. */
  offers_per_minute: z.number().int().min(1).max(10_000_000).optional(),
});
export type DeviceControls = z.output<typeof DeviceControls>;

/** `POST /api/admin/plans` body. */
export const PlanSpec = z.strictObject({
  name: Slug,
  firmware_version: Slug,
  device_model: Slug,
  phases: z.array(Phase).min(1).max(50),
  /** The gate of every phase without its own. */
  gate: Gate.default({ min_success_percent: 95, min_reports: 1, soak_ms: 0 }),
  /** `auto`: a passed gate starts the next phase; `manual`: it waits for approve. Default `auto`. */
  advance: z.enum(['auto', 'manual']).default('auto'),
  failure: FailurePolicy.optional(),
  device: DeviceControls.default({ timeout_ms: 30 * 60 * 1000, max_retries: 0, retry_backoff_ms: 60_000 }),
}).superRefine((p, ctx) => {
  const problem = growthProblem(p.phases);
  if (problem !== null) ctx.addIssue({ code: 'custom', path: ['phases', problem.index], message: problem.message });
});
export type PlanSpec = z.output<typeof PlanSpec>;
export type PlanSpecInput = z.input<typeof PlanSpec>;

/** The first phase that does not grow the target, or null. */
export function growthProblem(phases: readonly Phase[]): { index: number; message: string } | null {
  let percent = 0;
  const ids = new Set<string>();
  const groups = new Set<string>();
  for (const [index, ph] of phases.entries()) {
    if ('percent' in ph) {
      if (ph.percent <= percent) return { index, message: `percent ${ph.percent} does not grow the plan: an earlier phase already has ${percent}` };
      percent = ph.percent;
    } else if ('device_ids' in ph) {
      const before = ids.size;
      for (const d of ph.device_ids) ids.add(d);
      if (ids.size === before) return { index, message: 'device_ids does not grow the plan: every id is in an earlier phase' };
    } else {
      const before = groups.size;
      for (const g of ph.groups) groups.add(g);
      if (groups.size === before) return { index, message: 'groups does not grow the plan: every group is in an earlier phase' };
    }
    if (index > 0 && percent >= 100 && !('percent' in ph)) {
      return { index, message: 'an earlier phase already targets 100% of the model; this phase adds nobody' };
    }
  }
  return null;
}

/** A device as plan targeting reads it. */
export interface PlanDevice {
  readonly device_id: string;
  readonly groups?: readonly string[] | null;
  readonly current_firmware_version: string | null;
}

/** What phases 0…`upTo` target, folded into sets. */
export interface PhaseTarget {
  readonly percent: number;
  readonly ids: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
}

/** The cumulative target of phases 0…`upTo`. */
export function phaseTarget(phases: readonly Phase[], upTo: number): PhaseTarget {
  let percent = 0;
  const ids = new Set<string>();
  const groups = new Set<string>();
  for (const ph of phases.slice(0, upTo + 1)) {
    if ('percent' in ph) percent = Math.max(percent, ph.percent);
    else if ('device_ids' in ph) for (const d of ph.device_ids) ids.add(d);
    else for (const g of ph.groups) groups.add(g);
  }
  return { percent, ids, groups };
}

/** Whether `target` holds `device`; buckets are keyed on the plan's release (targeting.ts). */
export function inTarget(target: PhaseTarget, device: PlanDevice, release: { device_model: string; firmware_version: string },
  bucketing: Bucketing = 'release'): boolean {
  if (target.ids.has(device.device_id)) return true;
  if (target.groups.size > 0 && (device.groups ?? []).some((g) => target.groups.has(g))) return true;
  return target.percent > 0 && inPercentage(bucketOf(device.device_id, rolloutIdentity(release, bucketing)), target.percent);
}

/** The gate phase `index` uses. */
export function gateOf(spec: Pick<PlanSpec, 'gate' | 'phases'>, index: number): Gate {
  return spec.phases[index]?.gate ?? spec.gate;
}
