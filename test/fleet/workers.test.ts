/**
 * `otasim fleet --workers N` (issue 5 "worker processes across cores"): the pure pieces (ranges,
 * the automatic count, merging summaries), then the built binary running a 2-worker fleet that does
 * a full OTA over the embedded broker's TCP listener — the merged summary must equal the sum of the
 * workers' and agree with the merged NDJSON — and a SIGINT to the parent only, which must stop both
 * workers and still print the summary.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_STATES, durationStats, isOutcome, isUpdating, type FleetState, type FleetSummary } from '../../simulator/fleet/index.js';
import { autoWorkers, mergeSummaries, parseWorkers, workerRanges } from '../../simulator/fleet/workers.js';
import { runCli } from '../cli/run.js';
import { projectRoot } from '../fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otasim-fleet-workers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = async (file: string): Promise<Array<Record<string, unknown>>> =>
  (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('worker ranges and counts', () => {
  it('split a range into contiguous parts that cover it once, sizes within one', () => {
    fc.assert(fc.property(fc.nat(100_000), fc.nat(50_000), fc.integer({ min: 1, max: 64 }), (start, size, n) => {
      const parts = workerRanges({ start, end: start + size }, n);
      let at = start;
      for (const p of parts) {
        expect(p.start).toBe(at);
        expect(p.end).toBeGreaterThan(p.start);
        at = p.end;
      }
      expect(at).toBe(start + size);
      const sizes = parts.map((p) => p.end - p.start);
      if (sizes.length > 0) expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(parts.length).toBe(Math.min(n, size));
    }));
  });

  it('auto: one process unless the socket devices need more files than one may open', () => {
    expect(autoWorkers(50_000, 'memory', 20_000)).toBe(1);
    expect(autoWorkers(18_000, 'mqtt://127.0.0.1:1883', 20_000)).toBe(1);
    expect(autoWorkers(20_000, 'mqtt://127.0.0.1:1883', 20_000)).toBe(2);
    expect(autoWorkers(60_000, 'tcp', 20_000)).toBe(4);
    expect(autoWorkers(60_000, 'tcp', null)).toBe(1);
    expect(parseWorkers('auto')).toBe('auto');
    expect(parseWorkers('3')).toBe(3);
    for (const bad of ['0', '65', '1.5', 'many', '']) expect(() => parseWorkers(bad), bad).toThrow(/--workers/);
  });

  it('merging sums counts, bytes and errors, and takes percentiles over every sample', () => {
    const part = (durations: number[], success: number, failed: number, errors: Record<string, number>): { summary: FleetSummary; durations: number[] } => {
      const counts = Object.fromEntries(FLEET_STATES.map((s) => [s, 0])) as Record<FleetState, number>;
      counts.success = success;
      counts.failed = failed;
      return {
        durations,
        summary: { devices: success + failed, started: success + failed, counts, updateMs: durationStats(durations), bytes: 100 * durations.length, errors, elapsedMs: 1, ended: 'signal' },
      };
    };
    const a = part([10, 10, 10], 2, 1, { http_404: 1 });
    const b = part([100, 200], 2, 0, {});
    const m = mergeSummaries([a, b], 'done', 5);
    expect(m).toMatchObject({ devices: 5, started: 5, bytes: 500, errors: { http_404: 1 }, ended: 'done', elapsedMs: 5 });
    expect(m.counts).toMatchObject({ success: 4, failed: 1 });
    // Nearest rank over [10, 10, 10, 100, 200]: p50 is 10, not the mean of the parts' p50s (10, 100).
    expect(m.updateMs).toEqual({ count: 5, p50: 10, p95: 200, p99: 200 });
    expect(m.workers.map((w) => w.ended)).toEqual(['done', 'done']);
  });
});

/** Durations recomputed from the state events, as the runner defines them: entering an update to its outcome. */
function durationsFromEvents(events: Array<Record<string, unknown>>): number[] {
  const since = new Map<string, number>();
  const out: number[] = [];
  for (const e of events) {
    if (e.type !== 'state') continue;
    const from = e.from as FleetState;
    const to = e.to as FleetState;
    if (isUpdating(to) && !isUpdating(from)) since.set(e.device as string, e.t as number);
    if (isOutcome(to) && isUpdating(from)) out.push((e.t as number) - (since.get(e.device as string) as number));
  }
  return out;
}

