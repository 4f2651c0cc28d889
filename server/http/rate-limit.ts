/**
 * Per-device rate limiting of the device routes: a token bucket per device id (or, where a route
 * names no device, per client address). A device may send `limit` requests in a burst and then
 * one every `60 000 / limit` ms; past that it gets 429 `OTASIM_ERR_RATE_LIMITED` with
 * `Retry-After` (RFC 9110 §10.2.3, whole seconds). Time comes from the monotonic `now` port, so
 * tests drive it without sleeping. Pure apart from that port.
 */
import { RequestError } from '../../protocol/errors.js';

/** Buckets kept at most; past it the least recently used are forgotten (they refill to full anyway). */
export const RATE_LIMIT_MAX_KEYS = 100_000;

/** The verdict for one request. */
export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by device. */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;

  /**
   * @param limit requests per device per minute, and the burst size; must be ≥ 1
   * @param now monotonic milliseconds
   */
  constructor(private readonly limit: number, private readonly now: () => number, private readonly maxKeys = RATE_LIMIT_MAX_KEYS) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`rate limit must be an integer ≥ 1, got ${limit}`);
    this.#perMs = limit / 60_000;
  }

  /** Take one token for `key`, or say how long until one is there. */
  take(key: string): RateDecision {
    const t = this.now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.limit, at: t };
      if (this.#buckets.size >= this.maxKeys) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    } else {
      // Refill for the time since the last request; re-insert so the map stays in LRU order.
      b.tokens = Math.min(this.limit, b.tokens + Math.max(0, t - b.at) * this.#perMs);
      b.at = t;
      this.#buckets.delete(key);
    }
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / this.#perMs) };
  }

  /** Devices currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }
}

/** The 429 for a refused request; `Retry-After` is `retryAfterSeconds(d)`. */
export function rateLimited(key: string, retryAfterMs: number): RequestError {
  const who = key.startsWith('address ') ? key : `device "${key}"`;
  return new RequestError(429, 'OTASIM_ERR_RATE_LIMITED',
    `too many requests from ${who}; retry after ${retryAfterSeconds(retryAfterMs)} s (server option --device-rate-limit)`);
}

/** Whole seconds for `Retry-After`, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
