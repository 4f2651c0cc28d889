/**
 * `otasim demo`: the whole product in under a minute, on embedded defaults. It is an ordinary
 * scenario (below), run by the same runner and written by the same reporters as `otasim run`:
 * an embedded server and in-memory broker, 1,000 virtual ESP32s on 1.0.0, a good 2.0.0 rolled out
 * canary → full by the engine, then a 2.1.0 that crashes on 40% of boots, which the plan's failure
 * policy pauses inside its canary phase. Assertions are shares of the fleet, so `--devices` keeps
 * them meaningful.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressOut } from '../simulator/fleet/progress.js';
import { parseScenario, runScenario } from './index.js';
import { writeReports, type RunReport, type WrittenReports } from './report/index.js';

/** Devices in the demo unless `--devices` says otherwise. */
export const DEMO_DEVICES = 1000;

/** The demo scenario for a fleet of `devices`, as YAML: `otasim demo --print-scenario` shows it. */
export function demoYaml(devices = DEMO_DEVICES): string {
  return `# otasim demo: a good release canary → full, then a bad release the failure policy halts.
name: demo
certifies: "A good release reaches the whole fleet canary → full; a release crashing on 40% of boots is paused by the failure policy inside its canary phase; no device is bricked"
seed: 42
time_scale: 5
timeout: 5m
fleet:
  size: ${devices}
  ramp: 2000/s
  downloads: 64
  device: { boot_ms: 100, self_test_ms: 1000, reboot_delay_ms: 500 }
  composition:
    faults:
      - name: crashes-on-2.1.0
        weight: 1
        profile: { faults: [ { kind: boot_crash, version: 2.1.0, mode: probability, probability: 0.4, after_ms: 200 } ] }
firmware:
  - { id: good, version: 2.0.0, size: 64KiB }
  - { id: bad, version: 2.1.0, size: 64KiB }
steps:
  - upload: good
  - plan:
      name: good-canary-full
      firmware: good
      phases: [ { percent: 10 }, { percent: 100 } ]
      gate: { min_success_percent: 95, min_reports: 10, soak_ms: 5000 }
      failure: { max_failed_percent: 10, min_completed: 10, action: pause }
      device: { timeout_ms: 120000, max_concurrent: 60 }
  - wait: { for: { rollout: good-canary-full, state: completed }, timeout: 4m }
  - wait: { for: { versions: { "2.0.0": "== 100%" } }, timeout: 1m }
  - upload: bad
  - plan:
      name: bad-canary-full
      firmware: bad
      phases: [ { percent: 10 }, { percent: 100 } ]
      gate: { min_success_percent: 95, min_reports: 10, soak_ms: 5000 }
      failure: { max_failed_percent: 10, min_completed: 10, action: pause }
      device: { timeout_ms: 120000, max_concurrent: 60 }
  - wait: { for: { rollout: bad-canary-full, state: paused }, timeout: 3m }
  - sleep: 10s
assert:
  rollout: { good-canary-full: completed, bad-canary-full: paused }
  versions: { "2.1.0": "<= 15%", "2.0.0": ">= 85%" }
  errors: { boot_crash: ">= 1" }
  bricked: 0
`;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Fleet size. Default {@link DEMO_DEVICES}. */
  readonly devices?: number;
  /** Report directory. Default a fresh `otasim-demo-*` directory under the OS temp dir. */
  readonly reportDir?: string;
  readonly seed?: number;
  /** Live progress (stderr). */
  readonly progress?: ProgressOut;
  readonly signal?: AbortSignal;
}

/** Run the demo and write its reports; the verdict is in `report.verdict`. */
export async function runDemo(opts: DemoOptions = {}): Promise<{ report: RunReport; written: WrittenReports }> {
  const scenario = parseScenario(demoYaml(opts.devices ?? DEMO_DEVICES), 'otasim demo');
  const reportDir = opts.reportDir ?? await mkdtemp(join(tmpdir(), 'otasim-demo-'));
  const report = await runScenario(scenario, {
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    ...(opts.progress === undefined ? {} : { progress: opts.progress }),
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  const written = await writeReports([report], { reportDir });
  return { report, written };
}
