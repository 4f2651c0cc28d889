import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../protocol/errors.js';
import { inspectImage, verifyImage } from '../../simulator/esp32/app-image.js';
import { CHIP_NAMES, type ChipName } from '../../simulator/esp32/chips.js';
import { buildAppImage, type BuildImageOptions } from '../../simulator/esp32/image-builder.js';

const utf8Len = (s: string): number => Buffer.byteLength(s, 'utf8');
/** A descriptor string: any well-formed Unicode without NUL that fits `max` UTF-8 bytes. */
const descString = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'grapheme', maxLength: max }).filter((s) => !s.includes('\0') && utf8Len(s) <= max);

const chipArb = fc.constantFrom<ChipName>(...CHIP_NAMES);

const optionsArb: fc.Arbitrary<BuildImageOptions> = fc.record({
  chip: chipArb,
  version: descString(31),
  projectName: descString(31),
  secureVersion: fc.integer({ min: 0, max: 0xffffffff }),
  size: fc.oneof(fc.integer({ min: 1024, max: 80 * 1024 }), fc.integer({ min: 80 * 1024, max: 2 * 1024 * 1024 })),
  idfVersion: descString(31),
  date: descString(15),
  time: descString(15),
  seed: fc.integer({ min: 0, max: 0xffffffff }),
});

describe('built images (property)', () => {
  it('always verify for their chip and round-trip their app descriptor', () => {
    fc.assert(fc.property(optionsArb, (o) => {
      const b = buildAppImage(o);
      const target = Math.ceil(o.size! / 16) * 16;
      expect(b.length % 16).toBe(0);
      expect(b.length - target).toBeGreaterThanOrEqual(0);
      expect(b.length - target).toBeLessThanOrEqual(o.chip === 'esp32' ? 48 : 0);
      const info = verifyImage(b, { chip: o.chip, partitionSize: Math.ceil(b.length / 4096) * 4096 });
      expect(info.size).toBe(b.length);
      expect(info.app).toMatchObject({
        version: o.version, projectName: o.projectName, secureVersion: o.secureVersion, idfVersion: o.idfVersion,
        date: o.date, time: o.time,
      });
      expect(info.segments[0]!.dataOffset).toBe(0x20);
    }), { numRuns: 1000 });
  });
});

describe('single-byte corruption (property)', () => {
  // One small image per chip, built once; each run flips one byte of one of them.
  const images = CHIP_NAMES.map((chip) => ({ chip, bytes: buildAppImage({ chip, version: `flip-${chip}`, size: 72 * 1024 }) }));
  const HASH_APPENDED = 23;

  it('is always caught, wherever it lands: header, segment headers, data, padding, checksum, hash', () => {
    const flipArb = fc.record({
      which: fc.nat(images.length - 1),
      at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      mask: fc.integer({ min: 1, max: 255 }),
      tellChip: fc.boolean(),
    });
    fc.assert(fc.property(flipArb, ({ which, at, mask, tellChip }) => {
      const { chip, bytes } = images[which]!;
      const b = bytes.slice();
      const off = Math.floor(at * b.length);
      b[off] = (b[off] ?? 0) ^ mask;
      const opts = tellChip ? { chip } : {};
      if (off === HASH_APPENDED && b[off] === 0) {
        // The format's one hole: clearing hash_appended turns the SHA-256 check off, and ESP-IDF
        // (without secure boot) accepts the image; the 32 digest bytes become unused partition bytes.
        const info = verifyImage(b, opts);
        expect(info.hashAppended).toBe(false);
        expect(info.size).toBe(b.length - 32);
        return;
      }
      let caught: unknown = null;
      try {
        verifyImage(b, opts);
      } catch (e) {
        caught = e;
      }
      expect(caught, `flip of byte ${off} by ${mask} in the ${chip} image went unnoticed`).toBeInstanceOf(EspError);
    }), { numRuns: 3000 });
  });

  it('header-only fields (spi_mode, speed/size, wp pin, drive, reserved) are caught by the SHA-256 alone', () => {
    const { chip, bytes } = images[0]!;
    for (const off of [2, 3, 8, 9, 10, 11, 19, 20, 21, 22]) {
      const b = bytes.slice();
      b[off] = (b[off] ?? 0) ^ 0x01;
      const r = inspectImage(b, { chip });
      expect(r.checksum?.ok, `byte ${off}`).toBe(true);
      expect(r.error?.message, `byte ${off}`).toMatch(/^image hash failed - image is corrupt/);
    }
  });

  it('the format\'s one hole, pinned: clearing hash_appended (byte 23) turns the SHA-256 check off', () => {
    const { chip, bytes } = images[0]!;
    const b = bytes.slice();
    b[HASH_APPENDED] = 0;
    b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0xff; // the old digest is no longer checked
    const info = verifyImage(b, { chip });
    expect(info.hashAppended).toBe(false);
    expect(info.sha256).toEqual({ appended: null, computed: null, ok: false });
    // Any other value keeps the hash on (ESP-IDF tests for nonzero), so the changed header byte is caught.
    const c = bytes.slice();
    c[HASH_APPENDED] = 2;
    expect(inspectImage(c, { chip }).checksum?.ok).toBe(true);
    expect(inspectImage(c, { chip }).error?.message).toMatch(/^image hash failed/);
  });

  it('a flip in the checksum padding (zeros before the checksum byte) is caught by the SHA-256', () => {
    const { chip, bytes } = images[1]!;
    const info = verifyImage(bytes, { chip });
    const last = info.segments.at(-1)!;
    const U = last.dataOffset + last.length;
    const P = info.size - 32;
    expect(P - 1 - U).toBeGreaterThan(0);
    const b = bytes.slice();
    b[U] = 0x5a;
    expect(inspectImage(b, { chip }).error?.message).toMatch(/^image hash failed/);
  });
});
