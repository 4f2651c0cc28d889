import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionTableError } from '../../protocol/errors.js';
import { formatPartitionCsv, parsePartitionCsv } from '../../simulator/esp32/partition-csv.js';
import {
  decodePartitionTable, encodePartitionTable, maxPartitions, type Partition, type PartitionTable,
} from '../../simulator/esp32/partition-table.js';

const RUNS = { numRuns: 1000 };
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;
/** Hex for byte comparisons: much faster than a deep equal on a Uint8Array, with a readable diff. */
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Any entry the binary format can hold: label ≤ 16 UTF-8 bytes without NUL, bytes and u32s anywhere. */
const anyPartition: fc.Arbitrary<Partition> = fc.record({
  label: fc.string({ unit: 'grapheme', maxLength: 16 }).filter((s) => utf8Length(s) <= 16 && !s.includes('\0')),
  type: fc.integer({ min: 0, max: 0xff }),
  subtype: fc.integer({ min: 0, max: 0xff }),
  offset: fc.nat({ max: 0xffffffff }),
  size: fc.nat({ max: 0xffffffff }),
  flags: fc.nat({ max: 0xffffffff }),
});

const anyTable: fc.Arbitrary<PartitionTable> = fc.boolean().chain((md5) =>
  fc.record({ md5: fc.constant(md5), partitions: fc.array(anyPartition, { minLength: md5 ? 0 : 1, maxLength: maxPartitions(md5) }) }));

describe('property: binary encode → decode → encode', () => {
  it('gives back the same partitions and the same 0xC00 bytes', () => {
    fc.assert(fc.property(anyTable, (t) => {
      const bin = encodePartitionTable(t);
      expect(bin).toHaveLength(0xc00);
      const back = decodePartitionTable(bin);
      expect(back.partitions).toEqual(t.partitions);
      expect(back.md5).toBe(t.md5);
      expect(hex(encodePartitionTable(back))).toBe(hex(bin));
    }), RUNS);
  });
});

/** One partition of a valid (gen_esp32part-verifiable) table, before placement. */
interface Spec { kind: 'app' | 'data' | 'custom'; subtype: number; type: number; units: number; gap: number; flags: number; odd: number }

const spec: fc.Arbitrary<Spec> = fc.record({
  kind: fc.constantFrom('app' as const, 'data' as const, 'custom' as const),
  subtype: fc.integer({ min: 0, max: 0xff }),
  type: fc.integer({ min: 0x04, max: 0xfe }),
  units: fc.integer({ min: 1, max: 64 }),
  gap: fc.integer({ min: 0, max: 3 }),
  flags: fc.integer({ min: 0, max: 3 }),
  odd: fc.integer({ min: 0, max: 0xfff }),
});

const APP_SUBTYPES = [0x00, 0x20, 0x30, 0x31, ...Array.from({ length: 16 }, (_, i) => 0x10 + i)];

/** Lay specs out in flash order from 0x9000 so the table passes every gen_esp32part rule. */
function layOut(specs: readonly Spec[], labels: readonly string[], withOtadata: boolean): PartitionTable {
  let at = 0x9000;
  const partitions: Partition[] = [];
  const push = (label: string, type: number, subtype: number, size: number, flags: number, align: number): void => {
    const offset = Math.ceil(at / align) * align;
    partitions.push({ label, type, subtype, offset, size, flags });
    at = offset + size;
  };
  if (withOtadata) push('otadata', 0x01, 0x00, 0x2000, 1, 0x1000);
  specs.forEach((s, i) => {
    const label = labels[i] ?? `p${i}`;
    at += s.gap * 0x1000;
    if (s.kind === 'app') {
      push(label, 0x00, APP_SUBTYPES[s.subtype % APP_SUBTYPES.length] ?? 0, s.units * 0x1000, s.flags, 0x10000);
    } else if (s.kind === 'data') {
      // No second otadata / tee_ota; otadata-like rules live in the example-based tests.
      const subtype = s.subtype === 0x00 || s.subtype === 0x90 ? 0x06 : s.subtype;
      const readonlyBanned = subtype === 0x03;
      const flags = readonlyBanned ? s.flags & 1 : subtype === 0x02 && s.units < 3 ? s.flags | 2 : s.flags;
      push(label, 0x01, subtype, s.units * 0x1000 + s.odd, flags, 0x1000);
    } else {
      push(label, s.type, s.subtype, s.units * 0x1000 + s.odd, s.flags, 0x1000);
    }
  });
  return { partitions, md5: true };
}

