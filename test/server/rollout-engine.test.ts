/**
 * The rollout engine on a VirtualClock over a real PGlite store: a 24-hour soak runs in virtual
 * time, a restart mid-phase resumes in the same phase with its timers recomputed from the store,
 * and every decision lands as an `ota_events` row with its numbers. Devices are played by the
 * test: an offer port that records, and status rows written as the collector would.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../protocol/clock.js';
import type { UpdateStatusValue } from '../../protocol/payloads.js';
import { RolloutEngine } from '../../server/rollout/engine.js';
import type { PlanSpecInput } from '../../server/rollout/plan.js';
import type { PlanState } from '../../server/rollout/policy.js';
import { openStore } from '../../server/store/open.js';
import type { Store } from '../../server/store/store.js';

const HOUR = 3600_000;
const START = Date.parse('2026-06-01T00:00:00Z');
const logger = pino({ level: 'silent' });

let clock: VirtualClock;
let store: Store;
let offered: string[][];
let decisions: string[];

beforeEach(async () => {
  clock = new VirtualClock({ start: START });
  store = await openStore({ memory: true }, { clock: () => new Date(clock.now()) });
  offered = [];
  decisions = [];
  for (const v of ['1.0.0', '2.0.0']) {
    await store.insertRelease({ version: v, device_model: 'esp32', file_path: `sha256/${'0'.repeat(63)}${v[0]}`, file_size: 1, checksum_sha256: 'a'.repeat(64) });
    clock.advance(1000);
  }
  for (let i = 0; i < 20; i++) await store.checkIn({ device_id: `d${String(i).padStart(2, '0')}`, device_model: 'esp32', current_firmware_version: '1.0.0' });
}, 120_000);
afterEach(async () => {
  await store.close();
});

async function engine(pollMs = 10 * 60_000): Promise<RolloutEngine> {
  return RolloutEngine.create({
    store, clock, logger, pollMs,
    offer: async (ids) => { offered.push([...ids]); },
    metrics: { countRolloutDecision: (d) => decisions.push(d) },
  });
}
/** A device's report, as the server stores it (a success also sets the device's version, §2.4.3). */
async function report(id: string, status: UpdateStatusValue, version = '2.0.0'): Promise<void> {
  await store.insertStatus({ device_id: id, firmware_version: version, status, reported_at: new Date(clock.now()) });
  if (status === 'success') await store.setDeviceVersion(id, version);
}
/** Move virtual time, letting each step's store I/O finish before the next timer. */
const run = (e: RolloutEngine, ms: number): Promise<number> => clock.advanceAsync(ms, async () => {
  await e.idle();
  await new Promise((r) => setImmediate(r));
});

const plan = (over: Partial<PlanSpecInput> = {}): PlanSpecInput => ({
  name: 'soak', firmware_version: '2.0.0', device_model: 'esp32',
  phases: [{ device_ids: ['d00', 'd01', 'd02', 'd03'] }, { percent: 100 }],
  gate: { min_success_percent: 75, min_reports: 4, soak_ms: 24 * HOUR }, ...over,
});

