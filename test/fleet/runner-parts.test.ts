/** The runner's pure parts: the ramp on a virtual clock, the fold of phases into fleet states, outcomes, percentiles. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../protocol/clock.js';
import { UsageError } from '../../protocol/errors.js';
import { outcomeOf, parseRate, percentile, ramp, stateForPhase, type FleetState } from '../../simulator/fleet/index.js';

describe('ramp by rate', () => {
  it('starts device k at k/rate seconds from one timer, in order, and says when done', () => {
    const clock = new VirtualClock({ start: 1000 });
    const at: number[] = [];
    let done = false;
    ramp(clock, 250, 100, () => at.push(clock.now() - 1000), 10, () => { done = true; });
    expect(clock.pending).toBe(1);
    clock.advance(1000);
    expect(at.length).toBe(101); // devices 0 … 100 are due by t = 1 s
    clock.runUntilIdle();
    expect(at.length).toBe(250);
    expect(done).toBe(true);
    // Device k never starts before k/rate.
    at.forEach((t, k) => expect(t).toBeGreaterThanOrEqual(Math.floor((k * 1000) / 100) - 10));
  });

  it('parses rates per second and per minute, and refuses others', () => {
    expect(parseRate('2000/s')).toBe(2000);
    expect(parseRate('600/m')).toBe(10);
    expect(parseRate('50')).toBe(50);
    for (const bad of ['0/s', 'fast', '-1/s', '10/h']) expect(() => parseRate(bad)).toThrow(UsageError);
  });
});

describe('fleet states', () => {
  it('fold an update\'s phases into downloading → installing → rebooting → verifying, and keep the outcome until the next update', () => {
    const walk = (phases: Parameters<typeof stateForPhase>[0][], from: FleetState = 'starting'): FleetState[] => {
      const out: FleetState[] = [];
      let s = from;
      for (const p of phases) out.push(s = stateForPhase(p, s));
      return out;
    };
    expect(walk(['booting', 'idle', 'downloading', 'retry-wait', 'downloading', 'verifying', 'activating', 'rebooting', 'booting', 'self-test', 'marking', 'idle']))
      .toEqual(['starting', 'idle', 'downloading', 'downloading', 'downloading', 'installing', 'installing', 'rebooting', 'rebooting', 'verifying', 'verifying', 'verifying']);
    expect(walk(['idle', 'checking', 'idle'], 'success')).toEqual(['success', 'success', 'success']);
    expect(walk(['downloading'], 'failed')).toEqual(['downloading']);
    expect(stateForPhase('bricked', 'rebooting')).toBe('failed');
  });

  it('read outcomes from the device\'s result reports on both wire profiles and HTTP', () => {
    const mqtt = (payload: object): ReturnType<typeof outcomeOf> => outcomeOf({ kind: 'mqtt', topic: 'p/edge/d/ota/result', payload: JSON.stringify(payload), retain: false });
    expect(mqtt({ success: true })).toEqual({ state: 'success' });
    expect(mqtt({ success: false, reason: 'checksum_mismatch' })).toEqual({ state: 'failed', code: 'checksum_mismatch' });
    expect(mqtt({ success: false, reason: 'boot_crash' })).toEqual({ state: 'rolled back', code: 'boot_crash' });
    expect(mqtt({ success: false, message: 'watchdog: hung' })).toEqual({ state: 'rolled back', code: 'watchdog' });
    const http = (body: object): ReturnType<typeof outcomeOf> => outcomeOf({ kind: 'http', method: 'POST', url: '/x', body: JSON.stringify(body) });
    expect(http({ status: 'rolled_back', error_message: 'self_test_failed: x' })).toEqual({ state: 'rolled back', code: 'self_test_failed' });
    expect(http({ status: 'downloading' })).toBeNull();
    expect(outcomeOf({ kind: 'mqtt', topic: 'p/edge/d/ota/progress', payload: '{}', retain: false })).toBeNull();
    expect(outcomeOf({ kind: 'mqtt', topic: 'p/edge/d/ota/result', payload: 'not json', retain: false })).toBeNull();
  });
});

describe('percentiles', () => {
  it('are nearest-rank', () => {
    const s = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(s, 50), percentile(s, 95), percentile(s, 99), percentile(s, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 99)).toBe(7);
  });
});
