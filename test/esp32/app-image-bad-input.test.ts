import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../protocol/errors.js';
import { inspectImage, readAppDesc, verifyImage, type VerifyOptions } from '../../simulator/esp32/app-image.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { fixture, haveFixtures } from '../fixtures.js';

/** The error verifyImage throws, asserting it is an EspError (never a RangeError or a plain Error). */
function espErrorOf(b: Uint8Array, opts: VerifyOptions = {}): EspError {
  try {
    verifyImage(b, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(EspError);
    return e as EspError;
  }
  throw new Error('verifyImage accepted the image');
}

const putU32 = (b: Uint8Array, off: number, v: number): void => {
  new DataView(b.buffer, b.byteOffset).setUint32(off, v, true);
};

// A small esp32 image: DROM, DRAM, IRAM, zero padding, IROM, IRAM tail (see image-builder tests).
const image = buildAppImage({ chip: 'esp32', version: 'bad-input', size: 70_000 });
const info = verifyImage(image, { chip: 'esp32' });
const U = info.segments.at(-1)!.dataOffset + info.segments.at(-1)!.length;
const P = info.size - 32;

describe('truncation: every offset class gives a typed EspError naming the problem', () => {
  const classes: ReadonlyArray<[string, number, RegExp]> = [
    ['empty', 0, /image is empty/],
    ['magic only', 1, /shorter than the 24-byte header/],
    ['mid header', 23, /shorter than the 24-byte header/],
    ['header only', 24, /segment 0 header at 0x18 runs past the end/],
    ['mid segment header', 28, /segment 0 header/],
    ['mid app desc', 0x20 + 100, /segment 0 data \[0x20, 0x[0-9a-f]+\) runs past the end/],
    ['mid segment 2 data', info.segments[2]!.dataOffset + 4, /segment 2 data/],
    ['mid IROM', info.segments[4]!.dataOffset + 1000, /segment 4 data/],
    ['at U (checksum padding missing)', U, /checksum byte at 0x[0-9a-f]+ is past the end/],
    ['just before the checksum byte', P - 1, /checksum byte/],
    ['just after the checksum byte', P, /appended SHA-256 .* runs past the end/],
    ['mid hash', P + 16, /appended SHA-256/],
    ['one byte short', info.size - 1, /appended SHA-256/],
  ];
  for (const [name, len, msg] of classes) {
    it(`${name} (${len} bytes)`, () => {
      const e = espErrorOf(image.subarray(0, len));
      expect(e.code).toBe('ESP_ERR_IMAGE_INVALID');
      expect(e.message).toMatch(msg);
    });
  }

  it('every prefix of a 2 KiB image fails with ESP_ERR_IMAGE_INVALID, never anything else', () => {
    const small = buildAppImage({ chip: 'esp32c3', version: 'tiny', size: 2048 });
    for (let len = 0; len < small.length; len++) {
      expect(espErrorOf(small.subarray(0, len)).code).toBe('ESP_ERR_IMAGE_INVALID');
    }
    expect(() => verifyImage(small)).not.toThrow();
  });

  it('readAppDesc on a buffer too short for the descriptor is ESP_ERR_INVALID_SIZE', () => {
    expect(() => readAppDesc(image.subarray(0, 0x11f))).toThrow(expect.objectContaining({ code: 'ESP_ERR_INVALID_SIZE' }));
    expect(readAppDesc(image.subarray(0, 0x120))?.version).toBe('bad-input');
  });
});

describe('malformed headers and segments', () => {
  it('wrong magic: ESP_ERR_IMAGE_INVALID "invalid magic byte"', () => {
    const b = image.slice();
    b[0] = 0xff;
    expect(espErrorOf(b)).toMatchObject({ code: 'ESP_ERR_IMAGE_INVALID', message: expect.stringContaining('invalid magic byte 0xff') });
  });

  it('lying length: segment 2 claims 0xFFFFFC bytes, running past the end of the image', () => {
    const b = image.slice();
    putU32(b, info.segments[2]!.dataOffset - 4, 0xfffffc);
    expect(espErrorOf(b).message).toMatch(/^segment 2 data \[0x[0-9a-f]+, 0x[0-9a-f]+\) runs past the end of the 70000-byte image/);
  });

  it('segment length ≥ 16 MiB: named with its value', () => {
    const b = image.slice();
    putU32(b, info.segments[3]!.dataOffset - 4, 0x1000003);
    expect(espErrorOf(b).message).toBe('segment 3 length 0x1000003 exceeds 16 MiB');
  });

  it('segment length not a multiple of 4', () => {
    const b = image.slice();
    putU32(b, info.segments[1]!.dataOffset - 4, info.segments[1]!.length + 2);
    expect(espErrorOf(b).message).toMatch(/^segment 1 length 0x[0-9a-f]+ is not a multiple of 4$/);
  });

  it('17 segments: ESP_ERR_IMAGE_INVALID before any segment is read', () => {
    const b = image.slice();
    b[1] = 17;
    expect(espErrorOf(b).message).toBe('segment count 17 exceeds the maximum of 16');
  });

  it('16 real segments are fine when they are really there', () => {
    // Build 16 segments by hand: header, 16 × (8-byte header + 4 bytes), checksum, no hash.
    const b = new Uint8Array(24 + 16 * 12 + 16).fill(0);
    b.set([0xe9, 16, 2, 0x10], 0);
    for (let i = 0; i < 16; i++) {
      putU32(b, 24 + i * 12, 0x3ffb0000 + i * 4);
      putU32(b, 28 + i * 12, 4);
      b[32 + i * 12] = i;
    }
    const U16 = 24 + 16 * 12;
    const P16 = Math.ceil((U16 + 1) / 16) * 16;
    let x = 0xef;
    for (let i = 0; i < 16; i++) x ^= i;
    b[P16 - 1] = x;
    const r = verifyImage(b.subarray(0, P16), { chip: 'esp32' });
    expect(r.segments).toHaveLength(16);
    expect(r.hashAppended).toBe(false);
  });

  it('flash segment not congruent with its load address modulo 64 KiB', () => {
    const b = image.slice();
    const irom = info.segments[4]!;
    putU32(b, irom.dataOffset - 8, irom.loadAddr + 4);
    expect(espErrorOf(b, { chip: 'esp32' }).message).toBe(
      `segment 4 load address 0x400d0024 doesn't match data offset 0x00010020 modulo the 64 KiB MMU page`);
  });

  it('no MMU check for chips whose IROM/DROM ranges otasim has not tabulated (esp32c2)', () => {
    const b = buildAppImage({ chip: 'esp32c2', version: 'x', size: 70_000 });
    const seg = verifyImage(b).segments.find((s) => s.loadAddr >= 0x42000000 && s.loadAddr < 0x42800000)!;
    const c = b.slice();
    putU32(c, seg.dataOffset - 8, seg.loadAddr + 4);
    const r = inspectImage(c, { chip: 'esp32c2' });
    expect(r.error?.message).toMatch(/^image hash failed/); // the hash catches it, the MMU check does not apply
  });

  it('wrong chip: ESP_FAIL naming both chips; unknown chip id without opts.chip: ESP_FAIL', () => {
    expect(espErrorOf(image, { chip: 'esp32c3' })).toMatchObject({
      code: 'ESP_FAIL', message: 'mismatch chip ID: image is for chip id 0 (esp32), this device is esp32c3 (chip id 5)' });
    const b = image.slice();
    b[12] = 0x77;
    expect(espErrorOf(b)).toMatchObject({ code: 'ESP_FAIL', message: 'chip id 0x0077 is not a known ESP32-family chip' });
  });

  it('chip revision below min_chip_rev_full: ESP_FAIL', () => {
    const b = buildAppImage({ chip: 'esp32', version: 'r', size: 4096, minChipRevFull: 300 });
    expect(espErrorOf(b, { chip: 'esp32', chipRevision: 101 }).message).toBe(
      'chip revision v1.1 is below the image\'s minimum v3.0');
    expect(() => verifyImage(b, { chip: 'esp32', chipRevision: 300 })).not.toThrow();
    expect(espErrorOf(b, { chip: 'esp32' }).code).toBe('ESP_FAIL'); // revision defaults to 0
  });
});

describe('never a RangeError: random and mutated input', () => {
  it('random bytes (with the magic forced half the time) give a result or an EspError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (raw, magic) => {
      const b = raw.slice();
      if (magic && b.length > 0) b[0] = 0xe9;
      const r = inspectImage(b);
      if (!r.valid) expect(r.error?.code).toMatch(/^ESP_/);
      try {
        verifyImage(b);
      } catch (e) {
        expect(e).toBeInstanceOf(EspError);
      }
    }), { numRuns: 2000 });
  });

  it('a real image with random words overwritten in its header and segment headers', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(120), fc.integer({ min: 0, max: 0xffffffff })), { minLength: 1, maxLength: 4 }),
      (writes) => {
        const b = image.slice();
        for (const [off, v] of writes) {
          const at = off < 24 ? off : info.segments[off % info.segments.length]!.dataOffset - 8 + (off % 2) * 4;
          putU32(b, Math.min(at, b.length - 4), v);
        }
        try {
          verifyImage(b);
        } catch (e) {
          expect(e).toBeInstanceOf(EspError);
        }
      }), { numRuns: 1000 });
  });

  it.skipIf(!haveFixtures)('a fixture at a byteOffset that is not 4-aligned verifies the same', () => {
    const b = fixture('app/idf-v5.2.2_esp32_hello_world.bin');
    const want = verifyImage(b, { chip: 'esp32' });
    for (const shift of [1, 2, 3]) {
      const backing = new Uint8Array(b.length + shift);
      backing.set(b, shift);
      const view = backing.subarray(shift);
      const got = verifyImage(view, { chip: 'esp32' });
      expect(got.checksum).toEqual(want.checksum);
      expect(got.sha256).toEqual(want.sha256);
      view[want.segments[4]!.dataOffset + 3] = (view[want.segments[4]!.dataOffset + 3] ?? 0) ^ 0x10;
      expect(inspectImage(view).checksum?.ok).toBe(false);
    }
  });
});
