/** inspectFlash on merged images built from the real Espressif fixtures (esptool merge_bin layout). */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, FlashImageError, OtasimError } from '../../protocol/errors.js';
import { inspectFlash } from '../../simulator/esp32/flash-inspect.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { OtaImgState } from '../../simulator/esp32/otadata.js';
import { encodePartitionTable, type Partition } from '../../simulator/esp32/partition-table.js';
import { seededRng } from '../../simulator/esp32/power-cut.js';
import { haveFixtures } from '../fixtures.js';
import { ARDUINO, arduinoImage, fx, mergeBin, otadataWith } from './flash-image-kit.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const part = (label: string, type: number, subtype: number, offset: number, size: number): Partition =>
  ({ label, type, subtype, offset, size, flags: 0 });
/** ESP-IDF's "Factory app, two OTA definitions" table (facts §1.9). */
const TWO_OTA_FACTORY = encodePartitionTable({
  md5: true,
  partitions: [
    part('nvs', 1, 2, 0x9000, 0x4000), part('otadata', 1, 0, 0xd000, 0x2000), part('phy_init', 1, 1, 0xf000, 0x1000),
    part('factory', 0, 0x00, 0x10000, 0x100000), part('ota_0', 0, 0x10, 0x110000, 0x100000), part('ota_1', 0, 0x11, 0x210000, 0x100000),
  ],
});

function thrown(fn: () => unknown): OtasimError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OtasimError) return e;
    throw e;
  }
  throw new Error('expected an OtasimError');
}

describe.skipIf(!haveFixtures)('an Arduino ESP32 image (real bootloader, 8 MB table, boot_app0.bin, IDF hello_world)', () => {
  // Built in beforeAll: a skipped describe's body still runs (to collect its tests), and the
  // fixtures it reads may be absent.
  let bytes: Uint8Array;
  let before: string;
  let r: ReturnType<typeof inspectFlash>;
  beforeAll(() => {
    bytes = arduinoImage();
    before = sha(bytes);
    r = inspectFlash(bytes);
  });

  it('detects the chip and the flash size from the bootloader header', () => {
    expect(r).toMatchObject({ chip: 'esp32', chipSource: 'bootloader-header', flashSize: 8 * 1024 * 1024, flashSizeSource: 'bootloader-header' });
    expect(r.fileSize).toBe(ARDUINO.app0 + fx.helloEsp32().length);
    expect(r.notes).toEqual([]);
  });

  it('shows the bootloader, the table and both otadata copies as the file holds them', () => {
    expect(r.bootloader).toMatchObject({ offset: 0x1000, size: 0x7000 });
    expect(r.bootloader.image).toMatchObject({ valid: true, chip: 'esp32', size: fx.bootloader().length, app: null });
    expect(r.partitionTable.error).toBeNull();
    expect(r.partitionTable.table?.partitions.map((p) => p.label)).toEqual(['nvs', 'otadata', 'app0', 'app1', 'spiffs']);
    expect(r.otadata.partition).toMatchObject({ label: 'otadata', offset: ARDUINO.otadata });
    expect(r.otadata.copies).toEqual([
      { copy: 0, offset: 0xe000, seq: 1, state: 0xffffffff, stateName: 'UNDEFINED', crc: 0x4743989a, crcOk: true, valid: true, slot: 0, selects: 'app0' },
      // seq 0 with an erased CRC field passes the CRC (facts §2.3) and wraps to slot 1.
      { copy: 1, offset: 0xf000, seq: 0, state: 0xffffffff, stateName: 'UNDEFINED', crc: 0xffffffff, crcOk: true, valid: true, slot: 1, selects: 'app1' },
    ]);
    expect(r.otadata.active).toBe(0);
    expect(r.otadata.wouldWrite).toEqual([]);
  });

  it('inspects every app partition as the bootloader verifies it', () => {
    expect(r.apps.map((a) => [a.partition.label, a.image.valid])).toEqual([['app0', true], ['app1', false]]);
    expect(r.apps[0]?.image.app).toMatchObject({ projectName: 'hello_world', version: 'v1.4.1-2-g0296947-dirty' });
    expect(r.apps[1]?.image.error?.message).toMatch(/invalid magic byte 0xff/);
  });

  it('boots app0, says why, and left the file untouched', () => {
    expect(r.boots?.label).toBe('app0');
    expect(r.bootFailure).toBeNull();
    expect(r.bootReason).toMatch(/otadata\[0\] seq 1 state UNDEFINED selects OTA slot 0; loaded app from partition 'app0' at 0x10000/);
    expect(sha(bytes)).toBe(before);
  });
});

