/**
 * External check: esptool-js 0.7.0 (Espressif's own JavaScript port of esptool) parses the images the
 * builder makes and agrees with our verifier. Known esptool-js 0.7.0 defects this test works around:
 * - its appended-digest check is off by one (hashes [0, P−1), reads the digest at P−1): we recompute the
 *   digest over its parsed range the ESP-IDF way (fixtures README);
 * - its extended-header reader takes chip_id as one byte and the revision fields one byte early, so only
 *   chip_id's low byte is compared;
 * Its `save()` is not used as a layout oracle: it advances its write offset by the whole gap when a RAM
 * section shorter than the gap is used as padding, and writes its digest over the checksum byte. The
 * layout is checked against segment tables esptool itself produced instead (image-builder.test.ts).
 */
import { createHash } from 'node:crypto';
import type { ESP32FirmwareImage } from 'esptool-js/lib/image/esp32.js';
import { loadFirmwareImage } from 'esptool-js/lib/image/index.js';
import { CHIP_DEFS } from 'esptool-js/lib/targets/index.js';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { verifyImage, type ImageInfo } from '../../simulator/esp32/app-image.js';
import { CHIP_NAMES, type ChipName } from '../../simulator/esp32/chips.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { fixture, haveFixtures } from '../fixtures.js';

let warn: MockInstance;
beforeAll(() => {
  // esptool-js logs "Suspicious segment" for every segment outside ESP8266-era ranges.
  warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
});
afterAll(() => warn.mockRestore());

async function parseWithEsptool(chip: ChipName, bytes: Uint8Array): Promise<ESP32FirmwareImage> {
  // esptool-js builds DataViews on `.buffer` without the byteOffset: hand it a fresh copy.
  return await loadFirmwareImage(CHIP_DEFS[chip], bytes.slice()) as ESP32FirmwareImage;
}

async function expectAgreement(chip: ChipName, bytes: Uint8Array, info: ImageInfo): Promise<void> {
  const img = await parseWithEsptool(chip, bytes);
  expect(img.segments.map((s) => [s.addr >>> 0, s.data.length, s.fileOffs])).toEqual(
    info.segments.map((s) => [s.loadAddr, s.length, s.dataOffset - 8]));
  expect(img.entrypoint >>> 0).toBe(info.entryAddr);
  expect(img.chipId).toBe(info.chipId & 0xff);
  expect(img.checksum).toBe(info.checksum.stored);
  expect(img.calculateChecksum()).toBe(info.checksum.computed);
  // esptool-js stops one byte short (dataLength = P − 1); the ESP-IDF range is [0, P), digest at P.
  const P = img.dataLength + 1;
  expect(P).toBe(info.size - 32);
  const digest = createHash('sha256').update(bytes.subarray(0, P)).digest('hex');
  expect(digest).toBe(Buffer.from(bytes.subarray(P, P + 32)).toString('hex'));
  expect(digest).toBe(info.sha256.appended);
  // And its own stored digest is the off-by-one read the README describes.
  expect(Buffer.from(img.storedDigest ?? []).equals(Buffer.from(bytes.subarray(P - 1, P + 31)))).toBe(true);
}

describe('esptool-js 0.7.0 parses built images and agrees with verifyImage', () => {
  for (const chip of CHIP_NAMES) {
    it(`${chip}: segments, entry, chip id, checksum and (ESP-IDF-range) SHA-256 agree`, async () => {
      for (const size of [3000, 70_000, 400_000]) {
        const bytes = buildAppImage({ chip, version: `ext-${size}`, size, seed: size });
        await expectAgreement(chip, bytes, verifyImage(bytes, { chip }));
      }
    });
  }

  it.skipIf(!haveFixtures)('and on the real ESP-IDF and espflash builds', async () => {
    for (const [chip, file] of [['esp32', 'app/idf-v5.2.2_esp32_hello_world.bin'], ['esp32s3', 'app/idf-v5.2.2_esp32s3_hello_world.bin'],
      ['esp32', 'app/espflash_esp32_esp-hal-blinky_no-app-desc.bin']] as const) {
      const bytes = fixture(file);
      await expectAgreement(chip, bytes, verifyImage(bytes, { chip }));
    }
  });
});
