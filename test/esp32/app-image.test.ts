import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../protocol/errors.js';
import { inspectImage, readAppDesc, verifyImage } from '../../simulator/esp32/app-image.js';
import { keyDigest } from '../../simulator/esp32/secure-boot.js';
import { fixture, fixtureText, haveFixtures } from '../fixtures.js';

const HELLO_ESP32 = 'app/idf-v5.2.2_esp32_hello_world.bin';
const HELLO_S3 = 'app/idf-v5.2.2_esp32s3_hello_world.bin';
const NO_DESC = 'app/espflash_esp32_esp-hal-blinky_no-app-desc.bin';
const BL_NO_SHA = 'bootloader/esptool-test_esp32_bootloader_no-sha256.bin';
const BL_SBV2 = 'bootloader/esptool-test_esp32_bootloader_signed-sbv2-rsa.bin';
const BL_SBV2_PUB = 'bootloader/esptool-test_rsa_secure_boot_signing_pubkey.pem';

/** SHA-256 of [0, P) recomputed independently of the verifier: P = file length − 32. */
function independentDigest(b: Uint8Array, size: number): { computed: string; stored: string } {
  return {
    computed: createHash('sha256').update(b.subarray(0, size - 32)).digest('hex'),
    stored: Buffer.from(b.subarray(size - 32, size)).toString('hex'),
  };
}

