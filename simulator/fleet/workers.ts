/**
 * `otasim fleet --workers N`: one fleet across several worker processes (issue 5 "worker processes
 * across cores"). Why processes and not threads: each socket device holds one file descriptor, fds
 * are counted per process (20,000 here, and root cannot raise it: loadtest-anchors N3), and a
 * process is also what a second core runs.
 *
 * The parent keeps what is one per fleet: the embedded server (and its rollout), the live progress,
 * the NDJSON file and the summary. It splits its shard's index range into contiguous worker ranges,
 * so identities and composition are those of a single-process run. Each worker (workers-child.ts)
 * runs `runFleet` on its range against the server's URL and the broker's URL and reports over IPC:
 * counts for the progress, its NDJSON lines, and at the end its summary with its raw update
 * durations, so the merged percentiles come from every sample, not from averaged percentiles.
 * SIGINT stops the parent's run, which stops every worker; each still sends its summary.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SystemClock } from '../../protocol/clock.js';
import { OtasimError, UsageError } from '../../protocol/errors.js';
import { DEFAULT_PROFILE } from '../../protocol/topics.js';
import { DEFAULT_COMPOSITION, traitsOf } from './composition.js';
import { DEFAULT_PREFIX, fleetIdentity } from './identity.js';
import { registered, rolloutAll, startEmbeddedServer, uploadBuilt, type EmbeddedServer } from './embedded.js';
import { startProgress } from './progress.js';
import { runFleet, type RunIo, type RunOptions } from './run.js';
import { shardRange, WHOLE } from './shard.js';
import { FLEET_STATES } from './states.js';
import { countsRecord, durationStats, type FleetSummary } from './stats.js';
import type { ChildMessage, ParentMessage, Subscribed } from './workers-protocol.js';

/** Most worker processes one run may start. */
export const MAX_WORKERS = 64;

/** Fds a worker keeps for everything but device sockets: stdio, IPC, the HTTP agent's pool (256), files. */
const RESERVED_FDS = 1024;

/** The soft limit on open files of this process (Linux `/proc/self/limits`), or null where unknown. */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** Socket devices one process may hold under `fdLimit`. */
export const devicesPerProcess = (fdLimit: number): number => Math.max(1, fdLimit - RESERVED_FDS);

/**
 * `--workers auto`: 1 for the memory transport (no sockets) or where the fd limit is unknown;
 * otherwise as many processes as `devices` socket devices need under `fdLimit`.
 */
export function autoWorkers(devices: number, broker: string, fdLimit: number | null): number {
  if (broker === 'memory' || fdLimit === null) return 1;
  return Math.min(MAX_WORKERS, Math.ceil(devices / devicesPerProcess(fdLimit)));
}

/** Parse `--workers`: a whole number 1…64 or `auto`. */
export function parseWorkers(text: string): number | 'auto' {
  if (text.trim() === 'auto') return 'auto';
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_WORKERS)) throw new UsageError(`--workers ${text}: expected auto or a whole number 1…${MAX_WORKERS}`);
  return n;
}

/** Split `[start, end)` into `n` contiguous ranges whose sizes differ by at most one (empty ones dropped). */
export function workerRanges(range: { start: number; end: number }, n: number): Array<{ start: number; end: number }> {
  const size = range.end - range.start;
  return Array.from({ length: n }, (_, i) => {
    const r = shardRange(size, { index: i + 1, count: n });
    return { start: range.start + r.start, end: range.start + r.end };
  }).filter((r) => r.end > r.start);
}

/** A merged summary, with each worker's own. */
export interface WorkersSummary extends FleetSummary {
  readonly workers: readonly FleetSummary[];
  /** From the first worker's ramp start until every device of every worker had its first SUBACK (connected and subscribed), ms; null if some never did. */
  readonly connectMs: number | null;
  /**
   * Devices that connected and subscribed at least once, and `ms` from the first worker's ramp start
   * to the last of their first SUBACKs (null if none): the rate of a fleet that could not all connect.
   */
  readonly subscribed: { readonly devices: number; readonly ms: number | null };
}

/** What a caller of {@link runFleetWorkers} may hear while it runs. */
export interface WorkersHooks {
  /** Once, when every device of every worker has connected and subscribed. */
  readonly allSubscribed?: () => void;
}

