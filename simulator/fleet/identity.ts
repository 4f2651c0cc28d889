/**
 * Fleet identities (STYLE.md §12, "identities are a pure function of (prefix, index)"): device
 * `n` of fleet `prefix` is always `prefix-000042` with the same MAC, on every host and in every
 * shard, so a shard's NDJSON and the server's rows join on the id without a coordinator.
 * Pure: no I/O.
 */
import { ConfigError } from '../../protocol/errors.js';
import { hash32 } from '../faults/rng.js';

/** Largest fleet index: the MAC's low 24 bits carry the index, so ids and MACs stay unique. */
export const MAX_FLEET_INDEX = 0xffffff;

/** Default id prefix. */
export const DEFAULT_PREFIX = 'sim';

/** Who device `index` of a fleet is. */
export interface FleetIdentity {
  /** 0-based position in the whole fleet (not in the shard). */
  readonly index: number;
  /** `{prefix}-{index, 6+ digits}`, e.g. `sim-000042`: MQTT client id and topic level. */
  readonly deviceId: string;
  /**
   * Wi-Fi MAC `AA:BB:CC:DD:EE:FF`: a locally administered unicast address (first octet `x2`,
   * IEEE 802 §8.2), two octets from the prefix's hash, the low three octets the index.
   */
  readonly mac: string;
}

const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

function checkPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError(`fleet prefix "${prefix}" must be 1–64 characters of A–Z a–z 0–9 _ . - (it becomes an MQTT topic level)`);
  }
}

/** Identity of device `index` of fleet `prefix`. Throws ConfigError for a bad prefix or index. */
export function fleetIdentity(prefix: string, index: number): FleetIdentity {
  checkPrefix(prefix);
  if (!Number.isInteger(index) || index < 0 || index > MAX_FLEET_INDEX) {
    throw new ConfigError(`fleet index ${index} must be an integer in 0…${MAX_FLEET_INDEX}`);
  }
  const h = hash32(0, [prefix, 'mac']);
  // 0x02: locally administered, unicast; the prefix picks the OUI-like middle, the index the rest.
  const octets = [0x02 | ((h >>> 24) & 0xfc), (h >>> 16) & 0xff, (h >>> 8) & 0xff, (index >>> 16) & 0xff, (index >>> 8) & 0xff, index & 0xff];
  return { index, deviceId: `${prefix}-${String(index).padStart(6, '0')}`, mac: octets.map(hex).join(':') };
}
