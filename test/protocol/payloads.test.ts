/** Payload schemas against the exact shapes of the real firmware, the seeds and the real service. */
import { describe, expect, it } from 'vitest';
import {
  EdgeStatusMessage, FirmwareCheckQuery, FirmwareUploadQuery, OtaCommand, OtaProgressMessage, OtaResultMessage, OtaStatusMessage,
  RolloutConfig, RolloutPatch, Slug, UpdateStatusBody, progressStatus, replyVersion, ReleasesQuery, DevicesQuery, UpdateStatusQuery,
} from '../../protocol/payloads.js';

describe('MQTT payloads (device side is lenient: unknown keys kept)', () => {
  it('the workflow\'s command (§1.3)', () => {
    const c = { url: 'http://s/api/firmware/download/1.4.3?device_model=m', version: '1.4.3', checksum: 'a'.repeat(64) };
    expect(OtaCommand.parse(c)).toEqual(c);
    expect(OtaCommand.safeParse({ version: '1' }).success).toBe(false); // url is the only required key
    expect(OtaCommand.safeParse({ url: '' }).success).toBe(false);
  });

  it('the real ack, progress and result (§1.4–§1.6), including the pre-NTP empty timestamp', () => {
    expect(OtaStatusMessage.parse({ timestamp: '', status: 'accepted', current_version: '1.4.2', target_version: '1.4.3' }).target_version).toBe('1.4.3');
    const p = OtaProgressMessage.parse({ timestamp: '2025-12-26T14:03:11+02:00', state: 'Downloading', percent: 42, downloaded: 420, total: 1000, elapsed_ms: 900 });
    expect(p.percent).toBe(42);
    expect(OtaProgressMessage.safeParse({ state: 'Downloading', percent: 101 }).success).toBe(false);
    const r = OtaResultMessage.parse({ timestamp: '', current_version: '1.4.2', target_version: '1.4.3', success: false, result_code: 3, message: 'Verification failed', extra: 1 });
    expect(r).toMatchObject({ result_code: 3, extra: 1 });
    expect(OtaResultMessage.safeParse({ version: '1', message: 'x' }).success).toBe(false); // success is required
  });

  it('the seed 003 result shape {success, version, message, timestamp}', () => {
    const r = OtaResultMessage.parse({ success: true, version: '1.2.0', message: 'ok', timestamp: '2025-01-01T00:00:00Z' });
    expect(replyVersion(r)).toBe('1.2.0');
    expect(replyVersion({ target_version: 'b', version: 'a' })).toBe('b');
    expect(replyVersion({})).toBe('unknown');
  });

  it('edge status and its LWT (§1.1, §1.7)', () => {
    expect(EdgeStatusMessage.parse({ online: false })).toEqual({ online: false });
    const s = EdgeStatusMessage.parse({ online: true, device_id: 'ESP32-20E955A0', mac_address: 'AA:BB:CC:DD:EE:FF', firmware_version: '1.4.2',
      device_model: 'lilygo-t-display-s3', signal_strength_dbm: -60, uptime_seconds: 5, mqtt_broker: 'LOCAL', active_scenario: 'default' });
    expect(s.device_model).toBe('lilygo-t-display-s3');
    expect(EdgeStatusMessage.safeParse({ device_id: 'x' }).success).toBe(false);
  });

  it('maps progress states as collector.py does, case-insensitively', () => {
    expect(['Checking', 'Downloading', 'Complete', 'Failed', 'downloading'].map(progressStatus)).toEqual(Array(5).fill('downloading'));
    expect(progressStatus('Verifying')).toBe('downloaded');
    expect(progressStatus('Installing')).toBe('installing');
    expect(progressStatus('Rolled back')).toBe('rolled_back');
  });
});

