/**
 * One scenario step, run against the environment and the fleet: uploads, rollouts and plans
 * through the admin API, waits on conditions in scenario time, operator actions, runtime faults and
 * step assertions. A step resolves with what it produced (checks, events) or throws StepError:
 * the run then ends with verdict `error`.
 */
import { sleep, type Clock } from '../../protocol/clock.js';
import { OtasimError } from '../../protocol/errors.js';
import { unit } from '../../simulator/faults/rng.js';
import { fleetIdentity } from '../../simulator/fleet/identity.js';
import type { Fleet } from '../../simulator/fleet/runner.js';
import type { CheckResult } from '../report/model.js';
import type { Scenario } from '../scenario/loader.js';
import type { StepData } from '../scenario/schema.js';
import { formatMs } from '../scenario/units.js';
import { AdminError } from './admin.js';
import { judgeAssertions, judgeCondition, rolloutNames, type Snapshot } from './checks.js';
import type { Environment } from './environment.js';
import { firmwareBytes } from './firmware.js';
import type { NetworkGate } from './partition.js';

/** The step could not do its job (timeout, refusal, environment). */
export class StepError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OTASIM_ERR_STEP', message, options);
  }
}

/** What a step runs against. */
export interface StepContext {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly env: Environment;
  readonly fleet: Fleet;
  readonly gate: NetworkGate;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** Ms since the run started, on the run's clock. */
  now(): number;
  /** A snapshot for conditions and assertions; `bricked` inspects the chips (slow on big fleets). */
  snapshot(names: readonly string[], bricked: boolean): Promise<Snapshot>;
  event(kind: string, detail: string): void;
}

/** The kind of a step (its one key). */
export function stepKind(step: StepData): string {
  return Object.entries(step).find(([, v]) => v !== undefined)?.[0] ?? 'unknown';
}

/** A short text for tables. */
export function stepLabel(step: StepData): string {
  if (step.upload !== undefined) return typeof step.upload === 'string' ? `upload ${step.upload}` : `upload ${step.upload.firmware} (expect ${step.upload.expect})`;
  if (step.rollout !== undefined) return `rollout ${step.rollout.name}: ${step.rollout.target}${step.rollout.percentage === undefined ? '' : ` ${step.rollout.percentage}%`} of ${step.rollout.firmware}`;
  if (step.plan !== undefined) return `plan ${String((step.plan as { name?: unknown }).name)}`;
  if (step.wait !== undefined) {
    const c = step.wait.for;
    const what = [
      c.rollout === undefined ? '' : `${c.rollout}${c.state === undefined ? '' : ` ${c.state}`}${c.phase === undefined ? '' : ` phase ≥ ${c.phase}`}`,
      ...Object.entries(c.versions ?? {}).map(([v, cmp]) => `${v} ${cmp.text}`),
      ...Object.entries(c.states ?? {}).map(([st, cmp]) => `${st} ${cmp?.text ?? ''}`),
      c.outcomes === undefined ? '' : `outcomes ${c.outcomes.text}`,
      ...Object.entries(c.errors ?? {}).map(([code, cmp]) => `${code} ${cmp.text}`),
    ].filter((x) => x !== '').join(', ');
    return `wait ${what} (timeout ${formatMs(step.wait.timeout)})`;
  }
  if (step.set_percentage !== undefined) return `set ${step.set_percentage.rollout} to ${step.set_percentage.percentage}%`;
  for (const k of ['approve', 'pause', 'resume', 'abort'] as const) if (step[k] !== undefined) return `${k} ${step[k]}`;
  if (step.fault !== undefined) {
    const f = step.fault;
    if (f.broker_outage !== undefined) return `broker outage for ${formatMs(f.broker_outage)}`;
    if (f.partition !== undefined) return `partition ${Math.round(f.partition.share * 100)}% of the fleet for ${formatMs(f.partition.for)}`;
    return 'server restart';
  }
  if (step.sleep !== undefined) return `sleep ${formatMs(step.sleep)}`;
  return 'assert';
}