/** Sum the workers' summaries; percentiles from all their duration samples together. */
export function mergeSummaries(parts: ReadonlyArray<{ summary: FleetSummary; durations: readonly number[]; subscribed?: Subscribed }>,
  ended: FleetSummary['ended'], elapsedMs: number): WorkersSummary {
  const counts = new Array<number>(FLEET_STATES.length).fill(0);
  const errors: Record<string, number> = {};
  let devices = 0;
  let started = 0;
  let bytes = 0;
  for (const { summary: s } of parts) {
    devices += s.devices;
    started += s.started;
    bytes += s.bytes;
    FLEET_STATES.forEach((k, i) => { counts[i] = (counts[i] as number) + s.counts[k]; });
    for (const [code, n] of Object.entries(s.errors)) errors[code] = (errors[code] ?? 0) + n;
  }
  const subscribed = subscribedOf(parts.flatMap((p) => (p.subscribed === undefined ? [] : [p.subscribed])));
  return {
    devices, started, counts: countsRecord(counts), updateMs: durationStats(parts.flatMap((p) => p.durations)), bytes,
    errors: Object.fromEntries(Object.entries(errors).sort()), elapsedMs, ended, workers: parts.map((p) => ({ ...p.summary, ended })),
    connectMs: subscribed.devices === devices ? subscribed.ms : null, subscribed,
  };
}

function subscribedOf(parts: readonly Subscribed[]): WorkersSummary['subscribed'] {
  const lasts = parts.flatMap((p) => (p.last === null ? [] : [p.last]));
  const devices = parts.reduce((n, p) => n + p.devices, 0);
  return { devices, ms: lasts.length === 0 ? null : Math.max(...lasts) - Math.min(...parts.map((p) => p.since)) };
}

/** One worker as the parent sees it. */
interface Worker {
  readonly child: ChildProcess;
  devices: number;
  started: number;
  counts: number[];
  idle: boolean;
  subscribed: boolean;
  settled: boolean;
  result?: { summary: FleetSummary; durations: number[]; subscribed: Subscribed };
  failure?: Error;
  readonly exited: Promise<void>;
}

/** The worker entry point next to this module (dist/simulator/fleet/workers-child.js when built). */
const CHILD = new URL('./workers-child.js', import.meta.url);

/**
 * Run `o` across `workers` processes (≥ 1) and return the merged summary. The transport must be a
 * socket one: `tcp` (embedded broker's TCP listener) or a broker URL. Rejects with UsageError for
 * the memory transport, OtasimError `OTASIM_ERR_FLEET_WORKER` when a worker fails.
 */
