import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runBootloader } from '../../simulator/esp32/bootloader.js';
import { Efuse } from '../../simulator/esp32/efuse.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { OtaImgState, decodeOtaEntry, makeOtaEntry } from '../../simulator/esp32/otadata.js';
import { readOtadata, writeOtadataCopy } from '../../simulator/esp32/otadata-store.js';
import type { Partition, PartitionTable } from '../../simulator/esp32/partition-table.js';
import { Esp32 } from '../../simulator/esp32/esp32.js';
import { flashFromPlan, planFlash } from '../../simulator/esp32/provision.js';
import { fixture, haveFixtures } from '../fixtures.js';
import { CHIP, FACTORY_TWO_OTA, TWO_OTA, device, image, pool, running } from './device-kit.js';

const OTADATA = { offset: 0xd000, size: 0x2000 };
const part = (label: string, type: number, subtype: number, offset: number, size: number): Partition =>
  ({ label, type, subtype, offset, size, flags: 0 });
/** Three OTA slots, a factory and a test app. */
const THREE_OTA: PartitionTable = {
  md5: true,
  partitions: [
    part('otadata', 1, 0, 0xd000, 0x2000),
    part('factory', 0, 0x00, 0x10000, 0x20000),
    part('ota_0', 0, 0x10, 0x30000, 0x20000),
    part('ota_1', 0, 0x11, 0x50000, 0x20000),
    part('ota_2', 0, 0x12, 0x70000, 0x20000),
    part('test', 0, 0x20, 0x90000, 0x20000),
  ],
};

function select(dev: Esp32, copy: 0 | 1, seq: number, state: number = OtaImgState.VALID): void {
  writeOtadataCopy(dev.flash, OTADATA, copy, makeOtaEntry(seq, state));
}

function corrupt(dev: Esp32, label: string, table: PartitionTable = TWO_OTA): void {
  const p = table.partitions.find((q) => q.label === label)!;
  dev.flash.write(p.offset + 0x400, new Uint8Array([0x00, 0x00, 0x00, 0x00]));
}

describe('slot choice (facts §2.8 step A)', () => {
  it('erased otadata, no factory: boots ota_0 and records it as seq 1 VALID in copy 0 (set_actual_ota_seq)', () => {
    const dev = device();
    const r = dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
    expect(r.ok && r.index).toBe(0);
    const two = readOtadata(dev.flash, OTADATA);
    expect(two[0]).toMatchObject({ seq: 1, state: OtaImgState.VALID, crc: 0x4743989a });
    expect(two[1].seq).toBe(0xffffffff);
  });

  it('erased otadata with a factory app: boots factory and writes nothing', () => {
    const dev = device({ table: FACTORY_TWO_OTA, apps: { factory: image('f1'), ota_0: image('v1') } });
    dev.boot();
    expect(running(dev)).toBe('factory:f1');
    expect(dev.flash.footprint().ownedSectors).toBe(0);
  });

  it('without an otadata partition: factory', () => {
    const table: PartitionTable = { md5: true, partitions: FACTORY_TWO_OTA.partitions.filter((p) => p.label !== 'otadata') };
    const dev = device({ table, apps: { factory: image('f1'), ota_0: image('v1') } });
    dev.boot();
    expect(running(dev)).toBe('factory:f1');
  });

  it('picks the valid copy with the larger seq: slot (seq − 1) mod n', () => {
    const dev = device({ apps: { ota_0: image('v1'), ota_1: image('v2') } });
    select(dev, 0, 3);
    select(dev, 1, 4);
    dev.boot();
    expect(running(dev)).toBe('ota_1:v2');
    select(dev, 1, 4, OtaImgState.INVALID);
    dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
  });

  it('copies with a bad CRC that are not "invalid" fall back to factory', () => {
    const dev = device({ table: FACTORY_TWO_OTA, apps: { factory: image('f1'), ota_0: image('v1') } });
    dev.flash.write(OTADATA.offset, new Uint8Array([1, 0, 0, 0]));
    const r = dev.boot();
    expect(running(dev)).toBe('factory:f1');
    expect(r.log.join('\n')).toMatch(/falling back to factory/);
  });

  it('reads Arduino boot_app0.bin as "boot ota_0"', { skip: !haveFixtures }, () => {
    const table: PartitionTable = { md5: true, partitions: TWO_OTA.partitions };
    const dev = device({ table, apps: { ota_0: image('v1'), ota_1: image('v2') }, otadata: fixture('otadata/arduino_boot_app0.bin') });
    dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
    expect(dev.flash.footprint().ownedSectors).toBe(0);
  });
});

