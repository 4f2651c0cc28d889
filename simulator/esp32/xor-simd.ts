/**
 * The image checksum's XOR pass in WebAssembly SIMD: 128-bit lanes instead of 32-bit JS words.
 * JavaScript's typed-array loop is bounds-checked per word and runs at about a fifth of the speed of
 * this one; with it, verifying an image costs little more than its SHA-256 (bench/verify-throughput).
 *
 * The module is pure compute over its own 64 KiB memory: each chunk of the input is copied in
 * (which also makes any input byteOffset acceptable) and XORed there. When WebAssembly or its SIMD
 * proposal is unavailable (e.g. `node --jitless`), {@link simdXorWords} returns null and the caller
 * falls back to the JavaScript loop; the two are checked against each other in the tests.
 *
 * The module, hand-assembled below, is:
 *
 *   (module
 *     (memory (export "mem") 1)
 *     (func (export "xor") (param $len i32) (result i32)      ;; $len: a multiple of 64
 *       (local $i i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
 *       (block $done (loop $next
 *         (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
 *         (local.set $a (v128.xor (local.get $a) (v128.load offset=0  (local.get $i))))
 *         (local.set $b (v128.xor (local.get $b) (v128.load offset=16 (local.get $i))))
 *         (local.set $c (v128.xor (local.get $c) (v128.load offset=32 (local.get $i))))
 *         (local.set $d (v128.xor (local.get $d) (v128.load offset=48 (local.get $i))))
 *         (local.set $i (i32.add (local.get $i) (i32.const 64)))
 *         (br $next)))
 *       (local.set $a (v128.xor (v128.xor (local.get $a) (local.get $b)) (v128.xor (local.get $c) (local.get $d))))
 *       (i32.xor (i32.xor (i32x4.extract_lane 0 (local.get $a)) (i32x4.extract_lane 1 (local.get $a)))
 *                (i32.xor (i32x4.extract_lane 2 (local.get $a)) (i32x4.extract_lane 3 (local.get $a))))))
 */

const get = (i: number): number[] => [0x20, i]; // local.get
const set = (i: number): number[] => [0x21, i]; // local.set
const V128_XOR = [0xfd, 0x51];
const load = (offset: number): number[] => [0xfd, 0x00, 0x00, offset]; // v128.load align=1 offset (< 128)
const lane = (l: number): number[] => [0xfd, 0x1b, l]; // i32x4.extract_lane

const BODY = [
  0x02, 0x01, 0x7f, 0x04, 0x7b, // locals: 1 × i32 ($i = 1), 4 × v128 ($a..$d = 2..5)
  0x02, 0x40, 0x03, 0x40, // block $done, loop $next
  ...get(1), ...get(0), 0x4f, 0x0d, 0x01, // br_if $done (i >= len)
  ...[0, 1, 2, 3].flatMap((k) => [...get(2 + k), ...get(1), ...load(16 * k), ...V128_XOR, ...set(2 + k)]),
  ...get(1), 0x41, 0xc0, 0x00, 0x6a, ...set(1), // i += 64 (i32.const 64 is signed LEB128 c0 00)
  0x0c, 0x00, 0x0b, 0x0b, // br $next, end loop, end block
  ...get(2), ...get(3), ...V128_XOR, ...get(4), ...V128_XOR, ...get(5), ...V128_XOR, ...set(2),
  ...get(2), ...lane(0), ...get(2), ...lane(1), 0x73, ...get(2), ...lane(2), 0x73, ...get(2), ...lane(3), 0x73,
  0x0b, // end func
];

/** A section: id, then its payload's length (every payload here is < 128 bytes: one LEB128 byte). */
const section = (id: number, payload: number[]): number[] => [id, payload.length, ...payload];
const str = (s: string): number[] => [s.length, ...[...s].map((c) => c.charCodeAt(0))];

const MODULE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f]), // type 0: (i32) -> i32
  ...section(3, [0x01, 0x00]), // function 0 has type 0
  ...section(5, [0x01, 0x00, 0x01]), // one memory, min 1 page (64 KiB), no max
  ...section(7, [0x02, ...str('mem'), 0x02, 0x00, ...str('xor'), 0x00, 0x00]), // exports
  ...section(10, [0x01, BODY.length, ...BODY]), // code
]);

const PAGE = 65536;

/** The slice of the WebAssembly JS API used here (the project's `lib` has no WebAssembly typings). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

interface Simd {
  readonly heap: Uint8Array;
  readonly xor: (len: number) => number;
}

let simd: Simd | null | undefined;

function instantiate(): Simd | null {
  try {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(MODULE));
    const { mem, xor } = inst.exports as { mem: { buffer: ArrayBuffer }; xor: (len: number) => number };
    return { heap: new Uint8Array(mem.buffer), xor };
  } catch {
    return null; // no WebAssembly, or no SIMD: the JavaScript loop takes over
  }
}

/**
 * XOR of all 32-bit words of `b[start, end)` (a multiple of 4 bytes long), as a 32-bit integer, or null
 * when WebAssembly SIMD is unavailable here.
 */
export function simdXorWords(b: Uint8Array, start: number, end: number): number | null {
  if (simd === undefined) simd = instantiate();
  if (simd === null) return null;
  const { heap, xor } = simd;
  let acc = 0;
  for (let off = start; off < end; off += PAGE) {
    const n = Math.min(PAGE, end - off);
    heap.set(b.subarray(off, off + n));
    const padded = (n + 63) & ~63;
    heap.fill(0, n, padded); // zeros leave the XOR unchanged
    acc ^= xor(padded);
  }
  return acc;
}
