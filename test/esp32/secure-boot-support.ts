/** Shared inputs for the Secure Boot v2 tests: image-shaped bytes and block surgery. */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { EspError } from '../../protocol/errors.js';
import { expect } from 'vitest';

/**
 * Bytes shaped like an app image as far as the SBv2 verifier looks: magic 0xE9, `hash_appended` = 1
 * at header byte 23, deterministic filler, and a correct SHA-256 over everything before it.
 * `length` includes the 32-byte hash.
 */
export function imageBytes(length: number, seed = 1): Uint8Array {
  const img = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length - 32; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift32
    img[i] = x & 0xff;
  }
  img[0] = 0xe9;
  img[23] = 1;
  img.set(createHash('sha256').update(img.subarray(0, length - 32)).digest(), length - 32);
  return img;
}

/** Recompute the CRC of the 1216-byte block at `blockAt` in place (as a forger would). */
export function fixCrc(bytes: Uint8Array, blockAt: number): void {
  const crc = crc32(bytes.subarray(blockAt, blockAt + 1196)) >>> 0;
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(blockAt + 1196, crc, true);
}

/** A copy of `bytes` with `bytes[at] ^= xor` (xor ≠ 0). */
export function flipped(bytes: Uint8Array, at: number, xor = 0x01): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = (out[at] ?? 0) ^ xor;
  return out;
}

/** Run `fn`, expect an EspError with `code`, and return it for message checks. */
export function espErrorOf(fn: () => unknown, code: EspError['code'] = 'ESP_ERR_IMAGE_INVALID'): EspError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EspError);
    expect((e as EspError).code).toBe(code);
    return e as EspError;
  }
  throw new Error('expected an EspError, but nothing was thrown');
}

export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