export async function runFleetWorkers(o: RunOptions, io: RunIo, workers: number, hooks: WorkersHooks = {}): Promise<WorkersSummary> {
  if (o.broker === 'memory') throw new UsageError('--workers needs a socket transport (--broker tcp or an MQTT URL): the memory door is in one process');
  if (o.rollout !== undefined && o.server !== 'embedded') throw new UsageError('--rollout needs --server embedded (with a URL, create the rollout on that server)');
  const external = o.server === 'embedded' ? null : o.server;
  if (external !== null && !/^https?:\/\//.test(external)) throw new UsageError(`--server ${external}: expected embedded or an http(s):// URL`);
  const limit = openFileLimit();
  const mine = o.range ?? shardRange(o.devices, o.shard ?? WHOLE);
  if (o.broker === 'tcp' && limit !== null && mine.end - mine.start > devicesPerProcess(limit)) {
    throw new UsageError(`--broker tcp: the embedded broker holds one socket per device in this process (limit ${limit} files); use a separate broker (mqtt://…)`);
  }
  const topicPrefix = o.topicPrefix ?? 'paku';
  const protocol = o.protocol ?? DEFAULT_PROFILE;
  const embedded: EmbeddedServer | null = external === null
    ? await startEmbeddedServer({ topicPrefix, over: { protocol, ...(o.broker === 'tcp' ? {} : { broker: o.broker }) } })
    : null;
  const clock = new SystemClock();
  const t0 = clock.now();
  const pool: Worker[] = [];
  let progress: { stop(): void } | undefined;
  const waiters = new Set<() => void>();
  const changed = (): void => { for (const w of [...waiters]) w(); };
  /** Resolves when `pred` holds, checked after every worker message. */
  const until = (pred: () => boolean): Promise<void> => new Promise((resolve) => {
    const check = (): void => {
      if (!pred()) return;
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
  try {
    const broker = o.broker === 'tcp' ? (embedded?.server.mqttUrl as string) : o.broker;
    const comp = o.composition ?? DEFAULT_COMPOSITION;
    if (embedded !== null && o.rollout !== undefined) {
      for (const m of comp.models) await uploadBuilt(embedded, m.name, m.chip, o.rollout, o.imageBytes ?? 1024 * 1024);
    }
    const ranges = workerRanges(mine, workers);
    const per = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.max(1, v / ranges.length));
    for (const [k, range] of ranges.entries()) {
      const child = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const w: Worker = {
        child, devices: range.end - range.start, started: 0, counts: new Array<number>(FLEET_STATES.length).fill(0), idle: false, subscribed: false, settled: false,
        exited: new Promise((resolve) => child.once('exit', (code, sig) => {
          if (w.result === undefined) w.failure ??= new OtasimError('OTASIM_ERR_FLEET_WORKER', `fleet worker ${k + 1} exited (${sig ?? code}) before its summary`);
          resolve();
          changed();
        })),
      };
      child.on('message', (m: ChildMessage) => {
        switch (m.type) {
          case 'counts': w.started = m.started; w.counts = m.counts; break;
          case 'events': io.events?.write(m.text); break;
          case 'idle': w.idle = true; break;
          case 'subscribed': w.subscribed = true; break;
          case 'settled': w.settled = true; break;
          case 'summary': w.result = { summary: m.summary, durations: m.durations, subscribed: m.subscribed }; break;
          case 'error': w.failure = new OtasimError(m.code, `fleet worker ${k + 1}: ${m.message}`); break;
        }
        changed();
      });
      const rampPerSecond = per(o.rampPerSecond ?? 2000);
      const downloads = per(o.downloads ?? 64);
      const options: RunOptions = {
        ...o, server: external ?? (embedded as EmbeddedServer).url, broker, composition: comp, range, rollout: undefined, durationMs: undefined,
        ...(rampPerSecond === undefined ? {} : { rampPerSecond }), ...(downloads === undefined ? {} : { downloads: Math.ceil(downloads) }),
        ...(o.localAddresses === undefined ? {} : { localAddresses: o.localAddresses }),
      } as RunOptions;
      child.send({ type: 'start', options, events: io.events !== undefined } satisfies ParentMessage);
      pool.push(w);
    }
    const source = {
      devices: ranges.reduce((s, r) => s + r.end - r.start, 0),
      get started() { return pool.reduce((s, w) => s + w.started, 0); },
      counts: () => countsRecord(FLEET_STATES.map((_, i) => pool.reduce((s, w) => s + (w.counts[i] as number), 0))),
    };
    if (io.quiet !== true) progress = startProgress(source, io.stderr, clock, o.progressEveryMs ?? 5000);
    void until(() => pool.every((w) => w.subscribed)).then(() => hooks.allSubscribed?.());
    const failed = until(() => pool.some((w) => w.failure !== undefined)).then(() => 'failed' as const);
    const ends: Array<Promise<FleetSummary['ended'] | 'failed'>> = [failed, new Promise((resolve) => {
      const s = io.signal;
      if (s === undefined) return;
      if (s.aborted) resolve('signal');
      else s.addEventListener('abort', () => resolve('signal'), { once: true });
    })];
    if (o.durationMs !== undefined) ends.push(new Promise((r) => clock.setTimer({ delay: o.durationMs as number }, () => r('duration'))));
    if (embedded !== null && o.rollout !== undefined) {
      const version = o.rollout;
      ends.push((async () => {
        await until(() => pool.every((w) => w.idle));
        // Per-model device counts of this run, drawn as the workers draw them (pure in seed and id).
        const perModel = new Map<string, number>();
        for (const r of ranges) {
          for (let i = r.start; i < r.end; i++) {
            const m = traitsOf(comp, o.seed ?? 0, fleetIdentity(o.prefix ?? DEFAULT_PREFIX, i).deviceId).model;
            perModel.set(m, (perModel.get(m) ?? 0) + 1);
          }
        }
        for (const [m, n] of perModel) await registered(embedded, m, n, 50);
        for (const m of perModel.keys()) await rolloutAll(embedded, m, version);
        await until(() => pool.every((w) => w.settled));
        return 'done' as const;
      })());
    }
    const ended = await Promise.race(ends);
    for (const w of pool) if (w.child.connected) w.child.send({ type: 'stop' } satisfies ParentMessage);
    await Promise.all(pool.map((w) => w.exited));
    progress?.stop();
    progress = undefined;
    const failure = pool.find((w) => w.failure !== undefined)?.failure;
    if (ended === 'failed' || failure !== undefined) throw failure ?? new OtasimError('OTASIM_ERR_FLEET_WORKER', 'a fleet worker failed');
    const summary = mergeSummaries(pool.map((w) => w.result as { summary: FleetSummary; durations: number[]; subscribed: Subscribed }), ended, clock.now() - t0);
    io.events?.write(`${JSON.stringify({ type: 'summary', t: clock.now(), ...summary })}\n`);
    return summary;
  } finally {
    progress?.stop();
    for (const w of pool) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(pool.map((w) => w.exited));
    if (io.events !== undefined) await new Promise<void>((resolve) => io.events?.end(() => resolve()));
    clock.close();
    await embedded?.[Symbol.asyncDispose]();
  }
}

/**
 * Run `o` in this process, or across worker processes: `workers` a number, or `auto`
 * ({@link autoWorkers} for the devices of this shard and this process's fd limit).
 */
export function runFleetOn(o: RunOptions, workers: number | 'auto', io: RunIo): Promise<FleetSummary> {
  const r = o.range ?? shardRange(o.devices, o.shard ?? WHOLE);
  const n = workers === 'auto' ? autoWorkers(r.end - r.start, o.broker, openFileLimit()) : workers;
  return n <= 1 ? runFleet(o, io) : runFleetWorkers(o, io, n);
}
