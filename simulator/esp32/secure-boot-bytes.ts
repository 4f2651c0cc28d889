/**
 * Byte and big-integer helpers for the Secure Boot v2 code. The signature block stores every
 * bignum little-endian ("byte-reversed", espsecure `[::-1]`); the maths wants big-endian or BigInt.
 */
import { createHash } from 'node:crypto';

export type DigestAlg = 'sha256' | 'sha384';

/** Flash sector size in bytes; the signature sector starts on a multiple of it. */
export const SECTOR_SIZE = 4096;

/** Round `n` up to the next multiple of 4096 (ESP-IDF `ALIGN_UP(len, FLASH_SECTOR_SIZE)`). */
export function roundUpToSector(n: number): number {
  return Math.ceil(n / SECTOR_SIZE) * SECTOR_SIZE;
}

export function digest(alg: DigestAlg, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Unsigned big-endian bytes → BigInt. */
export function beToBig(bytes: Uint8Array): bigint {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex === '' ? 0n : BigInt('0x' + hex);
}

/** Unsigned little-endian bytes → BigInt. */
export function leToBig(bytes: Uint8Array): bigint {
  return beToBig(Uint8Array.from(bytes).reverse());
}

/** BigInt → exactly `len` big-endian bytes. Throws RangeError if it does not fit (a programming error). */
export function bigToBe(n: bigint, len: number): Uint8Array {
  if (n < 0n) throw new RangeError('negative bignum');
  const hex = n.toString(16);
  if (hex.length > len * 2) throw new RangeError(`bignum needs more than ${len} bytes`);
  return new Uint8Array(Buffer.from(hex.padStart(len * 2, '0'), 'hex'));
}

/** BigInt → exactly `len` little-endian bytes. */
export function bigToLe(n: bigint, len: number): Uint8Array {
  return bigToBe(n, len).reverse();
}

/** Number of significant bits in `n` (0 for 0). */
export function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** A plain Uint8Array copy of `bytes[start, end)`. Never `bytes.slice()`: on a Node Buffer that is a view. */
export function copyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return Uint8Array.from(bytes.subarray(start, end));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export function u32le(bytes: Uint8Array, off: number): number {
  return ((bytes[off] ?? 0) | ((bytes[off + 1] ?? 0) << 8) | ((bytes[off + 2] ?? 0) << 16) | ((bytes[off + 3] ?? 0) << 24)) >>> 0;
}

export function putU32le(bytes: Uint8Array, off: number, v: number): void {
  bytes[off] = v & 0xff;
  bytes[off + 1] = (v >>> 8) & 0xff;
  bytes[off + 2] = (v >>> 16) & 0xff;
  bytes[off + 3] = (v >>> 24) & 0xff;
}

/** `a mod m`, always in [0, m). */
export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm; null when gcd(a, m) ≠ 1. */
export function modInverse(a: bigint, m: bigint): bigint | null {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return oldR === 1n ? mod(oldS, m) : null;
}
