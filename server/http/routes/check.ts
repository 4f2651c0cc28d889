/**
 * `GET /api/firmware/check?device_id&device_model&current_version` (seed 002 "Check for Updates";
 * paku-protocol-facts §2.4.1). The device is registered (or its version and last_seen refreshed),
 * then the deciding rollout (server/rollout/offer.ts) says which version it should run.
 */
import type { FastifyInstance } from 'fastify';
import { FirmwareCheckQuery, type FirmwareCheckResponse } from '../../../protocol/payloads.js';
import { decidingRollout } from '../../rollout/offer.js';
import type { HttpDeps } from '../deps.js';
import { parseInput } from '../validate.js';
import { meetsMinVersion } from '../../rollout/versions.js';

/** Most active rollouts of one model considered per check (newest first). */
export const MAX_ROLLOUTS_PER_CHECK = 100;

/** The relative download URL, as the real service gives it, plus `device_model` so models never collide (facts §6.22). */
export function downloadPath(version: string, deviceModel: string): string {
  return `/api/firmware/download/${encodeURIComponent(version)}?device_model=${encodeURIComponent(deviceModel)}`;
}

export function checkRoute(app: FastifyInstance, deps: HttpDeps): void {
  const { store, config } = deps;
  app.get('/api/firmware/check', async (req) => {
    const q = parseInput(FirmwareCheckQuery, req.query, 'query');
    const device = await store.checkIn({
      device_id: q.device_id, device_model: q.device_model, current_firmware_version: q.current_version,
    });
    // The device's registered model may differ from the one it sent (the real check-in never
    // changes it); target by what it says it is now.
    const asSent = { ...device, device_model: q.device_model };
    const rollouts = await store.listRollouts({ device_model: q.device_model, active: true, limit: MAX_ROLLOUTS_PER_CHECK });
    const rollout = decidingRollout(asSent, rollouts, config.bucketing);
    const none = (latest: string | null): FirmwareCheckResponse => ({
      update_available: false, current_version: q.current_version, latest_version: latest, download_url: null,
      file_size: null, size: null, checksum_sha256: null, release_notes: null,
    });
    if (rollout === undefined) return none((await store.latestRelease(q.device_model))?.version ?? null);
    const release = await store.getRelease(rollout.firmware_version, q.device_model);
    if (release === undefined) return none(null);
    if (release.version === q.current_version || !meetsMinVersion(q.current_version, release.min_version)) {
      return none(release.version);
    }
    await store.insertEvent({
      event_type: 'update_started', device_id: q.device_id, firmware_version: release.version,
      rollout_id: rollout.id, event_data: { from_version: q.current_version, source: 'check' },
    });
    const offer: FirmwareCheckResponse = {
      update_available: true, current_version: q.current_version, latest_version: release.version,
      download_url: downloadPath(release.version, release.device_model), file_size: release.file_size,
      size: release.file_size, checksum_sha256: release.checksum_sha256, release_notes: release.release_notes,
    };
    return offer;
  });
}
