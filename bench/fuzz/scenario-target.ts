/**
 * Fuzz target for scenario files: the harness loader (`parseScenario`, YAML → schema → whole-file
 * checks) over mutants of the project's own scenarios. Line edits (drop, duplicate, swap,
 * re-indent, a value replaced by a nasty token) keep most of the YAML shape so the schema and the
 * semantic checks run; byte edits reach the YAML parser itself. The only allowed outcomes are a
 * parsed scenario or a `ScenarioError` at file:line:col.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseScenario } from '../../harness/index.js';
import { target, type FuzzTarget } from './engine.js';
import { applyLineEdits, applyMutations, lineEditArb, mutationArb, type LineEdit, type Mutation } from './mutate.js';

/** The text of every `*.yaml` scenario in `dir`. */
export function scenarioSeeds(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** Scalars that break assumptions: numbers at the edges, durations, sizes, YAML oddities. */
const TOKENS = ['0', '-1', '1e309', '0x10', '99999999999999999999', '.5', 'null', '~', 'true', 'NO', '""', "''", '[]', '{}',
  '0s', '1ms', '-5m', '24h', '10d', '1.5MiB', '0B', '9999TiB', '<', '>=', '==', '50%', '150%', '-10%', '${UNSET}', '${HOME}',
  '&a', '*a', '*undefined', '!!binary AAAA', '!!js/function x', '? x', '|', '>-', '\t', '#', '- -', '../../etc/passwd', '\u0000',
  'x'.repeat(300), 'esp32', '1.0.0', 'all', 'canary', 'paku-legacy'];

/** A scenario case: a seed, line edits, and maybe byte edits on top. */
export interface ScenarioCase {
  readonly seed: number;
  readonly lines: readonly LineEdit[];
  readonly bytes: readonly Mutation[];
}

/** `parseScenario` over mutants of `seeds`; relative paths resolve against `baseDir`. */
export function scenarioTarget(seeds: readonly string[], baseDir: string): FuzzTarget<ScenarioCase> {
  if (seeds.length === 0) throw new Error('scenario fuzzing needs at least one seed scenario');
  const arb: fc.Arbitrary<ScenarioCase> = fc.record({
    seed: fc.nat({ max: seeds.length - 1 }),
    lines: fc.array(lineEditArb(TOKENS, /^(\s*(?:- )?[A-Za-z_][\w-]*:\s*|\s*- )/), { minLength: 0, maxLength: 3 }),
    bytes: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(mutationArb(), { minLength: 1, maxLength: 3 }) }),
  });
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return target('scenario', arb, (c) => {
    let text = applyLineEdits(seeds, c.seed, c.lines);
    if (c.bytes.length > 0) text = dec.decode(applyMutations(enc.encode(text), c.bytes));
    parseScenario(text, 'fuzz.yaml', { env: { FUZZ: 'x' }, baseDir });
    return 'ok';
  });
}
