/**
 * The scenario library's runtime faults: a broker outage and a server restart in the middle of a
 * plan, run through the real runner. Each must pass; the report must show the fault as an event
 * inside the rollout and the whole fleet on the new release after it.
 */
import { describe, expect, it } from 'vitest';
import { runPassing } from './scenarios-kit.js';

describe('scenario library: runtime faults', { timeout: 240_000 }, () => {
  for (const [name, plan, devices] of [['broker-outage', 'through-outage', 150], ['server-restart', 'across-restart', 200]] as const) {
    it(`${name}: the fault lands mid-rollout and every device still ends on 2.0.0`, async () => {
      const r = await runPassing(name);
      expect(r.fleet.versions).toEqual({ '2.0.0': devices });
      expect(r.fleet.counts.success).toBe(devices);
      const fault = r.events.find((e) => e.kind.includes('fault') || e.kind.includes('outage') || e.kind.includes('restart'));
      expect(fault, JSON.stringify(r.events)).toBeDefined();
      // The fault comes after the rollout or plan was created and before the last device finished.
      const created = r.steps.find((s) => s.kind === 'rollout' || s.kind === 'plan');
      const lastWait = r.steps.filter((s) => s.kind === 'wait').at(-1);
      expect(fault!.t).toBeGreaterThanOrEqual(created!.endMs);
      expect(fault!.t).toBeLessThan(lastWait!.endMs);
      expect(r.phases.some((p) => p.rollout === plan)).toBe(true);
    });
  }
});
