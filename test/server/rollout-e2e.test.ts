/**
 * Issue 6 "Done when", end to end: 2,000 virtual ESP32s per scenario over the memory transport
 * against an embedded server whose rollout engine runs a three-phase plan (10% → 50% → 100%).
 * - A bad image that crashes on 30% of boots is stopped by the failure policy in phase 1: no
 *   device outside phase 1's target is ever offered it.
 * - With rollback, every device that took the bad image ends on the previous version.
 * - A good image reaches 100% through every phase.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../protocol/clock.js';
import { Fleet, composition, type CompositionInput } from '../../simulator/fleet/index.js';
import { registered, startEmbeddedServer, uploadBuilt, type EmbeddedServer } from '../../simulator/fleet/embedded.js';
import { phaseTarget, inTarget, type PlanSpecInput } from '../../server/rollout/plan.js';
import type { PlanStatusView } from '../../server/rollout/engine.js';

const N = 2000;
const PREFIX = 'e2e6';
let s: EmbeddedServer;
const clock = new SystemClock();
const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });

beforeAll(async () => {
  s = await startEmbeddedServer({ topicPrefix: PREFIX });
  for (const model of ['bad-pause', 'bad-rollback', 'good']) {
    await uploadBuilt(s, model, 'esp32', '1.0.0', 64 * 1024);
    await uploadBuilt(s, model, 'esp32', '2.0.0', 64 * 1024);
  }
}, 180_000);
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
  clock.close();
  await agent.close();
});

const crashy: CompositionInput['faults'] = [{ name: 'crashy', weight: 1,
  profile: { faults: [{ kind: 'boot_crash', version: '2.0.0', mode: 'probability', probability: 0.3, after_ms: 5 }] } }];

async function fleetOf(model: string, prefix: string, faults?: CompositionInput['faults']): Promise<Fleet> {
  const fleet = Fleet.create({
    devices: N, prefix, seed: 6, serverUrl: s.url, clock, http: agent, downloads: 64, rampPerSecond: 4000,
    composition: composition({ models: { [model]: { weight: 1, chip: 'esp32' } }, ...(faults === undefined ? {} : { faults }) }),
    mqtt: (o) => s.server.mqttClientFactory(o),
    deviceConfig: { topicPrefix: PREFIX, bootMs: 10, selfTestMs: 20, rebootDelayMs: 20, allowDowngrade: true },
  });
  await fleet.all('idle');
  await registered(s, model, N, 50);
  return fleet;
}

const plan = (model: string, over: Partial<PlanSpecInput> = {}): PlanSpecInput => ({
  name: `plan-${model}`, firmware_version: '2.0.0', device_model: model,
  phases: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
  gate: { min_success_percent: 95, min_reports: 50 },
  failure: { max_failed_percent: 10, min_completed: 30, action: 'pause' },
  device: { timeout_ms: 120_000, max_concurrent: 100 }, ...over,
});

/** Poll the plan until `pred` holds (engine steps every second). */
async function until(name: string, pred: (p: PlanStatusView) => boolean, ms = 300_000): Promise<PlanStatusView> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const p = await s.server.rollouts.status(name);
    if (pred(p)) return p;
    await new Promise((r) => setTimeout(r, 200));
  }
  return s.server.rollouts.status(name);
}
const inFlight = (p: PlanStatusView): number => p.totals.offered + p.totals.in_progress;

describe(`rollout engine with ${N} devices in memory mode`, () => {
  it('stops a bad image (30% boot crashes) in phase 1, never offering it beyond the phase', async () => {
    await using fleet = await fleetOf('bad-pause', 'bp', crashy);
    await s.server.rollouts.createPlan(plan('bad-pause'));
    const p = await until('plan-bad-pause', (x) => x.status !== 'running' && inFlight(x) === 0);
    expect(p.status).toBe('paused');
    expect(p.phase).toBe(0);
    const trip = p.decisions.find((d) => (d.data as { decision: string }).decision === 'threshold_tripped');
    expect(trip?.data).toMatchObject({ action: 'pause', phase: 0 });
    expect((trip?.data as { failed_percent: number }).failed_percent).toBeGreaterThan(10);
    // Every device that was offered belongs to phase 1's target, and no other device runs 2.0.0.
    const devices = await s.server.store.devicesOfModel('bad-pause');
    const t0 = phaseTarget(p.spec.phases, 0);
    const phase1 = devices.filter((d) => inTarget(t0, d, { device_model: 'bad-pause', firmware_version: '2.0.0' }, s.server.config.bucketing));
    const offered = p.phases[0]!.counts;
    expect(offered.completed + offered.retry).toBeLessThanOrEqual(phase1.length);
    expect(p.phases[1]!.counts.completed + p.phases[1]!.counts.offered).toBe(0);
    let onNew = 0;
    for (let i = 0; i < N; i++) if (fleet.runtime(i)?.state.running?.version === '2.0.0') onNew++;
    expect(onNew).toBe(offered.success);
    expect(onNew).toBeLessThanOrEqual(phase1.length);
    expect(fleet.counts()['rolled back'] + fleet.counts().failed).toBeGreaterThan(0);
  }, 600_000);

  it('with rollback, every device that took the bad image ends on the previous version', async () => {
    await using fleet = await fleetOf('bad-rollback', 'br', crashy);
    await s.server.rollouts.createPlan(plan('bad-rollback', { failure: { max_failed_percent: 10, min_completed: 30, action: 'rollback' } }));
    const p = await until('plan-bad-rollback', (x) => x.status === 'rolled_back' && inFlight(x) === 0 && x.rollback_plan !== null);
    expect(p.status).toBe('rolled_back');
    const took = p.totals.success;
    expect(took).toBeGreaterThan(0);
    const rb = await until('plan-bad-rollback-rollback', (x) => x.totals.success === took && inFlight(x) === 0);
    expect(rb).toMatchObject({ kind: 'rollback', spec: { firmware_version: '1.0.0' } });
    expect(rb.totals.success).toBe(took);
    for (let i = 0; i < N; i++) expect(fleet.runtime(i)?.state.running?.version).toBe('1.0.0');
    const kinds = p.decisions.map((d) => (d.data as { decision: string }).decision);
    expect(kinds).toEqual(expect.arrayContaining(['threshold_tripped', 'rollback_started']));
  }, 600_000);

  it('a good image reaches 100% through every phase', async () => {
    await using fleet = await fleetOf('good', 'gd');
    await s.server.rollouts.createPlan(plan('good', { device: { timeout_ms: 120_000, max_concurrent: 400 } }));
    const p = await until('plan-good', (x) => x.status === 'completed' && inFlight(x) === 0);
    expect(p.status).toBe('completed');
    expect(p.phase).toBe(2);
    expect(p.totals.success).toBe(N);
    const advanced = p.decisions.filter((d) => (d.data as { decision: string }).decision === 'phase_advanced').map((d) => (d.data as { to: number }).to);
    expect(advanced).toEqual([1, 2]);
    for (let i = 0; i < N; i++) expect(fleet.runtime(i)?.state.running?.version).toBe('2.0.0');
  }, 600_000);
});
