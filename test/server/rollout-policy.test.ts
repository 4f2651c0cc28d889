/**
 * The rollout policy as tables (issue 6 "Done when"): each rule and its edge cases, as pure
 * steps over a world of devices and reports. No store, no clock: `now` is a number.
 */
import { describe, expect, it } from 'vitest';
import { RequestError } from '../../protocol/errors.js';
import type { UpdateStatusValue } from '../../protocol/payloads.js';
import { applyAction, setPhasePercent } from '../../server/rollout/actions.js';
import { PlanSpec, phaseTarget, inTarget, type PlanSpecInput } from '../../server/rollout/plan.js';
import { countTracks, initialState, step, type PlanState, type Report, type StepResult, type World } from '../../server/rollout/policy.js';

const MIN = 60_000;

function spec(over: Partial<PlanSpecInput> = {}): PlanSpec {
  return PlanSpec.parse({ name: 'p', firmware_version: '2.0.0', device_model: 'esp32', phases: [{ percent: 10 }, { percent: 100 }], ...over });
}
const ids = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `dev-${String(i + from).padStart(4, '0')}`);
const fleet = (names: string[], groups: Record<string, string[]> = {}): World['devices'] =>
  names.map((device_id) => ({ device_id, current_firmware_version: '1.0.0', groups: groups[device_id] ?? [] }));

/** A small harness: the world, and reports written as devices would. */
class Sim {
  state: PlanState;
  reports = new Map<string, Report>();
  devices: World['devices'];
  now = 1_000;
  constructor(readonly spec: PlanSpec, devices: World['devices']) {
    this.state = initialState(this.now);
    this.devices = devices;
  }
  step(): StepResult {
    const r = step(this.spec, this.state, { now: this.now, devices: this.devices, reports: this.reports, minVersion: null });
    this.state = r.state;
    return r;
  }
  report(id: string, status: UpdateStatusValue): void {
    this.reports.set(id, { status, at: this.now });
  }
  offered(): string[] {
    return Object.keys(this.state.devices);
  }
}

describe('plan validation', () => {
  it.each([
    ['percent phases that do not grow', [{ percent: 10 }, { percent: 10 }], /percent 10 does not grow/],
    ['percent phases that shrink', [{ percent: 50 }, { percent: 20 }], /does not grow/],
    ['a device list that adds nobody', [{ device_ids: ['a', 'b'] }, { device_ids: ['b'] }], /every id is in an earlier phase/],
    ['a group phase that adds no group', [{ groups: ['eu'] }, { groups: ['eu'] }], /every group/],
    ['anything after 100%', [{ percent: 100 }, { device_ids: ['a'] }], /100%/],
  ])('refuses %s', (_what, phases, message) => {
    const r = PlanSpec.safeParse({ name: 'p', firmware_version: '2', device_model: 'esp32', phases });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(message);
  });
  it.each([
    ['a success percent above 100', { gate: { min_success_percent: 101 } }],
    ['a negative failure percent', { failure: { max_failed_percent: -1 } }],
    ['a failure policy with no threshold', { failure: { action: 'pause' } }],
    ['zero max_concurrent', { device: { max_concurrent: 0 } }],
    ['a percent phase of 0', { phases: [{ percent: 0 }] }],
  ])('refuses %s', (_what, over) => {
    expect(PlanSpec.safeParse({ name: 'p', firmware_version: '2', device_model: 'esp32', phases: [{ percent: 10 }], ...over }).success).toBe(false);
  });
  it('mixes kinds: a device list, then groups, then percentages, cumulatively', () => {
    const s = spec({ phases: [{ device_ids: ['x'] }, { groups: ['eu'] }, { percent: 50 }] });
    const t1 = phaseTarget(s.phases, 1);
    const rel = { device_model: 'esp32', firmware_version: '2.0.0' };
    expect(inTarget(t1, { device_id: 'x', current_firmware_version: null }, rel)).toBe(true);
    expect(inTarget(t1, { device_id: 'y', groups: ['eu'], current_firmware_version: null }, rel)).toBe(true);
    expect(inTarget(t1, { device_id: 'z', groups: ['us'], current_firmware_version: null }, rel)).toBe(false);
  });
});

