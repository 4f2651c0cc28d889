import { describe, expect, it } from 'vitest';
import { PARTITION_ERR, PartitionTableError } from '../../protocol/errors.js';
import { decodeCsvBytes, formatPartitionCsv, parsePartitionCsv, type PartitionCsvOptions } from '../../simulator/esp32/partition-csv.js';
import { decodePartitionTable, encodePartitionTable } from '../../simulator/esp32/partition-table.js';
import { fixture, fixtureText, haveFixtures } from '../fixtures.js';

function errorOf(fn: () => unknown): PartitionTableError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PartitionTableError);
    return e as PartitionTableError;
  }
  throw new Error('expected a PartitionTableError, but nothing was thrown');
}

const parseError = (csv: string, opts?: PartitionCsvOptions): PartitionTableError => errorOf(() => parsePartitionCsv(csv, opts));
const layout = (csv: string, opts?: PartitionCsvOptions): Array<[string, number, number]> =>
  parsePartitionCsv(csv, opts).partitions.map((p) => [p.label, p.offset, p.size]);

/** partitions_two_ota.csv, written from the §1.9 table: offsets left to automatic placement. */
const TWO_OTA_CSV = `# Name,   Type, SubType, Offset,   Size, Flags
nvs,      data, nvs,     ,        0x4000,
otadata,  data, ota,     ,        0x2000,
phy_init, data, phy,     ,        0x1000,
factory,  app,  factory, ,        1M,
ota_0,    app,  ota_0,   ,        1M,
ota_1,    app,  ota_1,   ,        1M,
`;

/** partitions_two_ota_large.csv, written from the §1.9 table. */
const TWO_OTA_LARGE_CSV = `# Name, Type, SubType, Offset, Size, Flags
nvs,      data, nvs,     ,        0x6000,
otadata,  data, ota,     ,        0x2000,
phy_init, data, phy,     ,        0x1000,
ota_0,    app,  ota_0,   ,        1700K,
ota_1,    app,  ota_1,   ,        1700K,
`;

describe.skipIf(!haveFixtures)('CSV → binary: the real CSVs give the real binaries byte for byte', () => {
  it('ESP-IDF partitions_singleapp.csv → idf-default-singleapp_partition-table.bin', () => {
    const t = parsePartitionCsv(fixtureText('partition/idf-default-singleapp_partitions_singleapp.csv'));
    expect(encodePartitionTable(t)).toEqual(fixture('partition/idf-default-singleapp_partition-table.bin'));
    expect(t.lines).toEqual([3, 4, 5]);
    expect(t.warnings).toEqual([]);
  });

  it('Arduino default_8MB.csv → arduino-default_8MB_partitions.bin', () => {
    const t = parsePartitionCsv(fixtureText('partition/arduino-default_8MB.csv'), { flashSize: 8 * 1024 * 1024 });
    expect(encodePartitionTable(t)).toEqual(fixture('partition/arduino-default_8MB_partitions.bin'));
  });

  it('formats a binary as gen_esp32part to_csv does, and that CSV encodes back to the binary', () => {
    const bin = fixture('partition/arduino-default_8MB_partitions.bin');
    const csv = formatPartitionCsv(decodePartitionTable(bin));
    expect(csv).toBe(`# ESP-IDF Partition Table
# Name, Type, SubType, Offset, Size, Flags
nvs,data,nvs,0x9000,20K,
otadata,data,ota,0xe000,8K,
app0,app,ota_0,0x10000,3264K,
app1,app,ota_1,0x340000,3264K,
spiffs,data,spiffs,0x670000,1600K,
`);
    expect(encodePartitionTable(parsePartitionCsv(csv))).toEqual(bin);
  });

  it('the CSV read from a file with a UTF-8 BOM gives the same table', () => {
    const bytes = fixture('partition/idf-default-singleapp_partitions_singleapp.csv');
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes]);
    expect(encodePartitionTable(parsePartitionCsv(decodeCsvBytes(withBom))))
      .toEqual(fixture('partition/idf-default-singleapp_partition-table.bin'));
  });
});

