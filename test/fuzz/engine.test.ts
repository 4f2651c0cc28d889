/**
 * The fuzz engine itself: a crash, an untyped error, a 5xx-style `crash:` label and a case that
 * never settles must each fail the property, or the fuzz suites could pass without proving anything.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { fuzzProperty, outcomeOf, settleWithin, target, unreached, type Counts } from '../../bench/fuzz/engine.js';
import { applyLineEdits, applyMutations } from '../../bench/fuzz/mutate.js';

describe('fuzz engine', () => {
  it('names typed refusals and successes, and turns anything else into a crash', async () => {
    expect(await outcomeOf(target('t', fc.constant(0), () => 'ok:x'), 0)).toBe('ok:x');
    expect(await outcomeOf(target('t', fc.constant(0), () => { throw new ConfigError('no'); }), 0)).toBe('refused:OTASIM_ERR_CONFIG');
    await expect(outcomeOf(target('t', fc.constant(0), () => { throw new TypeError('boom'); }), 0)).rejects.toThrow(/crash: TypeError: boom/);
    await expect(outcomeOf(target('t', fc.constant(0), () => 'crash:500 for GET /'), 0)).rejects.toThrow(/500/);
    await expect(outcomeOf(target('t', fc.constant(0), async () => Promise.reject(new RangeError('r'))), 0)).rejects.toThrow(/crash: RangeError/);
  });

  it('a case that never settles is a hang, bounded in event-loop turns', async () => {
    await expect(settleWithin(new Promise(() => {}), 50)).rejects.toThrow(/hang/);
    await expect(settleWithin(new Promise((r) => setImmediate(() => r('late'))), 50)).resolves.toBe('late');
    await expect(outcomeOf(target('t', fc.constant(0), () => new Promise<string>(() => {})), 0, 50)).rejects.toThrow(/hang/);
  });

  it('a crashing target fails its property, and counts stop at the first crash', async () => {
    const counts: Counts = new Map();
    const t = target('t', fc.nat({ max: 99 }), (n) => {
      if (n === 42) throw new Error('the answer');
      return 'ok';
    });
    const r = await fc.check(fuzzProperty(t, counts), { numRuns: 2000, seed: 1 });
    expect(r.failed).toBe(true);
    expect(r.counterexample).toEqual([42]);
    expect([...counts.keys()]).toEqual(['ok']);
    expect(unreached(t, counts)).toEqual(['refused']);
  });

  it('mutations apply to any input length and are deterministic', () => {
    const seed = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...applyMutations(seed, [{ op: 'truncate', at: 11 }])]).toEqual([1, 2, 3]);
    expect([...applyMutations(seed, [{ op: 'u32', at: 6, value: 0xaabbccdd }])]).toEqual([1, 2, 3, 4, 5, 6, 0xdd, 0xcc]);
    expect([...applyMutations(new Uint8Array(0), [{ op: 'flip', at: 3, xor: 1 }, { op: 'insert', at: 0, bytes: Uint8Array.from([9]) }])]).toEqual([9]);
    expect([...applyMutations(seed, [{ op: 'delete', at: 2, len: 3 }])]).toEqual([1, 2, 6, 7, 8]);
    expect(applyLineEdits(['a: 1\nb: 2'], 0, [{ op: 'value', at: 1, token: 'x', keep: /^b:\s*/ }, { op: 'dup', at: 0 }])).toBe('a: 1\na: 1\nb: x');
  });
});
