/**
 * Provision a virtual device as a factory would: a partition table with two OTA slots, otadata
 * selecting the first, and an app image of the starting version in it. The default layout is
 * Arduino-ESP32's `min_spiffs.csv` on 4 MiB (paku-core's, paku-protocol-facts §4.7); the
 * `flash_too_small` fault shrinks both slots. Images go through an ImagePool, so ten thousand
 * devices starting on one version share one buffer.
 */
import { ConfigError } from '../../protocol/errors.js';
import {
  Esp32, ImagePool, buildAppImage, flashFromPlan, parsePartitionCsv, planFlash, readAppDesc, type ChipName, type Esp32BuildConfig,
  type FlashPlan,
} from '../esp32/index.js';

/** Arduino-ESP32 `min_spiffs.csv` (4 MiB): two 1.875 MiB OTA slots. */
export const MIN_SPIFFS_CSV = [
  'nvs,      data, nvs,     0x9000,  0x5000',
  'otadata,  data, ota,     0xe000,  0x2000',
  'app0,     app,  ota_0,   0x10000, 0x1E0000',
  'app1,     app,  ota_1,   0x1F0000,0x1E0000',
  'spiffs,   data, spiffs,  0x3D0000,0x30000',
].join('\n');

const FOUR_MIB = 4 * 1024 * 1024;

export interface ProvisionOptions {
  readonly chip: ChipName;
  /** Version of the factory image (its `esp_app_desc_t.version`), e.g. `1.0.0`. Ignored when `image` is given. */
  readonly version: string;
  /** A real app image to start from instead of a built one; it must fit the slot. */
  readonly image?: Uint8Array;
  /** Size of the built factory image, bytes. Default 192 KiB. */
  readonly imageBytes?: number;
  /** `secure_version` of the built image. Default 0. */
  readonly secureVersion?: number;
  /** OTA slot size, bytes (the `flash_too_small` fault); null or absent: min_spiffs. */
  readonly slotBytes?: number | null;
  /** Build configuration. Default `{ chip, rollback: true }`: the esp-idf behaviour self-tests new images. */
  readonly build?: Esp32BuildConfig;
  /** Where images are interned; pass one pool to every device of a fleet. */
  readonly pool: ImagePool;
}

/** A table with two OTA slots of `slot` bytes each, and the flash size that holds it. */
function layout(slot: number | null): { csv: string; flashSize: number } {
  if (slot === null) return { csv: MIN_SPIFFS_CSV, flashSize: FOUR_MIB };
  if (!Number.isInteger(slot) || slot < 0x10000 || slot % 0x10000 !== 0) {
    throw new ConfigError(`slot size ${slot} must be a multiple of 64 KiB (app partitions are 64 KiB aligned)`);
  }
  const csv = [
    'nvs,      data, nvs,   0x9000,  0x5000',
    'otadata,  data, ota,   0xe000,  0x2000',
    `app0,     app,  ota_0, 0x10000, 0x${slot.toString(16)}`,
    `app1,     app,  ota_1, , 0x${slot.toString(16)}`,
  ].join('\n');
  const end = 0x10000 + 2 * slot;
  return { csv, flashSize: Math.max(FOUR_MIB, Math.ceil(end / FOUR_MIB) * FOUR_MIB) };
}

/** One default build configuration per chip, shared by every device (the chip resolves each object once). */
const DEFAULT_BUILDS = new Map<ChipName, Esp32BuildConfig>();

function defaultBuild(chip: ChipName): Esp32BuildConfig {
  let b = DEFAULT_BUILDS.get(chip);
  if (b === undefined) {
    b = Object.freeze({ chip, rollback: true });
    DEFAULT_BUILDS.set(chip, b);
  }
  return b;
}

/**
 * Flash plans already made, per pool: a fleet of ten thousand devices on one (chip, version, size,
 * slot) builds, hashes and lays out its factory image once, not once per device. Plans for a
 * caller-supplied image are keyed by that image object (it is never written).
 */
interface PlanCache {
  readonly built: Map<string, FlashPlan>;
  readonly given: WeakMap<Uint8Array, Map<string, FlashPlan>>;
}
const PLANS = new WeakMap<ImagePool, PlanCache>();

function planFor(opts: ProvisionOptions): FlashPlan {
  let cache = PLANS.get(opts.pool);
  if (cache === undefined) {
    cache = { built: new Map(), given: new WeakMap() };
    PLANS.set(opts.pool, cache);
  }
  const slot = opts.slotBytes ?? null;
  let plans = cache.built;
  let key = `${opts.chip}|${slot}|${opts.version}|${opts.secureVersion ?? 0}|${opts.imageBytes ?? ''}`;
  if (opts.image !== undefined) {
    plans = cache.given.get(opts.image) ?? new Map();
    cache.given.set(opts.image, plans);
    key = `${opts.chip}|${slot}`;
  }
  const cached = plans.get(key);
  if (cached !== undefined) return cached;
  const { csv, flashSize } = layout(slot);
  const table = parsePartitionCsv(csv);
  const image = opts.image ?? buildAppImage({
    chip: opts.chip, version: opts.version, secureVersion: opts.secureVersion ?? 0,
    ...(opts.imageBytes === undefined ? {} : { size: opts.imageBytes }),
  });
  if (image.length >= 0x120 && readAppDesc(image) === null) {
    throw new ConfigError('the starting image has no esp_app_desc_t: it cannot be an ESP-IDF app');
  }
  const plan = planFlash({ chip: opts.chip, flashSize, table, apps: { app0: image }, otadata: { slot: 0 }, pool: opts.pool });
  plans.set(key, plan);
  return plan;
}

/**
 * A powered-off device running `opts.version` from `app0` once booted. The chip gets the pool too,
 * so an image it verifies at esp_ota_end is interned there and mapped (ota-ops.ts `adopt`): ten
 * thousand devices updated to one image share one buffer instead of keeping a copy each.
 */
export function provisionDevice(opts: ProvisionOptions): Esp32 {
  return Esp32.create({ config: opts.build ?? defaultBuild(opts.chip), flash: flashFromPlan(planFor(opts)), pool: opts.pool });
}
