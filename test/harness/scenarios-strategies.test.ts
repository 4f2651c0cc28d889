/**
 * The seeds' rollout strategies from the scenario library, run through the real runner on an
 * embedded server and in-memory broker: each must pass, and its report must show the numbers the
 * strategy promises (who got the release, how the canary grew).
 */
import { describe, expect, it } from 'vitest';
import { neverDecreases, peakBefore, runPassing } from './scenarios-kit.js';

describe('scenario library: rollout strategies', { timeout: 240_000 }, () => {
  it('test-devices: exactly the three named devices take 1.2.0', async () => {
    const r = await runPassing('test-devices');
    expect(r.fleet.versions).toEqual({ '1.0.0': 47, '1.2.0': 3 });
    expect(r.fleet.updateMs.count).toBe(3);
  });

  it('canary-10-25-50: each stage holds about its share, the set only grows, and full reaches all', async () => {
    const r = await runPassing('canary-10-25-50');
    const grows = r.steps.filter((s) => s.kind === 'set_percentage').map((s) => s.startMs);
    expect(grows).toHaveLength(3);
    const [to25, to50, to100] = grows as [number, number, number];
    // 200 devices: the sticky buckets of 10%, 25% and 50% (binomial spread of this seed allowed).
    const share = (t: number): number => peakBefore(r, '1.1.0', t) / 200;
    expect(share(to25)).toBeGreaterThanOrEqual(0.05);
    expect(share(to25)).toBeLessThanOrEqual(0.15);
    expect(share(to50)).toBeGreaterThan(share(to25));
    expect(share(to50)).toBeLessThanOrEqual(0.32);
    expect(share(to100)).toBeGreaterThan(share(to50));
    expect(share(to100)).toBeLessThanOrEqual(0.58);
    expect(neverDecreases(r, '1.1.0')).toBe(true);
    expect(r.fleet.versions).toEqual({ '1.1.0': 200 });
  });

  it('full-rollout: all 200 update once, with durations for the histogram', async () => {
    const r = await runPassing('full-rollout');
    expect(r.fleet.versions).toEqual({ '2.0.0': 200 });
    expect(r.fleet.updateDurationsMs).toHaveLength(200);
    expect(r.fleet.errors).toEqual({});
    expect(r.fleet.bytes).toBeGreaterThanOrEqual(200 * 64 * 1024);
  });

  it('group-targeting: the beta group updates, no one else', async () => {
    const r = await runPassing('group-targeting');
    const beta = r.fleet.versions['1.3.0-beta'] ?? 0;
    // Group membership is a 20% draw per device of 150.
    expect(beta).toBeGreaterThanOrEqual(15);
    expect(beta).toBeLessThanOrEqual(45);
    expect(r.fleet.updateMs.count).toBe(beta);
    expect((r.fleet.versions['1.0.0'] ?? 0) + beta).toBe(150);
  });

  it('mac-targeting: exactly the four devices named by MAC update', async () => {
    const r = await runPassing('mac-targeting');
    expect(r.fleet.versions).toEqual({ '1.0.0': 56, '1.0.1': 4 });
  });

  it('plan-canary-full: the engine advances 10% → 50% → 100% on its gate', async () => {
    const r = await runPassing('plan-canary-full');
    expect(r.fleet.versions).toEqual({ '3.0.0': 250 });
    const spans = r.phases.filter((p) => p.rollout === 'phased');
    expect(spans.length).toBeGreaterThanOrEqual(3);
    expect(neverDecreases(r, '3.0.0')).toBe(true);
  });
});
