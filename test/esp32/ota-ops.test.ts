import { describe, expect, it } from 'vitest';
import { OTA_SIZE_UNKNOWN, OTA_WITH_SEQUENTIAL_WRITES } from '../../simulator/esp32/ota-ops.js';
import { OtaImgState } from '../../simulator/esp32/otadata.js';
import { readOtadata } from '../../simulator/esp32/otadata-store.js';
import type { Esp32 } from '../../simulator/esp32/esp32.js';
import { FACTORY_TWO_OTA, booted, code, image, labelled, ota, pool, running } from './device-kit.js';

const OTADATA = { offset: 0xd000, size: 0x2000 };
const OTA1 = 0x30000;

describe('happy paths', () => {
  it('update → reboot → PENDING_VERIFY → mark valid → VALID', () => {
    const dev = booted({ config: { rollback: true } });
    const ota1 = labelled(dev, 'ota_1');
    expect(dev.getNextUpdatePartition()).toEqual(ota1);
    ota(dev, ota1, image('v2'));
    dev.setBootPartition(ota1);
    expect(dev.getStatePartition(ota1)).toBe(OtaImgState.NEW);
    expect(dev.getBootPartition()).toEqual(ota1);
    dev.reboot();
    expect(running(dev)).toBe('ota_1:v2');
    expect(dev.getStatePartition(ota1)).toBe(OtaImgState.PENDING_VERIFY);
    expect(dev.checkRollbackIsPossible()).toBe(true);
    dev.markAppValidCancelRollback();
    expect(dev.getStatePartition(ota1)).toBe(OtaImgState.VALID);
    dev.reboot();
    expect(running(dev)).toBe('ota_1:v2');
  });

  it('update → reboot → no confirm → reboot → ABORTED → the old app runs again', () => {
    const dev = booted({ config: { rollback: true } });
    const ota1 = labelled(dev, 'ota_1');
    ota(dev, ota1, image('v2'));
    dev.setBootPartition(ota1);
    dev.reboot();
    expect(running(dev)).toBe('ota_1:v2');
    dev.reboot();
    expect(running(dev)).toBe('ota_0:v1');
    expect(dev.getStatePartition(ota1)).toBe(OtaImgState.ABORTED);
    expect(dev.getLastInvalidPartition()).toEqual(ota1);
  });

  it('mark invalid and reboot: INVALID, and the previous app runs', () => {
    const dev = booted({ config: { rollback: true } });
    const ota1 = labelled(dev, 'ota_1');
    ota(dev, ota1, image('v2'));
    dev.setBootPartition(ota1);
    dev.reboot();
    const r = dev.markAppInvalidRollbackAndReboot();
    expect(r.ok).toBe(true);
    expect(running(dev)).toBe('ota_0:v1');
    expect(dev.getStatePartition(ota1)).toBe(OtaImgState.INVALID);
  });

  it('the worked sequence of §2.6: copies alternate and seq grows by one (n = 2, factory, fresh otadata)', () => {
    const dev = booted({ table: FACTORY_TWO_OTA, apps: { factory: image('f') } });
    expect(running(dev)).toBe('factory:f');
    const seen: string[] = [];
    let v = 0;
    for (const label of ['ota_0', 'ota_1', 'ota_0', 'ota_1']) {
      const target = dev.getNextUpdatePartition()!;
      expect(target.label).toBe(label);
      ota(dev, target, image(`s${++v}`));
      dev.setBootPartition(target);
      const two = readOtadata(dev.flash, OTADATA);
      const copy = two[0].seq > (two[1].seq === 0xffffffff ? 0 : two[1].seq) ? 0 : 1;
      seen.push(`copy ${copy}: seq ${two[copy].seq} → ${label}`);
      dev.reboot();
      expect(running(dev)).toBe(`${label}:s${v}`);
    }
    expect(seen).toEqual(['copy 0: seq 1 → ota_0', 'copy 1: seq 2 → ota_1', 'copy 0: seq 3 → ota_0', 'copy 1: seq 4 → ota_1']);
    expect(readOtadata(dev.flash, OTADATA)[0].state).toBe(OtaImgState.UNDEFINED);
  });

  it('a verified image is adopted: the slot maps the pool buffer and the device keeps no sectors for it', () => {
    const dev = booted();
    const img = image('adopt-me', 40 * 1024);
    ota(dev, labelled(dev, 'ota_1'), img, 1000);
    const m = dev.flash.mappingAt(OTA1);
    expect(m?.data).toBe(pool.intern(img));
    expect(dev.flash.footprint().ownedBytes).toBeLessThanOrEqual(64);
  });
});

