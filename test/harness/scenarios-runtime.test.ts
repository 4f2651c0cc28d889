/**
 * The scenario library's runtime faults: a broker outage and a server restart in the middle of a
 * plan, run through the real runner. Each must pass; the report must show the fault as an event
 * inside the rollout and the whole fleet on the new release after it.
 */
import { describe, expect, it } from 'vitest';
import { runPassing } from './scenarios-kit.js';

describe('scenario library: runtime faults', () => {
  for (const [name, plan] of [['broker-outage', 'through-outage'], ['server-restart', 'across-restart']] as const) {
    it(`${name}: the fault lands mid-plan and every device still ends on 2.0.0`, async () => {
      const r = await runPassing(name);
      expect(r.fleet.versions).toEqual({ '2.0.0': 200 });
      const fault = r.events.find((e) => e.kind.includes('fault') || e.kind.includes('outage') || e.kind.includes('restart'));
      expect(fault, JSON.stringify(r.events)).toBeDefined();
      const spans = r.phases.filter((p) => p.rollout === plan);
      const start = Math.min(...spans.map((p) => p.startMs));
      const end = Math.max(...spans.map((p) => p.endMs ?? r.durationMs));
      expect(fault!.t).toBeGreaterThan(start);
      expect(fault!.t).toBeLessThan(end);
    });
  }
});
