import { describe, expect, it } from 'vitest';
import { Efuse } from '../../simulator/esp32/efuse.js';
import { OtaImgState } from '../../simulator/esp32/otadata.js';
import { readOtadata } from '../../simulator/esp32/otadata-store.js';
import { CHIP, FACTORY_TWO_OTA, booted, code, image, labelled, ota, running } from './device-kit.js';

const OTADATA = { offset: 0xd000, size: 0x2000 };

describe('esp_ota_set_boot_partition', () => {
  it('verifies first: a corrupt or empty slot → VALIDATE_FAILED, even for a data partition', () => {
    const dev = booted();
    expect(code(() => dev.setBootPartition(labelled(dev, 'ota_1')))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    expect(code(() => dev.setBootPartition(labelled(dev, 'nvs')))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
  });

  it('factory erases both otadata sectors (the factory state)', () => {
    const dev = booted({ table: FACTORY_TWO_OTA, apps: { factory: image('f'), ota_0: image('v1') } });
    dev.setBootPartition(labelled(dev, 'ota_0'));
    dev.reboot();
    expect(running(dev)).toBe('ota_0:v1');
    dev.setBootPartition(labelled(dev, 'factory'));
    expect(dev.flash.read(OTADATA.offset, 0x2000).every((b) => b === 0xff)).toBe(true);
    dev.reboot();
    expect(running(dev)).toBe('factory:f');
  });

  it('re-selecting the active slot: ≤ v5.5 writes the same seq to the other copy, v6.0 rewrites in place', () => {
    for (const [idfVersion, copy] of [['5.5', 1], ['6.0', 0]] as const) {
      const dev = booted({ config: { idfVersion } });
      dev.setBootPartition(labelled(dev, 'ota_0'));
      const two = readOtadata(dev.flash, OTADATA);
      expect(two[copy]).toMatchObject({ seq: 1, state: OtaImgState.UNDEFINED });
      if (copy === 0) expect(two[1].seq).toBe(0xffffffff);
    }
  });

  it('anti-rollback: an app below the eFuse is erased and refused with SMALL_SEC_VER', () => {
    const efuse = Efuse.create(CHIP);
    const dev = booted({ config: { rollback: true, antiRollback: true }, efuse, apps: { ota_0: image('v2', 24 * 1024, 2) } });
    expect(efuse.readSecureVersion()).toBe(2);
    const ota1 = labelled(dev, 'ota_1');
    ota(dev, ota1, image('old', 24 * 1024, 1));
    expect(code(() => dev.setBootPartition(ota1))).toBe('ESP_ERR_OTA_SMALL_SEC_VER');
    expect(dev.flash.read(ota1.offset, ota1.size).every((b) => b === 0xff)).toBe(true);
    ota(dev, ota1, image('v3', 24 * 1024, 3));
    dev.setBootPartition(ota1);
    dev.reboot();
    expect(efuse.readSecureVersion()).toBe(2);
    dev.markAppValidCancelRollback();
    expect(efuse.readSecureVersion()).toBe(3);
    expect(dev.checkRollbackIsPossible()).toBe(false); // ota_0 holds secure_version 2 < 3
  });
});

describe('state queries', () => {
  it('get_state_partition: non-OTA → NOT_SUPPORTED; no matching copy → NOT_FOUND', () => {
    const dev = booted({ table: FACTORY_TWO_OTA, apps: { factory: image('f') } });
    expect(code(() => dev.getStatePartition(labelled(dev, 'factory')))).toBe('ESP_ERR_NOT_SUPPORTED');
    expect(code(() => dev.getStatePartition(labelled(dev, 'ota_0')))).toBe('ESP_ERR_NOT_FOUND');
  });

  it('mark valid / invalid while factory runs → ESP_FAIL; get_boot_partition defaults to factory', () => {
    const dev = booted({ table: FACTORY_TWO_OTA, apps: { factory: image('f') } });
    expect(code(() => dev.markAppValidCancelRollback())).toBe('ESP_FAIL');
    expect(code(() => dev.markAppInvalidRollback())).toBe('ESP_FAIL');
    expect(dev.getBootPartition()?.label).toBe('factory');
    expect(dev.checkRollbackIsPossible()).toBe(false);
  });

  it('mark invalid with nothing to roll back to → ROLLBACK_FAILED and no write', () => {
    const dev = booted({ config: { rollback: true } });
    const before = dev.flash.read(OTADATA.offset, 0x2000);
    expect(code(() => dev.markAppInvalidRollback())).toBe('ESP_ERR_OTA_ROLLBACK_FAILED');
    expect(dev.flash.read(OTADATA.offset, 0x2000)).toEqual(before);
  });

  it('mark valid when already VALID writes nothing', () => {
    const dev = booted();
    const ops = dev.flash.stats.ops;
    dev.markAppValidCancelRollback();
    expect(dev.flash.stats.ops).toBe(ops);
  });

  it('get_next_update_partition walks ota_0 … and wraps; from factory it is ota_0', () => {
    const dev = booted({ table: FACTORY_TWO_OTA, apps: { factory: image('f') } });
    expect(dev.getNextUpdatePartition()?.label).toBe('ota_0');
    expect(dev.getNextUpdatePartition(labelled(dev, 'ota_0'))?.label).toBe('ota_1');
    expect(dev.getNextUpdatePartition(labelled(dev, 'ota_1'))?.label).toBe('ota_0');
  });

  it('erase_last_boot_app_partition erases the previous slot and its otadata copy', () => {
    const dev = booted();
    const ota1 = labelled(dev, 'ota_1');
    expect(code(() => dev.eraseLastBootAppPartition())).toBe('ESP_FAIL');
    ota(dev, ota1, image('v2'));
    dev.setBootPartition(ota1);
    dev.reboot();
    expect(dev.checkRollbackIsPossible()).toBe(true);
    dev.eraseLastBootAppPartition();
    const ota0 = labelled(dev, 'ota_0');
    expect(dev.flash.read(ota0.offset, ota0.size).every((b) => b === 0xff)).toBe(true);
    expect(readOtadata(dev.flash, OTADATA)[0].seq).toBe(0xffffffff);
    expect(dev.checkRollbackIsPossible()).toBe(false);
    dev.reboot();
    expect(running(dev)).toBe('ota_1:v2');
  });

  it('get_last_invalid_partition: null when the invalid image no longer verifies', () => {
    const dev = booted({ config: { rollback: true } });
    const ota1 = labelled(dev, 'ota_1');
    ota(dev, ota1, image('v2'));
    dev.setBootPartition(ota1);
    dev.reboot();
    dev.reboot();
    expect(dev.getLastInvalidPartition()).toEqual(ota1);
    dev.flash.write(ota1.offset + 0x1000, new Uint8Array(16));
    expect(dev.getLastInvalidPartition()).toBeNull();
  });
});