const csvLabel = fc.stringMatching(/^[A-Za-z0-9_.-]{0,16}$/).filter((s) => s !== 'otadata');
const validTable: fc.Arbitrary<PartitionTable> = fc.array(spec, { maxLength: 40 }).chain((specs) =>
  fc.tuple(fc.constant(specs), fc.uniqueArray(csvLabel, { minLength: specs.length, maxLength: specs.length }), fc.boolean()))
  .map(([specs, labels, withOtadata]) => layOut(specs, labels, withOtadata));

describe('property: CSV format → parse', () => {
  it('reads back the same table and the same binary', () => {
    fc.assert(fc.property(validTable, (t) => {
      const parsed = parsePartitionCsv(formatPartitionCsv(t));
      expect(parsed.partitions).toEqual(t.partitions);
      expect(hex(encodePartitionTable(parsed))).toBe(hex(encodePartitionTable(t)));
    }), RUNS);
  });
});

/** Either a value or a PartitionTableError; any other throw fails the property. */
function typedOrValue(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof PartitionTableError)) throw e;
    expect(e.message).not.toBe('');
  }
}

const TWO_OTA: Partition[] = [
  { label: 'nvs', type: 1, subtype: 2, offset: 0x9000, size: 0x4000, flags: 0 },
  { label: 'otadata', type: 1, subtype: 0, offset: 0xd000, size: 0x2000, flags: 0 },
  { label: 'phy_init', type: 1, subtype: 1, offset: 0xf000, size: 0x1000, flags: 0 },
  { label: 'factory', type: 0, subtype: 0, offset: 0x10000, size: 0x100000, flags: 0 },
  { label: 'ota_0', type: 0, subtype: 0x10, offset: 0x110000, size: 0x100000, flags: 0 },
  { label: 'ota_1', type: 0, subtype: 0x11, offset: 0x210000, size: 0x100000, flags: 0 },
];

const mutation = fc.record({
  md5: fc.boolean(),
  writes: fc.array(fc.tuple(fc.oneof(fc.nat({ max: 0xff }), fc.nat({ max: 0xbff })), fc.nat({ max: 0xff })), { maxLength: 8 }),
  length: fc.oneof(fc.constant(0xc00), fc.constant(0x1000), fc.nat({ max: 0x1010 })),
  flashSize: fc.option(fc.oneof(fc.constant(0x400000), fc.nat({ max: 0xffffffff })), { nil: undefined }),
});

describe('property: damaged binaries', () => {
  it('decode or throw PartitionTableError, never anything else', () => {
    fc.assert(fc.property(mutation, ({ md5, writes, length, flashSize }) => {
      const good = encodePartitionTable({ partitions: TWO_OTA, md5 });
      const bin = new Uint8Array(length).fill(0xff);
      bin.set(good.subarray(0, Math.min(length, good.length)));
      for (const [at, value] of writes) if (at < bin.length) bin[at] = value;
      typedOrValue(() => {
        const t = decodePartitionTable(bin, flashSize === undefined ? {} : { flashSize });
        typedOrValue(() => encodePartitionTable(t));
        typedOrValue(() => formatPartitionCsv(t));
      });
    }), { numRuns: 3000 });
  });
});

describe('property: arbitrary CSV text', () => {
  const piece = fc.constantFrom(',', ':', '\n', '\r\n', '#', ' ', '$X', '${Y}', '0x', '1', '0', 'K', 'M', '-', 'app', 'data',
    'nvs', 'ota', 'ota_0', 'factory', 'bootloader', 'partition_table', 'primary', 'encrypted', 'readonly', 'N/A', '\uFEFF', 'é');
  it('parses or throws PartitionTableError, never anything else', () => {
    fc.assert(fc.property(fc.array(piece, { maxLength: 60 }), fc.boolean(), (parts, boot) => {
      typedOrValue(() => parsePartitionCsv(parts.join(''), { env: { X: '0x9000' }, ...(boot ? { primaryBootloaderOffset: 0x1000 } : {}) }));
    }), RUNS);
  });
});
