/**
 * Exponential backoff with jitter, for MQTT reconnects and download resumes. The jitter is an
 * input (`u`, drawn by the caller from the seeded RNG), so the delay is a pure function. Pure.
 */
import type { Backoff } from './config.js';

/**
 * Delay before attempt `n` (1 = after the first failure), ms:
 * `min(maxMs, baseMs · 2^(n−1)) · (1 − jitter · u)`, rounded down; `u` ∈ [0, 1).
 */
export function backoffDelay(policy: Backoff, n: number, u: number): number {
  const exp = Math.min(Math.max(n, 1) - 1, 52);
  const raw = Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
  return Math.floor(raw * (1 - policy.jitter * Math.min(Math.max(u, 0), 1)));
}
