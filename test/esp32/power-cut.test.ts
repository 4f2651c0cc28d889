/**
 * Power cut at any byte of any flash write or erase during an update — OTA writes and erases,
 * otadata erases in esp_ota_begin, the otadata rewrite in set_boot_partition, the bootloader's
 * NEW → PENDING_VERIFY rewrite, mark-valid — must never brick the device: after the cut it boots a
 * valid image, old or new, and an update run again to completion lands the new image.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../protocol/errors.js';
import type { IdfVersion } from '../../simulator/esp32/esp32-config.js';
import type { Esp32 } from '../../simulator/esp32/esp32.js';
import { OTA_SIZE_UNKNOWN, OTA_WITH_SEQUENTIAL_WRITES } from '../../simulator/esp32/ota-ops.js';
import { OtaImgState } from '../../simulator/esp32/otadata.js';
import { seededRng } from '../../simulator/esp32/power-cut.js';
import { FACTORY_TWO_OTA, TWO_OTA, device, image } from './device-kit.js';

const SIZES = [20 * 1024, 48 * 1024, 80 * 1024] as const;
const NEW_IMAGES = SIZES.map((s) => image('v2', s));
/** The same new release with secure_version 1, for anti-rollback builds. */
const NEW_SECURE = SIZES.map((s) => image('v2', s, 1));
const OLD = image('v1');
/** Clean updates run before the one that is cut, so slot and copy roles vary. */
const EARLIER = [image('p1', 20 * 1024), image('p2', 28 * 1024)];

interface Params {
  readonly rollback: boolean;
  /** Needs rollback; the new image then carries secure_version 1. */
  readonly antiRollback: boolean;
  readonly idfVersion: IdfVersion;
  readonly factory: boolean;
  readonly image: number;
  readonly chunks: readonly number[];
  readonly eraseMode: 'size' | 'unknown' | 'sequential';
  readonly scramble: boolean;
  /** How many clean updates precede the cut one (0..2). */
  readonly earlier: number;
}

const paramsArb: fc.Arbitrary<Params> = fc.record({
  rollback: fc.boolean(),
  antiRollback: fc.boolean(),
  idfVersion: fc.constantFrom<IdfVersion>('5.1', '5.4', '5.5', '6.0'),
  factory: fc.boolean(),
  image: fc.nat(SIZES.length - 1),
  chunks: fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 4 }),
  eraseMode: fc.constantFrom('size' as const, 'unknown' as const, 'sequential' as const),
  scramble: fc.boolean(),
  earlier: fc.nat(2),
});

/** A provisioned device after `p.earlier` clean updates; its flash op counter then starts the cut window. */
function fresh(p: Params): Esp32 {
  const dev = device({
    config: { rollback: p.rollback || p.antiRollback, antiRollback: p.antiRollback, idfVersion: p.idfVersion },
    table: p.factory ? FACTORY_TWO_OTA : TWO_OTA,
    apps: p.factory ? { factory: OLD } : { ota_0: OLD },
  });
  for (let i = 0; i < p.earlier; i++) expect(update(dev, p, EARLIER[i]!)).toBe(true);
  return dev;
}

/** The version running before the cut update. */
function oldVersion(p: Params): string {
  return p.earlier === 0 ? 'v1' : `p${p.earlier}`;
}

/** Power lost: the call threw ESP_ERR_FLASH_OP_FAIL and the device is off. */
function isPowerLoss(e: unknown, dev: Esp32): boolean {
  return e instanceof EspError && e.code === 'ESP_ERR_FLASH_OP_FAIL' && dev.state === 'off';
}

/** The whole update to `img` (default: the new image); returns false where power was lost. */
function update(dev: Esp32, p: Params, img: Uint8Array = (p.antiRollback ? NEW_SECURE : NEW_IMAGES)[p.image]!): boolean {
  try {
    if (!dev.boot().ok) return false;
    const target = dev.getNextUpdatePartition()!;
    const size = p.eraseMode === 'size' ? img.length : p.eraseMode === 'unknown' ? OTA_SIZE_UNKNOWN : OTA_WITH_SEQUENTIAL_WRITES;
    const h = dev.otaBegin(target, size);
    for (let at = 0, i = 0; at < img.length; i++) {
      const n = p.chunks[i % p.chunks.length]!;
      dev.otaWrite(h, img.subarray(at, at + n));
      at += n;
    }
    dev.otaEnd(h);
    dev.setBootPartition(target);
    if (!dev.boot().ok) return false;
    if (p.rollback || p.antiRollback) dev.markAppValidCancelRollback();
    return dev.boot().ok;
  } catch (e) {
    if (isPowerLoss(e, dev)) return false;
    throw e;
  }
}

/** Boot and return the running version; fails the test on a brick. */
function bootVersion(dev: Esp32): string {
  const r = dev.boot();
  if (!r.ok) throw new Error(`bricked: ${r.reason}\n${r.log.join('\n')}`);
  return r.app?.version ?? '?';
}

describe('power cut during an update never bricks the device (property)', () => {
  it('boots old or new after a cut at any byte, and a rerun update lands the new image', () => {
    let cuts = 0;
    fc.assert(fc.property(paramsArb, fc.nat(), fc.nat(), fc.nat(), (p, opPick, byte, seed) => {
      const dry = fresh(p);
      const before = dry.flash.stats.ops;
      expect(update(dry, p)).toBe(true);
      const total = dry.flash.stats.ops - before;
      const dev = fresh(p);
      dev.flash.armPowerCut({ op: opPick % total, byte },
        p.scramble ? { mode: 'scramble', rng: seededRng(seed) } : {});
      expect(update(dev, p)).toBe(false);
      expect(dev.state).toBe('off');
      cuts++;
      const old = oldVersion(p);
      for (let i = 0; i < 2; i++) expect([old, 'v2']).toContain(bootVersion(dev));
      if (bootVersion(dev) === old) expect(update(dev, p)).toBe(true);
      expect(bootVersion(dev)).toBe('v2');
      const runningPart = dev.getRunningPartition();
      if (p.rollback || p.antiRollback) expect(dev.getStatePartition(runningPart)).toBe(OtaImgState.VALID);
      expect(dev.efuse.readSecureVersion()).toBe(p.antiRollback ? 1 : 0);
    }), { numRuns: 1000 });
    expect(cuts).toBe(1000);
  });

  it('re-selecting the running slot survives a cut in either otadata behaviour (v5.5 other copy, v6.0 in place)', () => {
    fc.assert(fc.property(fc.constantFrom<IdfVersion>('5.5', '6.0'), fc.boolean(), fc.integer({ min: 0, max: 4096 + 31 }), (idfVersion, rollback, cutAt) => {
      const p: Params = { rollback, antiRollback: false, idfVersion, factory: false, image: 0, chunks: [4096], eraseMode: 'unknown', scramble: false, earlier: 0 };
      const dev = fresh(p);
      expect(update(dev, p)).toBe(true); // now running ota_1 = v2
      // An update of ota_0 abandoned half-way leaves garbage there (and, on v5.5+, erases its otadata copy).
      const h = dev.otaBegin(dev.getNextUpdatePartition()!);
      dev.otaWrite(h, NEW_IMAGES[1]!.subarray(0, 10000));
      dev.otaAbort(h);
      dev.flash.cutPowerAfter(cutAt);
      try {
        dev.setBootPartition(dev.getRunningPartition());
      } catch (e) {
        if (!isPowerLoss(e, dev)) throw e;
      }
      expect(bootVersion(dev)).toBe('v2');
      expect(bootVersion(dev)).toBe('v2');
    }), { numRuns: 1000 });
  });
});
