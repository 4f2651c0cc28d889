/**
 * Properties over random fault profiles: whatever goes wrong, the device is deterministic in
 * (seed, device id), never bricks, ends on the old or the new image, and never claims more than it
 * did (at most one result per attempt; success only when the new image runs).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FaultRule } from '../../simulator/faults/index.js';
import { Loopback, fileServer, image, sha256 } from './loopback.js';

const IMG = image('1.1.0');
const OFFER = { url: '/fw/1.1.0', version: '1.1.0', checksum: sha256(IMG) };
const server = fileServer({ '/fw/1.1.0': IMG });

type RuleInput = Omit<FaultRule, 'times' | 'requests' | 'xor' | 'after_ms' | 'after_update' | 'watchdog' | 'probability'> & Record<string, unknown>;

const rule: fc.Arbitrary<RuleInput> = fc.oneof(
  fc.record({ kind: fc.constant('drop'), at_byte: fc.integer({ min: 0, max: 45_000 }), requests: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('flaky'), probability: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('corrupt'), at_byte: fc.integer({ min: 0, max: 45_000 }) }),
  fc.record({ kind: fc.constant('power_loss'), phase: fc.constantFrom('download', 'write', 'erase', 'otadata', 'reboot'), at_byte: fc.integer({ min: 0, max: 60_000 }) }),
  fc.record({ kind: fc.constant('boot_crash'), mode: fc.constant('probability'), probability: fc.double({ min: 0, max: 1, noNaN: true }), after_ms: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ kind: fc.constant('boot_crash'), mode: fc.constant('always') }),
  fc.record({ kind: fc.constant('self_test_fail'), probability: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('pending_verify_hang'), watchdog: fc.constant(true) }),
  fc.record({ kind: fc.constant('clock_skew'), ms: fc.integer({ min: -1e9, max: 1e9 }) }),
  fc.record({ kind: fc.constant('broker_unreachable'), for_ms: fc.integer({ min: 0, max: 120_000 }) }),
) as fc.Arbitrary<RuleInput>;

function run(faults: RuleInput[], seed: number, id: string): Loopback {
  const d = new Loopback({ id, server, config: { seed }, profile: { faults: faults as never } }).start();
  d.offer(OFFER, 600_000);
  return d;
}

describe('properties under random faults', () => {
  it('deterministic, never bricked, old or new image, at most one result, success only on the new image', () => {
    fc.assert(fc.property(fc.array(rule, { maxLength: 3 }), fc.nat(), fc.stringMatching(/^[a-z0-9_]{1,12}$/), (faults, seed, id) => {
      const a = run(faults, seed, id);
      const b = run(faults, seed, id);
      expect(b.statusLog).toEqual(a.statusLog);
      expect(b.phases).toEqual(a.phases);
      expect(b.requests).toEqual(a.requests);

      expect(a.phases).not.toContain('bricked');
      expect(a.state.phase).toBe('idle');
      expect(['ota_0:1.0.0', 'ota_1:1.1.0']).toContain(a.running);
      const results = a.statusLog.filter((l) => l.startsWith('ota/result'));
      expect(results.length).toBeLessThanOrEqual(1);
      if (results[0]?.startsWith('ota/result ok')) {
        expect(results[0]).toBe('ota/result ok 1.1.0');
        expect(a.running).toBe('ota_1:1.1.0');
      }
      // A cold restart boots what the machine believes runs.
      const believed = a.running;
      a.pullPlug();
      a.run(5000);
      expect(a.running).toBe(believed);
    }), { numRuns: 300 });
  });
});
