/**
 * `GET /api/firmware/check?device_id&device_model&current_version` (seed 002 "Check for Updates";
 * paku-protocol-facts §2.4.1). The device is registered (or its version and last_seen refreshed),
 * then the deciding rollout (server/rollout/offer.ts) says which version it should run.
 *
 * A fleet polls this route, so it costs no database round-trip of its own: rollouts and
 * releases come from the OfferCache, and the check-in (plus the `update_started` event of an
 * offer) joins a group commit with every other check in flight. The answer is sent after that
 * commit. Unlike the real service, a check also records the model the device now reports.
 */
import type { FastifyInstance } from 'fastify';
import { FirmwareCheckQuery, type FirmwareCheckResponse } from '../../../protocol/payloads.js';
import type { DeviceAnnounce, NewOtaEvent, RolloutRow } from '../../store/store.js';
import { decidingRollout } from '../../rollout/offer.js';
import { meetsMinVersion } from '../../../protocol/versions.js';
import type { HttpDeps } from '../deps.js';
import type { GroupCommit } from '../group-commit.js';
import type { OfferCache } from '../offer-cache.js';
import { parseInput } from '../validate.js';

/** One check's writes. */
export interface CheckIn {
  readonly device: DeviceAnnounce;
  readonly event?: NewOtaEvent;
}

/** What the check route shares with the rest of the app. */
export interface CheckPath {
  readonly cache: OfferCache;
  readonly checkIns: GroupCommit<CheckIn>;
  readonly recent: RecentCheckIns;
}

/**
 * The last committed check-in of each device, so a device polling faster than
 * `resolutionMs` with nothing new to say costs no write: its row is rewritten only when its
 * model or version changes, or when its stored `last_seen` is `resolutionMs` old. The same holds
 * for the `update_started` event of a repeated offer. Bounded: forgets everything past `max` devices.
 */
export class RecentCheckIns {
  #seen = new Map<string, { key: string; at: number }>();

  /** @param now monotonic ms; @param resolutionMs 0 writes every check; @param max devices remembered */
  constructor(private readonly now: () => number, private readonly resolutionMs: number, private readonly max = 200_000) {}

  /** True when `id`'s check with this `key` (model, version, offer) was committed less than resolutionMs ago. */
  fresh(id: string, key: string): boolean {
    const e = this.#seen.get(id);
    return e !== undefined && e.key === key && this.now() - e.at < this.resolutionMs;
  }

  /** Record a committed check-in. */
  committed(id: string, key: string, at: number): void {
    if (this.resolutionMs === 0) return;
    if (this.#seen.size >= this.max) this.#seen.clear();
    this.#seen.set(id, { key, at });
  }
}

/** The relative download URL, as the real service gives it, plus `device_model` so models never collide (facts §6.22). */
export function downloadPath(version: string, deviceModel: string): string {
  return `/api/firmware/download/${encodeURIComponent(version)}?device_model=${encodeURIComponent(deviceModel)}`;
}

/** JSON schema of FirmwareCheckResponse, so fastify serialises it with a compiled stringifier. */
const CHECK_RESPONSE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['update_available', 'current_version', 'latest_version', 'download_url', 'file_size', 'size', 'checksum_sha256', 'release_notes'],
  properties: {
    update_available: { type: 'boolean' },
    current_version: { type: ['string', 'null'] },
    latest_version: { type: ['string', 'null'] },
    download_url: { type: ['string', 'null'] },
    file_size: { type: ['integer', 'null'] },
    size: { type: ['integer', 'null'] },
    checksum_sha256: { type: ['string', 'null'] },
    release_notes: { type: ['string', 'null'] },
  },
} as const;

/** Whether targeting needs the device's stored row (groups or MAC) for any of `rollouts`. */
function needsDeviceRow(rollouts: readonly RolloutRow[]): boolean {
  return rollouts.some((r) => r.target_type === 'group'
    || (r.target_type === 'specific' && (r.target_filter?.mac_addresses?.length ?? 0) > 0));
}

/** Flush a batch of check-ins in one transaction (the last check of a device wins). */
export function checkInFlusher(store: HttpDeps['store']): (items: CheckIn[]) => Promise<void> {
  return async (items) => {
    const devices = new Map<string, DeviceAnnounce>();
    const events: NewOtaEvent[] = [];
    for (const c of items) {
      devices.set(c.device.device_id, c.device);
      if (c.event !== undefined) events.push(c.event);
    }
    await store.ingest({ devices: [...devices.values()], events });
  };
}

export function checkRoute(app: FastifyInstance, deps: HttpDeps, path: CheckPath, now: () => number): void {
  const { store, config } = deps;
  const { cache, checkIns, recent } = path;
  /** Write the check-in (and offer event) unless the same one was committed moments ago. */
  const record = async (c: CheckIn, offered: string): Promise<void> => {
    const key = `${c.device.device_model}\u0000${c.device.current_firmware_version ?? ''}\u0000${offered}`;
    if (recent.fresh(c.device.device_id, key)) return;
    const at = now();
    await checkIns.add(c);
    recent.committed(c.device.device_id, key, at);
  };
  app.get('/api/firmware/check', { schema: { response: { 200: CHECK_RESPONSE_SCHEMA } } }, async (req) => {
    const q = parseInput(FirmwareCheckQuery, req.query, 'query');
    const checkIn: DeviceAnnounce = { device_id: q.device_id, device_model: q.device_model, current_firmware_version: q.current_version };
    const none = (latest: string | null): FirmwareCheckResponse => ({
      update_available: false, current_version: q.current_version, latest_version: latest, download_url: null,
      file_size: null, size: null, checksum_sha256: null, release_notes: null,
    });
    const rollouts = await cache.activeRollouts(q.device_model);
    const row = needsDeviceRow(rollouts) ? await store.getDevice(q.device_id) : undefined;
    const device = { device_id: q.device_id, device_model: q.device_model, mac_address: row?.mac_address ?? null, groups: row?.groups ?? [] };
    const rollout = decidingRollout(device, rollouts, config.bucketing);
    const release = rollout === undefined ? undefined : await cache.release(rollout.firmware_version, q.device_model);
    if (rollout === undefined || release === undefined) {
      const latest = rollout === undefined ? (await cache.latestRelease(q.device_model))?.version ?? null : null;
      await record({ device: checkIn }, '');
      return none(latest);
    }
    if (release.version === q.current_version || !meetsMinVersion(q.current_version, release.min_version)) {
      await record({ device: checkIn }, '');
      return none(release.version);
    }
    await record({
      device: checkIn,
      event: {
        event_type: 'update_started', device_id: q.device_id, firmware_version: release.version,
        rollout_id: rollout.id, event_data: { from_version: q.current_version, source: 'check' },
      },
    }, `${rollout.id}`);
    const offer: FirmwareCheckResponse = {
      update_available: true, current_version: q.current_version, latest_version: release.version,
      download_url: downloadPath(release.version, release.device_model), file_size: release.file_size,
      size: release.file_size, checksum_sha256: release.checksum_sha256, release_notes: release.release_notes,
    };
    return offer;
  });
}
