import { describe, expect, it } from 'vitest';
import { PARTITION_ERR, PartitionTableError } from '../../protocol/errors.js';
import {
  bootPartitions, decodePartitionTable, encodePartitionTable, factoryPartition, findPartition, findPartitionByLabel,
  findPartitions, maxPartitions, otadataPartition, otaSlot, otaSlots, testPartition,
  type Partition, type PartitionTable,
} from '../../simulator/esp32/partition-table.js';
import { fixture, haveFixtures } from '../fixtures.js';

const SINGLEAPP_BIN = 'partition/idf-default-singleapp_partition-table.bin';
const ARDUINO_BIN = 'partition/arduino-default_8MB_partitions.bin';

const part = (label: string, type: number, subtype: number, offset: number, size: number, flags = 0): Partition =>
  ({ label, type, subtype, offset, size, flags });

/** esp-idf-ota-facts.md §1.9 "Factory app, two OTA definitions". */
const TWO_OTA: PartitionTable = {
  md5: true,
  partitions: [
    part('nvs', 1, 2, 0x9000, 0x4000), part('otadata', 1, 0, 0xd000, 0x2000), part('phy_init', 1, 1, 0xf000, 0x1000),
    part('factory', 0, 0, 0x10000, 0x100000), part('ota_0', 0, 0x10, 0x110000, 0x100000),
    part('ota_1', 0, 0x11, 0x210000, 0x100000),
  ],
};

/** Run `fn` and return the PartitionTableError it throws. */
function errorOf(fn: () => unknown): PartitionTableError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PartitionTableError);
    return e as PartitionTableError;
  }
  throw new Error('expected a PartitionTableError, but nothing was thrown');
}

describe.skipIf(!haveFixtures)('binary partition tables: real ESP-IDF and Arduino binaries', () => {
  it('decodes the ESP-IDF single-app table and encodes it back to the same 3072 bytes', () => {
    const bin = fixture(SINGLEAPP_BIN);
    const t = decodePartitionTable(bin);
    expect(t.partitions).toEqual([
      part('nvs', 1, 2, 0x9000, 0x6000), part('phy_init', 1, 1, 0xf000, 0x1000), part('factory', 0, 0, 0x10000, 0x100000),
    ]);
    expect(t.md5).toBe(true);
    expect(t.md5Slot).toBe(3);
    expect(t.endSlot).toBe(4);
    expect(t.md5Digest).toBe('f4ad4f4538564b5d7435b62c75b69524');
    expect(encodePartitionTable(t)).toEqual(bin);
  });

  it('decodes the Arduino 8 MB table and encodes it back to the same bytes', () => {
    const bin = fixture(ARDUINO_BIN);
    const t = decodePartitionTable(bin, { flashSize: 8 * 1024 * 1024 });
    expect(t.partitions.map((p) => [p.label, p.offset, p.size])).toEqual([
      ['nvs', 0x9000, 0x5000], ['otadata', 0xe000, 0x2000], ['app0', 0x10000, 0x330000], ['app1', 0x340000, 0x330000],
      ['spiffs', 0x670000, 0x190000],
    ]);
    expect(encodePartitionTable(t)).toEqual(bin);
    expect(otaSlots(t).slice(0, 3).map((p) => p?.label)).toEqual(['app0', 'app1', undefined]);
    expect(otadataPartition(t)?.offset).toBe(0xe000);
    expect(factoryPartition(t)).toBeUndefined();
  });

  it('accepts the whole 0x1000-byte sector (the last 0x400 bytes erased)', () => {
    const sector = new Uint8Array(0x1000).fill(0xff);
    sector.set(fixture(SINGLEAPP_BIN));
    expect(decodePartitionTable(sector).partitions).toHaveLength(3);
  });

  it('accepts input cut short just after the end marker, but not inside the entry before it', () => {
    const bin = fixture(SINGLEAPP_BIN);
    expect(decodePartitionTable(bin.subarray(0, 5 * 32)).partitions).toHaveLength(3);
    const e = errorOf(() => decodePartitionTable(bin.subarray(0, 4 * 32 + 3)));
    expect(e.code).toBe(PARTITION_ERR.TRUNCATED);
    expect(e.entry).toBe(4);
  });

  it('refuses a flipped label byte: the MD5 entry no longer matches (ESP_ERR_INVALID_STATE)', () => {
    const bin = fixture(SINGLEAPP_BIN).slice();
    bin[12] = 0x4e; // 'nvs' → 'Nvs'
    const e = errorOf(() => decodePartitionTable(bin));
    expect(e.code).toBe(PARTITION_ERR.MD5);
    expect(e.entry).toBe(3);
    expect(e.esp).toBe('ESP_ERR_INVALID_STATE');
    expect(e.message).toContain('f4ad4f4538564b5d7435b62c75b69524');
  });

  it('refuses a partition past the end of a smaller flash (ESP_ERR_INVALID_SIZE)', () => {
    const e = errorOf(() => decodePartitionTable(fixture(ARDUINO_BIN), { flashSize: 4 * 1024 * 1024 }));
    expect(e.code).toBe(PARTITION_ERR.BOUNDS);
    expect(e.entry).toBe(3);
    expect(e.esp).toBe('ESP_ERR_INVALID_SIZE');
    expect(e.message).toMatch(/entry 3 \('app1'\).*0x340000.*0x400000/);
  });
});

