/**
 * Scenario runs end to end on the embedded server and the memory broker, small fleets at a high
 * time scale: a passing canary → full rollout, a failing assertion (exit 1 from `otasim run`), a
 * step that times out (verdict error), and bad files refused by `otasim run` with exit 2 before
 * anything starts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario, runScenario } from '../../harness/index.js';
import type { RunReport } from '../../harness/report/model.js';
import { runCli } from '../cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'otasim-run-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CANARY = `name: canary-then-full
certifies: "a 10% canary, then every device, reaches 2.0.0 with no failure"
time_scale: 10
fleet: { size: 50, device: { self_test_ms: 2000 } }
firmware:
  - { id: good, version: 2.0.0, size: 64KiB }
steps:
  - upload: good
  - rollout: { name: canary, firmware: good, target: canary, percentage: 10 }
  - wait: { for: { rollout: canary, state: completed }, timeout: 3m }
  - assert: { versions: { "2.0.0": "< 50%" }, states: { failed: 0 } }
  - rollout: { name: full, firmware: good, target: all }
  - wait: { for: { rollout: full, state: completed }, timeout: 5m }
assert:
  versions: { "2.0.0": "== 100%" }
  success_rate: ">= 0.99"
  bricked: 0
  rollout: { full: completed }
  p95_update: "< 2m"
  outcomes: "== 50"
`;

describe('runScenario', () => {
  let report: RunReport;

  it('a canary then a full rollout passes, with a timeline, phase spans and one check per assertion', async () => {
    const samples: number[] = [];
    report = await runScenario(parseScenario(CANARY, 'canary.yaml'), { quiet: true, onSample: (s) => samples.push(s.t) });
    expect(report.error).toBeUndefined();
    expect(report.verdict).toBe('pass');
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['canary-then-full/step4#1', 'pass'], ['canary-then-full/step4#2', 'pass'],
      ...[1, 2, 3, 4, 5, 6].map((n) => [`canary-then-full/final#${n}`, 'pass']),
    ]);
    expect(report.fleet.versions).toEqual({ '2.0.0': 50 });
    expect(report.fleet.bricked).toBe(0);
    expect(report.fleet.updateDurationsMs).toHaveLength(50);
    expect(report.fleet.counts.success).toBe(50);
    expect(report.steps.map((s) => s.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass']);
    // Sampled about every scenario second, and handed to onSample as taken.
    expect(samples.length).toBe(report.timeline.length);
    expect(report.timeline.length).toBeGreaterThan(20);
    const last = report.timeline.at(-1);
    expect(last?.versions['1.0.0'] ?? 0).toBeLessThanOrEqual(50);
    // The canary's span, then the full rollout's active and completed spans.
    expect(report.phases.some((p) => p.rollout === 'canary' && p.label === 'canary 10%')).toBe(true);
    expect(report.phases.some((p) => p.rollout === 'full' && p.state === 'completed')).toBe(true);
    expect(report.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['environment', 'fleet', 'rollout']));
  }, 120_000);

  it('runs on the scaled clock: scenario time is time_scale × the wall time it took', () => {
    expect(report.clock).toBe('virtual');
    // Both numbers measure the same interval, one on the ×10 clock (which starts just after the wall
    // stopwatch), so the ratio holds whatever the machine's load.
    expect(report.durationMs / report.wallMs).toBeGreaterThan(8);
    expect(report.durationMs / report.wallMs).toBeLessThanOrEqual(10.01);
    // Device timers ran on it: every update includes the 2 s (scenario) self-test.
    expect(Math.min(...report.fleet.updateDurationsMs)).toBeGreaterThanOrEqual(2000);
  });

  it('the embedded rollout engine runs on the same scaled clock: a 60 s soak passes inside a 3 min (scenario) wait', async () => {
    // On wall time the soak alone would take 60 s × 20 = 20 min of scenario time and the wait would time out.
    const r = await runScenario(parseScenario(`name: soak
certifies: "a plan's soak runs in scenario time"
time_scale: 20
fleet: { size: 20, device: { self_test_ms: 1000 } }
firmware:
  - { id: good, version: 2.0.0, size: 32KiB }
steps:
  - upload: good
  - plan: { name: p, firmware: good, phases: [{ percent: 30 }, { percent: 100 }], gate: { min_success_percent: 90, min_reports: 2, soak_ms: 60000 } }
  - wait: { for: { rollout: p, phase: 1 }, timeout: 3m }
`, 'soak.yaml'), { quiet: true });
    expect(r.error).toBeUndefined();
    expect(r.verdict).toBe('pass');
    const wait = r.steps.find((st) => st.kind === 'wait');
    expect((wait?.endMs ?? 0) - (wait?.startMs ?? 0)).toBeGreaterThanOrEqual(60_000);
  }, 90_000);

  it('a wait that cannot be met times out in scenario time: verdict error, later steps skipped', async () => {
    const r = await runScenario(parseScenario(`name: never
certifies: "a rollout of firmware never uploaded cannot complete"
time_scale: 20
fleet: { size: 10 }
firmware:
  - { id: ghost, version: 3.0.0 }
steps:
  - rollout: { name: ghost, firmware: ghost, target: all }
  - wait: { for: { rollout: ghost, state: completed }, timeout: 20s }
  - sleep: 1s
assert:
  versions: { "1.0.0": "== 100%" }
`, 'never.yaml'), { quiet: true });
    expect(r.verdict).toBe('error');
    expect(r.error).toMatch(/step 2 \(wait ghost completed .*\): timed out after 20\.0 s: rollout ghost state: active \(0\/10 targeted devices run 3\.0\.0\)/);
    expect(r.steps.map((s) => s.status)).toEqual(['pass', 'pass', 'error', 'skip']);
    const wait = r.steps[2];
    expect((wait?.endMs ?? 0) - (wait?.startMs ?? 0)).toBeGreaterThanOrEqual(20_000);
    // The final checks still ran and passed; the run's error decides the verdict.
    expect(r.checks.map((c) => c.status)).toEqual(['pass']);
  }, 90_000);

  it('a stop signal ends the run gracefully with a report', async () => {
    const stop = new AbortController();
    const r = await runScenario(parseScenario(`name: long
certifies: "stopped half-way"
time_scale: 5
fleet: { size: 5 }
steps:
  - sleep: 1h
`, 'long.yaml'), { quiet: true, signal: stop.signal, onSample: (s) => { if (s.t > 0 && s.states.idle === 5) stop.abort(); } });
    expect(r.verdict).toBe('error');
    expect(r.error).toMatch(/interrupted/);
    expect(r.steps.at(-1)?.status).toBe('error');
  }, 60_000);
});

describe('otasim run', () => {
  it('exits 2 for bad files, naming each place, and starts nothing', () => {
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    const worse = join(dir, 'worse.yaml');
    writeFileSync(good, CANARY);
    writeFileSync(bad, 'name: bad\ncertifies: x\nfleet: { size: 10, colour: red }\n');
    writeFileSync(worse, 'name: worse\ncertifies: x\nfleet: { size: 10 }\nsteps:\n  - wait: { for: { rollout: nope, state: active } }\n');
    const json = join(dir, 'never.json');
    const r = runCli(['run', good, bad, worse, '--json', json]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`otasim: OTASIM_ERR_SCENARIO: ${bad}:3:20: fleet.colour: unknown key "colour"`);
    expect(r.stderr).toContain(`otasim: OTASIM_ERR_SCENARIO: ${worse}:5:29: steps.0.wait.for.rollout: unknown rollout or plan "nope"`);
    expect(r.stderr).toContain('2 of 3 scenario file(s) refused; nothing was run');
    expect(r.stdout).toBe('');
    expect(existsSync(json)).toBe(false);
  }, 60_000);

  it('exits 2 without a scenario, and for an unreachable external server', () => {
    expect(runCli(['run']).status).toBe(2);
    const ext = join(dir, 'ext.yaml');
    writeFileSync(ext, 'name: ext\ncertifies: x\nenvironment: { server: { url: "http://127.0.0.1:9", api_key: k }, broker: "mqtt://127.0.0.1:9" }\nfleet: { size: 1 }\n');
    const r = runCli(['run', ext]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ext\.yaml: environment\.(server|broker): /);
  }, 60_000);

  it('exits 1 when an assertion fails, and still writes JSON and JUnit', () => {
    const file = join(dir, 'fails.yaml');
    writeFileSync(file, `name: half-is-not-all
certifies: "a 50% canary does not put every device on 2.0.0"
time_scale: 10
fleet: { size: 12 }
firmware:
  - { id: good, version: 2.0.0, size: 32KiB }
steps:
  - upload: good
  - rollout: { name: half, firmware: good, target: canary, percentage: 50 }
  - wait: { for: { rollout: half, state: completed }, timeout: 3m }
assert:
  versions: { "2.0.0": "== 100%" }
  bricked: 0
`);
    const json = join(dir, 'fails.json');
    const junit = join(dir, 'fails.xml');
    const r = runCli(['run', file, '--json', json, '--junit', junit, '--quiet']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/otasim run: 0\/1 scenario\(s\) passed/);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(rep.verdict).toBe('fail');
    expect(rep.checks.map((c) => c.status)).toEqual(['fail', 'pass']);
    expect(rep.checks[0]?.actual).toMatch(/^\d+ of 12 /);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="half-is-not-all" tests="2" failures="1" errors="0"/);
  }, 90_000);
});
