/**
 * Network faults at the HTTP port (simulator/faults/apply-http.ts), whatever the network's chunking:
 * a cut delivers exactly its byte count, corruption flips exactly the planned image offsets, and a
 * rate cap spends size / rate of (virtual) time.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtualClock } from '../../protocol/clock.js';
import { OtasimError } from '../../protocol/errors.js';
import { FAULT_CUT, faultyBody, isCleanPlan } from '../../simulator/faults/apply-http.js';
import type { NetworkPlan } from '../../simulator/faults/decide.js';
import { CLEAN } from './runtime-kit.js';

async function* chunks(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = Math.max(1, sizes[i % Math.max(1, sizes.length)] ?? 1);
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<{ bytes: Uint8Array; error: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    for await (const c of body) parts.push(Uint8Array.from(c));
    return { bytes: Buffer.concat(parts), error: undefined };
  } catch (e) {
    return { bytes: Buffer.concat(parts), error: e };
  }
}

describe('faultyBody', () => {
  it('cuts after exactly cutAfter bytes and flips exactly the planned offsets, for any chunking', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
      fc.option(fc.integer({ min: 0, max: 3500 }), { nil: null }),
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 3500 }), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
      fc.integer({ min: 0, max: 10_000 }),
      async (data, sizes, cutAfter, corrupt, startOffset) => {
        const plan: NetworkPlan = { ...CLEAN, cutAfter, corrupt: corrupt.map((c) => ({ at: c.at + startOffset, xor: c.xor })) };
        const { bytes, error } = await collect(faultyBody(chunks(data, sizes), plan, { clock: new VirtualClock(), startOffset }));
        const expectLen = cutAfter === null ? data.length : Math.min(cutAfter, data.length);
        expect(bytes.length).toBe(expectLen);
        const want = Uint8Array.from(data.subarray(0, expectLen));
        for (const c of corrupt) if (c.at < expectLen) want[c.at] = (want[c.at] as number) ^ c.xor;
        expect(Buffer.from(bytes).equals(Buffer.from(want))).toBe(true);
        if (cutAfter !== null && cutAfter <= data.length) {
          expect(error).toBeInstanceOf(OtasimError);
          expect((error as OtasimError).code).toBe(FAULT_CUT);
        } else {
          expect(error).toBeUndefined();
        }
      },
    ), { numRuns: 300 });
  });

  it('never mutates the chunks it is given', async () => {
    const data = new Uint8Array(100).fill(7);
    const plan: NetworkPlan = { ...CLEAN, corrupt: [{ at: 10, xor: 0xff }] };
    const { bytes } = await collect(faultyBody(chunks(data, [30]), plan, { clock: new VirtualClock(), startOffset: 0 }));
    expect(bytes[10]).toBe(7 ^ 0xff);
    expect(data[10]).toBe(7);
  });

  it('a rate cap delivers in tenth-second slices and takes size / rate in virtual time', async () => {
    const clock = new VirtualClock();
    const data = new Uint8Array(10_000);
    const plan: NetworkPlan = { ...CLEAN, bytesPerSecond: 2_000 };
    const sizes: number[] = [];
    const done = (async () => {
      for await (const c of faultyBody(chunks(data, [4096]), plan, { clock, startOffset: 0 })) sizes.push(c.length);
    })();
    while (sizes.reduce((a, b) => a + b, 0) < data.length) await clock.advanceAsync(100);
    await done;
    expect(Math.max(...sizes)).toBeLessThanOrEqual(200);
    expect(clock.now()).toBeGreaterThanOrEqual(5_000 - 100);
    expect(clock.now()).toBeLessThanOrEqual(5_000 + 200);
  });

  it('a clean plan is recognised, so the body passes untouched', () => {
    expect(isCleanPlan(CLEAN)).toBe(true);
    expect(isCleanPlan({ ...CLEAN, latencyMs: 500 })).toBe(true);
    expect(isCleanPlan({ ...CLEAN, cutAfter: 0 })).toBe(false);
    expect(isCleanPlan({ ...CLEAN, corrupt: [{ at: 1, xor: 1 }] })).toBe(false);
  });
});