describe('HTTP bodies (operator side is strict)', () => {
  it('slugs refuse traversal and separators', () => {
    for (const ok of ['1.2.0', 'a1b2c3d-20251208-153045', 'esp32_s3', 'v1.0.0-rc.1']) expect(Slug.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', '1.0 ', 'x'.repeat(129), 'ä', '%2e%2e']) expect(Slug.safeParse(bad).success, bad).toBe(false);
  });

  it('check query needs all three fields', () => {
    expect(FirmwareCheckQuery.safeParse({ device_id: 'esp32_001', device_model: 'esp32', current_version: '1.0.0' }).success).toBe(true);
    expect(FirmwareCheckQuery.safeParse({ device_id: 'esp32_001', device_model: 'esp32' }).success).toBe(false);
    expect(FirmwareCheckQuery.safeParse({ device_id: 'a/b', device_model: 'esp32', current_version: '1' }).success).toBe(false);
  });

  it('upload query: the seed curl\'s query, is_signed as text', () => {
    expect(FirmwareUploadQuery.parse({ version: '1.2.0', device_model: 'esp32', is_signed: 'false' })).toEqual({ version: '1.2.0', device_model: 'esp32', is_signed: false });
    expect(FirmwareUploadQuery.parse({ version: '1.0.0', device_model: 'esp32', is_signed: 'true', release_notes: 'Initial release' }).is_signed).toBe(true);
    expect(FirmwareUploadQuery.safeParse({ version: '../../etc', device_model: 'esp32' }).success).toBe(false);
    expect(FirmwareUploadQuery.safeParse({ version: '1', device_model: 'esp32', is_signed: 'maybe' }).success).toBe(false);
    expect(FirmwareUploadQuery.safeParse({ version: '1', device_model: 'esp32', surprise: 'x' }).success).toBe(false);
  });

  it('every rollout body of seeds 001/002 parses, with the real defaults', () => {
    const bodies = [
      { name: 'v1.2.0-test', firmware_version: '1.2.0', device_model: 'esp32', target_type: 'specific', target_filter: { device_ids: ['esp32_001'] }, is_active: true },
      { name: 'v1.2.0-canary', firmware_version: '1.2.0', device_model: 'esp32', target_type: 'canary', rollout_percentage: 10, is_active: true },
      { name: 'v1.0.0-warehouse-sensors', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'group',
        target_filter: { groups: ['location:warehouse', 'function:sensor'] }, rollout_percentage: 100, is_active: true },
    ];
    for (const b of bodies) expect(RolloutConfig.safeParse(b).success, b.name).toBe(true);
    expect(RolloutConfig.parse({ name: 'n', firmware_version: '1', device_model: 'm', target_type: 'all' })).toMatchObject({ rollout_percentage: 100, is_active: true });
    // The workflow's misspelt field is refused here rather than silently dropped (§6 quirk 19).
    expect(RolloutConfig.safeParse({ name: 'n', firmware_version: '1', device_model: 'm', target_type: 'specific', target_device_ids: ['a'] }).success).toBe(false);
    expect(RolloutConfig.safeParse({ name: 'n', firmware_version: '1', device_model: 'm', target_type: 'everyone' }).success).toBe(false);
    expect(RolloutConfig.safeParse({ name: 'n', firmware_version: '1', device_model: 'm', target_type: 'all', rollout_percentage: 101 }).success).toBe(false);
  });

  it('PATCH needs at least one known field (seed 002 phase 2 body parses)', () => {
    expect(RolloutPatch.parse({ rollout_percentage: 100 })).toEqual({ rollout_percentage: 100 });
    expect(RolloutPatch.safeParse({}).success).toBe(false);
    expect(RolloutPatch.safeParse({ name: 'x' }).success).toBe(false);
  });

  it('update-status body: the UpdateStatus statuses and percent range', () => {
    expect(UpdateStatusBody.safeParse({ device_id: 'd', firmware_version: '1', status: 'downloading', progress_percent: 50 }).success).toBe(true);
    expect(UpdateStatusBody.safeParse({ device_id: 'd', firmware_version: '1', status: 'bogus' }).success).toBe(false);
    expect(UpdateStatusBody.safeParse({ device_id: 'd', firmware_version: '1', status: 'failed', progress_percent: -1 }).success).toBe(false);
  });

  it('list limits: defaults and ranges of the real service (§2.4.5, §2.4.7, §2.4.8)', () => {
    expect(ReleasesQuery.parse({}).limit).toBe(10);
    expect(DevicesQuery.parse({}).limit).toBe(50);
    expect(UpdateStatusQuery.parse({ limit: '500' }).limit).toBe(500);
    expect(ReleasesQuery.safeParse({ limit: '101' }).success).toBe(false);
    expect(DevicesQuery.safeParse({ limit: '0' }).success).toBe(false);
    expect(UpdateStatusQuery.safeParse({ limit: 'ten' }).success).toBe(false);
  });
});
