/**
 * Shared test kit for device tests: small partition tables, app images built once per
 * (version, size), and a device factory. Small images keep the property suites fast.
 */
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { ImagePool } from '../../simulator/esp32/image-pool.js';
import { Esp32 } from '../../simulator/esp32/esp32.js';
import { EspError } from '../../protocol/errors.js';
import type { Esp32BuildConfig } from '../../simulator/esp32/esp32-config.js';
import { Efuse } from '../../simulator/esp32/efuse.js';
import { flashFromPlan, planFlash, type ProvisionSpec } from '../../simulator/esp32/provision.js';
import type { Partition, PartitionTable } from '../../simulator/esp32/partition-table.js';

export const CHIP = 'esp32c3' as const;
export const FLASH_SIZE = 0x100000;
const SLOT = 0x20000;

const part = (label: string, type: number, subtype: number, offset: number, size: number): Partition =>
  ({ label, type, subtype, offset, size, flags: 0 });

/** nvs, otadata @0xD000, phy_init, ota_0 @0x10000, ota_1 @0x30000 (128 KiB each): no factory. */
export const TWO_OTA: PartitionTable = {
  md5: true,
  partitions: [
    part('nvs', 1, 2, 0x9000, 0x4000),
    part('otadata', 1, 0, 0xd000, 0x2000),
    part('phy_init', 1, 1, 0xf000, 0x1000),
    part('ota_0', 0, 0x10, 0x10000, SLOT),
    part('ota_1', 0, 0x11, 0x30000, SLOT),
  ],
};

/** The same plus a factory app at 0x50000. */
export const FACTORY_TWO_OTA: PartitionTable = {
  md5: true,
  partitions: [...TWO_OTA.partitions, part('factory', 0, 0x00, 0x50000, SLOT)],
};

const images = new Map<string, Uint8Array>();

/** An app image for CHIP, built once per (version, size, secureVersion). */
export function image(version: string, size = 24 * 1024, secureVersion = 0): Uint8Array {
  const key = `${version}:${size}:${secureVersion}`;
  let img = images.get(key);
  if (!img) {
    img = buildAppImage({ chip: CHIP, version, size, secureVersion });
    images.set(key, img);
  }
  return img;
}

export const pool = new ImagePool();

export interface DeviceSpec extends Partial<Omit<ProvisionSpec, 'pool' | 'chip' | 'flashSize'>> {
  readonly config?: Omit<Esp32BuildConfig, 'chip'>;
  readonly efuse?: Efuse;
}

/** A provisioned, not yet booted device. Default: TWO_OTA with 'v1' in ota_0 and erased otadata. */
export function device(spec: DeviceSpec = {}): Esp32 {
  const plan = planFlash({
    chip: CHIP, flashSize: FLASH_SIZE, pool, table: spec.table ?? TWO_OTA,
    apps: spec.apps ?? { ota_0: image('v1') },
    ...(spec.otadata === undefined ? {} : { otadata: spec.otadata }),
    ...(spec.bootloader === undefined ? {} : { bootloader: spec.bootloader }),
  });
  return Esp32.create({
    config: { chip: CHIP, ...spec.config }, flash: flashFromPlan(plan), pool,
    ...(spec.efuse ? { efuse: spec.efuse } : {}),
  });
}

/** The device's partition labelled `label` (throws when absent). */
export function labelled(dev: Esp32, label: string): Partition {
  const p = dev.partitions.find((q) => q.label === label);
  if (!p) throw new Error(`no partition ${label}`);
  return p;
}

/** Stream `img` through the OTA API into `target` in `chunk`-byte writes; returns after otaEnd. */
export function ota(dev: Esp32, target: Partition, img: Uint8Array, chunk = 4096, imageSize?: number): void {
  const h = dev.otaBegin(target, imageSize ?? img.length);
  for (let at = 0; at < img.length; at += chunk) dev.otaWrite(h, img.subarray(at, at + chunk));
  dev.otaEnd(h);
}

/** The running app's version string, or a failure reason. */
export function running(dev: Esp32): string {
  const b = dev.lastBoot;
  if (!b) return 'never booted';
  return b.ok ? `${b.partition.label}:${b.app?.version ?? '?'}` : `failed:${b.reason}`;
}

/** The ESP-IDF error name `fn` throws, or 'ESP_OK'. */
export function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof EspError) return e.code;
    throw e;
  }
  return 'ESP_OK';
}

/** A provisioned device, booted once. */
export function booted(spec: DeviceSpec = {}): Esp32 {
  const dev = device(spec);
  dev.boot();
  return dev;
}
