/**
 * `--shard i/n`: which part of the fleet this process (or host) runs. Shards are contiguous index
 * ranges whose sizes differ by at most one, so n hosts running `--shard 1/n … n/n` with the same
 * flags run every device exactly once, and identities stay those of the whole fleet. Pure.
 */
import { UsageError } from '../../protocol/errors.js';

/** Shard `index` (1-based, as written) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The whole fleet in one process. */
export const WHOLE: Shard = Object.freeze({ index: 1, count: 1 });

/** Parse `i/n` (1 ≤ i ≤ n ≤ 65,536). Throws UsageError naming the problem. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (m === null) throw new UsageError(`--shard ${text}: expected i/n, e.g. 2/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 65_536) throw new UsageError(`--shard ${text}: n must be 1…65536`);
  if (index < 1 || index > count) throw new UsageError(`--shard ${text}: i must be 1…${count}`);
  return { index, count };
}

/** The half-open index range `[start, end)` shard `s` runs of a fleet of `devices`. */
export function shardRange(devices: number, s: Shard): { readonly start: number; readonly end: number } {
  const base = Math.floor(devices / s.count);
  const extra = devices % s.count;
  const i = s.index - 1;
  const start = i * base + Math.min(i, extra);
  return { start, end: start + base + (i < extra ? 1 : 0) };
}

/**
 * `auto/n`: n shards, each process claiming a free index when it starts (shard-claim.ts), for
 * replicas that cannot be told their index (`docker compose up --scale fleet=n`). Returns n, or
 * null when `text` is not of that form. Throws UsageError for `auto/` with a bad n.
 */
export function parseAutoShard(text: string): number | null {
  const m = /^\s*auto\s*\/\s*(\S*)\s*$/.exec(text);
  if (m === null) return null;
  const count = /^\d+$/.test(m[1] ?? '') ? Number(m[1]) : NaN;
  if (!(count >= 1 && count <= 65_536)) throw new UsageError(`--shard ${text}: expected auto/n with n 1…65536, e.g. auto/4`);
  return count;
}