describe('esp_ota_begin', () => {
  it('refuses the running partition, factory, unknown and non-app partitions', () => {
    const dev = booted({ table: FACTORY_TWO_OTA, apps: { factory: image('f'), ota_0: image('v1') } });
    expect(code(() => dev.otaBegin(labelled(dev, 'factory')))).toBe('ESP_ERR_INVALID_ARG');
    expect(code(() => dev.otaBegin({ ...labelled(dev, 'ota_0'), offset: 0x70000 }))).toBe('ESP_ERR_NOT_FOUND');
    expect(code(() => dev.otaBegin(labelled(dev, 'nvs')))).toBe('ESP_ERR_NOT_SUPPORTED');
    dev.setBootPartition(labelled(dev, 'ota_0'));
    dev.reboot();
    expect(code(() => dev.otaBegin(labelled(dev, 'ota_0')))).toBe('ESP_ERR_OTA_PARTITION_CONFLICT');
  });

  it('refuses while the running app is PENDING_VERIFY (rollback builds)', () => {
    const dev = booted({ config: { rollback: true } });
    ota(dev, labelled(dev, 'ota_1'), image('v2'));
    dev.setBootPartition(labelled(dev, 'ota_1'));
    dev.reboot();
    expect(code(() => dev.otaBegin(labelled(dev, 'ota_0')))).toBe('ESP_ERR_OTA_ROLLBACK_INVALID_STATE');
    dev.markAppValidCancelRollback();
    expect(code(() => dev.otaBegin(labelled(dev, 'ota_0')))).toBe('ESP_OK');
  });

  it('hands out handles 1, 2, 3; a second open handle on one partition is refused only from v6.1', () => {
    const dev = booted();
    const ota1 = labelled(dev, 'ota_1');
    expect([dev.otaBegin(ota1), dev.otaBegin(ota1), dev.otaBegin(ota1)]).toEqual([1, 2, 3]);
    const v61 = booted({ config: { idfVersion: '6.1' } });
    v61.otaBegin(ota1);
    expect(code(() => v61.otaBegin(ota1))).toBe('ESP_ERR_OTA_ALREADY_IN_PROGRESS');
  });

  it('erases roundup(size, 4096), the whole partition for OTA_SIZE_UNKNOWN / 0, nothing for sequential writes', () => {
    const fill = (dev: Esp32): void => dev.flash.write(OTA1, new Uint8Array(0x20000).fill(0));
    const erased = (dev: Esp32, off: number): boolean => dev.flash.read(OTA1 + off, 1)[0] === 0xff;
    const dev = booted();
    const ota1 = labelled(dev, 'ota_1');
    fill(dev);
    dev.otaBegin(ota1, 5000);
    expect([erased(dev, 0), erased(dev, 8191), erased(dev, 8192)]).toEqual([true, true, false]);
    for (const size of [0, OTA_SIZE_UNKNOWN]) {
      fill(dev);
      dev.otaBegin(ota1, size);
      expect(erased(dev, 0x1ffff)).toBe(true);
    }
    fill(dev);
    dev.otaBegin(ota1, OTA_WITH_SEQUENTIAL_WRITES);
    expect(erased(dev, 0)).toBe(false);
    expect(code(() => dev.otaBegin(ota1, 0x20001))).toBe('ESP_ERR_INVALID_SIZE');
  });

  it('v5.5+ rollback builds erase the inactive otadata copy; v5.4 does not', () => {
    for (const [idfVersion, wiped] of [['5.5', true], ['5.4', false]] as const) {
      const dev = booted({ config: { rollback: true, idfVersion }, apps: { ota_0: image('v1'), ota_1: image('v2') } });
      ota(dev, labelled(dev, 'ota_1'), image('v2'));
      dev.setBootPartition(labelled(dev, 'ota_1'));
      dev.reboot();
      dev.markAppValidCancelRollback();
      dev.otaBegin(labelled(dev, 'ota_0'));
      expect(readOtadata(dev.flash, OTADATA)[0].seq === 0xffffffff).toBe(wiped);
    }
  });
});

