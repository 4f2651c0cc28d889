/**
 * Fuzzing the ESP32 byte parsers (issue 9 "Fuzzing"): mutants of real and built seeds into
 * app-image verify, partition table and CSV decode, otadata selection and the SBv2 signature
 * sector. Every case must end in success or a typed error; nothing else is allowed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzProperty, total, unreached, type Counts } from '../../bench/fuzz/engine.js';
import { esp32Corpus, esp32Targets } from '../../bench/fuzz/esp32-targets.js';
import { fixturesDir, haveFixtures } from '../fixtures.js';
import { CI_RUNS } from './runs.js';

const corpus = esp32Corpus(haveFixtures ? fixturesDir : undefined);

describe('ESP32 parsers under fuzzing', () => {
  for (const t of esp32Targets(corpus)) {
    it(`${t.name}: ${CI_RUNS} mutated inputs end in success or a typed error`, async () => {
      const counts: Counts = new Map();
      await fc.assert(fuzzProperty(t, counts), { numRuns: CI_RUNS });
      // The mutants must reach both sides: some still pass, some are refused.
      expect(unreached(t, counts), JSON.stringify([...counts])).toEqual([]);
      expect(total(counts)).toBe(CI_RUNS);
    });
  }
});
