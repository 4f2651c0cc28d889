/**
 * `runScenario`: one scenario from environment to verdict. The run's one clock (time_scale× wall
 * time) drives the fleet and the embedded server's rollout engine alike; the fleet ramps, registers
 * and gets its composition groups on the server; the steps run in order; the fleet is sampled every
 * scenario second into the timeline and the rollouts' and plans' spans are polled from the admin
 * API; the final assertions judge the end state (bricked chips inspected through the core). A step
 * that cannot finish, a run past its timeout or a stop signal ends the run with verdict `error`,
 * and the report is still produced.
 */
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import { SystemClock, type Cancel } from '../../protocol/clock.js';
import { traitsOf } from '../../simulator/fleet/composition.js';
import { countsLine, startProgress, type Progress, type ProgressOut } from '../../simulator/fleet/progress.js';
import { Fleet } from '../../simulator/fleet/runner.js';
import { FLEET_STATES, type FleetState } from '../../simulator/fleet/states.js';
import { durationStats } from '../../simulator/fleet/stats.js';
import { verdictOf, type CheckResult, type PhaseSpan, type RunEvent, type RunReport, type StepRecord, type TimelineSample } from '../report/model.js';
import type { Scenario } from '../scenario/loader.js';
import type { DeviceSettingsData } from '../scenario/schema.js';
import { formatMs } from '../scenario/units.js';
import { judgeAssertions, rolloutNames, type RolloutStatus, type Snapshot } from './checks.js';
import { Environment } from './environment.js';
import { countBricked, fleetSnapshot, RolloutObserver, runningVersions } from './observe.js';
import { NetworkGate } from './partition.js';
import { runStep, StepError, stepKind, stepLabel, type StepContext } from './steps.js';

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  /** Aborting stops the run gracefully: verdict `error`, and the report is still produced. */
  readonly signal?: AbortSignal;
  /** Live progress and step lines (stderr). */
  readonly progress?: ProgressOut;
  /** No progress output. */
  readonly quiet?: boolean;
  /** Every timeline sample as it is taken. */
  readonly onSample?: (s: TimelineSample) => void;
  /** Accepted for callers that load text themselves; relative paths were resolved at load time. */
  readonly baseDir?: string;
}

const zeroCounts = (): Record<FleetState, number> => Object.fromEntries(FLEET_STATES.map((s) => [s, 0])) as Record<FleetState, number>;

function deviceConfig(d: DeviceSettingsData): Record<string, unknown> {
  const map: Array<[keyof DeviceSettingsData, string]> = [
    ['mode', 'mode'], ['report_via', 'reportVia'], ['behaviour', 'behaviour'], ['poll_interval_ms', 'pollIntervalMs'], ['boot_ms', 'bootMs'],
    ['self_test_ms', 'selfTestMs'], ['watchdog_ms', 'watchdogMs'], ['reboot_delay_ms', 'rebootDelayMs'], ['power_restore_ms', 'powerRestoreMs'],
    ['download_retries', 'downloadRetries'], ['keepalive_s', 'keepaliveS'], ['allow_downgrade', 'allowDowngrade'],
  ];
  return Object.fromEntries(map.filter(([k]) => d[k] !== undefined).map(([k, to]) => [to, d[k]]));
}

/** Resolves when `signal` aborts. */
const aborted = (signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal.aborted) resolve();
  else signal.addEventListener('abort', () => resolve(), { once: true });
});

