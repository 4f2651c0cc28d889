/**
 * Building a certify suite's {@link SuiteReport}: each requirement is recorded once, with its id,
 * as `pass`, `fail` (the implementation under test broke it), `error` (the check could not run)
 * or `skip` (the target offers nothing to check it with, or a flag is missing).
 */
import type { CheckResult, SuiteReport } from '../../report/model.js';
import { verdictOf } from '../../report/model.js';

/** Thrown inside a check to record a failure of the implementation under test. */
export class RequirementFailed extends Error {
  constructor(message: string, readonly detail: { expected?: string; actual?: string } = {}) {
    super(message);
    this.name = 'RequirementFailed';
  }
}

/** Thrown inside a check to record it as skipped (the target has no way to check it). */
export class RequirementSkipped extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequirementSkipped';
  }
}

/** Fail the current check unless `ok`. */
export function ensure(ok: boolean, message: string, detail: { expected?: string; actual?: string } = {}): asserts ok {
  if (!ok) throw new RequirementFailed(message, detail);
}

/** A requirement as a suite declares it. */
export interface Requirement {
  readonly id: string;
  readonly name: string;
}

/** Collects check results in the order they ran; `finish()` seals them into a SuiteReport. */
export class SuiteRecorder {
  readonly #checks: CheckResult[] = [];
  readonly #findings: CheckResult[] = [];
  readonly #t0 = performance.now();
  readonly #startedAt = new Date().toISOString();

  constructor(private readonly suite: string, private readonly target: string) {}

  /**
   * Run `fn` as requirement `req`. It passes when `fn` returns, fails on {@link RequirementFailed},
   * is skipped on {@link RequirementSkipped}, and is an error on anything else. `fn` may return
   * the measured value as text (`actual`).
   */
  async check(req: Requirement, fn: () => Promise<string | void> | string | void): Promise<CheckResult> {
    const start = performance.now();
    const base = { id: req.id, name: req.name, atMs: Math.round(start - this.#t0) };
    let result: CheckResult;
    try {
      const actual = await fn();
      result = { ...base, status: 'pass', ...(typeof actual === 'string' ? { actual } : {}) };
    } catch (e) {
      if (e instanceof RequirementFailed) result = { ...base, status: 'fail', message: e.message, ...e.detail };
      else if (e instanceof RequirementSkipped) result = { ...base, status: 'skip', message: e.message };
      else result = { ...base, status: 'error', message: e instanceof Error ? e.message : String(e) };
    }
    result = { ...result, durationMs: Math.round(performance.now() - start) };
    this.#checks.push(result);
    return result;
  }

  /** Record `req` as skipped without running anything. */
  skip(req: Requirement, why: string): void {
    this.#checks.push({ id: req.id, name: req.name, status: 'skip', message: why, atMs: Math.round(performance.now() - this.#t0) });
  }

  /** Record `req` as an error without running it (its setup failed). */
  error(req: Requirement, why: string): void {
    this.#checks.push({ id: req.id, name: req.name, status: 'error', message: why, atMs: Math.round(performance.now() - this.#t0) });
  }

  /** A note that is not a requirement (cleanup left-overs, a wart of the target). */
  finding(f: CheckResult): void {
    this.#findings.push(f);
  }

  /** The report; `error` marks a suite that stopped before its end. */
  finish(error?: string): SuiteReport {
    const verdict = error === undefined ? verdictOf(this.#checks) : 'error';
    return {
      kind: 'certify', suite: this.suite, target: this.target, startedAt: this.#startedAt,
      wallMs: Math.round(performance.now() - this.#t0), verdict, checks: [...this.#checks],
      ...(error === undefined ? {} : { error }), ...(this.#findings.length === 0 ? {} : { findings: [...this.#findings] }),
    };
  }
}
