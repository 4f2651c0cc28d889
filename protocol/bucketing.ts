/**
 * Canary buckets: which of 100 buckets a device falls in, so that a percentage p selects buckets
 * `0 … p-1`. Pure (node:crypto hashing only).
 *
 * Two rules, one per wire profile (protocol/profiles.ts):
 * - `device`: the real paku service's `_percentage_match`, `int(sha256(device_id)) % 100`
 *   (paku-iot ota_service.py; paku-protocol-facts §2.6). Every rollout draws the same canaries.
 * - `release`: SHA-256 of the release a rollout ships (device model + firmware version) and the
 *   device id, so each release draws its own canaries (ARCHITECTURE.md "hash(rollout, device_id)").
 *
 * Both are sticky: raising a percentage only ever adds devices.
 */
import { createHash } from 'node:crypto';

/** How a device's bucket is derived; see the module comment. */
export const BUCKETINGS = ['release', 'device'] as const;
export type Bucketing = (typeof BUCKETINGS)[number];

/** Number of buckets; a percentage p selects buckets `0 … p-1`. */
export const BUCKETS = 100;

/** The identity a rollout's buckets are keyed on under `bucketing`; null for `device` bucketing. */
export function rolloutIdentity(release: { readonly device_model: string; readonly firmware_version: string },
  bucketing: Bucketing = 'release'): string | null {
  return bucketing === 'release' ? `${release.device_model}\u0000${release.firmware_version}` : null;
}

/**
 * A device's bucket, `0 … BUCKETS-1`: SHA-256 of `identity + "\n" + deviceId` (or of `deviceId`
 * alone when `identity` is null, the real service's rule), read as one big-endian integer, mod 100.
 * The whole digest counts, as Python's `int(hexdigest, 16)` does, not just its last bytes.
 */
export function bucketOf(deviceId: string, identity: string | null): number {
  const input = identity === null ? deviceId : `${identity}\n${deviceId}`;
  const hex = createHash('sha256').update(input, 'utf8').digest('hex');
  return Number(BigInt(`0x${hex}`) % BigInt(BUCKETS));
}

/** True when a device in `bucket` falls inside `percentage` (null = 100): `p ≥ 100` all, `p ≤ 0` none. */
export function inPercentage(bucket: number, percentage: number | null): boolean {
  const p = percentage ?? 100;
  if (p >= 100) return true;
  if (p <= 0) return false;
  return bucket < p;
}
