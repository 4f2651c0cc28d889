/**
 * Mutational inputs: start from real seeds (Espressif's binaries, images the builder makes,
 * valid payloads) and damage them the ways files and links damage bytes — flip bits, overwrite
 * words with edge values, truncate, splice in a piece of another seed, insert, delete. Inputs
 * that keep most of their structure reach the deep checks a random blob never gets past.
 */
import fc from 'fast-check';

/** JSON values for payload fields: anything JSON, plus edge values (huge, negative, NUL, 70 KB, empty). */
export const jsonValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(1e308, -1, 2 ** 53, 0.5, '', '\u0000', 'x'.repeat(70_000), [], {}, null));

/** One edit. Positions are taken modulo the current length, so every op applies to any input. */
export type Mutation =
  | { readonly op: 'flip'; readonly at: number; readonly xor: number }
  | { readonly op: 'byte'; readonly at: number; readonly value: number }
  | { readonly op: 'u32'; readonly at: number; readonly value: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'splice'; readonly at: number; readonly seed: number; readonly from: number; readonly len: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly len: number };

/** Little-endian words parsers trip on: zero, all ones, sign bits, small counts, sizes near limits. */
const EDGE_U32 = [0, 1, 2, 3, 4, 16, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1000, 0x10000, 0xfffffff, 0x1000000,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const pos = fc.nat({ max: 0x7fffffff });

/** An arbitrary edit. `focus` (a byte range) draws half the positions inside it. */
export function mutationArb(focus?: { start: number; end: number }): fc.Arbitrary<Mutation> {
  const at = focus === undefined ? pos
    : fc.oneof(pos, fc.integer({ min: focus.start, max: Math.max(focus.start, focus.end - 1) }));
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at, xor: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('byte' as const), at, value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0xe9, 0xe7, 0xaa, 0x50) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('u32' as const), at, value: fc.oneof(fc.constantFrom(...EDGE_U32), fc.nat({ max: 0xffffffff })) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('splice' as const), at, seed: fc.nat(), from: pos, len: fc.integer({ min: 1, max: 4096 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 256 }) }) },
  );
}

/** Apply `edits` to a copy of `seed`; `seeds` is the pool `splice` copies from. */
export function applyMutations(seed: Uint8Array, edits: readonly Mutation[], seeds: readonly Uint8Array[] = [seed]): Uint8Array {
  let b = Uint8Array.from(seed);
  for (const m of edits) {
    if (b.length === 0 && m.op !== 'insert') continue;
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.op) {
      case 'flip': b[at] = (b[at] ?? 0) ^ m.xor; break;
      case 'byte': b[at] = m.value; break;
      case 'u32': {
        const w = Math.min(4, b.length - at);
        for (let i = 0; i < w; i++) b[at + i] = (m.value >>> (8 * i)) & 0xff;
        break;
      }
      case 'truncate': b = b.slice(0, at); break;
      case 'splice': {
        const src = seeds[m.seed % seeds.length] ?? seed;
        if (src.length === 0) break;
        const from = m.from % src.length;
        const piece = src.subarray(from, Math.min(src.length, from + m.len));
        const n = Math.min(piece.length, b.length - at);
        b.set(piece.subarray(0, n), at);
        break;
      }
      case 'insert': {
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, at), 0);
        out.set(m.bytes, at);
        out.set(b.subarray(at), at + m.bytes.length);
        b = out;
        break;
      }
      case 'delete': b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + m.len))]); break;
    }
  }
  return b;
}

/** A seed (by index) plus 1–`max` edits; `fix` says whether the target should repair checksums after editing. */
export interface Mutant {
  readonly seed: number;
  readonly edits: readonly Mutation[];
  readonly fix: boolean;
}

/** Mutants of a pool of `n` seeds. */
export function mutantArb(n: number, opts: { max?: number; focus?: { start: number; end: number } } = {}): fc.Arbitrary<Mutant> {
  return fc.record({
    seed: fc.nat({ max: Math.max(0, n - 1) }),
    edits: fc.array(mutationArb(opts.focus), { minLength: 1, maxLength: opts.max ?? 4 }),
    fix: fc.boolean(),
  });
}

