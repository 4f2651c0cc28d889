/**
 * Rollout targeting: which devices a rollout offers its firmware to. Pure (no I/O, no clock).
 *
 * Kinds (seed 002 "Rollout Strategies"; paku-protocol-facts §2.6, §3.1 `target_type` CHECK):
 * - `specific`: listed `device_ids` or `mac_addresses`; `rollout_percentage` is ignored, as the
 *   real service ignores it (facts §2.6).
 * - `canary` and `all`: a percentage of the model's devices, by sticky bucket.
 * - `group`: devices in ANY of `target_filter.groups` (OR, seed 002 "How group targeting works"),
 *   then the percentage by sticky bucket. Devices without groups are excluded.
 *
 * Buckets are sticky and deterministic (protocol/bucketing.ts). `release` bucketing hashes the
 * release a rollout ships (device model + firmware version) with the device id, so raising a canary
 * from 10% to 25% keeps the first 10%, while another release draws a different canary set. `device`
 * bucketing is the real paku service's rule, `int(sha256(device_id)) % 100 < p` (facts §2.6), the
 * same set for every rollout. Each wire profile names its rule (protocol/profiles.ts); the
 * functions below default to `release` only so that callers without a profile keep their meaning.
 */
import type { TargetType } from '../../protocol/payloads.js';
import { bucketOf, inPercentage, rolloutIdentity, type Bucketing } from '../../protocol/bucketing.js';

export type { TargetType };
// The bucketing rules live in the protocol module, since each wire profile names its own.
export { BUCKETINGS, BUCKETS, bucketOf, inPercentage, rolloutIdentity, type Bucketing } from '../../protocol/bucketing.js';

/** `rollout_configurations.target_filter` (seed 002; the SQL COMMENT's `{"group": …}` form too). */
export interface TargetFilter {
  readonly device_ids?: readonly string[];
  readonly mac_addresses?: readonly string[];
  readonly groups?: readonly string[];
  /** Single-group form from the schema comment (facts §3.1); treated as `groups: [group]`. */
  readonly group?: string;
}

/** The parts of a rollout that targeting reads. */
export interface TargetRule {
  readonly device_model: string;
  readonly firmware_version: string;
  readonly target_type: TargetType;
  readonly target_filter: TargetFilter | null;
  /** 0–100; null means 100 (the real service's default, facts §2.4.6). */
  readonly rollout_percentage: number | null;
}

/** The parts of a device that targeting reads. */
export interface TargetDevice {
  readonly device_id: string;
  readonly device_model: string;
  readonly mac_address?: string | null;
  /** `devices.metadata.groups` (seed 002 "Manage Device Groups"). */
  readonly groups?: readonly string[] | null;
}

/** Normalise a MAC for comparison: hex digits only, upper case (`aa-bb…` = `AA:BB:…`). */
export function normalizeMac(mac: string): string {
  return mac.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

/** The groups a filter names, `groups` and the single `group` form together. */
export function filterGroups(filter: TargetFilter | null): string[] {
  if (filter === null) return [];
  return [...(filter.groups ?? []), ...(filter.group === undefined ? [] : [filter.group])];
}

/** Whether `rule` offers its firmware to `device`. The device model must match exactly (facts §2.4.1). */
export function isTargeted(rule: TargetRule, device: TargetDevice, bucketing: Bucketing = 'release'): boolean {
  if (device.device_model !== rule.device_model) return false;
  const pct = (): boolean =>
    inPercentage(bucketOf(device.device_id, rolloutIdentity(rule, bucketing)), rule.rollout_percentage);
  switch (rule.target_type) {
    case 'specific': {
      const f = rule.target_filter;
      if (f === null) return false;
      if (f.device_ids?.includes(device.device_id)) return true;
      const mac = device.mac_address;
      if (mac === null || mac === undefined || f.mac_addresses === undefined) return false;
      const m = normalizeMac(mac);
      return m.length > 0 && f.mac_addresses.some((x) => normalizeMac(x) === m);
    }
    case 'canary':
    case 'all':
      return pct();
    case 'group': {
      const wanted = filterGroups(rule.target_filter);
      const has = device.groups ?? [];
      return wanted.some((g) => has.includes(g)) && pct();
    }
  }
}

/** The devices of `devices` that `rule` targets, in input order. */
export function targetedDevices<D extends TargetDevice>(rule: TargetRule, devices: Iterable<D>,
  bucketing: Bucketing = 'release'): D[] {
  const out: D[] = [];
  for (const d of devices) if (isTargeted(rule, d, bucketing)) out.push(d);
  return out;
}
