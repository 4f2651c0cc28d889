import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { readAppDesc, verifyImage } from '../../simulator/esp32/app-image.js';
import { CHIP_NAMES, CHIPS } from '../../simulator/esp32/chips.js';
import { buildAppImage, DEFAULT_IMAGE_SIZE } from '../../simulator/esp32/image-builder.js';
import { layoutSegments, paddingNeeded } from '../../simulator/esp32/image-layout.js';
import { buildProfile } from '../../simulator/esp32/image-profiles.js';

const u32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);

describe('buildAppImage layout (as esptool elf2image lays out real builds)', () => {
  it('esp32, 70000 bytes: DROM+desc at 0x20, DRAM, IRAM, zero padding (load 0), IROM at 0x10020', () => {
    const b = buildAppImage({ chip: 'esp32', version: 'v1.0.0', size: 70_000 });
    const info = verifyImage(b, { chip: 'esp32' });
    expect(info.segments.map((s) => [s.loadAddr, s.dataOffset])).toEqual([
      [0x3f400020, 0x20], [0x3ffb0000, expect.any(Number)], [0x40080000, expect.any(Number)], [0, expect.any(Number)],
      [0x400d0020, 0x10020],
    ]);
    const pad = info.segments[3]!;
    expect(b.subarray(pad.dataOffset, pad.dataOffset + pad.length).every((x) => x === 0)).toBe(true);
    expect(info.entryAddr).toBeGreaterThanOrEqual(0x40080000);
    expect(info.entryAddr).toBeLessThan(0x40080000 + info.segments[2]!.length);
  });

  it('1.5 MiB: the gap before IROM is filled by splitting RAM, the rest of IRAM follows IROM (like esptool blink_s2)', () => {
    const b = buildAppImage({ chip: 'esp32s2', version: 'v2', size: 1536 * 1024 });
    const segs = verifyImage(b, { chip: 'esp32s2' }).segments;
    expect(segs.map((s) => s.loadAddr >>> 0)).toEqual([0x3f000020, 0x3ffbde90, 0x40022000, 0x40080020,
      0x40022000 + segs[2]!.length]);
    expect(segs.some((s) => s.loadAddr === 0)).toBe(false);
    expect(segs[3]!.dataOffset % 0x10000).toBe(0x20);
  });

  it('shared-MMU chips put DROM\'s virtual pages after IROM\'s (esp32s3 fixture: IROM 0x42000020, DROM 0x3c020020)', () => {
    const b = buildAppImage({ chip: 'esp32s3', version: 'v3', size: 200 * 1024 });
    const segs = verifyImage(b, { chip: 'esp32s3' }).segments;
    const irom = segs.find((s) => s.loadAddr >= 0x42000000)!;
    const pages = Math.ceil((irom.length + 0x20) / 0x10000);
    expect(segs[0]!.loadAddr).toBe(0x3c000020 + pages * 0x10000);
  });

  it('every chip: exactly DROM and IROM fall in its flash windows, both congruent mod 64 KiB; RAM stays outside', () => {
    for (const chip of CHIP_NAMES) {
      const { irom, drom } = buildProfile(chip);
      const inWindow = (a: number): boolean => (a >= irom.start && a < irom.end) || (a >= drom.start && a < drom.end);
      const segs = verifyImage(buildAppImage({ chip, version: chip, size: 300 * 1024 }), { chip }).segments;
      const mapped = segs.filter((s) => inWindow(s.loadAddr));
      expect(mapped.map((s) => s.loadAddr % 0x10000), chip).toEqual([0x20, 0x20]);
      expect(mapped.map((s) => s.dataOffset % 0x10000), chip).toEqual([0x20, 0x20]);
      expect(segs[0], chip).toBe(mapped[0]);
    }
  });

  it('the header carries the chip, DIO, 2 MB, hash_appended and the chip\'s revision range', () => {
    const b = buildAppImage({ chip: 'esp32', version: 'h', size: 4096 });
    expect([b[0], b[2], b[3]! >> 4, b[8], b[23]]).toEqual([0xe9, 2, 1, 0xee, 1]);
    const info = verifyImage(b);
    expect([info.chipId, info.minChipRevFull, info.maxChipRevFull]).toEqual([0, 0, 399]);
    expect(verifyImage(buildAppImage({ chip: 'esp32s3', version: 'h' })).maxChipRevFull).toBe(99);
    expect(verifyImage(buildAppImage({ chip: 'esp32c6', version: 'h', maxChipRevFull: 99 })).maxChipRevFull).toBe(99);
    expect(verifyImage(buildAppImage({ chip: 'esp32c6', version: 'h' })).chipId).toBe(CHIPS.esp32c6.chipId);
  });

  it('the checksum and the appended SHA-256 are the ESP-IDF ones, recomputed here byte by byte', () => {
    const b = buildAppImage({ chip: 'esp32c3', version: 'sum', size: 100_000 });
    const info = verifyImage(b);
    let x = 0xef;
    for (const s of info.segments) for (let i = 0; i < s.length; i++) x ^= b[s.dataOffset + i]!;
    const P = b.length - 32;
    expect(b[P - 1]).toBe(x);
    expect(createHash('sha256').update(b.subarray(0, P)).digest().equals(Buffer.from(b.subarray(P)))).toBe(true);
  });

  it('esp32: esptool\'s 0x24 workaround leaves no flash segment ending < 0x24 bytes past a page boundary', () => {
    fc.assert(fc.property(fc.integer({ min: 66 * 1024, max: 600 * 1024 }), (size) => {
      const b = buildAppImage({ chip: 'esp32', version: 'w', size });
      for (const s of verifyImage(b).segments) {
        if (s.loadAddr >= 0x3f400000 && s.loadAddr < 0x40400000 && (s.loadAddr < 0x3f800000 || s.loadAddr >= 0x400d0000)) {
          expect((s.dataOffset + s.length) % 0x10000).toBeGreaterThanOrEqual(0x24);
        }
      }
      expect(b.length - Math.ceil(size / 16) * 16).toBeLessThanOrEqual(48);
    }), { numRuns: 300 });
  });
});

