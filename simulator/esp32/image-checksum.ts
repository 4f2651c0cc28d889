/**
 * The app image checksum: 0xEF XOR every byte of every segment's data.
 * ESP-IDF esp_image_format.c `process_segment_data`/`process_checksum`: the bootloader XORs
 * 32-bit words and folds the four bytes at the end, which gives the same byte as a byte-wise XOR.
 * Facts: esp-idf-ota-facts.md §3.3.
 */

import { simdXorWords } from './xor-simd.js';

/** `ESP_ROM_CHECKSUM_INITIAL` (ESP-IDF esp_image_format.c). */
export const CHECKSUM_INITIAL = 0xef;

/** Bytes per bounce-buffer chunk when the input's byteOffset is not 4-aligned. */
const BOUNCE = 64 * 1024;
/**
 * Words per call of the inner loop. Many short calls get the loop optimized as a whole function;
 * one long call relies on on-stack replacement, whose code V8 sometimes keeps at half the speed.
 */
const CHUNK_WORDS = 8192;

/**
 * XOR of all 32-bit words in `b[start, end)`, as a 32-bit integer (fold it with {@link foldXor}).
 * `start` and `end` must be multiples of 4 relative to `b` (segment data offsets always are); any
 * `b.byteOffset` works. Uses WebAssembly SIMD when available (xor-simd.ts), else {@link xorWordsJs}.
 */
export function xorWords(b: Uint8Array, start: number, end: number): number {
  return simdXorWords(b, start, end) ?? xorWordsJs(b, start, end);
}

/**
 * The same XOR in JavaScript: an aligned buffer is read in place as 32-bit words; a misaligned one is
 * copied through a 64 KiB bounce buffer (the only copy, and only in that case).
 */
export function xorWordsJs(b: Uint8Array, start: number, end: number): number {
  const abs = b.byteOffset + start;
  if ((abs & 3) === 0) return xorInt32(new Int32Array(b.buffer, abs, (end - start) >>> 2));
  const bounce = new Int32Array(Math.min(BOUNCE, end - start) >>> 2);
  const bytes = new Uint8Array(bounce.buffer);
  let acc = 0;
  for (let off = start; off < end; off += BOUNCE) {
    const n = Math.min(BOUNCE, end - off);
    bytes.set(b.subarray(off, off + n));
    acc ^= xorRange(bounce, 0, n >>> 2);
  }
  return acc;
}

function xorInt32(w: Int32Array): number {
  let acc = 0;
  for (let i = 0; i < w.length; i += CHUNK_WORDS) acc ^= xorRange(w, i, Math.min(i + CHUNK_WORDS, w.length));
  return acc;
}

/**
 * XOR of `w[from, to)`. Eight words per step folded into two accumulators: of the shapes measured
 * (one, two, four and eight accumulators; 4, 8 and 16 words per step) this one ran fastest, about
 * 7.5 GB/s on the development machine (bounds checks bound it; the SIMD path runs at about 30 GB/s).
 */
function xorRange(w: Int32Array, from: number, to: number): number {
  let a = 0;
  let b = 0;
  const end8 = from + ((to - from) & ~7);
  let i = from;
  for (; i < end8; i += 8) {
    a ^= w[i]! ^ w[i + 1]! ^ w[i + 2]! ^ w[i + 3]!;
    b ^= w[i + 4]! ^ w[i + 5]! ^ w[i + 6]! ^ w[i + 7]!;
  }
  for (; i < to; i++) a ^= w[i]!;
  return a ^ b;
}

/** Fold a 32-bit XOR accumulator into one byte (the XOR of its four bytes). */
export function foldXor(x: number): number {
  return (x ^ (x >>> 8) ^ (x >>> 16) ^ (x >>> 24)) & 0xff;
}

