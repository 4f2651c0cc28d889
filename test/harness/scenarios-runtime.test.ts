/**
 * The scenario library's runtime faults: a broker outage in the middle of a running plan and a
 * server restart between a plan's phases, run through the real runner. Each must pass with the whole fleet on the new release, and
 * the report must show that the fault hit the hard case: it began right after a wait that saw
 * downloads in flight and devices still waiting for their offer, inside the phase that was running,
 * and the plan completed only after it.
 */
import { describe, expect, it } from 'vitest';
import type { RunEvent, RunReport } from '../../harness/report/index.js';
import { runPassing } from './scenarios-kit.js';

/** The fault events of the run, in order. */
const faults = (r: RunReport): RunEvent[] => r.events.filter((e) => e.kind === 'fault');

/** The fault step came right after a wait that passed: its condition held when the fault began. */
function expectFaultAfterWait(r: RunReport): void {
  const i = r.steps.findIndex((s) => s.kind === 'fault');
  expect(i, JSON.stringify(r.steps)).toBeGreaterThan(0);
  expect(r.steps[i - 1]).toMatchObject({ kind: 'wait', status: 'pass' });
  expect(r.steps[i - 1]!.label).toContain('downloading >= 1');
}

/** The plan's span that ends in `completed` starts at or after `t`, and the fleet is all on 2.0.0 and succeeded. */
function expectCompletedAfter(r: RunReport, plan: string, t: number, devices: number): void {
  const done = r.phases.find((p) => p.rollout === plan && p.state === 'completed');
  expect(done, JSON.stringify(r.phases)).toBeDefined();
  expect(done!.startMs).toBeGreaterThanOrEqual(t);
  expect(r.fleet.versions).toEqual({ '2.0.0': devices });
  expect(r.fleet.counts.success).toBe(devices);
  expect(r.fleet.bricked).toBe(0);
}

describe('scenario library: runtime faults', { timeout: 240_000 }, () => {
  it('broker-outage: the outage cuts a running plan over MQTT alone, and every device still ends on 2.0.0', async () => {
    const r = await runPassing('broker-outage');
    expectFaultAfterWait(r);
    const [begins, ends] = faults(r);
    expect(begins?.detail, JSON.stringify(r.events)).toMatch(/^broker outage begins: \d+ clients disconnected/);
    expect(ends?.detail).toBe('broker outage ends');
    // Only a device rebooting into the new image has no session, and the plan lets 30 update at once.
    const dropped = Number(/(\d+) clients disconnected/.exec(begins!.detail)![1]);
    expect(dropped).toBeGreaterThanOrEqual(150 - 30);
    const running = r.phases.find((p) => p.rollout === 'through-outage' && p.state === 'running');
    expect(running!.startMs).toBeLessThanOrEqual(begins!.t);
    // No offer can cross a dead broker, so the devices that waited for theirs at the outage still
    // wait after it: offers had to flow again once the broker was back.
    const after = r.timeline.find((s) => s.t >= ends!.t);
    expect(after, 'a timeline sample after the outage').toBeDefined();
    expect(after!.states.idle).toBeGreaterThan(0);
    expectCompletedAfter(r, 'through-outage', ends!.t, 150);
  });

  it('server-restart: the restart lands between the plan\'s phases, and every device still ends on 2.0.0', async () => {
    const r = await runPassing('server-restart');
    const [closing, listening] = faults(r);
    expect(closing?.detail, JSON.stringify(r.events)).toBe('server restart: closing');
    expect(listening?.detail).toBe('server restart: listening again');
    // The restart comes after the plan was created and before its last phase finished.
    const created = r.steps.find((s) => s.kind === 'plan');
    expect(closing!.t).toBeGreaterThanOrEqual(created!.endMs);
    const before = r.timeline.filter((s) => s.t <= closing!.t).at(-1);
    expect(before!.versions['2.0.0'] ?? 0).toBeGreaterThan(0);
    expect(before!.versions['2.0.0'] ?? 0).toBeLessThan(200);
    expectCompletedAfter(r, 'across-restart', listening!.t, 200);
  });
});
