/**
 * `npm run bench:fuzz` (or `npm run bench -- fuzz`): every fuzz target of test/fuzz, at bench
 * scale (issue 9: at least 10,000 runs of each), printing the count of each outcome. A crash (an
 * outcome that is neither a success nor a typed error) prints fast-check's shrunk counterexample
 * and its seed, and makes the exit code 1.
 *
 * Flags: `--runs N` (default 10,000), `--seed N` (default random, printed), `--only NAME`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { numberArg } from './load-worker.js';
import { formatCounts, fuzzProperty, total, unreached, type Counts, type FuzzTarget } from './fuzz/engine.js';
import { esp32Corpus, esp32Targets } from './fuzz/esp32-targets.js';
import { withServerTargets } from './fuzz/server-targets.js';
import { scenarioSeeds, scenarioTarget } from './fuzz/scenario-target.js';

const runs = numberArg('--runs', 10_000);
const seed = numberArg('--seed', Math.floor(Math.random() * 0x7fffffff));
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
const fixtures = process.env.OTASIM_FIXTURES ?? resolve(process.cwd(), '..', 'shared', 'fixtures', 'esp32');

let crashes = 0;

async function runTarget(t: FuzzTarget<unknown>): Promise<void> {
  if (only !== undefined && t.name !== only) return;
  const counts: Counts = new Map();
  const started = performance.now();
  const r = await fc.check(fuzzProperty(t, counts), { numRuns: runs, seed });
  const s = ((performance.now() - started) / 1000).toFixed(1);
  const missing = unreached(t, counts);
  process.stdout.write(`fuzz ${t.name}: ${total(counts)} runs, ${r.failed ? 1 : 0} crashes, ${s} s`
    + `${missing.length > 0 ? `; never reached ${missing.join(', ')}` : ''}\n  ${formatCounts(counts)}\n`);
  if (r.failed) {
    crashes++;
    process.stdout.write(`  CRASH after ${r.numRuns} runs (seed ${r.seed}, path ${r.counterexamplePath ?? '?'}): `
      + `${r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance)}\n`
      + `  counterexample: ${fc.stringify(r.counterexample)}\n`);
  }
}

process.stdout.write(`fuzz: ${runs} runs per target, seed ${seed}${existsSync(fixtures) ? '' : ` (no fixtures at ${fixtures}: built seeds only)`}\n`);
for (const t of esp32Targets(esp32Corpus(existsSync(fixtures) ? fixtures : undefined))) await runTarget(t);
const scenarios = resolve(process.cwd(), 'scenarios');
await runTarget(scenarioTarget(scenarioSeeds(scenarios), scenarios) as FuzzTarget<unknown>);
await withServerTargets(async (targets) => {
  for (const t of targets) await runTarget(t);
});
process.stdout.write(`fuzz: ${crashes} targets crashed\n`);
process.exitCode = crashes === 0 ? 0 : 1;