describe('binary partition tables: the two-OTA vector (facts §8.2)', () => {
  it('encodes the §1.9 layout to the generator bytes and MD5 bf25822c…', () => {
    const bin = encodePartitionTable(TWO_OTA);
    expect(bin).toHaveLength(0xc00);
    const head = Buffer.from(bin.subarray(0, 0xe0)).toString('hex');
    expect(head).toBe([
      'aa50010200900000004000006e767300', '00000000000000000000000000000000',
      'aa50010000d00000002000006f746164', '61746100000000000000000000000000',
      'aa50010100f00000001000007068795f', '696e6974000000000000000000000000',
      'aa500000000001000000100066616374', '6f727900000000000000000000000000',
      'aa50001000001100000010006f74615f', '30000000000000000000000000000000',
      'aa50001100002100000010006f74615f', '31000000000000000000000000000000',
      'ebebffffffffffffffffffffffffffff', 'bf25822c0fa6d8641bd930251e06b4c4',
    ].join(''));
    expect(bin.subarray(0xe0).every((b) => b === 0xff)).toBe(true);
    const back = decodePartitionTable(bin);
    expect(back.md5Digest).toBe('bf25822c0fa6d8641bd930251e06b4c4');
    expect(back.partitions).toEqual(TWO_OTA.partitions);
  });

  it('leaves the MD5 entry out when md5 is false', () => {
    const bin = encodePartitionTable({ ...TWO_OTA, md5: false });
    expect(bin.subarray(0xc0).every((b) => b === 0xff)).toBe(true);
    const t = decodePartitionTable(bin);
    expect(t.md5).toBe(false);
    expect(t.md5Digest).toBeNull();
  });
});