describe('offers and the success gate', () => {
  it('offers the first phase only, then advances when every reporting device succeeded', () => {
    const sim = new Sim(spec({ gate: { min_success_percent: 90, min_reports: 3 } }), fleet(ids(200)));
    const first = sim.step();
    expect(first.offer.length).toBeGreaterThan(5);
    expect(first.offer.length).toBeLessThan(40); // ~10% of 200 by sticky bucket
    for (const id of first.offer) sim.report(id, 'success');
    sim.now += 1;
    const second = sim.step();
    expect(second.decisions).toContainEqual(expect.objectContaining({ kind: 'phase_advanced', from: 0, to: 1, success: first.offer.length, success_percent: 100 }));
    expect(second.offer.length).toBe(200 - first.offer.length);
    expect(sim.state.phase).toBe(1);
  });

  it('thresholds with too few reports: the gate waits for min_reports', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(5) }, { device_ids: ids(5, 5) }], gate: { min_success_percent: 50, min_reports: 4 } }), fleet(ids(10)));
    sim.step();
    for (const id of ids(3)) sim.report(id, 'success');
    sim.now += 1;
    expect(sim.step().decisions).toEqual([]);
    expect(sim.state.phase).toBe(0);
    sim.report('dev-0003', 'failed');
    sim.now += 1;
    const r = sim.step();
    expect(r.decisions).toContainEqual(expect.objectContaining({ kind: 'phase_advanced', reports: 4, success: 3, success_percent: 75 }));
  });

  it('devices that never report do not block the gate, and time out into failures', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(10) }, { device_ids: ids(10, 10) }], gate: { min_success_percent: 80, min_reports: 8 },
      device: { timeout_ms: 10 * MIN } }), fleet(ids(20)));
    sim.step();
    for (const id of ids(8)) sim.report(id, 'success');
    sim.now += MIN;
    const r = sim.step();
    expect(r.decisions.map((d) => d.kind)).toEqual(['phase_advanced']); // 2 silent, 8/8 reporting succeeded
    expect(r.wakeAt).toBe(1_000 + 10 * MIN); // the silent ones' timeout
    sim.now = r.wakeAt!;
    const t = sim.step();
    expect(t.decisions.filter((d) => d.kind === 'device_timed_out').map((d) => (d as { device_id: string }).device_id)).toEqual(['dev-0008', 'dev-0009']);
    expect(countTracks(sim.state.devices, 0)).toMatchObject({ success: 8, timed_out: 2 });
  });

  it('devices that join late are offered in the phase that is running when they appear', () => {
    const sim = new Sim(spec({ phases: [{ groups: ['canary'] }, { percent: 100 }], gate: { min_success_percent: 100, min_reports: 1 } }),
      fleet(ids(4), { 'dev-0000': ['canary'] }));
    expect(sim.step().offer).toEqual(['dev-0000']);
    sim.devices = [...sim.devices, ...fleet(['late-1'], { 'late-1': ['canary'] })];
    sim.now += 1;
    const r = sim.step();
    expect(r.offer).toEqual(['late-1']);
    expect(sim.state.devices['late-1']?.phase).toBe(0);
    sim.report('dev-0000', 'success');
    sim.now += 1;
    // late-1 is still in flight; 1 of 1 reporting device succeeded: the gate counts reporting devices only.
    expect(sim.step().decisions).toContainEqual(expect.objectContaining({ kind: 'phase_advanced', from: 0, reports: 1 }));
    expect(sim.state.phase).toBe(1);
    expect(sim.state.devices['late-1']).toMatchObject({ phase: 0, state: 'offered' });
  });

  it('a percentage raised during a phase keeps the devices already in and offers only the new ones', () => {
    const sim = new Sim(spec({ phases: [{ percent: 10 }, { percent: 100 }], gate: { min_success_percent: 100, min_reports: 1000 } }), fleet(ids(300)));
    const before = new Set(sim.step().offer);
    const patched = setPhasePercent(sim.spec, sim.state, 30);
    expect(patched.record).toMatchObject({ action: 'set_percent', percent: 30, phase: 0 });
    const s2 = new Sim(patched.spec, sim.devices);
    s2.state = sim.state;
    const added = s2.step().offer;
    expect(added.length).toBeGreaterThan(30);
    expect(added.some((id) => before.has(id))).toBe(false);
    expect(s2.state.phase).toBe(0);
    expect(() => setPhasePercent(sim.spec, sim.state, 100)).toThrow(/does not grow/);
  });

  it('a soak holds the gate for soak_ms; a failure during the soak restarts it', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(3) }, { device_ids: ids(3, 3) }], gate: { min_success_percent: 60, min_reports: 2, soak_ms: 24 * 3600_000 },
      device: { timeout_ms: 72 * 3600_000 } }), fleet(ids(6)));
    sim.step();
    sim.report('dev-0000', 'success');
    sim.report('dev-0001', 'success');
    sim.now += 1;
    const r = sim.step();
    expect(r.wakeAt).toBe(sim.now + 24 * 3600_000);
    sim.now += 12 * 3600_000;
    sim.report('dev-0002', 'failed');
    sim.step(); // 2/3 = 66.7% still holds
    sim.report('dev-0001', 'rolled_back'); // 1/3 now: the gate drops, soak restarts
    sim.now += 1;
    sim.step();
    expect(sim.state.gate_met_at).toBeNull();
    sim.now += 24 * 3600_000;
    expect(sim.step().decisions).toEqual([]);
    expect(sim.state.phase).toBe(0);
  });

  it('manual advance waits for approval, then approve starts the next phase', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ['dev-0000'] }, { device_ids: ['dev-0001'] }], advance: 'manual' }), fleet(ids(2)));
    sim.step();
    sim.report('dev-0000', 'success');
    sim.now += 1;
    expect(sim.step().decisions).toContainEqual(expect.objectContaining({ kind: 'gate_passed', phase: 0 }));
    expect(sim.state.status).toBe('awaiting_approval');
    sim.now += 1;
    expect(sim.step().offer).toEqual([]);
    sim.state = applyAction(sim.spec, sim.state, 'approve', sim.now).state;
    expect(sim.step().offer).toEqual(['dev-0001']);
    expect(() => applyAction(sim.spec, sim.state, 'approve', sim.now)).toThrow(RequestError);
  });
});