describe('load order and fallback (facts §2.8 step B)', () => {
  const all = { factory: image('f'), ota_0: image('o0'), ota_1: image('o1'), ota_2: image('o2'), test: image('t') };

  it('tries start, start−1 … factory, then start+1 …, then test', () => {
    const dev = device({ table: THREE_OTA, apps: all });
    select(dev, 0, 2); // slot 1
    corrupt(dev, 'ota_1', THREE_OTA);
    dev.boot();
    expect(running(dev)).toBe('ota_0:o0');
    corrupt(dev, 'ota_0', THREE_OTA);
    dev.boot();
    expect(running(dev)).toBe('factory:f');
    corrupt(dev, 'factory', THREE_OTA);
    dev.boot();
    expect(running(dev)).toBe('ota_2:o2');
    corrupt(dev, 'ota_2', THREE_OTA);
    dev.boot();
    expect(running(dev)).toBe('test:t');
    corrupt(dev, 'test', THREE_OTA);
    const r = dev.boot();
    expect(r).toMatchObject({ ok: false, reason: 'no-bootable-app' });
    expect(dev.state).toBe('bricked');
    expect(() => dev.getRunningPartition()).toThrow(expect.objectContaining({ code: 'OTASIM_ERR_DEVICE_OFF' }));
  });

  it('a fallback boot does not rewrite otadata: boot partition ≠ running partition', () => {
    const dev = device({ apps: { ota_0: image('v1'), ota_1: image('v2') } });
    select(dev, 0, 2);
    corrupt(dev, 'ota_1');
    dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
    expect(dev.getBootPartition()?.label).toBe('ota_1');
    expect(readOtadata(dev.flash, OTADATA)[0].seq).toBe(2);
  });

  it('skips an image built for another chip', () => {
    const dev = device({ apps: { ota_0: image('v1'), ota_1: buildAppImage({ chip: 'esp32s3', version: 'x', size: 24 * 1024 }) } });
    select(dev, 0, 2);
    const r = dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
    expect(r.log.join('\n')).toMatch(/'ota_1' does not hold a valid app \(ESP_FAIL\)/);
  });

  it('a broken partition table bricks the device, with the reason', () => {
    const dev = device();
    dev.flash.write(0x8000, new Uint8Array([0]));
    expect(dev.boot()).toMatchObject({ ok: false, reason: 'partition-table-invalid' });
  });

  it('an otadata partition smaller than two sectors cannot be read', () => {
    const table: PartitionTable = {
      md5: true,
      partitions: TWO_OTA.partitions.map((p) => (p.label === 'otadata' ? { ...p, size: 0x1000 } : p)),
    };
    expect(device({ table }).boot()).toMatchObject({ ok: false, reason: 'otadata-unreadable' });
  });

  it('never throws, whatever the flash holds (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ at: fc.integer({ min: 0x8000, max: 0x2ffff }), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }), { maxLength: 8 }),
      fc.boolean(), fc.boolean(),
      (writes, rollback, antiRollback) => {
        const dev = device({ config: { rollback: rollback || antiRollback, antiRollback } });
        for (const w of writes) dev.flash.write(w.at, w.bytes);
        const r = runBootloader(dev);
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(['partition-table-invalid', 'otadata-unreadable', 'no-bootable-app']).toContain(r.reason);
      }), { numRuns: 1000 });
  });
});

