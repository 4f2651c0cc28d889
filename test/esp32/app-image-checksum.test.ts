import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_INITIAL, foldXor, xorWords, xorWordsJs } from '../../simulator/esp32/image-checksum.js';
import { simdXorWords } from '../../simulator/esp32/xor-simd.js';

/** The checksum the slow, obvious way: XOR of every byte. */
function byteXor(b: Uint8Array, start: number, end: number): number {
  let x = 0;
  for (let i = start; i < end; i++) x ^= b[i]!;
  return x;
}

/** A random buffer placed at byteOffset `shift` inside a larger one, with a 4-aligned [start, end). */
const caseArb = fc.record({
  bytes: fc.uint8Array({ minLength: 0, maxLength: 3000 }),
  shift: fc.integer({ min: 0, max: 7 }),
  a: fc.nat(),
  b: fc.nat(),
}).map(({ bytes, shift, a, b }) => {
  const words = bytes.length >>> 2;
  const w1 = words === 0 ? 0 : a % (words + 1);
  const w2 = words === 0 ? 0 : b % (words + 1);
  const backing = new Uint8Array(bytes.length + shift);
  backing.set(bytes, shift);
  return { view: backing.subarray(shift), start: 4 * Math.min(w1, w2), end: 4 * Math.max(w1, w2) };
});

describe('checksum XOR (ESP-IDF process_checksum: 0xEF ^ every data byte, via 32-bit words)', () => {
  it('WebAssembly SIMD is available here, so the fast path is what the other tests exercise', () => {
    expect(simdXorWords(new Uint8Array(8), 0, 8)).toBe(0);
  });

  it('SIMD, JavaScript and byte-wise XOR agree for any bytes, range and byteOffset (property)', () => {
    fc.assert(fc.property(caseArb, ({ view, start, end }) => {
      const js = xorWordsJs(view, start, end);
      expect(simdXorWords(view, start, end)).toBe(js);
      expect(xorWords(view, start, end)).toBe(js);
      expect(foldXor(js)).toBe(byteXor(view, start, end));
    }), { numRuns: 2000 });
  });

  it('agree across the 64 KiB chunk boundaries of both paths, aligned and not', () => {
    const big = new Uint8Array(300_003);
    let x = 0x12345678;
    for (let i = 0; i < big.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      big[i] = x & 0xff;
    }
    for (const shift of [0, 1, 2, 3]) {
      const view = big.subarray(shift, shift + 300_000);
      for (const [start, end] of [[0, 65536], [4, 65540], [24, 131_100], [0, 300_000], [65532, 65536 * 3 + 4]]) {
        const js = xorWordsJs(view, start!, end!);
        expect(simdXorWords(view, start!, end!)).toBe(js);
        expect(foldXor(js)).toBe(byteXor(view, start!, end!));
      }
    }
  });

  it('an empty span XORs to 0, so an image without segments has checksum 0xEF', () => {
    expect(xorWords(new Uint8Array(32), 24, 24)).toBe(0);
    expect(foldXor(0) ^ CHECKSUM_INITIAL).toBe(0xef);
  });
});