describe('failure policy', () => {
  const trip = (sim: Sim, fail: string[], ok: string[]): StepResult => {
    for (const id of fail) sim.report(id, 'failed');
    for (const id of ok) sim.report(id, 'success');
    sim.now += 1;
    return sim.step();
  };

  it('a percentage trips only once min_completed devices completed', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(20) }, { percent: 100 }], failure: { max_failed_percent: 20, min_completed: 10, action: 'pause' } }), fleet(ids(40)));
    sim.step();
    expect(trip(sim, ids(3), ids(2, 3)).decisions).toEqual([]); // 60% failed of 5 completed: too few
    const r = trip(sim, [], ids(5, 5)); // 3 of 10 = 30% > 20%
    expect(r.decisions).toEqual([expect.objectContaining({ kind: 'threshold_tripped', action: 'pause', failures: 3, completed: 10, failed_percent: 30 })]);
    expect(sim.state.status).toBe('paused');
    sim.now += 1;
    expect(sim.step().offer).toEqual([]);
  });

  it('an absolute count trips with any sample, and resume re-arms on new failures only', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(10) }, { percent: 100 }], failure: { max_failed_count: 2, action: 'pause' } }), fleet(ids(10)));
    sim.step();
    expect(trip(sim, ids(2), []).decisions[0]).toMatchObject({ kind: 'threshold_tripped', failures: 2, completed: 2 });
    sim.state = applyAction(sim.spec, sim.state, 'resume', sim.now).state;
    expect(sim.step().decisions).toEqual([]);
    expect(trip(sim, ['dev-0005'], []).decisions[0]).toMatchObject({ kind: 'threshold_tripped', failures: 3 });
  });

  it('rollback hands over the devices that took the new image, then the in-flight ones that succeed later', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(10) }, { percent: 100 }], failure: { max_failed_count: 2, action: 'rollback' } }), fleet(ids(10)));
    sim.step();
    sim.report('dev-0000', 'success');
    sim.report('dev-0001', 'success');
    const r = trip(sim, ['dev-0002', 'dev-0003'], []);
    expect(r.decisions.map((d) => d.kind)).toEqual(['threshold_tripped', 'rollback_started']);
    expect(r.rollback).toEqual(['dev-0000', 'dev-0001']);
    expect(sim.state.status).toBe('rolled_back');
    const late = trip(sim, [], ['dev-0004']);
    expect(late.rollback).toEqual(['dev-0004']);
    expect(late.offer).toEqual([]);
  });

  it('a device that rolls back after it reported success counts as a failure', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(2) }, { percent: 100 }], failure: { max_failed_count: 1, action: 'abort' } }), fleet(ids(4)));
    sim.step();
    sim.report('dev-0000', 'success');
    sim.now += 1;
    sim.step();
    expect(countTracks(sim.state.devices).success).toBe(1);
    sim.now += 1;
    sim.report('dev-0000', 'rolled_back');
    const r = sim.step();
    expect(countTracks(sim.state.devices)).toMatchObject({ success: 0, rolled_back: 1 });
    expect(r.decisions[0]).toMatchObject({ kind: 'threshold_tripped', action: 'abort', failures: 1 });
    expect(sim.state.status).toBe('aborted');
  });
});

