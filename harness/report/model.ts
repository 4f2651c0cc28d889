/**
 * The record of one harness run, shared by every reporter (console, JSON, JUnit, HTML) and by the
 * certify suites. A scenario run fills a {@link RunReport}; a certify run fills a {@link SuiteReport}.
 * Both reduce to JUnit through {@link toJunitSuites}. Times are milliseconds since the run started,
 * on the run's clock (virtual time when the scenario asks for it). Pure: types and small helpers.
 */
import type { FleetState } from '../../simulator/fleet/states.js';

/** Outcome of one check: an assertion of a scenario, or a requirement of a certify suite. */
export interface CheckResult {
  /** Stable id: a requirement id (`SRV-CHECK-001`) or `{scenario}/{step or final}#{n}`. */
  readonly id: string;
  /** What was checked, for people: `success rate ≥ 0.95`. */
  readonly name: string;
  /** `pass`, `fail` (the implementation under test is wrong), `error` (the check could not run), `skip`. */
  readonly status: 'pass' | 'fail' | 'error' | 'skip';
  /** Expected value or rule, as text. */
  readonly expected?: string;
  /** What was measured, as text. */
  readonly actual?: string;
  /** Why it failed or was skipped. */
  readonly message?: string;
  /** When the check ran, ms since the run started. */
  readonly atMs?: number;
  /** How long it took, ms. */
  readonly durationMs?: number;
}

/** One step of a scenario as it ran. */
export interface StepRecord {
  readonly index: number;
  /** Step kind as written in the scenario (`upload`, `rollout`, `wait`, `fault`, `assert`, …). */
  readonly kind: string;
  /** Short text for tables: `wait rollout canary completed (timeout 60 s)`. */
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly status: 'pass' | 'fail' | 'error' | 'skip';
  readonly message?: string;
}

/** Fleet picture at one instant (the charts' x axis is `t`). */
export interface TimelineSample {
  readonly t: number;
  /** Running firmware version → devices. */
  readonly versions: Readonly<Record<string, number>>;
  /** Fleet state → devices. */
  readonly states: Readonly<Record<FleetState, number>>;
}

/** One interval of a rollout's life: a phase, a pause, a halt. */
export interface PhaseSpan {
  /** Rollout or plan name. */
  readonly rollout: string;
  /** Phase label (`canary 10%`, `phase 2`, `paused`, `rolled back`). */
  readonly label: string;
  readonly startMs: number;
  /** Null while still open when the run ended. */
  readonly endMs: number | null;
  /** State of the rollout in this span (`active`, `paused`, `completed`, `aborted`, …). */
  readonly state: string;
}

/** A notable event on the run's timeline (fault injected, server restarted, rollout halted). */
export interface RunEvent {
  readonly t: number;
  readonly kind: string;
  readonly detail: string;
}