describe('buildAppImage sizes, seeds and defaults', () => {
  it('defaults: 192 KiB, project otasim-app, secure_version 0, v5.2.2, fixed date (the core has no clock)', () => {
    const b = buildAppImage({ chip: 'esp32', version: '1.0' });
    expect(b.length).toBe(DEFAULT_IMAGE_SIZE);
    expect(readAppDesc(b)).toMatchObject({
      projectName: 'otasim-app', secureVersion: 0, idfVersion: 'v5.2.2', date: 'Jan  1 2025', time: '00:00:00' });
  });

  it('sizes land on roundUp(size, 16) for non-esp32 chips, from 1 KiB to what the chip can map', () => {
    for (const size of [1024, 1025, 4000, 65_000, 65_600, 66_000, 131_072, 1_000_001, 8 * 1024 * 1024 - 200_000]) {
      expect(buildAppImage({ chip: 'esp32c6', version: 's', size }).length).toBe(Math.ceil(size / 16) * 16);
    }
    expect(buildAppImage({ chip: 'esp32s3', version: 's', size: 16 * 1024 * 1024 }).length).toBe(16 * 1024 * 1024);
  });

  it('equal options give equal bytes; the seed changes only the filler; the default seed follows the version', () => {
    const a = buildAppImage({ chip: 'esp32', version: 'same', seed: 7 });
    expect(Buffer.from(buildAppImage({ chip: 'esp32', version: 'same', seed: 7 })).equals(Buffer.from(a))).toBe(true);
    const c = buildAppImage({ chip: 'esp32', version: 'same', seed: 8 });
    expect(Buffer.from(c).equals(Buffer.from(a))).toBe(false);
    expect(readAppDesc(c)?.version).toBe('same');
    const d1 = buildAppImage({ chip: 'esp32', version: 'v1' });
    const d2 = buildAppImage({ chip: 'esp32', version: 'v2' });
    const iromOf = (b: Uint8Array) => verifyImage(b).segments.find((s) => s.loadAddr === 0x400d0020)!;
    const s1 = iromOf(d1);
    expect(Buffer.from(d1.subarray(s1.dataOffset, s1.dataOffset + 64)).equals(Buffer.from(d2.subarray(s1.dataOffset, s1.dataOffset + 64)))).toBe(false);
  });

  it('filler is not constant: no run of 16 equal words in the IROM segment', () => {
    const b = buildAppImage({ chip: 'esp32', version: 'f', seed: 0 });
    const irom = verifyImage(b).segments.find((s) => s.loadAddr === 0x400d0020)!;
    const words = new Set<number>();
    for (let i = 0; i < 64; i++) words.add(u32(b, irom.dataOffset + 4 * i));
    expect(words.size).toBeGreaterThan(60);
  });

  it('UTF-8 strings round-trip; bad options are ConfigError naming the option', () => {
    expect(readAppDesc(buildAppImage({ chip: 'esp32', version: 'v1-ünïcødé', projectName: '\u{FEFF}bom' }))).toMatchObject({
      version: 'v1-ünïcødé', projectName: '\u{FEFF}bom' });
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ version: 'x'.repeat(32) }, /version "x+" is 32 bytes; esp_app_desc_t holds at most 31/],
      [{ version: 'é'.repeat(16) }, /is 32 bytes/],
      [{ version: 'a\0b' }, /version contains a NUL/],
      [{ version: '\uD800' }, /not well-formed Unicode/],
      [{ date: 'Mon Jan  1 2025' + 'x' }, /date .* holds at most 15/],
      [{ chip: 'esp8266' }, /unknown chip "esp8266"/],
      [{ secureVersion: -1 }, /secureVersion -1 is not an integer in \[0, 4294967295\]/],
      [{ secureVersion: 2 ** 32 }, /secureVersion/],
      [{ size: 1023 }, /size 1023 is not an integer in \[1024, 16777216\]/],
      [{ size: 1.5 }, /size 1.5/],
      [{ size: 16 * 1024 * 1024 + 1 }, /size/],
      [{ seed: -3 }, /seed/],
      [{ maxChipRevFull: 0x10000 }, /maxChipRevFull/],
    ];
    for (const [o, msg] of bad) {
      const opts = { chip: 'esp32', version: 'ok', ...o } as Parameters<typeof buildAppImage>[0];
      expect(() => buildAppImage(opts), JSON.stringify(o)).toThrow(ConfigError);
      expect(() => buildAppImage(opts)).toThrow(msg);
    }
  });

  it('a size the chip cannot map is a ConfigError that says so', () => {
    expect(() => buildAppImage({ chip: 'esp32', version: 'big', size: 16 * 1024 * 1024 })).toThrow(
      /size 16777216 is more than esp32 can map/);
  });
});

