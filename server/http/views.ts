/**
 * Store rows → the JSON the admin API returns (paku-protocol-facts §2.4.5–§2.4.8 field sets).
 * Timestamps are ISO-8601 strings, as the real service's `isoformat()` gives them.
 */
import type { z } from 'zod';
import type { DeviceView, ReleaseView, RolloutView, UpdateStatusView } from '../../protocol/payloads.js';
import type { DeviceRow, ReleaseRow, RolloutRow, UpdateStatusRow } from '../store/store.js';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function releaseView(r: ReleaseRow): z.infer<typeof ReleaseView> {
  return {
    version: r.version, device_model: r.device_model, file_size: r.file_size, checksum_sha256: r.checksum_sha256,
    is_signed: r.is_signed, created_at: iso(r.created_at), release_notes: r.release_notes,
  };
}

export function deviceView(d: DeviceRow): z.infer<typeof DeviceView> {
  return {
    device_id: d.device_id, device_model: d.device_model, current_firmware_version: d.current_firmware_version,
    last_seen: iso(d.last_seen), created_at: iso(d.created_at), mac_address: d.mac_address, groups: d.groups,
  };
}

export function statusView(s: UpdateStatusRow): z.infer<typeof UpdateStatusView> {
  return {
    device_id: s.device_id, firmware_version: s.firmware_version, status: s.status, error_message: s.error_message,
    progress_percent: s.progress_percent, started_at: iso(s.started_at), completed_at: iso(s.completed_at),
    reported_at: iso(s.reported_at),
  };
}

export function rolloutView(r: RolloutRow): z.infer<typeof RolloutView> {
  return {
    id: r.id, name: r.name, firmware_version: r.firmware_version, device_model: r.device_model,
    target_type: r.target_type, target_filter: r.target_filter, rollout_percentage: r.rollout_percentage,
    is_active: r.is_active, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
  };
}
