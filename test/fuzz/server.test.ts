/**
 * Fuzzing what the OTA server reads from the outside (issue 9 "Fuzzing"): every HTTP route from
 * the server's own route table, with random and mutated parameters, queries, headers, JSON and
 * multipart bodies; and every MQTT reply kind, both wire profiles, into the collector with the
 * real store behind it. Allowed: success or a typed refusal (a 4xx error body; a collector or
 * store refusal). A 5xx, a crash or a case that never settles fails.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzProperty, total, unreached, type Counts, type FuzzTarget } from '../../bench/fuzz/engine.js';
import { withServerTargets } from '../../bench/fuzz/server-targets.js';
import { CI_RUNS } from './runs.js';

const START_MS = 180_000;

let targets: FuzzTarget<unknown>[] = [];
let stop: () => void = () => {};
let stopped: Promise<void> = Promise.resolve();

beforeAll(async () => {
  // The server lives for the whole file: started here, closed when `stop` releases the callback.
  await new Promise<void>((ready, fail) => {
    stopped = withServerTargets(async (ts) => {
      targets = ts;
      ready();
      await new Promise<void>((resolve) => { stop = resolve; });
    }).catch((e: unknown) => { fail(e); });
  });
}, START_MS);
afterAll(async () => {
  stop();
  await stopped;
}, START_MS);

describe('server inputs under fuzzing', () => {
  for (const name of ['http-routes', 'http-routes-guarded', 'http-wire', 'mqtt-paku-edge', 'mqtt-paku-legacy']) {
    it(`${name}: ${CI_RUNS} random and mutated inputs end in success or a typed refusal`, async () => {
      const t = targets.find((x) => x.name === name);
      expect(t, name).toBeDefined();
      const counts: Counts = new Map();
      await fc.assert(fuzzProperty(t as FuzzTarget<unknown>, counts), { numRuns: CI_RUNS });
      expect(unreached(t as FuzzTarget<unknown>, counts), JSON.stringify([...counts])).toEqual([]);
      expect(total(counts)).toBe(CI_RUNS);
    }, 120_000);
  }
});
