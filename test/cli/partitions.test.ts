import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, fixturesDir, haveFixtures } from '../fixtures.js';
import { runCli, type CliResult } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'otasim-partitions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Uint8Array): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** One line on stderr, `otasim: CODE: …`, no stack trace. */
function expectOneLineError(r: CliResult, status: number, code?: string): void {
  expect(r.status).toBe(status);
  expect(r.stderr.trimEnd().split('\n')[0]).toMatch(code ? new RegExp(`^otasim: ${code}: `) : /^otasim: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
}

const TWO_OTA_CSV = `# Name, Type, SubType, Offset, Size, Flags
nvs,      data, nvs,     ,  0x4000,
otadata,  data, ota,     ,  0x2000,
phy_init, data, phy,     ,  0x1000,
factory,  app,  factory, ,  1M,
ota_0,    app,  ota_0,   ,  1M,
ota_1,    app,  ota_1,   ,  1M,
`;

describe('otasim partitions encode', () => {
  it('writes the 0xC00-byte table and reports its MD5 (§8.2 two-OTA vector)', () => {
    const out = join(dir, 'two_ota.bin');
    const r = runCli(['partitions', 'encode', file('two_ota.csv', TWO_OTA_CSV), '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${out}: 6 partitions, 3072 bytes, MD5 bf25822c0fa6d8641bd930251e06b4c4\n`);
    const bin = readFileSync(out);
    expect(bin).toHaveLength(0xc00);
    expect(bin.subarray(0xd0, 0xe0).toString('hex')).toBe('bf25822c0fa6d8641bd930251e06b4c4');
  });

  it('honours --offset, --no-md5 and $VARs from the environment', () => {
    const out = join(dir, 'moved.bin');
    const csv = file('vars.csv', 'nvs, data, nvs, , $NVS_SIZE\nfactory, app, factory, , 1M\n');
    const r = runCli(['partitions', 'encode', csv, '-o', out, '--offset', '0x10000', '--no-md5'], { env: { NVS_SIZE: '24K' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/2 partitions, 3072 bytes, no MD5 entry/);
    const bin = readFileSync(out);
    expect(bin.readUInt32LE(4)).toBe(0x11000);
    expect(bin.readUInt32LE(8)).toBe(0x6000);
    expect(bin.readUInt32LE(32 + 4)).toBe(0x20000);
    expect(bin.subarray(64).every((b) => b === 0xff)).toBe(true);
  });

  it('prints gen_esp32part-style warnings on stderr and still succeeds', () => {
    const r = runCli(['partitions', 'encode', file('long.csv', 'a_very_long_partition_name, data, nvs, , 0x4000\n'), '-o', join(dir, 'long.bin')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("otasim: warning: line 1: name 'a_very_long_partition_name' is 26 bytes; the table stores its first 16, 'a_very_long_part'\n");
  });

  it('refuses an overlapping CSV: one line naming the line and both partitions, exit 1', () => {
    const csv = file('overlap.csv', '# Name, Type, SubType, Offset, Size\nnvs, data, nvs, 0x9000, 0x108000\nfactory, app, factory, 0x10000, 1M\n');
    const r = runCli(['partitions', 'encode', csv, '-o', join(dir, 'overlap.bin')]);
    expectOneLineError(r, 1, 'OTASIM_ERR_PARTITION_OVERLAP');
    expect(r.stderr).toBe("otasim: OTASIM_ERR_PARTITION_OVERLAP: line 3: partition 'factory' at 0x10000 overlaps 'nvs' (0x9000–0x110fff)\n");
  });

  it('refuses a binary given as CSV, pointing at decode', () => {
    const bin = file('as-csv.bin', new Uint8Array([0xaa, 0x50, 0x01, 0x02]));
    const r = runCli(['partitions', 'encode', bin, '-o', join(dir, 'x.bin')]);
    expectOneLineError(r, 1, 'OTASIM_ERR_PARTITION_MAGIC');
    expect(r.stderr).toContain('otasim partitions decode');
  });

  it('usage errors exit 2: no -o, a bad --offset', () => {
    const csv = file('ok.csv', TWO_OTA_CSV);
    expectOneLineError(runCli(['partitions', 'encode', csv]), 2);
    const r = runCli(['partitions', 'encode', csv, '-o', join(dir, 'y.bin'), '--offset', 'lots']);
    expectOneLineError(r, 2);
    expect(r.stderr).toContain('--offset lots');
  });

  it('a missing input file is one line, exit 1', () => {
    expectOneLineError(runCli(['partitions', 'encode', join(dir, 'absent.csv'), '-o', join(dir, 'z.bin')]), 1, 'ENOENT');
  });
});

describe.skipIf(!haveFixtures)('otasim partitions encode/decode on the real tables', () => {
  it('encodes each fixture CSV to exactly its fixture binary', () => {
    for (const [csv, bin] of [
      ['partition/idf-default-singleapp_partitions_singleapp.csv', 'partition/idf-default-singleapp_partition-table.bin'],
      ['partition/arduino-default_8MB.csv', 'partition/arduino-default_8MB_partitions.bin'],
    ] as const) {
      const out = join(dir, 'fixture.bin');
      const r = runCli(['partitions', 'encode', join(fixturesDir, csv), '-o', out]);
      expect(r.status).toBe(0);
      expect(readFileSync(out).equals(Buffer.from(fixture(bin)))).toBe(true);
    }
  });

  it('decodes to gen_esp32part CSV by default', () => {
    const r = runCli(['partitions', 'decode', join(fixturesDir, 'partition/idf-default-singleapp_partition-table.bin')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`# ESP-IDF Partition Table
# Name, Type, SubType, Offset, Size, Flags
nvs,data,nvs,0x9000,24K,
phy_init,data,phy,0xf000,4K,
factory,app,factory,0x10000,1M,
`);
  });

  it('decodes to JSON with type names and the MD5', () => {
    const r = runCli(['partitions', 'decode', join(fixturesDir, 'partition/arduino-default_8MB_partitions.bin'), '--format', 'json']);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as { partitions: Array<Record<string, unknown>>; md5: string };
    expect(json.md5).toBe('00465c1beab89009706410b57512ab92');
    expect(json.partitions).toHaveLength(5);
    expect(json.partitions[2]).toEqual({
      label: 'app0', type: 0, subtype: 0x10, offset: 0x10000, size: 0x330000, flags: 0, typeName: 'app', subtypeName: 'ota_0', flagNames: [],
    });
    expect(json.partitions[4]).toMatchObject({ label: 'spiffs', typeName: 'data', subtypeName: 'spiffs' });
  });

  it('refuses a table that does not fit --flash-size, naming the entry', () => {
    const r = runCli(['partitions', 'decode', join(fixturesDir, 'partition/arduino-default_8MB_partitions.bin'), '--flash-size', '4MB']);
    expectOneLineError(r, 1, 'OTASIM_ERR_PARTITION_BOUNDS');
    expect(r.stderr).toContain("entry 3 ('app1')");
  });

  it('refuses a garbled binary (MD5 mismatch) in one line, exit 1', () => {
    const bin = Buffer.from(fixture('partition/idf-default-singleapp_partition-table.bin'));
    bin[0x20 + 12] = 0x50; // 'phy_init' → 'Phy_init'
    const r = runCli(['partitions', 'decode', file('garbled.bin', bin)]);
    expectOneLineError(r, 1, 'OTASIM_ERR_PARTITION_MD5');
    expect(r.stderr).toContain('entry 3: MD5 entry says f4ad4f4538564b5d7435b62c75b69524');
  });
});

describe('otasim partitions decode: bad input', () => {
  it('refuses a truncated binary in one line, exit 1', () => {
    const r = runCli(['partitions', 'decode', file('short.bin', new Uint8Array([0xaa, 0x50, 0x01, 0x02, 0x00, 0x90, 0x00]))]);
    expectOneLineError(r, 1, 'OTASIM_ERR_PARTITION_TRUNCATED');
    expect(r.stderr).toBe('otasim: OTASIM_ERR_PARTITION_TRUNCATED: input ends at byte 0x7, inside entry 0, before any end-of-table marker; a table is 0xC00 bytes\n');
  });

  it('refuses random bytes as an invalid magic', () => {
    expectOneLineError(runCli(['partitions', 'decode', file('noise.bin', new Uint8Array(0xc00).fill(0x5a))]), 1, 'OTASIM_ERR_PARTITION_MAGIC');
  });

  it('points a CSV given to decode at encode', () => {
    const r = runCli(['partitions', 'decode', file('given.csv', TWO_OTA_CSV)]);
    expectOneLineError(r, 1, 'OTASIM_ERR_PARTITION_MAGIC');
    expect(r.stderr).toContain('otasim partitions encode');
  });

  it('--verify applies the generator rules a bootloader would not', () => {
    const bin = file('misaligned.bin', (() => {
      const enc = runCli(['partitions', 'encode', file('mis.csv', 'nvs, data, nvs, 0x9800, 0x4000\n'), '-o', join(dir, 'mis.bin'), '--no-verify']);
      expect(enc.status).toBe(0);
      return readFileSync(join(dir, 'mis.bin'));
    })());
    expect(runCli(['partitions', 'decode', bin]).status).toBe(0);
    const r = runCli(['partitions', 'decode', bin, '--verify']);
    expectOneLineError(r, 1, 'OTASIM_ERR_PARTITION_ALIGN');
    expect(r.stderr).toContain("partition 0 'nvs' offset 0x9800 is not aligned to 0x1000");
  });

  it('--help on each subcommand names its flags', () => {
    const dec = runCli(['partitions', 'decode', '--help']);
    expect(dec.status).toBe(0);
    for (const flag of ['--format', '--flash-size', '--verify']) expect(dec.stdout).toContain(flag);
    const enc = runCli(['partitions', 'encode', '--help']);
    expect(enc.status).toBe(0);
    for (const flag of ['--output', '--offset', '--md5', '--primary-bootloader-offset']) expect(enc.stdout).toContain(flag);
    expect(runCli(['partitions', '--help']).stdout).toMatch(/decode <file>[\s\S]*encode <csv>/);
  });

  it('with no subcommand is a usage error, exit 2', () => {
    expectOneLineError(runCli(['partitions']), 2);
  });
});