describe('layoutSegments (esptool arithmetic)', () => {
  it('paddingNeeded reproduces the esp32 fixture\'s padding: 0x3110 bytes after IRAM ends at 0xcf00', () => {
    expect(paddingNeeded(0x400d0020, 0xcf00, 0x10000)).toBe(0x3110);
    expect(paddingNeeded(0x400d0020, 0x10018, 0x10000)).toBe(0);
  });

  it('esptool\'s quirk: just past a page boundary the padding spans more than a page', () => {
    expect(paddingNeeded(0x400d0020, 0x10000, 0x10000)).toBe(0x10010);
  });

  it('reproduces the esp32 hello_world fixture\'s segment table from its section sizes', () => {
    const l = layoutSegments({
      flash: [{ kind: 'drom', loadAddr: 0x3f400020, length: 0x1ee4 }, { kind: 'irom', loadAddr: 0x400d0020, length: 0xe5b4 }],
      ram: [{ kind: 'dram', loadAddr: 0x3ffb0000, length: 0x1840 }, { kind: 'iram', loadAddr: 0x40080000, length: 0x97ac }],
      page: 0x10000, esp32Workaround: true,
    });
    expect(l.segments.map((s) => [s.loadAddr, s.length, s.dataOffset])).toEqual([
      [0x3f400020, 0x1ee4, 0x20], [0x3ffb0000, 0x1840, 0x1f0c], [0x40080000, 0x97ac, 0x3754],
      [0, 0x3110, 0xcf08], [0x400d0020, 0xe5b4, 0x10020],
    ]);
    expect(l.end).toBe(0x1e5d4);
  });

  it('reproduces the esp32s3 hello_world fixture\'s segment table', () => {
    const l = layoutSegments({
      flash: [{ kind: 'drom', loadAddr: 0x3c020020, length: 0x26c4 }, { kind: 'irom', loadAddr: 0x42000020, length: 0x10f18 }],
      ram: [{ kind: 'iram', loadAddr: 0x40374000, length: 0xaa98 }, { kind: 'dram', loadAddr: 0x3fc8eb00, length: 0x1b60 }],
      page: 0x10000, esp32Workaround: false,
    });
    expect(l.segments.map((s) => [s.loadAddr, s.length, s.dataOffset])).toEqual([
      [0x3c020020, 0x26c4, 0x20], [0x3fc8eb00, 0x1b60, 0x26ec], [0x40374000, 0xaa98, 0x4254],
      [0, 0x1324, 0xecf4], [0x42000020, 0x10f18, 0x10020],
    ]);
  });

  it('reproduces esptool\'s blink_s2 test image (facts §8.3): IRAM split around IROM, RTC last', () => {
    const l = layoutSegments({
      flash: [{ kind: 'drom', loadAddr: 0x3f000020, length: 0x8c18 }, { kind: 'irom', loadAddr: 0x40080020, length: 0x15ce8 }],
      ram: [{ kind: 'rtc', loadAddr: 0x50000000, length: 0x10 }, { kind: 'iram', loadAddr: 0x40022000, length: 0x5384 + 0x6b0c },
        { kind: 'dram', loadAddr: 0x3ffbde90, length: 0x204c }],
      page: 0x10000, esp32Workaround: false,
    });
    expect(l.segments.map((s) => [s.loadAddr, s.length, s.dataOffset])).toEqual([
      [0x3f000020, 0x8c18, 0x20], [0x3ffbde90, 0x204c, 0x8c40], [0x40022000, 0x5384, 0xac94],
      [0x40080020, 0x15ce8, 0x10020], [0x40027384, 0x6b0c, 0x25d10], [0x50000000, 0x10, 0x2c824],
    ]);
    expect(l.end).toBe(0x2c834);
  });

  it('esp32 workaround: a flash segment ending 4 bytes past a page boundary is zero-extended to 0x24 past it', () => {
    const flash = [{ kind: 'drom' as const, loadAddr: 0x3f400020, length: 0xffe4 }];
    const l = layoutSegments({ flash, ram: [], page: 0x10000, esp32Workaround: true });
    expect(l.segments[0]).toMatchObject({ length: 0xffe4 + 0x20, zeroTail: 0x20 });
    expect(layoutSegments({ flash, ram: [], page: 0x10000, esp32Workaround: false }).segments[0]?.zeroTail).toBe(0);
  });
});