describe.skipIf(!haveFixtures)('what boots, and why', () => {
  it('otadata selecting the empty app1: the bootloader falls back to app0 and says so', () => {
    const r = inspectFlash(arduinoImage({ otadata: otadataWith(2) }));
    expect(r.otadata.copies[0]).toMatchObject({ seq: 2, slot: 1, selects: 'app1', valid: true });
    expect(r.boots?.label).toBe('app0');
    expect(r.bootReason).toMatch(/selects OTA slot 1; partition 'app1' does not hold a valid app .*; loaded app from partition 'app0'/);
  });

  it('erased otadata and a factory app: boots factory and would write nothing', () => {
    const r = inspectFlash(mergeBin([[0x1000, fx.bootloader()], [0x8000, TWO_OTA_FACTORY], [0x10000, fx.helloEsp32()]], { flashSize: '4MB' }));
    expect(r.otadata.copies.map((c) => [c.seq, c.valid, c.slot])).toEqual([[0xffffffff, false, null], [0xffffffff, false, null]]);
    expect(r.otadata.active).toBeNull();
    expect(r.boots?.label).toBe('factory');
    expect(r.otadata.wouldWrite).toEqual([]);
  });

  it('erased otadata and no factory: boots ota_0 and would record it as seq 1 VALID (not written)', () => {
    const bytes = arduinoImage({ otadata: new Uint8Array(0x2000).fill(0xff) });
    const r = inspectFlash(bytes);
    expect(r.boots?.label).toBe('app0');
    expect(r.otadata.wouldWrite).toEqual([{ copy: 0, before: { seq: 0xffffffff, state: 'UNDEFINED' }, after: { seq: 1, state: 'VALID' } }]);
    expect(r.otadata.copies[0]?.seq).toBe(0xffffffff);
    expect(bytes.subarray(ARDUINO.otadata, ARDUINO.otadata + 32).every((b) => b === 0xff)).toBe(true);
  });

  it('the IDF single-app table has no otadata: factory boots', () => {
    const r = inspectFlash(mergeBin([[0x1000, fx.bootloader()], [0x8000, fx.singleAppTable()], [0x10000, fx.helloEsp32()]], { flashSize: '2MB' }));
    expect(r.otadata).toMatchObject({ partition: null, copies: [], active: null, error: null });
    expect(r.boots?.label).toBe('factory');
  });

  it('NEW with rollback: app0 boots once and the bootloader would mark it PENDING_VERIFY; the report keeps NEW', () => {
    const r = inspectFlash(arduinoImage({ otadata: otadataWith(1, OtaImgState.NEW) }));
    expect(r.boots?.label).toBe('app0');
    expect(r.otadata.copies[0]?.stateName).toBe('NEW');
    expect(r.otadata.wouldWrite).toEqual([{ copy: 0, before: { seq: 1, state: 'NEW' }, after: { seq: 1, state: 'PENDING_VERIFY' } }]);
  });

  it('PENDING_VERIFY with rollback is aborted and the other copy decides; without rollback it just boots', () => {
    const bytes = arduinoImage({ otadata: otadataWith(1, OtaImgState.PENDING_VERIFY) });
    const withRollback = inspectFlash(bytes);
    expect(withRollback.otadata.wouldWrite).toEqual([{ copy: 0, before: { seq: 1, state: 'PENDING_VERIFY' }, after: { seq: 1, state: 'ABORTED' } }]);
    // copy 1 (seq 0) now wins and names the empty app1, so the bootloader falls back to app0.
    expect(withRollback.bootReason).toMatch(/marking ABORTED; otadata\[1\] seq 0 .*selects OTA slot 1/);
    expect(withRollback.boots?.label).toBe('app0');
    const without = inspectFlash(bytes, { rollback: false });
    expect(without.otadata.wouldWrite).toEqual([]);
    expect(without.bootReason).toMatch(/otadata\[0\] seq 1 state PENDING_VERIFY selects OTA slot 0/);
  });

  it('a bootloader header that says 2MB bounds the 8 MB table (as update_flash_config sets chip_size): nothing boots, unless the flash size is given', () => {
    const bytes = arduinoImage({ flashSize: null }); // the fixture's header says 2MB
    const r = inspectFlash(bytes);
    expect(r.flashSize).toBe(2 * 1024 * 1024);
    expect(r.partitionTable.error).toMatchObject({ code: 'OTASIM_ERR_PARTITION_BOUNDS' });
    expect(r.partitionTable.error?.message).toMatch(/'app0'.*size 0x330000 exceeds the flash size 0x200000/);
    expect(r).toMatchObject({ boots: null, bootFailure: 'partition-table-invalid', apps: [] });
    expect(inspectFlash(bytes, { flashSize: 8 * 1024 * 1024 }).boots?.label).toBe('app0');
  });
});