describe('CSV → binary: the built-in ESP-IDF layouts (facts §1.9, §8.2)', () => {
  it('partitions_two_ota.csv: automatic offsets and MD5 bf25822c…', () => {
    const t = parsePartitionCsv(TWO_OTA_CSV);
    expect(t.partitions.map((p) => [p.label, p.offset, p.size])).toEqual([
      ['nvs', 0x9000, 0x4000], ['otadata', 0xd000, 0x2000], ['phy_init', 0xf000, 0x1000], ['factory', 0x10000, 0x100000],
      ['ota_0', 0x110000, 0x100000], ['ota_1', 0x210000, 0x100000],
    ]);
    const bin = encodePartitionTable(t);
    expect(Buffer.from(bin.subarray(0xd0, 0xe0)).toString('hex')).toBe('bf25822c0fa6d8641bd930251e06b4c4');
    expect(Buffer.from(bin.subarray(0x80, 0x94)).toString('hex')).toBe('aa50001000001100000010006f74615f30000000');
    expect(bin.subarray(0xe0).every((b) => b === 0xff)).toBe(true);
  });

  it('partitions_two_ota_large.csv: 1700K slots at 0x20000 and 0x1d0000, ending at 0x379000', () => {
    const t = layout(TWO_OTA_LARGE_CSV);
    expect(t).toEqual([
      ['nvs', 0x9000, 0x6000], ['otadata', 0xf000, 0x2000], ['phy_init', 0x11000, 0x1000], ['ota_0', 0x20000, 0x1a9000],
      ['ota_1', 0x1d0000, 0x1a9000],
    ]);
    const last = t[4];
    expect(last && last[1] + last[2]).toBe(0x379000);
  });

  it('places automatically after a moved table offset', () => {
    expect(layout(TWO_OTA_CSV, { tableOffset: 0x10000 }).slice(0, 4)).toEqual([
      ['nvs', 0x11000, 0x4000], ['otadata', 0x15000, 0x2000], ['phy_init', 0x17000, 0x1000], ['factory', 0x20000, 0x100000],
    ]);
  });
});