describe('otasim fleet --workers 2', () => {
  it('300 devices do a full OTA across two worker processes; the merged summary is the sum and agrees with the events', async () => {
    const N = 300;
    const events = join(dir, 'ota.ndjson');
    const r = runCli(['fleet', '--devices', String(N), '--server', 'embedded', '--broker', 'tcp', '--workers', '2', '--rollout', '2.0.0',
      '--image-size', String(64 * 1024), '--events', events, '--json', '--seed', '4']);
    expect(r.stderr).toMatch(new RegExp(`success=${N}`));
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as FleetSummary & { workers: FleetSummary[]; connectMs: number; subscribed: { devices: number; ms: number } };
    expect(s).toMatchObject({ devices: N, started: N, ended: 'done', counts: { success: N }, updateMs: { count: N }, errors: {} });
    expect(s.workers).toHaveLength(2);
    expect(s.workers.map((w) => w.devices)).toEqual([N / 2, N / 2]);
    expect(s.subscribed.devices).toBe(N);
    expect(s.subscribed.ms).toBe(s.connectMs);
    expect(s.connectMs).toBeGreaterThan(0);
    expect(s.connectMs).toBeLessThan(s.elapsedMs);
    for (const k of FLEET_STATES) expect(s.workers.reduce((t, w) => t + w.counts[k], 0), k).toBe(s.counts[k]);
    expect(s.workers.reduce((t, w) => t + w.bytes, 0)).toBe(s.bytes);
    expect(s.workers.reduce((t, w) => t + w.updateMs.count, 0)).toBe(s.updateMs.count);
    expect(s.bytes).toBeGreaterThanOrEqual(N * 64 * 1024);

    const ev = await lines(events);
    expect(ev.at(-1)).toMatchObject({ type: 'summary', ended: 'done', devices: N });
    expect(ev.filter((e) => e.type === 'summary')).toHaveLength(1);
    const ids = new Set(ev.filter((e) => e.type === 'state').map((e) => e.device as string));
    expect([...ids].sort()).toEqual(Array.from({ length: N }, (_, i) => `sim-${String(i).padStart(6, '0')}`));
    expect(ev.filter((e) => e.to === 'success')).toHaveLength(N);
    // Percentiles of the merged summary are those of every device's duration in the merged stream.
    expect(durationStats(durationsFromEvents(ev))).toEqual(s.updateMs);
  }, 180_000);

  it('SIGINT to the parent stops both workers and still prints the summary', async () => {
    const events = join(dir, 'sigint.ndjson');
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), 'fleet', '--devices', '80', '--server', 'embedded',
      '--broker', 'tcp', '--workers', '2', '--events', events, '--json'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    let idle = 0;
    for (let i = 0; i < 1200 && idle < 80; i++) {
      await new Promise((res) => setTimeout(res, 100));
      idle = (await readFile(events, 'utf8').catch(() => '')).split('"to":"idle"').length - 1;
    }
    expect(idle).toBe(80);
    const workers = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
    expect(workers).toHaveLength(2);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(err).toContain('SIGINT, stopping');
    expect(code).toBe(0);
    const s = JSON.parse(out) as FleetSummary & { workers: FleetSummary[] };
    expect(s).toMatchObject({ ended: 'signal', devices: 80, started: 80 });
    expect(s.workers).toHaveLength(2);
    expect((await lines(events)).at(-1)).toMatchObject({ type: 'summary', ended: 'signal' });
    for (const pid of workers) expect(() => process.kill(pid, 0), `worker ${pid} still runs`).toThrow();
  }, 180_000);

  it('refuses --workers with the memory transport and a bad count (exit 2)', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--devices', '10', '--server', 'embedded', '--workers', '2'], /--workers needs a socket transport/],
      [['--devices', '10', '--server', 'embedded', '--broker', 'tcp', '--workers', 'lots'], /--workers lots/],
    ];
    for (const [args, re] of cases) {
      const res = runCli(['fleet', ...args]);
      expect(res.status, args.join(' ')).toBe(2);
      expect(res.stderr, args.join(' ')).toMatch(re);
    }
  });
});
