/**
 * The scenario library's device and release faults (bad releases, crashes, self-tests, flaky
 * networks, power cuts, downgrades, tampered images, hung devices), run through the real runner:
 * each must pass, and its report must show what the fault did and what stopped it.
 */
import { describe, expect, it } from 'vitest';
import { runPassing } from './scenarios-kit.js';

describe('scenario library: device and release faults', { timeout: 240_000 }, () => {
  it('bad-firmware-halted: the policy pauses the plan inside phase 1 (10% of 300 devices)', async () => {
    const r = await runPassing('bad-firmware-halted');
    const took = r.fleet.versions['2.1.0'] ?? 0;
    const failed = r.fleet.errors.boot_crash ?? 0;
    expect(failed).toBeGreaterThanOrEqual(3);
    // Only phase 1's devices (about 30) were ever offered 2.1.0.
    expect(took + failed).toBeLessThanOrEqual(45);
    expect(r.phases.some((p) => p.rollout === 'bad-plan' && /paused/.test(p.state))).toBe(true);
  });

  it('boot-crash-rollback: 100 crashes, 100 bootloader rollbacks, all back on 1.0.0', async () => {
    const r = await runPassing('boot-crash-rollback');
    expect(r.fleet.counts['rolled back']).toBe(100);
    expect(r.fleet.errors).toEqual({ boot_crash: 100 });
    expect(r.fleet.versions).toEqual({ '1.0.0': 100 });
  });

  it('self-test-fail: a quarter of the fleet fails its self-test and rolls back, the rest keep 1.5.0', async () => {
    const r = await runPassing('self-test-fail');
    const failed = r.fleet.errors.self_test_failed ?? 0;
    expect(failed).toBeGreaterThanOrEqual(15);
    expect(failed).toBeLessThanOrEqual(50);
    expect(r.fleet.versions['1.0.0']).toBe(failed);
    expect(r.fleet.versions['1.5.0']).toBe(120 - failed);
  });

  it('flaky-network-resume: every cut download resumes and completes', async () => {
    const r = await runPassing('flaky-network-resume');
    expect(r.fleet.versions).toEqual({ '2.0.0': 150 });
    expect(r.fleet.errors).toEqual({});
    // Resumed with Range: well under twice the image per device even with cuts.
    expect(r.fleet.bytes).toBeLessThan(150 * 2 * 128 * 1024);
  });

  it('power-loss-write: every device reports interrupted once, then the retry completes', async () => {
    const r = await runPassing('power-loss-write');
    expect(r.fleet.errors).toEqual({ interrupted: 100 });
    expect(r.fleet.versions).toEqual({ '2.0.0': 100 });
  });

  it('downgrade-rejected: all 80 devices refuse 1.9.0', async () => {
    const r = await runPassing('downgrade-rejected');
    expect(r.fleet.errors).toEqual({ not_newer: 80 });
    expect(r.fleet.versions).toEqual({ '2.0.0': 80 });
  });

  it('tampered-image-rejected: the server refuses both bad uploads, the devices refuse the altered download', async () => {
    const r = await runPassing('tampered-image-rejected');
    const uploads = r.steps.filter((s) => s.kind === 'upload');
    expect(uploads.map((s) => s.status)).toEqual(['pass', 'pass', 'pass']);
    expect(r.fleet.versions).toEqual({ '1.0.0': 60 });
    expect(Object.values(r.fleet.errors).reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('stuck-devices-timeout: hung devices never report; their engine timeouts alone pause the plan', async () => {
    const r = await runPassing('stuck-devices-timeout');
    const hung = r.fleet.counts.verifying;
    expect(hung).toBeGreaterThanOrEqual(3);
    expect(r.fleet.counts.success).toBe(100 - hung);
    expect(r.fleet.errors).toEqual({});
  });
});