describe('CSV dialect', () => {
  it('reads K/M suffixes (recursively), 0x/0o/0b, underscores and decimal', () => {
    expect(layout('a, data, 0x40, 0x24K, 0b1_0000_0000_0000\nb, data, 0x40, 0o200000, 8K\nc, data, 0x40, 73728, 1k\n'
      + 'd, app, factory, 0x1_0_0000, 0x10K\n')).toEqual([
      ['a', 0x9000, 0x1000], ['b', 0x10000, 0x2000], ['c', 0x12000, 0x400], ['d', 0x100000, 0x4000],
    ]);
  });

  it('takes type and subtype keywords in any case, and numbers', () => {
    const t = parsePartitionCsv('a, DATA, NVS, , 0x4000\nb, App, OTA_15, , 1M\nc, 1, 0x99, , 4K\nd, 0x40, 7, , 4K\n');
    expect(t.partitions.map((p) => [p.type, p.subtype])).toEqual([[1, 2], [0, 0x1f], [1, 0x99], [0x40, 7]]);
  });

  it('gives an empty data or custom subtype 0x06 (undefined), and refuses an empty app subtype', () => {
    expect(parsePartitionCsv('storage, data, , , 512K\ncustom, 0x40, , , 4K\n').partitions.map((p) => p.subtype)).toEqual([6, 6]);
    const e = parseError('# header\nfactory, app, , , 1M\n');
    expect(e.message).toBe("line 2: app partition 'factory' needs a subtype (factory, ota_N, test)");
    expect(e.line).toBe(2);
  });

  it('reads a negative size as an end address', () => {
    expect(layout('first, app, factory, 0x10000, -2M\nsecond, data, 0x15, , 1M\n')).toEqual([
      ['first', 0x10000, 0x1f0000], ['second', 0x200000, 0x100000],
    ]);
    expect(parseError('a, data, nvs, 0x9000, -0x8000\n').code).toBe(PARTITION_ERR.RANGE);
  });

  it('reads flags joined with colons, exactly as spelled', () => {
    const t = parsePartitionCsv('a, data, nvs, , 0x4000, encrypted:readonly\nb, data, nvs, , 0x4000, readonly\nc, app, factory, , 1M, encrypted\n');
    expect(t.partitions.map((p) => p.flags)).toEqual([3, 2, 1]);
    expect(parseError('a, data, nvs, , 0x4000, Encrypted\n').message).toBe(
      "line 1: unknown flag 'Encrypted' (known: encrypted, readonly; join with ':')");
  });

  it('skips comments, blank lines and a leading BOM; counts lines across \\r\\n', () => {
    const t = parsePartitionCsv('\uFEFF# comment\r\n\r\n   \r\n  # indented comment\r\nnvs, data, nvs, , 0x6000\r\n');
    expect(t.lines).toEqual([5]);
    expect(t.partitions[0]?.label).toBe('nvs');
  });

  it('expands $VAR and ${VAR} from the env option, and refuses unknown ones outside comments', () => {
    const env = { NVS_SIZE: '0x6000', APP: 'app', NAME: 'factory' };
    expect(layout('# $UNSET in a comment is fine\nnvs, data, nvs, , $NVS_SIZE\n${NAME}, $APP, factory, , 1M\n', { env }))
      .toEqual([['nvs', 0x9000, 0x6000], ['factory', 0x10000, 0x100000]]);
    const e = parseError('nvs, data, nvs, , $NVS_SIZE\n');
    expect(e.message).toBe('line 1: $NVS_SIZE is not set (unknown variable)');
    expect(e.code).toBe(PARTITION_ERR.CSV);
  });

  it('places bootloader and partition_table entries from the options (N/A columns ignored)', () => {
    const csv = `bootloader, bootloader, primary, N/A, N/A
partition_table, partition_table, primary, N/A, N/A
FactoryApp, app, factory, , 1M
OtaBTLDR, bootloader, ota, , N/A
OtaPrtTable, partition_table, ota, , N/A
RecoveryBTLDR, bootloader, recovery, N/A, N/A
`;
    const opts = { tableOffset: 0x9000, primaryBootloaderOffset: 0x1000, recoveryBootloaderOffset: 0x200000 };
    expect(layout(csv, opts)).toEqual([
      ['bootloader', 0x1000, 0x8000], ['partition_table', 0x9000, 0x1000], ['FactoryApp', 0x10000, 0x100000],
      ['OtaBTLDR', 0x110000, 0x8000], ['OtaPrtTable', 0x118000, 0x1000], ['RecoveryBTLDR', 0x200000, 0x8000],
    ]);
    expect(parseError(csv, { tableOffset: 0x9000 }).message).toMatch(/^line 1: the primary bootloader entry takes its offset/);
    expect(parseError(csv, { tableOffset: 0x9000, primaryBootloaderOffset: 0x1000 }).line).toBe(6);
  });

  it('cuts names over 16 bytes to 16 with a warning, and refuses a cut through a character', () => {
    const t = parsePartitionCsv('a_very_long_partition_name, data, nvs, , 0x4000\n');
    expect(t.partitions[0]?.label).toBe('a_very_long_part');
    expect(t.warnings).toEqual(["line 1: name 'a_very_long_partition_name' is 26 bytes; the table stores its first 16, 'a_very_long_part'"]);
    expect(parseError('abcdefghijklmnoé, data, nvs, , 0x4000\n').code).toBe(PARTITION_ERR.LABEL);
    expect(parsePartitionCsv('phy_инит_, data, phy, , 4K\n').partitions[0]?.label).toBe('phy_инит_');
    expect(parseError('nv\0s, data, nvs, , 0x4000\n').code).toBe(PARTITION_ERR.LABEL);
  });

  it('warns, like gen_esp32part, about a name that is a type or subtype keyword of another kind', () => {
    const t = parsePartitionCsv('app, data, nvs, , 0x4000\nota_0, app, factory, , 1M\nnvs, data, nvs, , 0x4000\n');
    expect(t.warnings).toHaveLength(2);
    expect(t.warnings[0]).toMatch(/^line 1: partition 'app' is named like the type 'app'/);
    expect(t.warnings[1]).toMatch(/^line 2: partition 'ota_0' is named like a subtype/);
  });
});