describe('per-device controls', () => {
  it('retries a failure after backoff doubling, up to max_retries, then the failure is final', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ['dev-0000'] }], device: { max_retries: 2, retry_backoff_ms: MIN, timeout_ms: 60 * MIN } }), fleet(ids(1)));
    sim.step();
    sim.report('dev-0000', 'failed');
    let r = sim.step();
    expect(r.wakeAt).toBe(sim.now + MIN);
    sim.now = r.wakeAt!;
    expect(sim.step().offer).toEqual(['dev-0000']);
    sim.now += 5;
    sim.report('dev-0000', 'failed');
    r = sim.step();
    expect(r.wakeAt).toBe(sim.now + 2 * MIN);
    sim.now = r.wakeAt!;
    expect(sim.step().offer).toEqual(['dev-0000']);
    sim.now += 5;
    sim.report('dev-0000', 'failed');
    r = sim.step();
    expect(sim.state.devices['dev-0000']).toMatchObject({ state: 'failed', attempts: 3 });
    expect(r.offer).toEqual([]);
  });

  it('max_concurrent bounds devices in flight; a completion frees a slot', () => {
    const sim = new Sim(spec({ phases: [{ percent: 100 }], device: { max_concurrent: 3 } }), fleet(ids(10)));
    expect(sim.step().offer).toHaveLength(3);
    sim.now += 1;
    expect(sim.step().offer).toHaveLength(0);
    sim.report(sim.offered()[0]!, 'success');
    sim.now += 1;
    expect(sim.step().offer).toHaveLength(1);
  });

  it('offers_per_minute bounds offers in any 60 s window and wakes when the window reopens', () => {
    const sim = new Sim(spec({ phases: [{ percent: 100 }], device: { offers_per_minute: 4 } }), fleet(ids(10)));
    const r = sim.step();
    expect(r.offer).toHaveLength(4);
    expect(r.wakeAt).toBe(sim.now + MIN);
    sim.now += MIN - 1;
    expect(sim.step().offer).toHaveLength(0);
    sim.now += 1;
    expect(sim.step().offer).toHaveLength(4);
  });
});

/**
 * Regression (found by a server-restart durability run): the last phase completed on its gate while
 * devices waited in retry backoff, and the completed plan dropped their retries (7 of 200 devices
 * never got the version). A completed plan now means every targeted device reached a final outcome.
 */
