/**
 * What `/api/firmware/check` and downloads read on every request — a model's active rollouts, its
 * releases — cached so a fleet polling and downloading does not cost a database round-trip per
 * request. Writes
 * through this server (upload, rollout create/PATCH/deactivate) invalidate at once; changes made
 * by another server sharing the database show within `ttlMs`. Concurrent misses share one read.
 */
import type { ReleaseRow, RolloutRow, Store } from '../store/store.js';

/** Most active rollouts of one model considered (newest first). */
export const MAX_ACTIVE_ROLLOUTS = 100;

interface Entry<T> {
  readonly at: number;
  readonly value: Promise<T>;
}

export class OfferCache {
  #rollouts = new Map<string, Entry<RolloutRow[]>>();
  #releases = new Map<string, Entry<ReleaseRow | undefined>>();
  #latest = new Map<string, Entry<ReleaseRow | undefined>>();

  /**
   * @param now monotonic milliseconds (a port: tests pass a manual clock)
   * @param ttlMs how long an entry is served; 0 disables caching
   */
  constructor(private readonly store: Store, private readonly now: () => number, private readonly ttlMs: number) {}

  /** The model's active rollouts, newest first. */
  activeRollouts(deviceModel: string): Promise<RolloutRow[]> {
    return this.#get(this.#rollouts, deviceModel,
      () => this.store.listRollouts({ device_model: deviceModel, active: true, limit: MAX_ACTIVE_ROLLOUTS }));
  }

  /** The release (version, model); without a model, the newest release of that version (download without `device_model`). */
  release(version: string, deviceModel?: string): Promise<ReleaseRow | undefined> {
    return this.#get(this.#releases, `${deviceModel ?? ''}\u0000${version}`, () => this.store.getRelease(version, deviceModel));
  }

  /** The model's most recently uploaded release. */
  latestRelease(deviceModel: string): Promise<ReleaseRow | undefined> {
    return this.#get(this.#latest, deviceModel, () => this.store.latestRelease(deviceModel));
  }

  /** Forget everything (after a write that changes rollouts or releases). */
  invalidate(): void {
    this.#rollouts.clear();
    this.#releases.clear();
    this.#latest.clear();
  }

  #get<T>(map: Map<string, Entry<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const t = this.now();
    const hit = map.get(key);
    if (hit !== undefined && t - hit.at < this.ttlMs) return hit.value;
    const value = load();
    if (this.ttlMs > 0) {
      map.set(key, { at: t, value });
      // A failed read is not cached. (invalidate() clears the map, so a read that raced a write
      // is never served after the write's invalidation.)
      value.catch(() => {
        if (map.get(key)?.value === value) map.delete(key);
      });
    }
    return value;
  }
}