describe('rollback (facts §2.4, §2.9)', () => {
  it('NEW → PENDING_VERIFY on boot; unconfirmed PENDING_VERIFY → ABORTED on the next boot, and the old app returns', () => {
    const dev = device({ config: { rollback: true }, apps: { ota_0: image('v1'), ota_1: image('v2') } });
    select(dev, 0, 1);
    select(dev, 1, 2, OtaImgState.NEW);
    dev.boot();
    expect(running(dev)).toBe('ota_1:v2');
    expect(readOtadata(dev.flash, OTADATA)[1].state).toBe(OtaImgState.PENDING_VERIFY);
    const r = dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
    expect(readOtadata(dev.flash, OTADATA)[1].state).toBe(OtaImgState.ABORTED);
    expect(r.log[0]).toMatch(/PENDING_VERIFY: marking ABORTED/);
  });

  it('without rollback, NEW and PENDING_VERIFY are simply bootable and never rewritten', () => {
    const dev = device({ apps: { ota_0: image('v1'), ota_1: image('v2') } });
    select(dev, 0, 1);
    select(dev, 1, 2, OtaImgState.PENDING_VERIFY);
    dev.boot();
    dev.boot();
    expect(running(dev)).toBe('ota_1:v2');
    expect(readOtadata(dev.flash, OTADATA)[1].state).toBe(OtaImgState.PENDING_VERIFY);
  });

  it('aborted ota_0 with no factory and the other copy erased boots again (code-derived)', () => {
    const dev = device({ config: { rollback: true } });
    select(dev, 0, 1, OtaImgState.PENDING_VERIFY);
    dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
    expect(readOtadata(dev.flash, OTADATA)[0].state).toBe(OtaImgState.ABORTED);
  });

  it('a power cut during the NEW → PENDING_VERIFY rewrite leaves the device off; the next boot still runs an app', () => {
    const dev = device({ config: { rollback: true }, apps: { ota_0: image('v1'), ota_1: image('v2') } });
    select(dev, 0, 1);
    select(dev, 1, 2, OtaImgState.NEW);
    dev.flash.armPowerCut({ op: 1, byte: 10 }); // the 32-byte write after the sector erase
    expect(dev.boot()).toMatchObject({ ok: false, reason: 'power-lost' });
    expect(dev.state).toBe('off');
    dev.boot();
    expect(running(dev)).toBe('ota_0:v1');
  });
});

describe('anti-rollback (facts §4.5)', () => {
  const cfg = { rollback: true, antiRollback: true };

  it('first boot from erased otadata burns the eFuse to the app it loads', () => {
    const efuse = Efuse.create(CHIP);
    const dev = device({ config: cfg, efuse, apps: { ota_0: image('v3', 24 * 1024, 3) } });
    dev.boot();
    expect(running(dev)).toBe('ota_0:v3');
    expect(efuse.readSecureVersion()).toBe(3);
    expect(decodeOtaEntry(dev.flash.read(OTADATA.offset, 32))).toMatchObject({ seq: 1, state: OtaImgState.VALID });
  });

  it('skips copies whose app is below the eFuse, and never loads such an app', () => {
    const efuse = Efuse.create(CHIP, { secureVersionRaw: 0b11 });
    const dev = device({ config: cfg, efuse, apps: { ota_0: image('new', 24 * 1024, 2), ota_1: image('old', 24 * 1024, 1) } });
    select(dev, 0, 1);
    select(dev, 1, 2);
    const r = dev.boot();
    expect(running(dev)).toBe('ota_0:new');
    expect(r.log.join('\n')).not.toMatch(/loaded app from partition 'ota_1'/);
  });

  it('a VALID active copy raises the eFuse to its app version at boot', () => {
    const efuse = Efuse.create(CHIP, { secureVersionRaw: 0b1 });
    const dev = device({ config: cfg, efuse, apps: { ota_0: image('a', 24 * 1024, 4) } });
    select(dev, 0, 1);
    dev.boot();
    expect(efuse.readSecureVersion()).toBe(4);
  });

  it('bricks when every app is below the eFuse', () => {
    const efuse = Efuse.create(CHIP, { secureVersionRaw: 0b111 });
    const dev = device({ config: cfg, efuse, apps: { ota_0: image('a', 24 * 1024, 1) } });
    select(dev, 0, 1);
    expect(dev.boot()).toMatchObject({ ok: false, reason: 'no-bootable-app' });
  });
});

describe.skipIf(!haveFixtures)('ROM check of the 2nd-stage bootloader', () => {
  const plan = (bootloader?: Uint8Array) => planFlash({
    chip: 'esp32', flashSize: 0x100000, pool, table: TWO_OTA,
    apps: { ota_0: buildAppImage({ chip: 'esp32', version: 'e1', size: 24 * 1024 }) },
    ...(bootloader ? { bootloader } : {}),
  });

  it('boots with the real ESP32 bootloader in place and refuses a blank region', () => {
    const config = { chip: 'esp32' as const, checkBootloaderImage: true };
    const good = Esp32.create({ config, flash: flashFromPlan(plan(fixture('bootloader/esptool-test_esp32_bootloader_no-sha256.bin'))) });
    expect(good.boot().ok).toBe(true);
    const blank = Esp32.create({ config, flash: flashFromPlan(plan()) });
    expect(blank.boot()).toMatchObject({ ok: false, reason: 'bootloader-invalid' });
  });
});
