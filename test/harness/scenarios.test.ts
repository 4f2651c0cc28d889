/**
 * The scenario library as data: every file loads through the real loader, names what it
 * certifies, stays small enough for CI unless it is the heavy load rehearsal, and is run by one
 * of the scenario run suites (scenarios-*.test.ts).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../harness/index.js';
import { DEVICE_FAULTS, HEAVY, libraryNames, RUNTIME_FAULTS, SCENARIO_DIR, STRATEGIES } from './scenarios-kit.js';

const names = libraryNames();

describe('scenario library', () => {
  it('has at least 14 scenarios, each run by exactly one suite or marked heavy', () => {
    expect(names.length).toBeGreaterThanOrEqual(14);
    const covered = [...STRATEGIES, ...DEVICE_FAULTS, ...RUNTIME_FAULTS, ...HEAVY];
    expect(new Set(covered).size).toBe(covered.length);
    expect([...covered].sort()).toEqual(names);
  });

  for (const name of names) {
    it(`${name}: loads, is named after its file and says what it certifies`, async () => {
      const s = await loadScenario(join(SCENARIO_DIR, `${name}.yaml`));
      expect(s.data.name).toBe(name);
      expect(s.data.certifies.length).toBeGreaterThan(30);
      expect(s.data.steps.length).toBeGreaterThan(0);
      expect(Object.keys(s.data.assert).length).toBeGreaterThan(0);
      // Heavy exactly when listed so: `otasim run` skips it unless --heavy.
      expect(s.data.heavy).toBe((HEAVY as readonly string[]).includes(name));
      if (s.data.heavy) {
        expect(s.data.fleet.size).toBeGreaterThanOrEqual(10_000);
      } else {
        // Small and fast, so the whole library runs in CI in a few minutes.
        expect(s.data.fleet.size).toBeLessThanOrEqual(300);
      }
    });
  }
});