describe('CSV errors name the line and the problem', () => {
  it.each([
    ['overlap with the previous partition', 'nvs, data, nvs, 0x9000, 0x108000\nota_0, app, ota_0, 0x110000, 1M\n',
      PARTITION_ERR.OVERLAP, "line 2: partition 'ota_0' at 0x110000 overlaps 'nvs' (0x9000–0x110fff)"],
    ['offset inside the table sector', 'nvs, data, nvs, 0x8000, 0x4000\n', PARTITION_ERR.OVERLAP,
      "line 1: partition 'nvs' at 0x8000 overlaps the partition table (0x8000–0x8fff); use 0x9000 or higher"],
    ['partitions out of flash order', 'b, data, nvs, 0x20000, 0x4000\na, data, nvs, 0x10000, 0x4000\n', PARTITION_ERR.OVERLAP,
      "line 2: partition 'a' at 0x10000 lies before the end of the previous partition 'b' (0x24000); list partitions in flash order"],
    ['duplicate names', 'nvs, data, nvs, , 0x4000\nnvs, data, nvs, , 0x4000\n', PARTITION_ERR.DUPLICATE,
      "line 2: partition 'nvs' has the same name as line 1; partition names must be unique"],
    ['app offset off 64 KiB', 'factory, app, factory, 0x18000, 1M\n', PARTITION_ERR.ALIGN,
      "line 1: partition 'factory' offset 0x18000 is not aligned to 0x10000"],
    ['data offset off 4 KiB', 'nvs, data, nvs, 0x9800, 0x4000\n', PARTITION_ERR.ALIGN,
      "line 1: partition 'nvs' offset 0x9800 is not aligned to 0x1000"],
    ['app size off 4 KiB', 'factory, app, factory, , 0x100800\n', PARTITION_ERR.ALIGN,
      "line 1: partition 'factory' size 0x100800 is not a multiple of 0x1000"],
    ['otadata of the wrong size', 'otadata, data, ota, , 0x1000\n', PARTITION_ERR.OTADATA,
      "line 1: partition 'otadata' is 0x1000 bytes; an otadata partition must be exactly 0x2000"],
    ['two otadata', 'o1, data, ota, , 0x2000\no2, data, ota, , 0x2000\n', PARTITION_ERR.OTADATA,
      "line 2: partition 'o2' is a second otadata partition; only one is allowed"],
    ['readonly otadata', 'otadata, data, ota, , 0x2000, readonly\n', PARTITION_ERR.READONLY,
      "line 1: partition 'otadata' is otadata, which is always read-write; remove the readonly flag"],
    ['readonly coredump', 'cd, data, coredump, , 64K, readonly\n', PARTITION_ERR.READONLY,
      "line 1: partition 'cd' is coredump, which is always read-write; remove the readonly flag"],
    ['small read-write NVS', 'nvs, data, nvs, , 0x2000\n', PARTITION_ERR.READONLY,
      "line 1: partition 'nvs' is an NVS of 0x2000 bytes; a read-write NVS needs at least 0x3000, so flag it readonly or make it larger"],
    ['empty type', 'ihavenotype,\n', PARTITION_ERR.CSV, "line 1: partition 'ihavenotype' has an empty type (app, data, or a number)"],
    ['empty size', 'nvs, data, nvs, 0x9000\n', PARTITION_ERR.CSV, "line 1: partition 'nvs' has an empty size"],
    ['bad number', 'nvs, data, nvs, 0x9000, 0x4g00\n', PARTITION_ERR.CSV,
      "line 1: size: '0x4g00' is not a number (use decimal, 0x…, 0o…, 0b…, with an optional K or M suffix)"],
    ['leading zero (Python int refuses it)', 'nvs, data, nvs, 0x9000, 0100\n', PARTITION_ERR.CSV, undefined],
    ['unknown subtype keyword', 'nvs, data, nvram, , 0x4000\n', PARTITION_ERR.CSV, undefined],
    ['type out of a byte', 'x, 0x100, 0, , 0x4000\n', PARTITION_ERR.RANGE, 'line 1: type 0x100 is outside 0..0xff'],
    ['beyond 32 bits', 'x, data, 0x40, 0xfffff000, 0x2000\n', PARTITION_ERR.RANGE, undefined],
  ])('%s', (_what, csv, code, message) => {
    const e = parseError(`${csv}`);
    expect(e.code).toBe(code);
    expect(e.line).toBeGreaterThan(0);
    if (message) expect(e.message).toBe(message);
    else expect(e.message).toMatch(/^line \d+: /);
  });

  it('refuses a table that does not fit the flash size', () => {
    const e = parseError(TWO_OTA_CSV, { flashSize: 2 * 1024 * 1024 });
    expect(e.code).toBe(PARTITION_ERR.BOUNDS);
    expect(e.message).toBe("line 7: partition 'ota_1' ends at 0x310000, past the 0x200000-byte flash");
  });

  it('refuses more than 94 partitions with MD5 (95 without)', () => {
    const rows = (n: number): string => Array.from({ length: n }, (_, i) => `p${i}, data, 0x40, , 4K\n`).join('');
    expect(parsePartitionCsv(rows(94)).partitions).toHaveLength(94);
    expect(parseError(rows(95)).code).toBe(PARTITION_ERR.TOO_MANY);
    expect(parsePartitionCsv(rows(95), { md5: false }).partitions).toHaveLength(95);
  });

  it('skips the table rules with verify: false (gen_esp32part --no-verify)', () => {
    expect(parsePartitionCsv('nvs, data, nvs, 0x9800, 0x2000\n', { verify: false }).partitions).toHaveLength(1);
  });

  it('needs 64 KiB app sizes under secure boot v1 only', () => {
    const csv = 'factory, app, factory, , 0x101000\n';
    expect(parseError(csv, { secure: 'v1' }).code).toBe(PARTITION_ERR.ALIGN);
    expect(parsePartitionCsv(csv, { secure: 'v2' }).partitions).toHaveLength(1);
  });

  it('refuses a table offset off 4 KiB and a bootloader at or above the table', () => {
    expect(errorOf(() => parsePartitionCsv('', { tableOffset: 0x8800 })).code).toBe(PARTITION_ERR.ALIGN);
    expect(errorOf(() => parsePartitionCsv('', { primaryBootloaderOffset: 0x8000 })).code).toBe(PARTITION_ERR.OVERLAP);
  });
});