describe('esp_ota_write', () => {
  it('checks the magic byte, the handle and the partition end; size 0 is OK', () => {
    const dev = booted();
    const h = dev.otaBegin(labelled(dev, 'ota_1'));
    expect(code(() => dev.otaWrite(h, new Uint8Array(0)))).toBe('ESP_OK');
    expect(code(() => dev.otaWrite(h, new Uint8Array([0x00, 1])))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    expect(code(() => dev.otaWrite(99, new Uint8Array([0xe9])))).toBe('ESP_ERR_INVALID_ARG');
    dev.otaWrite(h, new Uint8Array([0xe9]));
    dev.otaWrite(h, new Uint8Array([0x00]));
    expect(code(() => dev.otaWrite(h, new Uint8Array(0x20000)))).toBe('ESP_ERR_INVALID_SIZE');
  });

  it('sequential mode erases each sector as the stream reaches it (v5.2+ arithmetic)', () => {
    const dev = booted();
    dev.flash.write(OTA1, new Uint8Array(0x4000).fill(0));
    const h = dev.otaBegin(labelled(dev, 'ota_1'), OTA_WITH_SEQUENTIAL_WRITES);
    const img = image('seq', 24 * 1024);
    dev.otaWrite(h, img.subarray(0, 4096));
    expect(dev.flash.read(OTA1 + 4096, 1)[0]).toBe(0); // chunk ended on the boundary: next sector untouched
    dev.otaWrite(h, img.subarray(4096, 4100));
    expect(dev.flash.read(OTA1 + 4100, 1)[0]).toBe(0xff);
    expect(dev.flash.read(OTA1 + 8192, 1)[0]).toBe(0);
    for (let at = 4100; at < img.length; at += 3000) dev.otaWrite(h, img.subarray(at, at + 3000));
    dev.otaEnd(h);
  });

  it('before v5.2 a chunk ending on a sector boundary erased one sector more', () => {
    const dev = booted({ config: { idfVersion: '5.1' } });
    dev.flash.write(OTA1, new Uint8Array(0x4000).fill(0));
    const h = dev.otaBegin(labelled(dev, 'ota_1'), OTA_WITH_SEQUENTIAL_WRITES);
    dev.otaWrite(h, image('seq', 24 * 1024).subarray(0, 4096));
    expect(dev.flash.read(OTA1 + 4096, 1)[0]).toBe(0xff);
  });
});

describe('esp_ota_end and esp_ota_abort', () => {
  it('end: nothing written → INVALID_ARG; unknown → NOT_FOUND; a bad image → VALIDATE_FAILED; the handle is freed each time', () => {
    const dev = booted();
    const ota1 = labelled(dev, 'ota_1');
    const h1 = dev.otaBegin(ota1);
    expect(code(() => dev.otaEnd(h1))).toBe('ESP_ERR_INVALID_ARG');
    expect(code(() => dev.otaEnd(h1))).toBe('ESP_ERR_NOT_FOUND');
    const h2 = dev.otaBegin(ota1);
    const img = image('v2').slice();
    img[5000] = (img[5000] ?? 0) ^ 0x01;
    dev.otaWrite(h2, img);
    expect(code(() => dev.otaEnd(h2))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    expect(code(() => dev.otaWrite(h2, img))).toBe('ESP_ERR_INVALID_ARG');
    const h3 = dev.otaBegin(ota1);
    dev.otaWrite(h3, image('v2').subarray(0, 10000));
    expect(code(() => dev.otaEnd(h3))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
  });

  it('abort frees the handle and leaves flash as it is', () => {
    const dev = booted();
    const h = dev.otaBegin(labelled(dev, 'ota_1'));
    dev.otaWrite(h, image('v2').subarray(0, 100));
    const before = dev.flash.read(OTA1, 200);
    dev.otaAbort(h);
    expect(dev.flash.read(OTA1, 200)).toEqual(before);
    expect(code(() => dev.otaAbort(h))).toBe('ESP_ERR_NOT_FOUND');
    expect(code(() => dev.otaWrite(h, new Uint8Array([0xe9])))).toBe('ESP_ERR_INVALID_ARG');
  });

  it('a reboot drops open handles', () => {
    const dev = booted();
    const h = dev.otaBegin(labelled(dev, 'ota_1'));
    dev.reboot();
    expect(code(() => dev.otaEnd(h))).toBe('ESP_ERR_NOT_FOUND');
  });
});