describe.skipIf(!haveFixtures)('verifyImage on real ESP-IDF app builds (fixtures README)', () => {
  const apps = [
    {
      file: HELLO_ESP32, chip: 'esp32', size: 124416, chipId: 0, segments: 5, entry: 0x40080af0, maxRev: 399,
      time: '16:23:40',
    },
    {
      file: HELLO_S3, chip: 'esp32s3', size: 135008, chipId: 9, segments: 5, entry: 0x40374bc4, maxRev: 99,
      time: '16:25:51',
    },
  ] as const;

  for (const a of apps) {
    it(`${a.file}: every fact the README lists`, () => {
      const b = fixture(a.file);
      expect(b.length).toBe(a.size);
      const info = verifyImage(b, { chip: a.chip, partitionSize: 0x100000 });
      expect(info.size).toBe(a.size);
      expect(info.chip).toBe(a.chip);
      expect(info.chipId).toBe(a.chipId);
      expect(info.segments).toHaveLength(a.segments);
      expect(info.entryAddr).toBe(a.entry);
      expect(info.checksum.ok).toBe(true);
      expect(info.checksum.computed).toBe(info.checksum.stored);
      expect(info.hashAppended).toBe(true);
      expect(info.sha256.ok).toBe(true);
      const d = independentDigest(b, a.size);
      expect(info.sha256.appended).toBe(d.stored);
      expect(d.computed).toBe(d.stored);
      expect(info.maxChipRevFull).toBe(a.maxRev);
      expect(info.minChipRevFull).toBe(0);
      expect(info.app).toEqual({
        projectName: 'hello_world', version: 'v1.4.1-2-g0296947-dirty', idfVersion: 'v5.2.2-dirty',
        secureVersion: 0, date: 'Jul 25 2024', time: a.time, elfSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    });
  }

  it('segment table of the esp32 build: DROM at 0x20, RAM, zero padding, IROM page-congruent', () => {
    const info = verifyImage(fixture(HELLO_ESP32), { chip: 'esp32' });
    expect(info.segments.map((s) => [s.loadAddr, s.length, s.dataOffset])).toEqual([
      [0x3f400020, 0x1ee4, 0x20],
      [0x3ffb0000, 0x1840, 0x1f0c],
      [0x40080000, 0x97ac, 0x3754],
      [0x00000000, 0x3110, 0xcf08],
      [0x400d0020, 0xe5b4, 0x10020],
    ]);
  });

  it('the app desc is readable on its own, and its ELF SHA-256 is the one at 0xB0', () => {
    const b = fixture(HELLO_ESP32);
    expect(readAppDesc(b)?.elfSha256).toBe(Buffer.from(b.subarray(0xb0, 0xd0)).toString('hex'));
  });

  it('no-app-desc image: structurally valid (header, checksum, SHA-256) but app is null', () => {
    const info = verifyImage(fixture(NO_DESC), { chip: 'esp32' });
    expect(info.checksum.ok).toBe(true);
    expect(info.sha256.ok).toBe(true);
    expect(info.app).toBeNull();
    expect(readAppDesc(fixture(NO_DESC))).toBeNull();
  });

  it('the esp32 build refuses to run on an esp32s3 (ESP_FAIL), and vice versa', () => {
    expect(() => verifyImage(fixture(HELLO_ESP32), { chip: 'esp32s3' })).toThrow(
      expect.objectContaining({ code: 'ESP_FAIL', message: expect.stringMatching(/chip id 0 \(esp32\).*esp32s3/) }));
    expect(() => verifyImage(fixture(HELLO_S3), { chip: 'esp32' })).toThrow(expect.objectContaining({ code: 'ESP_FAIL' }));
  });

  it('max_chip_rev_full 399: an esp32 v3.99 runs it, a v4.0 does not; the bootloader check ignores max', () => {
    const b = fixture(HELLO_ESP32);
    expect(() => verifyImage(b, { chip: 'esp32', chipRevision: 399 })).not.toThrow();
    expect(() => verifyImage(b, { chip: 'esp32', chipRevision: 400, bootloader: true })).not.toThrow();
    expect(() => verifyImage(b, { chip: 'esp32', chipRevision: 400 })).toThrow(
      expect.objectContaining({ code: 'ESP_FAIL', message: expect.stringContaining('above the image\'s maximum v3.99') }));
  });

  it('an image longer than its partition is ESP_ERR_IMAGE_INVALID; > 16 MiB partitions are ESP_ERR_INVALID_ARG', () => {
    const b = fixture(HELLO_ESP32);
    expect(verifyImage(b, { partitionSize: 124416 }).size).toBe(124416);
    expect(() => verifyImage(b, { partitionSize: 124415 })).toThrow(expect.objectContaining({
      code: 'ESP_ERR_IMAGE_INVALID', message: 'image length 124416 doesn\'t fit in partition length 124415' }));
    expect(() => verifyImage(b, { partitionSize: 0x1000001 })).toThrow(expect.objectContaining({ code: 'ESP_ERR_INVALID_ARG' }));
  });

  it('bytes after the image (the rest of the partition) are not part of it', () => {
    const b = fixture(HELLO_S3);
    const partition = new Uint8Array(0x100000).fill(0xff);
    partition.set(b);
    const info = verifyImage(partition, { chip: 'esp32s3', partitionSize: partition.length });
    expect(info.size).toBe(b.length);
  });
});

describe.skipIf(!haveFixtures)('verifyImage on real bootloaders', () => {
  it('old ESP32 bootloader without SHA-256 is valid as a bootloader; sha256 reports none appended', () => {
    const b = fixture(BL_NO_SHA);
    const info = verifyImage(b, { chip: 'esp32', bootloader: true });
    expect(info.hashAppended).toBe(false);
    expect(info.sha256).toEqual({ appended: null, computed: null, ok: false });
    expect(info.checksum.ok).toBe(true);
    expect(info.app).toBeNull();
    expect(info.size).toBe(b.length);
  });

  it('SBv2-signed bootloader parses: a 30480-byte image padded to 0x8000 then its signature sector', () => {
    const b = fixture(BL_SBV2);
    const info = verifyImage(b, { chip: 'esp32', bootloader: true });
    expect(info.size).toBe(30480);
    expect(info.hashAppended).toBe(true);
    expect(info.sha256.ok).toBe(true);
    expect(b.length).toBe(0x8000 + 4096);
  });

  it('SBv2-signed bootloader: the signature check (instead of the plain hash) passes with its key', () => {
    const b = fixture(BL_SBV2);
    const trusted = keyDigest(fixtureText(BL_SBV2_PUB));
    const info = verifyImage(b, { chip: 'esp32', bootloader: true, signature: { trustedKeyDigests: [trusted] } });
    expect(info.signature?.scheme).toBe('rsa3072');
    expect(Buffer.from(info.signature?.keyDigest ?? []).equals(Buffer.from(trusted))).toBe(true);
  });

  it('SBv2: an untrusted key or a flipped byte in the signed range fails as ESP_ERR_IMAGE_INVALID', () => {
    const b = fixture(BL_SBV2);
    expect(() => verifyImage(b, { bootloader: true, signature: { trustedKeyDigests: [new Uint8Array(32)] } }))
      .toThrow(expect.objectContaining({ code: 'ESP_ERR_IMAGE_INVALID' }));
    const flipped = b.slice();
    flipped[30480 + 10] = 0x00; // 0xFF padding between the image and the signature sector is signed too
    const r = inspectImage(flipped, { bootloader: true, signature: {} });
    expect(r.valid).toBe(false);
    expect(r.error?.code).toBe('ESP_ERR_IMAGE_INVALID');
    expect(r.checksum?.ok).toBe(true);
  });

  it('a signature is required where asked: an unsigned app fails the signature check', () => {
    const b = fixture(HELLO_ESP32);
    const partition = new Uint8Array(0x100000).fill(0xff);
    partition.set(b);
    expect(() => verifyImage(partition, { chip: 'esp32', signature: {} })).toThrow(EspError);
  });
});

describe.skipIf(!haveFixtures)('inspectImage', () => {
  it('reports everything it read plus the first failure, in esp_image_verify order', () => {
    const b = fixture(HELLO_ESP32).slice();
    b[0x20 + 300] = (b[0x20 + 300] ?? 0) ^ 0x01; // a data byte: checksum and hash both break
    const r = inspectImage(b, { chip: 'esp32s3' }); // and the chip is wrong, which is checked first
    expect(r.valid).toBe(false);
    expect(r.error?.code).toBe('ESP_FAIL');
    expect(r.chip).toBe('esp32');
    expect(r.segments).toHaveLength(5);
    expect(r.checksum?.ok).toBe(false);
    expect(r.sha256?.ok).toBe(false);
    expect(r.app?.projectName).toBe('hello_world');
    expect(r.size).toBe(124416);
  });

  it('the checksum failure names both values', () => {
    const b = fixture(HELLO_ESP32).slice();
    b[124416 - 33] = (b[124416 - 33] ?? 0) ^ 0xff; // the checksum byte at P − 1
    expect(inspectImage(b).error).toEqual({
      code: 'ESP_ERR_IMAGE_INVALID', message: 'checksum failed: calculated 0x9a, stored 0x65' });
  });
});