async function admin<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new StepError(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Devices to cut off: a `share` of the fleet, the same ones for the same seed and step. */
export function partitionDevices(prefix: string, first: number, count: number, share: number, seed: number, step: number): string[] {
  const ids: Array<[number, string]> = [];
  for (let i = first; i < first + count; i++) {
    const id = fleetIdentity(prefix, i).deviceId;
    ids.push([unit(seed, id, `harness:partition:${step}`), id]);
  }
  ids.sort((a, b) => a[0] - b[0]);
  return ids.slice(0, Math.round(share * count)).map(([, id]) => id);
}

/** Run step `index`; returns the checks it made. */
export async function runStep(ctx: StepContext, step: StepData, index: number): Promise<CheckResult[]> {
  const s = ctx.scenario;
  const a = ctx.env.admin;
  const isPlan = (name: string): boolean => s.plans.has(name);
  const enc = encodeURIComponent;
  if (step.upload !== undefined) {
    const id = typeof step.upload === 'string' ? step.upload : step.upload.firmware;
    const expect = typeof step.upload === 'string' ? 'accepted' : step.upload.expect;
    const fw = s.firmware.get(id);
    if (fw === undefined) throw new StepError(`unknown firmware ${id}`);
    const bytes = firmwareBytes(fw, ctx.seed);
    let refusal: AdminError | null = null;
    try {
      await a.upload(bytes, fw.version, fw.model);
    } catch (e) {
      if (!(e instanceof AdminError) || e.status < 400 || e.status > 499) throw new StepError(`upload ${id}: ${(e as Error).message}`, { cause: e });
      refusal = e;
    }
    if (expect === 'accepted') {
      if (refusal !== null) throw new StepError(`upload ${id}: ${refusal.message}`, { cause: refusal });
      return [];
    }
    const ok = refusal !== null;
    return [{
      id: `${s.data.name}/step${index + 1}#1`, name: `upload of ${id} (${fw.defect ?? 'as built'}) is refused`, status: ok ? 'pass' : 'fail',
      expected: 'a 4xx refusal', actual: ok ? `${refusal?.status} ${refusal?.code}` : 'accepted', atMs: ctx.now(),
      ...(ok ? {} : { message: `the server accepted ${id} (${fw.defect ?? 'no defect'})` }),
    }];
  }
  if (step.rollout !== undefined) {
    const r = step.rollout;
    const fw = s.firmware.get(r.firmware);
    if (fw === undefined) throw new StepError(`unknown firmware ${r.firmware}`);
    const prefix = s.data.fleet.prefix;
    const ref = (d: number | string, mac: boolean): string => (typeof d === 'string' ? d : mac ? fleetIdentity(prefix, d).mac : fleetIdentity(prefix, d).deviceId);
    const filter = {
      ...(r.groups === undefined ? {} : { groups: r.groups }),
      ...(r.device_ids === undefined ? {} : { device_ids: r.device_ids.map((d) => ref(d, false)) }),
      ...(r.mac_addresses === undefined ? {} : { mac_addresses: r.mac_addresses.map((d) => ref(d, true)) }),
    };
    await admin(`rollout ${r.name}`, () => a.call('POST', '/api/admin/rollout/create', {
      name: r.name, firmware_version: fw.version, device_model: fw.model, target_type: r.target, is_active: r.active,
      ...(Object.keys(filter).length === 0 ? {} : { target_filter: filter }), ...(r.percentage === undefined ? {} : { rollout_percentage: r.percentage }),
    }));
    ctx.event('rollout', `${r.name} created: ${r.target}${r.percentage === undefined ? '' : ` ${r.percentage}%`} of ${fw.version}`);
    return [];
  }
  if (step.plan !== undefined) {
    const body = s.planBodies.get(index);
    await admin(`plan ${String((body as { name?: unknown }).name)}`, () => a.call('POST', '/api/admin/plans', body));
    ctx.event('plan', `${String((body as { name?: unknown }).name)} created`);
    return [];
  }
  if (step.wait !== undefined) {
    const c = step.wait.for;
    const deadline = ctx.clock.now() + step.wait.timeout;
    const names = rolloutNames(c, null);
    for (;;) {
      const verdict = judgeCondition(c, await admin('wait', () => ctx.snapshot(names, false)));
      if (verdict.ok) return [];
      if (ctx.clock.now() >= deadline) throw new StepError(`timed out after ${formatMs(step.wait.timeout)}: ${verdict.detail}`);
      if (ctx.signal.aborted) throw new StepError('interrupted');
      await new Promise((r) => setTimeout(r, names.length === 0 ? 50 : 200));
    }
  }
  if (step.set_percentage !== undefined) {
    const { rollout: name, percentage } = step.set_percentage;
    await admin(`set ${name} to ${percentage}%`, () => (isPlan(name)
      ? a.call('PATCH', `/api/admin/plans/${enc(name)}`, { percent: percentage })
      : a.call('PATCH', `/api/admin/rollout/${enc(name)}`, { rollout_percentage: percentage })));
    ctx.event('operator', `${name} set to ${percentage}%`);
    return [];
  }
  for (const k of ['approve', 'pause', 'resume', 'abort'] as const) {
    const name = step[k];
    if (name === undefined) continue;
    await admin(`${k} ${name}`, () => {
      if (isPlan(name)) return a.call('POST', `/api/admin/plans/${enc(name)}/${k === 'abort' ? 'cancel' : k}`);
      if (k === 'abort') return a.call('POST', `/api/admin/rollout/${enc(name)}/deactivate`);
      return a.call('PATCH', `/api/admin/rollout/${enc(name)}`, { is_active: k === 'resume' });
    });
    ctx.event('operator', `${k} ${name}`);
    return [];
  }
  if (step.fault !== undefined) {
    const f = step.fault;
    if (f.broker_outage !== undefined) {
      const dropped = ctx.env.setBrokerOutage(true);
      ctx.event('fault', `broker outage begins: ${dropped} clients disconnected, connects refused for ${formatMs(f.broker_outage)}`);
      try {
        await sleep(ctx.clock, f.broker_outage, ctx.signal).catch(() => {});
      } finally {
        ctx.env.setBrokerOutage(false);
        ctx.event('fault', 'broker outage ends');
      }
    } else if (f.partition !== undefined) {
      const ids = partitionDevices(s.data.fleet.prefix, ctx.fleet.first, ctx.fleet.devices, f.partition.share, ctx.seed, index);
      ctx.gate.cut(ids);
      ctx.event('fault', `partition begins: ${ids.length} devices cut off for ${formatMs(f.partition.for)}`);
      try {
        await sleep(ctx.clock, f.partition.for, ctx.signal).catch(() => {});
      } finally {
        ctx.gate.heal();
        const st = ctx.gate.stats;
        ctx.event('fault', `partition heals: ${st.droppedSessions} sessions dropped, ${st.refusedConnects} connects refused, ${st.failedRequests} requests failed`);
      }
    } else {
      const down = f.server_restart?.down ?? 0;
      ctx.event('fault', 'server restart: closing');
      await admin('server restart', () => ctx.env.restartServer(down / s.data.time_scale));
      ctx.event('fault', 'server restart: listening again');
    }
    return [];
  }
  if (step.sleep !== undefined) {
    await sleep(ctx.clock, step.sleep, ctx.signal).catch(() => {
      throw new StepError('interrupted');
    });
    return [];
  }
  const checks = step.assert ?? {};
  const snap = await admin('assert', () => ctx.snapshot(rolloutNames(null, checks), checks.bricked !== undefined));
  return judgeAssertions(checks, snap, `${s.data.name}/step${index + 1}`, ctx.now());
}