/** Run `s` to its verdict. Never throws for what happens in the run; the report says it. */
export async function runScenario(s: Scenario, opts: RunScenarioOptions = {}): Promise<RunReport> {
  const d = s.data;
  const seed = opts.seed ?? d.seed;
  const startedAt = new Date().toISOString();
  const wall0 = performance.now();
  const clock = new SystemClock({ scale: d.time_scale });
  const t0 = clock.now();
  const now = (): number => clock.now() - t0;
  const out = opts.quiet === true ? null : opts.progress ?? null;
  const say = (line: string): void => {
    out?.write(`${line}\n`);
  };

  const stop = new AbortController();
  let stopReason: string | null = null;
  const halt = (why: string): void => {
    stopReason ??= why;
    stop.abort(new StepError(why));
  };
  const onSignal = (): void => halt('interrupted');
  opts.signal?.addEventListener('abort', onSignal, { once: true });
  if (opts.signal?.aborted === true) halt('interrupted');
  const wallTimer = setTimeout(() => halt(`the run exceeded its timeout of ${formatMs(d.timeout)} (wall time)`), d.timeout);

  const steps: StepRecord[] = [];
  const checks: CheckResult[] = [];
  const events: RunEvent[] = [];
  const timeline: TimelineSample[] = [];
  const spans = new Map<string, { label: string; state: string; startMs: number }>();
  const phases: PhaseSpan[] = [];
  /** Open a new span for each rollout whose label or state changed, closing its last one at `at`. */
  const track = (st: ReadonlyMap<string, RolloutStatus>, at: number): void => {
    for (const [name, v] of st) {
      const label = v.label ?? v.state;
      const open = spans.get(name);
      if (open !== undefined && open.label === label && open.state === v.state) continue;
      if (open !== undefined) phases.push({ rollout: name, label: open.label, state: open.state, startMs: open.startMs, endMs: at });
      spans.set(name, { label, state: v.state, startMs: at });
    }
  };
  const event = (kind: string, detail: string): void => {
    events.push({ t: now(), kind, detail });
  };
  let error: string | null = null;
  let env: Environment | null = null;
  let fleet: Fleet | null = null;
  let progress: Progress | null = null;
  let cancelSampler: Cancel = () => {};
  const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1 });
  const gate = new NetworkGate();
  let bricked: number | null = null;
  let finalRollouts = new Map<string, RolloutStatus>();

  try {
    env = await Promise.race([Environment.start(s, clock), aborted(stop.signal).then(() => null)]);
    if (env === null) throw new StepError(stopReason ?? 'interrupted');
    const e = env;
    event('environment', `server ${e.embedded === null ? e.url : 'embedded'}, broker ${d.environment.broker}, protocol ${d.environment.protocol}`);
    const f = Fleet.create({
      devices: d.fleet.size, prefix: d.fleet.prefix, seed, composition: s.composition, serverUrl: e.url,
      mqtt: gate.connector(e.connector), clock, http: agent, downloads: d.fleet.downloads, rampPerSecond: s.rampPerSecond,
      deviceConfig: { topicPrefix: d.environment.topic_prefix, protocol: d.environment.protocol, ...deviceConfig(d.fleet.device) },
      deviceHttp: (id, shared) => gate.dispatcher(id, shared),
      // I/O timeouts are about real sockets, not scenario time: on a ×N clock they are N× longer in
      // scenario time, so a download waiting its turn is not judged stalled after 5/N wall seconds.
      runtime: { stallTimeoutMs: 5_000 * d.time_scale, httpTimeoutMs: 10_000 * d.time_scale, mqttConnectTimeoutMs: 10_000 * d.time_scale },
    });
    fleet = f;
    if (out !== null) progress = startProgress(f, out, clock, 5000 * d.time_scale);
    const observer = new RolloutObserver(e.admin, f, s.composition, seed, e.bucketing, s.plans, (m) => e.serverVersions(m));
    const created = new Set<string>();

    // Sampling: the fleet every scenario second; the rollouts' spans when no poll is in flight.
    let polling = false;
    let lastPoll = -Infinity;
    const sample = (): void => {
      const point: TimelineSample = { t: now(), versions: runningVersions(f), states: f.counts() };
      timeline.push(point);
      opts.onSample?.(point);
      // At most four polls a wall second: a high time scale must not hammer the admin API.
      if (!polling && created.size > 0 && performance.now() - lastPoll >= 250) {
        polling = true;
        lastPoll = performance.now();
        const at = now();
        observer.statuses([...created]).then((st) => track(st, at), () => { /* the server may be restarting: the next poll catches up */ }).finally(() => {
          polling = false;
        });
      }
      cancelSampler = clock.setTimer({ delay: 1000 }, sample);
    };
    sample();

    // Ready: every device up and registered, and its composition groups known to the server.
    const readyStart = now();
    await Promise.race([f.all('idle'), aborted(stop.signal)]);
    if (stop.signal.aborted) throw new StepError(`${stopReason ?? 'interrupted'} while the fleet came up (${f.started}/${f.devices} started; ${countsLine(f.counts())})`);
    await registered(e, f, stop.signal);
    await assignGroups(e, f, s, seed);
    steps.push({ index: 0, kind: 'ready', label: `${f.devices} devices up and registered`, startMs: readyStart, endMs: now(), status: 'pass' });
    event('fleet', `${f.devices} devices registered`);

    const ctx: StepContext = {
      scenario: s, seed, env: e, fleet: f, gate, clock, signal: stop.signal, now, event,
      snapshot: async (names, withBricked) => fleetSnapshot(f, await observer.statuses(names), withBricked ? countBricked(f) : null),
    };
    for (const [i, step] of d.steps.entries()) {
      const kind = stepKind(step);
      const label = stepLabel(step);
      if (error !== null) {
        steps.push({ index: i + 1, kind, label, startMs: now(), endMs: now(), status: 'skip', message: 'an earlier step did not finish' });
        continue;
      }
      const startMs = now();
      say(`step ${i + 1}/${d.steps.length}: ${label}`);
      try {
        if (stop.signal.aborted) throw new StepError(stopReason ?? 'interrupted');
        const made = await Promise.race([runStep(ctx, step, i), aborted(stop.signal).then(() => {
          throw new StepError(stopReason ?? 'interrupted');
        })]);
        checks.push(...made);
        if (step.rollout !== undefined) created.add(step.rollout.name);
        if (step.plan !== undefined) for (const n of s.plans) if (n === (step.plan as { name?: unknown }).name || n === `${String((step.plan as { name?: unknown }).name)}-rollback`) created.add(n);
        const failed = made.filter((c) => c.status !== 'pass');
        steps.push({ index: i + 1, kind, label, startMs, endMs: now(), status: failed.length === 0 ? 'pass' : 'fail',
          ...(failed.length === 0 ? {} : { message: failed.map((c) => c.message ?? c.name).join('; ') }) });
        say(`  ${failed.length === 0 ? 'ok' : 'FAIL'} after ${formatMs(now() - startMs)}${failed.length === 0 ? '' : `: ${failed[0]?.message ?? ''}`}`);
      } catch (err) {
        error = `step ${i + 1} (${label}): ${(err as Error).message}`;
        steps.push({ index: i + 1, kind, label, startMs, endMs: now(), status: 'error', message: (err as Error).message });
        say(`  ERROR: ${(err as Error).message}`);
        event('error', error);
      }
    }

    // Final assertions on the end state.
    const finals = d.assert;
    bricked = countBricked(f);
    try {
      finalRollouts = await observer.statuses([...new Set([...rolloutNames(null, finals), ...created])]);
      track(finalRollouts, now());
    } catch (err) {
      error ??= `final rollout statuses: ${(err as Error).message}`;
    }
    const snap: Snapshot = fleetSnapshot(f, finalRollouts, bricked);
    checks.push(...judgeAssertions(finals, snap, `${d.name}/final`, now()));
  } catch (err) {
    error ??= (err as Error).message;
    event('error', error);
  } finally {
    clearTimeout(wallTimer);
    opts.signal?.removeEventListener('abort', onSignal);
    cancelSampler();
  }

  const endMs = now();
  for (const [name, open] of spans) phases.push({ rollout: name, label: open.label, state: open.state, startMs: open.startMs, endMs: null });
  const summary = fleet?.summary('done');
  const durations = fleet === null ? [] : [...fleet.updateDurations()];
  const versions = fleet === null ? {} : runningVersions(fleet);
  progress?.stop();
  await fleet?.stop();
  await agent.close();
  await env?.close().catch(() => {});
  clock.close();

  const verdict = error !== null ? 'error' : verdictOf(checks);
  const report: RunReport = {
    kind: 'scenario',
    scenario: { name: d.name, file: s.file, certifies: d.certifies },
    seed, startedAt, durationMs: endMs, wallMs: Math.round(performance.now() - wall0), clock: d.time_scale === 1 ? 'wall' : 'virtual',
    verdict, ...(error === null ? {} : { error }),
    steps, checks,
    fleet: {
      devices: d.fleet.size, counts: summary?.counts ?? zeroCounts(), versions,
      updateMs: summary?.updateMs ?? durationStats([]), updateDurationsMs: durations, bytes: summary?.bytes ?? 0,
      errors: summary?.errors ?? {}, bricked: bricked ?? 0,
    },
    timeline, phases, events,
  };
  return report;
}

