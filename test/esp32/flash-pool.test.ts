import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { Efuse } from '../../simulator/esp32/efuse.js';
import { Esp32 } from '../../simulator/esp32/esp32.js';
import { resolveEsp32Config } from '../../simulator/esp32/esp32-config.js';
import { ImagePool, memoOnBuffer, sha256Hex } from '../../simulator/esp32/image-pool.js';
import { flashFromPlan, planFlash } from '../../simulator/esp32/provision.js';
import { CHIP, FLASH_SIZE, TWO_OTA, device, image, labelled, ota } from './device-kit.js';

describe('ImagePool', () => {
  it('interns by content: the first caller donates a private copy, later callers get that buffer', () => {
    const pool = new ImagePool();
    const a = Uint8Array.from([1, 2, 3]);
    const shared = pool.intern(a);
    expect(shared).not.toBe(a);
    a[0] = 9;
    expect([...shared]).toEqual([1, 2, 3]);
    expect(pool.intern(Uint8Array.from([1, 2, 3]))).toBe(shared);
    expect(pool.get(sha256Hex(shared))).toBe(shared);
    expect([pool.size, pool.bytes]).toEqual([1, 3]);
    expect(pool.delete(sha256Hex(shared))).toBe(true);
    expect(pool.size).toBe(0);
  });

  it('memoOnBuffer computes once per buffer and key, and rethrows the same error', () => {
    const buf = new Uint8Array(4);
    let calls = 0;
    const f = (): number => ++calls;
    expect([memoOnBuffer(buf, 'k', f), memoOnBuffer(buf, 'k', f), memoOnBuffer(buf, 'other', f)]).toEqual([1, 1, 2]);
    const boom = new Error('bad');
    const fail = (): never => { throw boom; };
    expect(() => memoOnBuffer(buf, 'e', fail)).toThrow(boom);
    expect(() => memoOnBuffer(buf, 'e', () => 0)).toThrow(boom);
  });
});

describe('shared images across devices', () => {
  it('devices provisioned from one plan map one buffer and share one verification', () => {
    const pool = new ImagePool();
    const img = image('shared-v1', 32 * 1024);
    const plan = planFlash({ chip: CHIP, flashSize: FLASH_SIZE, table: TWO_OTA, pool, apps: { ota_0: img, ota_1: img } });
    const devs = [0, 1, 2].map(() => Esp32.create({ config: { chip: CHIP }, flash: flashFromPlan(plan), pool }));
    const boots = devs.map((d) => d.boot());
    const apps = boots.map((b) => (b.ok ? b.app : null));
    expect(apps[0]).not.toBeNull();
    expect(apps[1]).toBe(apps[0]); // the same object: verified once, memoised on the shared buffer
    expect(apps[2]).toBe(apps[0]);
    expect(devs[1]!.flash.mappingAt(0x10000)!.data).toBe(devs[0]!.flash.mappingAt(0x30000)!.data);
    expect(pool.size).toBe(2); // the image and the partition table
  });

  it('an image written over OTA by two devices ends up as one pooled buffer, verified once', () => {
    const a = device();
    const b = device();
    a.boot();
    b.boot();
    const img = image('ota-shared', 36 * 1024);
    for (const dev of [a, b]) {
      ota(dev, labelled(dev, 'ota_1'), img, 777);
      dev.setBootPartition(labelled(dev, 'ota_1'));
      dev.boot();
    }
    expect(a.flash.mappingAt(0x30000)!.data).toBe(b.flash.mappingAt(0x30000)!.data);
    const [ra, rb] = [a.lastBoot, b.lastBoot];
    expect(ra?.ok && rb?.ok && ra.app === rb.app).toBe(true);
  });

  it('a device that later rewrites a shared sector copies it and leaves the others untouched', () => {
    const a = device();
    const b = device();
    a.boot();
    b.boot();
    a.flash.erase(0x10000, 0x1000);
    expect(a.boot().ok).toBe(false);
    expect(b.boot().ok).toBe(true);
  });
});

describe('provisioning and configuration errors', () => {
  const pool = new ImagePool();
  it('refuses images that do not fit, unknown labels and non-app targets', () => {
    const base = { chip: CHIP, flashSize: FLASH_SIZE, table: TWO_OTA, pool } as const;
    expect(() => planFlash({ ...base, apps: { ota_0: new Uint8Array(0x20001) } })).toThrow(ConfigError);
    expect(() => planFlash({ ...base, apps: { nope: image('v1') } })).toThrow(/no app partition labelled 'nope'/);
    expect(() => planFlash({ ...base, apps: { nvs: image('v1') } })).toThrow(ConfigError);
    expect(() => planFlash({ ...base, otadata: { slot: 16 } })).toThrow(ConfigError);
    expect(() => planFlash({ ...base, flashSize: 0x40000, apps: { ota_1: image('v1', 80 * 1024) } })).toThrow(/runs past/);
  });

  it('provisions a table that does not fit the flash as esptool would, and the bootloader refuses it', () => {
    const plan = planFlash({ chip: CHIP, flashSize: 0x20000, table: TWO_OTA, pool });
    const dev = Esp32.create({ config: { chip: CHIP }, flash: flashFromPlan(plan) });
    expect(dev.boot()).toMatchObject({ ok: false, reason: 'partition-table-invalid' });
  });

  it('validates the build config once and freezes it', () => {
    expect(() => resolveEsp32Config({ chip: CHIP, antiRollback: true })).toThrow(ConfigError);
    expect(() => resolveEsp32Config({ chip: CHIP, idfVersion: '7.0' as never })).toThrow(ConfigError);
    expect(() => resolveEsp32Config({ chip: CHIP, partitionTableOffset: 0x8100 })).toThrow(ConfigError);
    const cfg = { chip: CHIP, rollback: true };
    expect(resolveEsp32Config(cfg)).toBe(resolveEsp32Config(cfg));
    expect(Object.isFrozen(resolveEsp32Config(cfg))).toBe(true);
    const plan = planFlash({ chip: CHIP, flashSize: FLASH_SIZE, table: TWO_OTA, pool });
    expect(() => Esp32.create({ config: cfg, flash: flashFromPlan(plan), efuse: Efuse.create('esp32') })).toThrow(ConfigError);
  });

  it('a device that has not booted, or lost power, refuses API calls with OTASIM_ERR_DEVICE_OFF', () => {
    const dev = device();
    expect(dev.state).toBe('off');
    expect(() => dev.getRunningPartition()).toThrow(expect.objectContaining({ code: 'OTASIM_ERR_DEVICE_OFF' }));
    dev.boot();
    expect(dev.state).toBe('running');
    dev.powerOff();
    expect(dev.state).toBe('off');
    expect(() => dev.getBootPartition()).toThrow(expect.objectContaining({ code: 'OTASIM_ERR_DEVICE_OFF' }));
  });
});
