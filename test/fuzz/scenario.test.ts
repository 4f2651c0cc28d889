/**
 * Fuzzing scenario files (issue 9 "Fuzzing"): mutants of the project's own scenarios into the
 * harness loader. Every case must parse or be refused with a ScenarioError; nothing else.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzProperty, total, unreached, type Counts } from '../../bench/fuzz/engine.js';
import { scenarioSeeds, scenarioTarget } from '../../bench/fuzz/scenario-target.js';
import { projectRoot } from '../fixtures.js';
import { CI_RUNS } from './runs.js';

const dir = join(projectRoot, 'scenarios');

describe('scenario files under fuzzing', () => {
  it(`scenario: ${CI_RUNS} mutated scenario files parse or are refused at file:line:col`, async () => {
    const t = scenarioTarget(scenarioSeeds(dir), dir);
    const counts: Counts = new Map();
    await fc.assert(fuzzProperty(t, counts), { numRuns: CI_RUNS });
    expect(unreached(t, counts), JSON.stringify([...counts])).toEqual([]);
    expect(total(counts)).toBe(CI_RUNS);
  }, 120_000);
});