/** Resolves once the server has every fleet device registered (embedded: its store; external: the admin list, capped at 500). */
async function registered(env: Environment, fleet: Fleet, signal: AbortSignal): Promise<void> {
  const perModel = new Map<string, number>();
  for (let i = fleet.first; i < fleet.first + fleet.devices; i++) {
    const m = fleet.runtime(i)?.config.deviceModel ?? '';
    perModel.set(m, (perModel.get(m) ?? 0) + 1);
  }
  for (const [model, n] of perModel) {
    for (;;) {
      if (signal.aborted) throw new StepError(`${(signal.reason as Error | undefined)?.message ?? 'interrupted'} while devices of ${model} registered (${n} expected)`);
      const have = env.embedded !== null
        ? (await env.embedded.server.store.devicesOfModel(model)).length
        : (await env.admin.devices(model)).length;
      if (have >= Math.min(n, env.embedded !== null ? n : 500)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Tell the server the composition's groups of every device in one (group targeting needs them). */
async function assignGroups(env: Environment, fleet: Fleet, s: Scenario, seed: number): Promise<void> {
  if (s.composition.groups.length === 0) return;
  for (let i = fleet.first; i < fleet.first + fleet.devices; i++) {
    const id = fleet.runtime(i)?.config.deviceId;
    if (id === undefined) continue;
    const groups = traitsOf(s.composition, seed, id).groups;
    if (groups.length === 0) continue;
    try {
      await env.admin.call('PUT', `/api/admin/devices/${encodeURIComponent(id)}/groups`, { groups });
    } catch (e) {
      throw new StepError(`assigning groups to ${id}: ${(e as Error).message}`, { cause: e });
    }
  }
}