describe('binary partition tables: the bootloader walk', () => {
  const two = (): Uint8Array => encodePartitionTable(TWO_OTA);

  it('refuses an empty table: an erased first entry is not an end marker', () => {
    const e = errorOf(() => decodePartitionTable(new Uint8Array(0xc00).fill(0xff)));
    expect(e.code).toBe(PARTITION_ERR.MAGIC);
    expect(e.entry).toBe(0);
    expect(e.message).toContain('empty');
  });

  it('accepts an MD5 entry alone (zero partitions) like the bootloader does', () => {
    const t = decodePartitionTable(encodePartitionTable({ partitions: [], md5: true }));
    expect(t.partitions).toEqual([]);
    expect(t.md5Digest).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('refuses a bad magic and names the entry', () => {
    const bin = encodePartitionTable({ ...TWO_OTA, md5: false });
    bin[2 * 32] = 0x12;
    const e = errorOf(() => decodePartitionTable(bin));
    expect(e.code).toBe(PARTITION_ERR.MAGIC);
    expect(e.entry).toBe(2);
    expect(e.message).toContain('0x5012');
  });

  it('ends at FF FF FF FF even when the rest of the entry is not erased (only 4 bytes are tested)', () => {
    const bin = two();
    bin.fill(0x00, 7 * 32 + 4, 8 * 32);
    expect(decodePartitionTable(bin).endSlot).toBe(7);
  });

  it('treats FF FF with a type other than FF as a bad magic, not an end', () => {
    const bin = two();
    bin[7 * 32 + 2] = 0x00;
    expect(errorOf(() => decodePartitionTable(bin)).code).toBe(PARTITION_ERR.MAGIC);
  });

  it('refuses a second MD5 entry', () => {
    const bin = two();
    bin.copyWithin(7 * 32, 6 * 32, 7 * 32);
    const e = errorOf(() => decodePartitionTable(bin));
    expect(e.code).toBe(PARTITION_ERR.MD5);
    expect(e.entry).toBe(7);
  });

  it('refuses a table whose 96 slots hold no end marker', () => {
    const one = encodePartitionTable({ partitions: [part('a', 1, 0x40, 0x9000, 0x1000)], md5: false }).subarray(0, 32);
    const bin = new Uint8Array(0xc00);
    for (let i = 0; i < 96; i++) bin.set(one, i * 32);
    const e = errorOf(() => decodePartitionTable(bin));
    expect(e.code).toBe(PARTITION_ERR.UNTERMINATED);
    expect(e.esp).toBe('ESP_ERR_INVALID_STATE');
  });

  it('refuses input longer than one sector', () => {
    expect(errorOf(() => decodePartitionTable(new Uint8Array(0x1001).fill(0xff))).code).toBe(PARTITION_ERR.LENGTH);
  });

  it('refuses empty input as truncated', () => {
    expect(errorOf(() => decodePartitionTable(new Uint8Array(0))).code).toBe(PARTITION_ERR.TRUNCATED);
  });

  it('checks bounds as offset > flash or size > flash − offset (no u32 wrap-around)', () => {
    const wrap = encodePartitionTable({ partitions: [part('w', 1, 0x40, 0x10000, 0xffff0001)], md5: true });
    expect(errorOf(() => decodePartitionTable(wrap, { flashSize: 0x400000 })).code).toBe(PARTITION_ERR.BOUNDS);
    const exact = encodePartitionTable({ partitions: [part('x', 1, 0x40, 0x3ff000, 0x1000)], md5: true });
    expect(decodePartitionTable(exact, { flashSize: 0x400000 }).partitions).toHaveLength(1);
  });

  it('keeps 16-byte labels (no NUL) and unknown flag bits', () => {
    const t: PartitionTable = { md5: true, partitions: [part('abcdefghijklmnop', 0x40, 0x07, 0x9000, 0x1000, 0x8000_0003)] };
    const bin = encodePartitionTable(t);
    expect(Buffer.from(bin.subarray(12, 28)).toString('latin1')).toBe('abcdefghijklmnop');
    expect(decodePartitionTable(bin).partitions).toEqual(t.partitions);
  });

  it('records every slot, the MD5 entry included, and reads entries after a mid-table MD5', () => {
    const bin = two();
    const extra = encodePartitionTable({ partitions: [part('late', 1, 0x40, 0x400000, 0x1000)], md5: false }).subarray(0, 32);
    bin.set(extra, 7 * 32);
    const t = decodePartitionTable(bin);
    expect(t.partitions.map((p) => p.label)).toEqual(['nvs', 'otadata', 'phy_init', 'factory', 'ota_0', 'ota_1', 'late']);
    expect(t.slots).toHaveLength(8);
    expect(t.md5Slot).toBe(6);
    expect(t.endSlot).toBe(8);
  });
});

describe('binary partition tables: encoding limits', () => {
  const many = (n: number): Partition[] => Array.from({ length: n }, (_, i) => part(`p${i}`, 1, 0x40, 0x9000 + i * 0x1000, 0x1000));

  it('holds 94 partitions with the MD5 entry and 95 without, no more', () => {
    expect(maxPartitions(true)).toBe(94);
    expect(maxPartitions(false)).toBe(95);
    expect(decodePartitionTable(encodePartitionTable({ partitions: many(94), md5: true })).partitions).toHaveLength(94);
    expect(decodePartitionTable(encodePartitionTable({ partitions: many(95), md5: false })).endSlot).toBe(95);
    expect(errorOf(() => encodePartitionTable({ partitions: many(95), md5: true })).code).toBe(PARTITION_ERR.TOO_MANY);
    expect(errorOf(() => encodePartitionTable({ partitions: many(96), md5: false })).code).toBe(PARTITION_ERR.TOO_MANY);
  });

  it('refuses labels over 16 bytes or with a NUL, and values outside their fields', () => {
    const one = (p: Partition): PartitionTableError => errorOf(() => encodePartitionTable({ partitions: [p], md5: true }));
    expect(one(part('abcdefghijklmnopq', 1, 2, 0x9000, 0x6000)).code).toBe(PARTITION_ERR.LABEL);
    expect(one(part('nv\0s', 1, 2, 0x9000, 0x6000)).code).toBe(PARTITION_ERR.LABEL);
    expect(one(part('nvs', 0x100, 2, 0x9000, 0x6000)).code).toBe(PARTITION_ERR.RANGE);
    expect(one(part('nvs', 1, -1, 0x9000, 0x6000)).code).toBe(PARTITION_ERR.RANGE);
    expect(one(part('nvs', 1, 2, 2 ** 32, 0x6000)).code).toBe(PARTITION_ERR.RANGE);
    expect(one(part('nvs', 1, 2, 0x9000, 0.5)).code).toBe(PARTITION_ERR.RANGE);
  });

  it('refuses an empty table without MD5 entry (it would be all 0xFF)', () => {
    expect(errorOf(() => encodePartitionTable({ partitions: [], md5: false })).code).toBe(PARTITION_ERR.TABLE);
  });
});

describe('finding partitions', () => {
  const t: PartitionTable = {
    md5: true,
    partitions: [
      ...TWO_OTA.partitions, part('test', 0, 0x20, 0x310000, 0x100000), part('ota_3', 0, 0x13, 0x410000, 0x100000),
      part('factory2', 0, 0x00, 0x510000, 0x100000),
    ],
  };

  it('finds by label, by type/subtype, and first match', () => {
    expect(findPartitionByLabel(t, 'phy_init')?.offset).toBe(0xf000);
    expect(findPartitionByLabel(t, 'nope')).toBeUndefined();
    expect(findPartitions(t, { type: 0 }).map((p) => p.label)).toEqual(['factory', 'ota_0', 'ota_1', 'test', 'ota_3', 'factory2']);
    expect(findPartition(t, { type: 1, subtype: 1 })?.label).toBe('phy_init');
    expect(factoryPartition(t)?.label).toBe('factory');
    expect(testPartition(t)?.offset).toBe(0x310000);
    expect(otadataPartition(t)?.offset).toBe(0xd000);
  });

  it('indexes OTA slots by subtype & 0xF, with holes', () => {
    expect(otaSlots(t).map((p) => p?.label ?? null).slice(0, 5)).toEqual(['ota_0', 'ota_1', null, 'ota_3', null]);
    expect(otaSlot(t, 3)?.offset).toBe(0x410000);
    expect(otaSlot(t, 16)).toBeUndefined();
  });

  it('collects boot partitions as the bootloader does: the last factory wins, app_count counts OTA entries', () => {
    const b = bootPartitions(t);
    expect(b.factory?.label).toBe('factory2');
    expect(b.appCount).toBe(3);
    expect(b.ota[1]?.label).toBe('ota_1');
    expect(b.otadata?.size).toBe(0x2000);
    expect(b.test?.label).toBe('test');
  });

  it('reads the MD5 slot as an entry and misses the last partition when the MD5 entry is mid-table', () => {
    const bin = encodePartitionTable(TWO_OTA);
    bin.set(encodePartitionTable({ partitions: [part('ota_2', 0, 0x12, 0x310000, 0x100000)], md5: false }).subarray(0, 32), 7 * 32);
    const b = bootPartitions(decodePartitionTable(bin));
    expect(b.ota[2]).toBeUndefined();
    expect(b.appCount).toBe(2);
  });
});
