/**
 * The fuzzing engine shared by the CI suites (test/fuzz, ≥ 500 runs per target) and
 * `bench/fuzz.ts` (≥ 10,000): a target is an input generator plus one call into the code under
 * test, and every case ends in exactly one named outcome.
 *
 * The only allowed outcomes are a success or a typed refusal: an `OtasimError` thrown (its code
 * names the outcome), or a refusal the target reads off the code's own result (a 4xx JSON body, a
 * collector's "malformed"). Anything else — another exception, a 5xx, an async case that never
 * settles — is a crash and fails the property, which fast-check then shrinks to a small case.
 */
import fc from 'fast-check';
import { OtasimError } from '../../protocol/errors.js';

/** One fuzz target. */
export interface FuzzTarget<T> {
  /** Stable name, printed by the bench and used in test titles. */
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /**
   * Run one case and name its outcome (`ok`, `ok:<detail>`, `refused:<code>`). Throw an
   * `OtasimError` for a typed refusal; throw anything else (or return a `crash:` label) for a crash.
   */
  run(input: T): string | Promise<string>;
  /**
   * Outcome prefixes a CI run must reach (default `ok` and `refused`), so a generator that only
   * ever makes hopeless inputs, or only ever valid ones, fails instead of passing vacuously.
   */
  readonly reaches?: readonly string[];
}

/** A target from its parts (the input type is inferred from the arbitrary). */
export function target<T>(name: string, arbitrary: fc.Arbitrary<T>, run: (input: T) => string | Promise<string>,
  reaches?: readonly string[]): FuzzTarget<T> {
  return { name, arbitrary, run, ...(reaches === undefined ? {} : { reaches }) };
}

/** The prefixes of `t.reaches` that no outcome in `counts` starts with. */
export function unreached(t: Pick<FuzzTarget<unknown>, 'reaches'>, counts: Counts): string[] {
  const keys = [...counts.keys()];
  return (t.reaches ?? ['ok', 'refused']).filter((p) => !keys.some((k) => k === p || k.startsWith(`${p}:`)));
}

/** Outcome counts of one run of a target. */
export type Counts = Map<string, number>;

/**
 * Event-loop turns an async case may take before it counts as a hang. A budget in turns, not in
 * milliseconds, so a loaded machine does not turn a slow case into a failure; a request, a
 * PGlite transaction or a collector commit settles within a few thousand turns.
 */
export const DEFAULT_TURN_BUDGET = 200_000;

/** Resolve with `p`, or reject once `turns` event-loop turns have passed without it settling. */
export async function settleWithin<T>(p: Promise<T>, turns = DEFAULT_TURN_BUDGET): Promise<T> {
  let settled = false;
  const watched = p.finally(() => { settled = true; });
  let left = turns;
  const hang = new Promise<never>((_resolve, reject) => {
    const tick = (): void => {
      if (settled) return;
      if (--left <= 0) reject(new Error(`hang: the case did not settle within ${turns} event-loop turns`));
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
  return Promise.race([watched, hang]);
}

/** Label a thrown value: typed errors are outcomes, everything else is a crash. */
function label(e: unknown): string {
  if (e instanceof OtasimError) return `refused:${e.code}`;
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  throw new Error(`crash: ${what}`, { cause: e });
}

/** Run one case of `t` and return its outcome; throws (a crash) unless it is allowed. */
export async function outcomeOf<T>(t: FuzzTarget<T>, input: T, turns = DEFAULT_TURN_BUDGET): Promise<string> {
  let out: string;
  try {
    const r = t.run(input);
    out = typeof r === 'string' ? r : await settleWithin(r, turns);
  } catch (e) {
    return label(e);
  }
  if (out.startsWith('crash:')) throw new Error(out);
  return out;
}

/**
 * The property "every case of `t` ends in an allowed outcome", counting outcomes into `counts`
 * (cases run while shrinking a failure are not counted).
 */
export function fuzzProperty<T>(t: FuzzTarget<T>, counts: Counts): fc.IAsyncPropertyWithHooks<[T]> {
  let failed = false;
  return fc.asyncProperty(t.arbitrary, async (input) => {
    let out: string;
    try {
      out = await outcomeOf(t, input);
    } catch (e) {
      failed = true;
      throw e;
    }
    if (!failed) counts.set(out, (counts.get(out) ?? 0) + 1);
  });
}

/** `ok 120, refused:ESP_FAIL 30, …`, largest first. */
export function formatCounts(counts: Counts): string {
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
}

/** Total cases counted. */
export function total(counts: Counts): number {
  let n = 0;
  for (const v of counts.values()) n += v;
  return n;
}