describe('formatPartitionCsv', () => {
  it('prints unknown types and subtypes in decimal, sizes in hex when not whole KiB, flags by name', () => {
    const csv = formatPartitionCsv({
      md5: true,
      partitions: [
        { label: 'x', type: 0x40, subtype: 0xee, offset: 0x100400, size: 0x300, flags: 0x8000_0003 },
        { label: '', type: 0x02, subtype: 0x00, offset: 0x1000, size: 0x7000, flags: 0 },
      ],
    });
    expect(csv.split('\n').slice(2)).toEqual(['x,64,238,0x100400,0x300,encrypted:readonly', ',bootloader,primary,0x1000,28K,', '']);
  });

  it('refuses labels that would not read back from CSV', () => {
    for (const label of ['a,b', '#a', ' a', 'a$B']) {
      const e = errorOf(() => formatPartitionCsv({ md5: true, partitions: [{ label, type: 1, subtype: 2, offset: 0x9000, size: 0x4000, flags: 0 }] }));
      expect(e.code).toBe(PARTITION_ERR.LABEL);
    }
  });
});

describe('decodeCsvBytes', () => {
  const text = 'nvs, data, nvs, , 0x4000\n';
  const utf16 = (le: boolean): Uint8Array => {
    const out = new Uint8Array(2 + text.length * 2);
    out.set(le ? [0xff, 0xfe] : [0xfe, 0xff]);
    [...text].forEach((c, i) => new DataView(out.buffer).setUint16(2 + i * 2, c.charCodeAt(0), le));
    return out;
  };
  const utf32 = (le: boolean): Uint8Array => {
    const out = new Uint8Array(4 + text.length * 4);
    out.set(le ? [0xff, 0xfe, 0, 0] : [0, 0, 0xfe, 0xff]);
    [...text].forEach((c, i) => new DataView(out.buffer).setUint32(4 + i * 4, c.charCodeAt(0), le));
    return out;
  };

  it('decodes UTF-8 (with or without BOM), UTF-16 and UTF-32 by their BOM', () => {
    const plain = new TextEncoder().encode(text);
    for (const bytes of [plain, new Uint8Array([0xef, 0xbb, 0xbf, ...plain]), utf16(true), utf16(false), utf32(true), utf32(false)]) {
      expect(decodeCsvBytes(bytes)).toBe(text);
    }
  });

  it('refuses invalid text and a binary table', () => {
    expect(errorOf(() => decodeCsvBytes(new Uint8Array([0x6e, 0xff, 0x2c]))).code).toBe(PARTITION_ERR.CSV);
    expect(errorOf(() => decodeCsvBytes(new Uint8Array([0xff, 0xfe, 0, 0, 1]))).code).toBe(PARTITION_ERR.CSV);
    expect(errorOf(() => decodeCsvBytes(new Uint8Array([0xaa, 0x50, 1, 2]))).code).toBe(PARTITION_ERR.MAGIC);
  });
});