/** The bytes of a mutant. */
export function mutantBytes(seeds: readonly Uint8Array[], m: Mutant): Uint8Array {
  const seed = seeds[m.seed % seeds.length];
  if (seed === undefined) throw new Error('mutantBytes: the seed pool is empty');
  return applyMutations(seed, m.edits, seeds);
}

/** One input of a byte parser: a mutant of a seed, or noise. */
export type BytesCase = { readonly kind: 'mutant'; readonly m: Mutant } | { readonly kind: 'noise'; readonly bytes: Uint8Array };

/** The bytes of a case (a fresh copy), and whether the target should repair its checksums. */
export function caseBytes(seeds: readonly Uint8Array[], x: BytesCase): { bytes: Uint8Array; fix: boolean } {
  return x.kind === 'noise' ? { bytes: Uint8Array.from(x.bytes), fix: false } : { bytes: mutantBytes(seeds, x.m), fix: x.m.fix };
}

/** Inputs for a byte parser: mostly mutants of the seeds, some pure noise. */
export function bytesInput(seeds: readonly Uint8Array[], opts: { max?: number; focus?: { start: number; end: number }; noise?: number } = {}):
  fc.Arbitrary<BytesCase> {
  return fc.oneof(
    { weight: 8, arbitrary: mutantArb(seeds.length, opts).map((m) => ({ kind: 'mutant' as const, m })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: opts.noise ?? 8192 }).map((bytes) => ({ kind: 'noise' as const, bytes })) },
  );
}

// ---------------------------------------------------------------------------------------------
// Line edits, for text formats (scenario YAML, partition CSV): they keep most of the file's shape,
// so the checks past the syntax run, where byte noise mostly stops at the first token.

/** One edit of a text's lines. Positions are taken modulo the line count. */
export type LineEdit =
  | { readonly op: 'drop'; readonly at: number }
  | { readonly op: 'dup'; readonly at: number }
  | { readonly op: 'swap'; readonly at: number; readonly with: number }
  | { readonly op: 'indent'; readonly at: number; readonly by: number }
  | { readonly op: 'value'; readonly at: number; readonly token: string; readonly keep: RegExp }
  | { readonly op: 'graft'; readonly at: number; readonly seed: number; readonly line: number };

/**
 * An arbitrary line edit; `value` edits keep what `keep` matches at the start of the line (a YAML
 * key, a CSV row's first fields) and put a token from `tokens` (or noise) after it.
 */
export function lineEditArb(tokens: readonly string[], keep: RegExp): fc.Arbitrary<LineEdit> {
  return fc.oneof(
    fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
    fc.record({ op: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
    { weight: 3, arbitrary: fc.record({ op: fc.constant('value' as const), at: fc.nat(), token: fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 12 })), keep: fc.constant(keep) }) },
    fc.record({ op: fc.constant('graft' as const), at: fc.nat(), seed: fc.nat(), line: fc.nat() }),
  );
}

/** Seed `seed` of `seeds` with `edits` applied; `graft` copies a line of another seed. */
export function applyLineEdits(seeds: readonly string[], seed: number, edits: readonly LineEdit[]): string {
  const lines = (seeds[seed % seeds.length] ?? '').split('\n');
  for (const e of edits) {
    if (lines.length === 0) break;
    const at = e.at % lines.length;
    const line = lines[at] ?? '';
    switch (e.op) {
      case 'drop': lines.splice(at, 1); break;
      case 'dup': lines.splice(at, 0, line); break;
      case 'swap': {
        const w = e.with % lines.length;
        lines[at] = lines[w] ?? '';
        lines[w] = line;
        break;
      }
      case 'indent': lines[at] = e.by >= 0 ? ' '.repeat(e.by) + line : line.replace(new RegExp(`^ {0,${-e.by}}`), ''); break;
      case 'value': {
        const m = e.keep.exec(line);
        lines[at] = m === null ? e.token : `${m[0]}${e.token}`;
        break;
      }
      case 'graft': {
        const other = (seeds[e.seed % seeds.length] ?? '').split('\n');
        lines.splice(at, 0, other[e.line % Math.max(1, other.length)] ?? '');
        break;
      }
    }
  }
  return lines.join('\n');
}