describe('plan completion waits for every device to reach a final outcome', () => {
  const controls = { max_retries: 2, retry_backoff_ms: MIN, timeout_ms: 10 * MIN };
  const gate = { min_success_percent: 80, min_reports: 4 };
  /** Steps `sim` until nothing more is due (at most `limit` wakes); outcomes are reported per offer. */
  const settle = (sim: Sim, outcome: (id: string, attempt: number) => UpdateStatusValue | null, limit = 20): StepResult[] => {
    const out: StepResult[] = [];
    for (let i = 0; i < limit; i++) {
      const r = sim.step();
      out.push(r);
      sim.now += 1;
      for (const id of r.offer) {
        const status = outcome(id, sim.state.devices[id]!.attempts);
        if (status !== null) sim.report(id, status);
      }
      if (r.offer.length > 0) continue;
      if (r.wakeAt === null || sim.state.status === 'completed') break;
      sim.now = Math.max(sim.now, r.wakeAt);
    }
    return out;
  };
  const completions = (rs: StepResult[]): unknown[] => rs.flatMap((r) => r.decisions).filter((d) => d.kind === 'plan_completed');

  type Outcome = (attempt: number) => UpdateStatusValue | null;
  it.each<[string, Outcome, Partial<ReturnType<typeof countTracks>>, number]>([
    ['a retry that then succeeds', (attempt) => (attempt >= 2 ? 'success' : 'failed'), { success: 5, failed: 0 }, 2],
    ['a device whose retries run out', () => 'failed', { success: 4, failed: 1 }, 3],
    ['a device that never reports, retried until it times out for good', () => null, { success: 4, timed_out: 1 }, 3],
  ])('last phase with %s: completes only after its last attempt', (_what, last, counts, attempts) => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(5) }], gate, device: controls }), fleet(ids(5)));
    const rs = settle(sim, (id, attempt) => (id === 'dev-0004' ? last(attempt) : 'success'));
    // The gate (4 of 5 completed, all succeeded) held after the first round; the plan kept running.
    expect(rs[1]?.decisions).toEqual([]);
    expect(rs[1]?.state.status).toBe('running');
    expect(sim.state.status).toBe('completed');
    expect(sim.state.devices['dev-0004']).toMatchObject({ attempts });
    expect(countTracks(sim.state.devices)).toMatchObject({ ...counts, retry: 0, offered: 0, in_progress: 0 });
    expect(completions(rs)).toHaveLength(1);
  });

  it('a device of an earlier phase still in retry holds the plan open; the earlier phase still advanced on its gate', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(5) }, { device_ids: ids(5, 5) }], gate, device: controls }), fleet(ids(10)));
    const rs = settle(sim, (id, attempt) => (id === 'dev-0004' && attempt === 1 ? 'failed' : 'success'));
    const kinds = rs.flatMap((r) => r.decisions.map((d) => d.kind));
    expect(kinds).toEqual(['phase_advanced', 'plan_completed']);
    // Phase 1's devices all succeeded at once, but the plan completed only after dev-0004's retry.
    const done = rs.findIndex((r) => r.decisions.some((d) => d.kind === 'plan_completed'));
    const retried = rs.findIndex((r) => r.offer.includes('dev-0004') && r.state.devices['dev-0004']!.attempts === 2);
    expect(retried).toBeGreaterThan(0);
    expect(done).toBeGreaterThan(retried);
    expect(countTracks(sim.state.devices)).toMatchObject({ success: 10, retry: 0 });
  });

  it('a last phase with a retry pending is running and wakes for the retry', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ids(5) }], gate, device: controls }), fleet(ids(5)));
    sim.step();
    for (const id of ids(4)) sim.report(id, 'success');
    sim.report('dev-0004', 'failed');
    const r = sim.step();
    expect(r.decisions).toEqual([]);
    expect(sim.state.status).toBe('running');
    expect(sim.state.devices['dev-0004']).toMatchObject({ state: 'retry', retry_at: sim.now + MIN });
    expect(r.wakeAt).toBe(sim.now + MIN);
  });
});

/**
 * Regression: a paku-core device reports success before it restarts and announces its new version
 * after; in that window a plan offered it the same version again. Admission now uses the rule the
 * push path uses (rollout/offer.ts hasVersion).
 */
describe('admission skips devices that reported success for the version', () => {
  const T = 1_000;
  const at = (ms: number): Date => new Date(ms);
  const world = (devices: World['devices'], over: Partial<World> = {}): World => ({ now: T, devices, reports: new Map(), minVersion: null, ...over });
  const dev = (device_id: string, last_seen: number | null): World['devices'][number] =>
    ({ device_id, current_firmware_version: '1.0.0', groups: [], last_seen: last_seen === null ? null : at(last_seen) });
  const s = spec({ phases: [{ device_ids: ['a', 'b', 'c', 'd'] }] });

  it.each([
    ['a success after its last announcement (reported in this plan)', false, dev('a', 100), { reports: new Map([['a', { status: 'success' as const, at: 500 }]]) }],
    ['a success after its last announcement (reported before the plan)', false, dev('a', 100), { succeeded: new Map([['a', 500]]) }],
    ['a success and no announcement on record', false, dev('a', null), { succeeded: new Map([['a', 500]]) }],
    ['an older version announced after its success (rolled back at boot)', true, dev('a', 600), { succeeded: new Map([['a', 500]]) }],
    ['a failure as its latest report', true, dev('a', 100), { reports: new Map([['a', { status: 'failed' as const, at: 500 }]]) }],
    ['no report', true, dev('a', 100), {}],
  ] as const)('a device with %s is offered: %s', (_what, offered, device, over) => {
    const r = step(s, initialState(T), world([device], over));
    expect(r.offer.includes('a')).toBe(offered);
    expect(r.state.devices['a'] === undefined).toBe(!offered);
  });

  it('a device with a reported success does not hold the gate as a device still to offer', () => {
    const sim = new Sim(spec({ phases: [{ device_ids: ['a', 'b'] }, { device_ids: ['c'] }], gate: { min_reports: 1 } }),
      [dev('a', 100), dev('b', 100), dev('c', 100)]);
    sim.reports.set('a', { status: 'success', at: 500 });
    expect(sim.step().offer).toEqual(['b']);
    sim.report('b', 'success');
    sim.now += 1;
    const r = sim.step();
    expect(r.decisions.map((d) => d.kind)).toEqual(['phase_advanced']);
    expect(r.offer).toEqual(['c']);
  });
});
