/** The assertions both durability tests make on one run of bench/durability.ts. */
import { expect } from 'vitest';
import { durabilityLine, runDurability, type DurabilityOptions } from '../../bench/durability.js';

/** Devices in CI (the 5,000 run from `npm run bench`). */
export const CI_DEVICES = 1000;

export async function checkDurability(o: Pick<DurabilityOptions, 'backend' | 'databaseUrl'>): Promise<void> {
  const r = await runDurability({ ...o, devices: CI_DEVICES, log: (line) => process.stderr.write(`durability ${o.backend}: ${line}\n`) });
  process.stdout.write(`${durabilityLine(r)}\n`);
  expect(r.faults).toBe(1);
  // Every device acknowledges at least its ack or first report and its result.
  expect(r.compared).toBeGreaterThan(2 * CI_DEVICES);
  expect(r.lostSample).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.planAfterRestart).toEqual(r.planAtKill);
  expect(r.planFinal).toBe('completed');
  expect(r.bricked).toBe(0);
  expect(r.consistent).toBe(CI_DEVICES);
  // A device may roll back on its own (its self-test lost to a reset); the plan's gate allows 10%.
  expect(r.versions['2.0.0'] ?? 0).toBeGreaterThanOrEqual(0.9 * CI_DEVICES);
  expect(r.harmedByDuplicate).toBe(0);
}
