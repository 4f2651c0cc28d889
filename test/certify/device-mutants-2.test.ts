/** Device mutants 5–8 of the catalogue: the suite fails each on exactly the requirement ids it names. */
import { describe, expect, it } from 'vitest';
import { DEVICE_MUTANTS } from '../../harness/certify/device/index.js';
import { failingIds } from './device-mutants.js';

describe('the device suite catches broken devices claiming esp-idf', () => {
  it.each(DEVICE_MUTANTS.slice(4, 8).map((m) => [m.name, m] as const))('%s', async (_name, m) => {
    const { ids, verdict } = await failingIds(m);
    expect(ids).toEqual([...m.fails].sort());
    expect(verdict).toBe('fail');
  }, 120_000);
});
