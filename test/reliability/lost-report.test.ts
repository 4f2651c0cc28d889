/**
 * Regression (found by the crash-durability run): a device whose success report was lost — the
 * server killed before the commit, or an HTTP report sent while it was down — used to time out and
 * be offered the same version again; it refused the offer as not newer and reported a failure, so a
 * success counted as a failure and the phase's gate never passed. A device that announces the
 * plan's version now counts as a success, and is not offered again.
 */
import { describe, expect, it } from 'vitest';
import { PlanSpec } from '../../server/rollout/plan.js';
import { countTracks, initialState, step, type PlanState, type World } from '../../server/rollout/policy.js';

const spec = PlanSpec.parse({
  name: 'p', firmware_version: '2.0.0', device_model: 'esp32', phases: [{ percent: 100 }],
  gate: { min_reports: 3 }, device: { timeout_ms: 20_000, max_retries: 3, retry_backoff_ms: 1_000 },
});
const devices = (version: (id: string) => string): World['devices'] =>
  ['a', 'b', 'c'].map((device_id) => ({ device_id, current_firmware_version: version(device_id), groups: [] }));

function offerAll(): PlanState {
  const r = step(spec, initialState(0), { now: 0, devices: devices(() => '1.0.0'), reports: new Map(), minVersion: null });
  expect(r.offer.sort()).toEqual(['a', 'b', 'c']);
  return r.state;
}

describe('a device whose success report was lost', () => {
  it('counts as a success once it announces the version, and is not timed out or offered again', () => {
    const offered = offerAll();
    // 'a' reported success; 'b' runs 2.0.0 but its report never landed; 'c' is still on 1.0.0.
    const later = step(spec, offered, {
      now: 25_000, devices: devices((id) => (id === 'c' ? '1.0.0' : '2.0.0')),
      reports: new Map([['a', { status: 'success' as const, at: 5_000 }]]), minVersion: null,
    });
    expect(later.state.devices['b']?.state).toBe('success');
    expect(later.state.devices['c']?.state).toBe('retry');
    expect(later.decisions.filter((d) => d.kind === 'device_timed_out').map((d) => (d as { device_id: string }).device_id)).toEqual(['c']);
    const retry = step(spec, later.state, { now: 27_000, devices: devices((id) => (id === 'c' ? '1.0.0' : '2.0.0')), reports: new Map(), minVersion: null });
    expect(retry.offer).toEqual(['c']);
    expect(countTracks(retry.state.devices).success).toBe(2);
  });

  it('a device in retry that announces the version ends its retries as a success', () => {
    const offered = offerAll();
    const timedOut = step(spec, offered, { now: 21_000, devices: devices(() => '1.0.0'), reports: new Map(), minVersion: null });
    expect(countTracks(timedOut.state.devices).retry).toBe(3);
    const announced = step(spec, timedOut.state, { now: 21_500, devices: devices(() => '2.0.0'), reports: new Map(), minVersion: null });
    expect(announced.offer).toEqual([]);
    expect(countTracks(announced.state.devices).success).toBe(3);
  });

  it('a later failure report still wins over the announced version', () => {
    const offered = offerAll();
    const ok = step(spec, offered, { now: 2_000, devices: devices(() => '2.0.0'), reports: new Map(), minVersion: null });
    const rolledBack = step(spec, ok.state, {
      now: 3_000, devices: devices(() => '1.0.0'), reports: new Map([['a', { status: 'rolled_back' as const, at: 2_500 }]]), minVersion: null,
    });
    expect(rolledBack.state.devices['a']?.state).not.toBe('success');
  });
});
