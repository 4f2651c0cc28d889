/**
 * Which rollout decides what a device is offered. Pure.
 *
 * The real service offers only the most recently uploaded release, and only when an active
 * rollout of exactly that release targets the device (paku-protocol-facts §2.4.1). So uploading
 * the next build before rolling it out silently halts the current rollout. Here the rollouts
 * decide: the newest active rollout for the device's model that targets the device names the
 * version it should run. Older rollouts are not consulted, so a device never flips back to an
 * older release because a newer rollout has already been satisfied.
 */
import { isTargeted, type Bucketing, type TargetDevice, type TargetRule } from './targeting.js';

/** A rollout as offer selection reads it. */
export interface OfferRule extends TargetRule {
  readonly is_active: boolean;
  readonly created_at: Date;
  readonly id: number;
}

/**
 * The newest active rollout among `rollouts` that targets `device`, or undefined. Newest means
 * latest `created_at`, then highest `id`.
 */
export function decidingRollout<R extends OfferRule>(device: TargetDevice, rollouts: Iterable<R>,
  bucketing: Bucketing = 'release'): R | undefined {
  let best: R | undefined;
  for (const r of rollouts) {
    if (!r.is_active || !isTargeted(r, device, bucketing)) continue;
    if (best === undefined || r.created_at > best.created_at
      || (r.created_at.getTime() === best.created_at.getTime() && r.id > best.id)) best = r;
  }
  return best;
}

/** The release a rollout ships, as offer planning reads it. */
export interface OfferRelease {
  readonly version: string;
  readonly min_version: string | null;
}

/** A registered device, as offer planning reads it. */
export interface OfferDevice extends TargetDevice {
  readonly current_firmware_version: string | null;
  /** When the device last announced itself (status, check, HTTP success), or null. */
  readonly last_seen?: Date | null;
}

/**
 * Whether `device` already has `version`: it is the version it announces, or its latest report for
 * that version is a `success` newer than its last announcement (`successAt`). The second covers
 * the window in which a device that reports success before its restart (paku-core, facts §1.6)
 * still announces its old version: a command then would make it flash the same image again.
 */
export function hasVersion(device: OfferDevice, version: string, successAt: Date | undefined): boolean {
  if (device.current_firmware_version === version) return true;
  if (successAt === undefined) return false;
  const seen = device.last_seen ?? null;
  return seen === null || successAt.getTime() >= seen.getTime();
}

/**
 * The devices a push (MQTT `cmd/ota`) of `rollout` goes to: registered devices for which it is the
 * deciding rollout among `activeRollouts` (the same rule `/api/firmware/check` applies), that do
 * not already have its version ({@link hasVersion}; `succeeded` maps a device to the time of its
 * latest report for the version when that report is a `success`) and that meet the release's
 * `min_version` (`meetsMin`). Empty when the rollout is inactive.
 */
export function devicesToOffer<D extends OfferDevice, R extends OfferRule>(rollout: R, release: OfferRelease,
  devices: Iterable<D>, activeRollouts: readonly R[], meetsMin: (current: string, min: string | null) => boolean,
  bucketing: Bucketing = 'release', succeeded: ReadonlyMap<string, Date> = new Map()): D[] {
  if (!rollout.is_active) return [];
  const out: D[] = [];
  for (const d of devices) {
    if (hasVersion(d, release.version, succeeded.get(d.device_id))) continue;
    if (decidingRollout(d, activeRollouts, bucketing)?.id !== rollout.id) continue;
    if (!meetsMin(d.current_firmware_version ?? '', release.min_version)) continue;
    out.push(d);
  }
  return out;
}

/**
 * The devices a plan's state shows commanded and not yet answered (`offered` or `in_progress`):
 * what a restarted server's orchestrator must still deliver (server/mqtt/orchestrator.ts `expect`).
 */
export function unanswered(state: { readonly devices?: Readonly<Record<string, { readonly state: string }>> } | null | undefined): string[] {
  return Object.entries(state?.devices ?? {}).filter(([, t]) => t.state === 'offered' || t.state === 'in_progress').map(([id]) => id).sort();
}
