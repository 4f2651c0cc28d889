/**
 * Little-endian byte helpers for the image code. Every read is bounds-checked by its caller
 * (the image walker checks lengths first and names the problem); these never build a DataView,
 * so a short buffer can never surface as a RangeError.
 */

/** u16 little-endian at `off`. The caller guarantees `off + 2 <= b.length`. */
export function u16(b: Uint8Array, off: number): number {
  return (b[off] ?? 0) | ((b[off + 1] ?? 0) << 8);
}

/** u32 little-endian at `off`. The caller guarantees `off + 4 <= b.length`. */
export function u32(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) | ((b[off + 1] ?? 0) << 8) | ((b[off + 2] ?? 0) << 16) | ((b[off + 3] ?? 0) << 24)) >>> 0;
}

export function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** Round `n` up to a multiple of `align` (a power of two). */
export function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/** `0x…` with at least `width` hex digits. */
export function hex(n: number, width = 1): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

/** Lower-case hex of a byte string. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Keeps a leading U+FEFF: descriptor strings are data, not documents. */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Enc = new TextEncoder();

/** A C string field: bytes up to the first NUL (or the whole field when it has none), as UTF-8. */
export function cString(b: Uint8Array, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return utf8.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** `b` decoded as UTF-8 (invalid sequences become U+FFFD). */
export function utf8Decode(b: Uint8Array): string {
  return utf8.decode(b);
}

/** UTF-8 bytes of `s`. */
export function utf8Bytes(s: string): Uint8Array {
  return utf8Enc.encode(s);
}
