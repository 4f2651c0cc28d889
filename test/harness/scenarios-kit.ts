/**
 * Running the scenario library's files through the real loader and runner, for the scenario tests.
 * A run that does not pass fails with its console summary, so CI shows which check broke and why.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadScenario, runScenario } from '../../harness/index.js';
import { consoleSummary, type RunReport } from '../../harness/report/index.js';
import { projectRoot } from '../fixtures.js';

export const SCENARIO_DIR = join(projectRoot, 'scenarios');

/** Every scenario file of the library, by name without `.yaml`. */
export function libraryNames(): string[] {
  return readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}

/** Load and run `scenarios/{name}.yaml` quietly; expect verdict pass (else show the summary). */
export async function runPassing(name: string): Promise<RunReport> {
  const scenario = await loadScenario(join(SCENARIO_DIR, `${name}.yaml`));
  const report = await runScenario(scenario, { quiet: true });
  expect(report.verdict, consoleSummary(report)).toBe('pass');
  return report;
}

/** The step check (a `- assert:` step) whose name starts with `prefix`, in run order. */
export function stepChecks(r: RunReport, prefix: string): RunReport['checks'] {
  return r.checks.filter((c) => c.name.startsWith(prefix) && !c.id.includes('final'));
}

/** Largest count of devices running `version` in any timeline sample at or before `t`. */
export function peakBefore(r: RunReport, version: string, t: number): number {
  return Math.max(0, ...r.timeline.filter((s) => s.t <= t).map((s) => s.versions[version] ?? 0));
}

/** True when devices running `version` never went down along the timeline (sticky targeting). */
export function neverDecreases(r: RunReport, version: string): boolean {
  let prev = 0;
  for (const s of r.timeline) {
    const v = s.versions[version] ?? 0;
    if (v < prev) return false;
    prev = v;
  }
  return true;
}

/** The library's scenarios by the test file that runs them; every non-heavy file is in one list. */
export const STRATEGIES = ['test-devices', 'canary-10-25-50', 'full-rollout', 'group-targeting', 'mac-targeting', 'plan-canary-full'] as const;
export const DEVICE_FAULTS = ['bad-firmware-halted', 'boot-crash-rollback', 'self-test-fail', 'flaky-network-resume', 'power-loss-write',
  'downgrade-rejected', 'tampered-image-rejected', 'stuck-devices-timeout'] as const;
export const RUNTIME_FAULTS = ['broker-outage', 'server-restart'] as const;
/** Run only with `--heavy` or from the benchmarks. */
export const HEAVY = ['load-10k'] as const;