describe('rollout engine on a virtual clock', () => {
  it('holds phase 1 through a 24-hour soak, then advances and records the decision with its numbers', async () => {
    await using e = await engine();
    await e.createPlan(plan({ device: { timeout_ms: 48 * HOUR } }));
    expect(offered).toEqual([['d00', 'd01', 'd02', 'd03']]);
    for (const id of ['d00', 'd01', 'd02']) await report(id, 'success');
    await report('d03', 'failed');
    await run(e, 23 * HOUR);
    expect((await e.status('soak')).phase).toBe(0);
    await run(e, 2 * HOUR);
    const s = await e.status('soak');
    expect(s.phase).toBe(1);
    expect(offered[1]).toHaveLength(16);
    expect(s.phases[0]?.counts).toMatchObject({ success: 3, failed: 1, completed: 4 });
    const advanced = s.decisions.find((d) => (d.data as { decision: string }).decision === 'phase_advanced');
    expect(advanced?.data).toMatchObject({ plan: 'soak', from: 0, to: 1, success: 3, reports: 4, success_percent: 75 });
    // The soak started when the 4th report arrived (first step after it) and lasted 24 h.
    expect(Date.parse(advanced!.at) - START).toBeGreaterThanOrEqual(24 * HOUR);
    expect(decisions).toContain('phase_advanced');
    const rollout = await store.getRollout('soak');
    expect(rollout?.target_filter?.device_ids).toHaveLength(19); // d03 failed: /check no longer offers it
  });

  it('a restart mid-phase resumes in the same phase, with timeouts recomputed from the stored state', async () => {
    const e1 = await engine();
    await e1.createPlan(plan({ name: 'restart', gate: { min_success_percent: 100, min_reports: 3 }, device: { timeout_ms: 2 * HOUR } }));
    await report('d00', 'success');
    await report('d01', 'downloading');
    await run(e1, 30 * 60_000);
    await e1.close();
    const before = (await store.getPlan('restart'))!.state as PlanState;
    expect(before.phase).toBe(0);

    clock.advance(60 * 60_000); // the server is down for an hour
    offered = [];
    await using e2 = await engine();
    await run(e2, 0);
    expect((await e2.status('restart')).phase).toBe(0);
    await report('d02', 'success');
    await run(e2, 10 * 60_000);
    expect((await e2.status('restart')).phase).toBe(0); // 2 reports, 3 needed
    await run(e2, 2 * HOUR); // d01 and d03 went silent: both time out, the gate sees 2/4 succeeded
    const s = await e2.status('restart');
    expect(s.phases[0]?.counts).toMatchObject({ success: 2, timed_out: 2 });
    expect(s.phase).toBe(0);
    expect(offered).toEqual([]); // nothing re-offered: max_retries 0
    const timedOut = await store.listEvents({ event_type: 'update_failed' });
    expect(timedOut.map((r) => r.device_id).sort()).toEqual(['d01', 'd03']);
  });

  it('a failure policy with rollback publishes the previous release as a tracked plan of its own', async () => {
    await using e = await engine(60_000);
    await e.createPlan(plan({ name: 'bad', gate: { min_success_percent: 90, min_reports: 4 },
      failure: { max_failed_count: 2, action: 'rollback' } }));
    await report('d00', 'success');
    await report('d01', 'rolled_back');
    await report('d02', 'failed');
    await run(e, 60_000);
    const s = await e.status('bad');
    expect(s.status).toBe('rolled_back');
    expect(s.rollback_plan).toBe('bad-rollback');
    const child = await e.status('bad-rollback');
    expect(child).toMatchObject({ kind: 'rollback', parent_id: s.id, spec: { firmware_version: '1.0.0', phases: [{ device_ids: ['d00'] }] } });
    expect(offered.at(-1)).toEqual(['d00']);
    // d03 was in flight at the trip and succeeds later: it joins the rollback.
    await report('d03', 'success');
    await run(e, 2 * 60_000);
    expect((await e.status('bad-rollback')).spec.phases[0]).toEqual({ device_ids: ['d00', 'd03'] });
    expect(offered.at(-1)).toEqual(['d03']);
    expect((await store.getRollout('bad'))?.is_active).toBe(false);
    const kinds = (await store.listEvents({ limit: 100 })).map((r) => (r.event_data as { decision?: string }).decision);
    expect(kinds).toEqual(expect.arrayContaining(['threshold_tripped', 'rollback_started', 'rollback_plan_created']));
    expect(decisions).toEqual(expect.arrayContaining(['threshold_tripped', 'rollback_started']));
  });

  it('deactivating the plan\'s rollout through the seeds\' endpoint cancels the plan', async () => {
    await using e = await engine(60_000);
    await e.createPlan(plan({ name: 'deact' }));
    await store.updateRollout('deact', { is_active: false });
    await run(e, 60_000);
    expect((await e.status('deact')).status).toBe('cancelled');
  });
});