describe.skipIf(!haveFixtures)('bad input: typed errors or an honest report, never a crash', () => {
  it('a file cut inside the app: the rest reads 0xFF, app0 fails verification, nothing boots', () => {
    const bytes = arduinoImage().subarray(0, ARDUINO.app0 + 60_000);
    const r = inspectFlash(bytes);
    expect(r.apps[0]?.image.valid).toBe(false);
    expect(r).toMatchObject({ boots: null, bootFailure: 'no-bootable-app' });
    expect(r.bootReason).toMatch(/'app0' does not hold a valid app/);
  });

  it('a file cut inside the partition table: the table ends at the erased bytes, so no app partition exists', () => {
    const r = inspectFlash(arduinoImage().subarray(0, 0x8040));
    expect(r.partitionTable.table?.partitions.map((p) => p.label)).toEqual(['nvs', 'otadata']);
    expect(r).toMatchObject({ apps: [], boots: null, bootFailure: 'no-bootable-app' });
  });

  it('garbage: no chip can be named; with --chip the report shows why nothing boots', () => {
    const rng = seededRng(7);
    const garbage = Uint8Array.from({ length: 0x20000 }, () => Math.floor(rng() * 256) & 0xff);
    const e = thrown(() => inspectFlash(garbage));
    expect(e).toBeInstanceOf(FlashImageError);
    expect(e.code).toBe('OTASIM_ERR_FLASH_CHIP');
    const r = inspectFlash(garbage, { chip: 'esp32' });
    expect(r.bootloader.image.valid).toBe(false);
    expect(r.partitionTable.error?.code).toBe('OTASIM_ERR_PARTITION_MAGIC');
    expect(r).toMatchObject({ boots: null, bootFailure: 'bootloader-invalid', flashSizeSource: 'file' });
  });

  it('an app image instead of a merged image is named as such', () => {
    expect(thrown(() => inspectFlash(fx.helloEsp32())).message).toMatch(/an esp32 image at 0x0.*app image rather than a merged flash image/);
  });

  it('empty, oversized, and a table offset that is not after the bootloader', () => {
    expect(thrown(() => inspectFlash(new Uint8Array(0))).code).toBe('OTASIM_ERR_FLASH_EMPTY');
    expect(thrown(() => inspectFlash(new Uint8Array(128 * 1024 * 1024 + 1))).code).toBe('OTASIM_ERR_FLASH_TOO_LARGE');
    expect(thrown(() => inspectFlash(arduinoImage(), { tableOffset: 0x1000 }))).toBeInstanceOf(ConfigError);
    expect(thrown(() => inspectFlash(arduinoImage(), { flashSize: 12345 }))).toBeInstanceOf(ConfigError);
  });

  it('a file longer than the flash size: the excess is ignored and said so', () => {
    const bytes = mergeBin([[0x1000, fx.bootloader()], [0x8000, fx.singleAppTable()], [0x10000, fx.helloEsp32()], [0x3ff000, new Uint8Array(16)]], { flashSize: '2MB' });
    const r = inspectFlash(bytes);
    expect(r.notes.join()).toMatch(/bytes from 0x200000 on are beyond the bootloader's reach/);
    expect(r.boots?.label).toBe('factory');
  });

  it('property: any truncation or any corrupted byte gives a report or an OtasimError, and never writes the input', () => {
    const base = arduinoImage();
    fc.assert(fc.property(
      fc.integer({ min: 1, max: base.length }), fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 1, max: 255 }),
      (cut, at, xor) => {
        const bytes = base.slice(0, cut);
        if (at < cut) bytes[at] = (bytes[at] ?? 0) ^ xor;
        const digest = sha(bytes);
        try {
          const r = inspectFlash(bytes);
          expect(r.boots === null).toBe(r.bootFailure !== null);
        } catch (e) {
          expect(e).toBeInstanceOf(OtasimError);
        }
        expect(sha(bytes)).toBe(digest);
      },
    ), { numRuns: 60 });
  });
});

describe('chip detection without fixtures', () => {
  it('an ESP32-S3 bootloader at 0x0 names esp32s3; a header at 0x1000 with an S3 chip id does not', () => {
    const s3 = buildAppImage({ chip: 'esp32s3', version: 'bl', size: 8 * 1024 });
    expect(inspectFlash(mergeBin([[0x0, s3]])).chip).toBe('esp32s3');
    expect(thrown(() => inspectFlash(mergeBin([[0x1000, s3]]))).message).toMatch(/an esp32s3 image at 0x1000/);
  });
});
