/**
 * Seeded randomness for fault decisions and backoff jitter. Every draw is a pure function of
 * (seed, device id, stream name, counters): no generator state to carry per device, and the same
 * inputs give the same number in any order, in any process. Pure: no I/O, no Math.random.
 */
import { seededRng } from '../esp32/power-cut.js';

/** murmur3's fmix32 finaliser: full avalanche of a 32-bit state. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, then a 32-bit integer per number; finished with fmix32. */
export function hash32(seed: number, parts: readonly (string | number)[]): number {
  let h = (0x811c9dc5 ^ fmix32(seed >>> 0)) >>> 0;
  for (const part of parts) {
    if (typeof part === 'string') {
      for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part.charCodeAt(i), 0x01000193);
      h = Math.imul(h ^ 0xff, 0x01000193); // separator: ('ab','c') ≠ ('a','bc')
    } else {
      const n = Math.trunc(part);
      h = Math.imul(h ^ (n & 0xffff), 0x01000193);
      h = Math.imul(h ^ ((n >>> 16) & 0xffff), 0x01000193);
      h = Math.imul(h ^ (Math.floor(n / 2 ** 32) & 0xffff), 0x01000193);
    }
  }
  return fmix32(h >>> 0);
}

/** A uniform number in [0, 1) for (seed, device id, stream, …counters). */
export function unit(seed: number, deviceId: string, stream: string, ...counters: number[]): number {
  return hash32(seed, [deviceId, stream, ...counters]) / 4294967296;
}

/** A stateful generator (mulberry32) seeded from (seed, device id, stream), for runtime loops. */
export function deviceRng(seed: number, deviceId: string, stream: string): () => number {
  return seededRng(hash32(seed, [deviceId, stream]));
}