/** Everything one scenario run produced. JSON reporter writes it as is. */
export interface RunReport {
  readonly kind: 'scenario';
  readonly scenario: {
    readonly name: string;
    /** Path of the scenario file as given. */
    readonly file: string;
    /** What the scenario certifies (its `certifies` text). */
    readonly certifies: string;
  };
  readonly seed: number;
  /** Wall-clock ISO time the run started. */
  readonly startedAt: string;
  /** Run length on the run's clock, ms. */
  readonly durationMs: number;
  /** Wall time the run took, ms. */
  readonly wallMs: number;
  /** `virtual` when the scenario ran on the virtual clock, else `wall`. */
  readonly clock: 'virtual' | 'wall';
  /** `pass` when every check passed; `fail` when one failed; `error` when the run could not complete. */
  readonly verdict: 'pass' | 'fail' | 'error';
  /** Set when verdict is `error`: what stopped the run. */
  readonly error?: string;
  readonly steps: readonly StepRecord[];
  /** Step assertions and final assertions, in the order they ran. */
  readonly checks: readonly CheckResult[];
  readonly fleet: {
    readonly devices: number;
    readonly counts: Readonly<Record<FleetState, number>>;
    /** Running version → devices at the end. */
    readonly versions: Readonly<Record<string, number>>;
    readonly updateMs: { readonly count: number; readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
    /** Every update duration, ms (the histogram's data). */
    readonly updateDurationsMs: readonly number[];
    readonly bytes: number;
    /** Failed and rolled-back updates by reason code. */
    readonly errors: Readonly<Record<string, number>>;
    readonly bricked: number;
  };
  readonly timeline: readonly TimelineSample[];
  readonly phases: readonly PhaseSpan[];
  readonly events: readonly RunEvent[];
}

/** What a certify suite produced (server or device). */
export interface SuiteReport {
  readonly kind: 'certify';
  /** `server` or `device`. */
  readonly suite: string;
  /** What was tested: a URL, a device id. */
  readonly target: string;
  readonly startedAt: string;
  readonly wallMs: number;
  readonly verdict: 'pass' | 'fail' | 'error';
  readonly error?: string;
  readonly checks: readonly CheckResult[];
  /** Findings that are not failures of the protocol (a device's known warts), with requirement ids. */
  readonly findings?: readonly CheckResult[];
}

/** A JUnit test suite, the shape {@link ../report/junit.ts} writes. */
export interface JunitSuite {
  readonly name: string;
  readonly timestamp?: string;
  readonly timeSec: number;
  readonly properties?: Readonly<Record<string, string>>;
  readonly cases: readonly JunitCase[];
}

export interface JunitCase {
  readonly classname: string;
  readonly name: string;
  readonly timeSec: number;
  readonly status: CheckResult['status'];
  /** Failure or error message (one line). */
  readonly message?: string;
  /** Failure details (expected / actual). */
  readonly details?: string;
}

/** The verdict of a list of checks: any error → error, else any fail → fail, else pass. */
export function verdictOf(checks: readonly CheckResult[]): 'pass' | 'fail' | 'error' {
  if (checks.some((c) => c.status === 'error')) return 'error';
  return checks.some((c) => c.status === 'fail') ? 'fail' : 'pass';
}

function caseOf(classname: string, c: CheckResult): JunitCase {
  const details = [c.expected === undefined ? null : `expected: ${c.expected}`, c.actual === undefined ? null : `actual: ${c.actual}`]
    .filter((l): l is string => l !== null).join('\n');
  return {
    classname, name: `${c.id} ${c.name}`, timeSec: (c.durationMs ?? 0) / 1000, status: c.status,
    ...(c.message === undefined ? {} : { message: c.message }), ...(details === '' ? {} : { details }),
  };
}

/** One JUnit suite per report, one test case per check (and per finding of a certify suite). */
export function toJunitSuites(reports: ReadonlyArray<RunReport | SuiteReport>): JunitSuite[] {
  return reports.map((r): JunitSuite => {
    if (r.kind === 'scenario') {
      const cases = r.checks.map((c) => caseOf(r.scenario.name, c));
      if (r.verdict === 'error' && !r.checks.some((c) => c.status === 'error')) {
        cases.push({ classname: r.scenario.name, name: 'run', timeSec: r.wallMs / 1000, status: 'error', message: r.error ?? 'run did not complete' });
      }
      return {
        name: r.scenario.name, timestamp: r.startedAt, timeSec: r.wallMs / 1000,
        properties: { file: r.scenario.file, seed: String(r.seed), certifies: r.scenario.certifies, clock: r.clock }, cases,
      };
    }
    const name = `certify-${r.suite}`;
    const cases = [...r.checks, ...(r.findings ?? [])].map((c) => caseOf(name, c));
    if (r.verdict === 'error' && !r.checks.some((c) => c.status === 'error')) {
      cases.push({ classname: name, name: 'run', timeSec: r.wallMs / 1000, status: 'error', message: r.error ?? 'suite did not complete' });
    }
    return { name, timestamp: r.startedAt, timeSec: r.wallMs / 1000, properties: { target: r.target }, cases };
  });
}
