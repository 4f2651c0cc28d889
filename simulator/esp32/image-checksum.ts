/**
 * The app image checksum: 0xEF XOR every byte of every segment's data.
 * ESP-IDF esp_image_format.c `process_segment_data`/`process_checksum`: the bootloader XORs
 * 32-bit words and folds the four bytes at the end, which gives the same byte as a byte-wise XOR.
 * Facts: esp-idf-ota-facts.md §3.3.
 */

/** `ESP_ROM_CHECKSUM_INITIAL` (ESP-IDF esp_image_format.c). */
export const CHECKSUM_INITIAL = 0xef;

/** Bytes per bounce-buffer chunk when the input's byteOffset is not 4-aligned. */
const BOUNCE = 64 * 1024;

/**
 * XOR of all 32-bit words in `b[start, end)`, as a 32-bit integer (fold it with {@link foldXor}).
 * `start` and `end` must be multiples of 4 relative to `b` (segment data offsets always are).
 * Works on any `b.byteOffset`: an aligned buffer is read in place; a misaligned one is copied through
 * a 64 KiB bounce buffer (the only copy, and only in that case).
 */
export function xorWords(b: Uint8Array, start: number, end: number): number {
  const abs = b.byteOffset + start;
  if ((abs & 3) === 0) return xorAligned(new Int32Array(b.buffer, abs, (end - start) >>> 2));
  const bounce = new Int32Array(Math.min(BOUNCE, end - start) >>> 2);
  const bytes = new Uint8Array(bounce.buffer);
  let acc = 0;
  for (let off = start; off < end; off += BOUNCE) {
    const n = Math.min(BOUNCE, end - off);
    bytes.set(b.subarray(off, off + n));
    acc ^= xorAligned(n === bytes.length ? bounce : bounce.subarray(0, n >>> 2));
  }
  return acc;
}

/** Four interleaved accumulators let the loop run at memory speed. */
function xorAligned(w: Int32Array): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const n = w.length;
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    a ^= w[i]!;
    b ^= w[i + 1]!;
    c ^= w[i + 2]!;
    d ^= w[i + 3]!;
  }
  for (; i < n; i++) a ^= w[i]!;
  return a ^ b ^ c ^ d;
}

/** Fold a 32-bit XOR accumulator into one byte (the XOR of its four bytes). */
export function foldXor(x: number): number {
  return (x ^ (x >>> 8) ^ (x >>> 16) ^ (x >>> 24)) & 0xff;
}

