/**
 * The build configuration of an emulated ESP32: which chip, and the Kconfig options and ESP-IDF
 * release whose OTA behaviour it follows. Defaults, validation and freezing happen here, once.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §2.9, §4.5, §9.
 */
import { ConfigError } from '../../protocol/errors.js';
import { isChipName, type ChipName } from './chips.js';
import { PARTITION_TABLE_OFFSET } from './partition-table.js';
import { resolveSecureBoot, type ResolvedSecureBoot, type SecureBootConfig } from './signature-policy.js';

/** ESP-IDF releases whose OTA behaviour differs somewhere (facts §9). */
export const IDF_VERSIONS = ['4.4', '5.0', '5.1', '5.2', '5.3', '5.4', '5.5', '6.0', '6.1'] as const;
export type IdfVersion = (typeof IDF_VERSIONS)[number];

export interface Esp32BuildConfig {
  readonly chip: ChipName;
  /** `CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE`, in both bootloader and app. Default false (ESP-IDF's default). */
  readonly rollback?: boolean;
  /** `CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK`; requires `rollback`. Default false. */
  readonly antiRollback?: boolean;
  /**
   * The ESP-IDF release the app and bootloader were built with. Default '5.5'. It selects:
   * `esp_ota_begin` erasing the inactive otadata copy (≥ 5.5, rollback builds); re-selecting the
   * active slot rewriting the active copy in place (≥ 6.0) instead of the other copy (≤ 5.5);
   * the sequential-write erase arithmetic (≥ 5.2 uses wrote+size−1); and
   * `ESP_ERR_OTA_ALREADY_IN_PROGRESS` (≥ 6.1). 5.5 is the default because it is the newest
   * release line whose otadata writes always alternate copies, which most deployed fleets run.
   */
  readonly idfVersion?: IdfVersion;
  /** Chip revision as major×100+minor, checked against images' min/max. Default: not checked beyond 0. */
  readonly chipRevision?: number;
  /** `CONFIG_PARTITION_TABLE_OFFSET`, a multiple of 0x1000. Default 0x8000. */
  readonly partitionTableOffset?: number;
  /**
   * Have the ROM stage verify the 2nd-stage bootloader image at the chip's bootloader offset before
   * the (built-in, emulated) bootloader runs. Default false: the bootloader region may stay blank.
   */
  readonly checkBootloaderImage?: boolean;
  /**
   * Secure Boot v2 is enabled (`CONFIG_SECURE_BOOT_V2_ENABLED`): the bootloader checks each app's
   * signature against these eFuse key digests instead of the plain hash, and so do esp_ota_end and
   * esp_ota_set_boot_partition. Default: off.
   */
  readonly secureBoot?: SecureBootConfig;
  /**
   * `CONFIG_SECURE_SIGNED_ON_UPDATE`: esp_ota_end / esp_ota_set_boot_partition verify the new image's
   * signature. Always on with `secureBoot`; without it this is
   * `CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT`: the running app's first signature block names the
   * trusted key and only the new image's first block is read. Default: on with `secureBoot`, else off.
   */
  readonly signedOnUpdate?: boolean;
}

export interface ResolvedEsp32Config {
  readonly chip: ChipName;
  readonly rollback: boolean;
  readonly antiRollback: boolean;
  readonly idfVersion: IdfVersion;
  readonly chipRevision: number | undefined;
  readonly partitionTableOffset: number;
  readonly checkBootloaderImage: boolean;
  /** Null when Secure Boot v2 is off. */
  readonly secureBoot: ResolvedSecureBoot | null;
  readonly signedOnUpdate: boolean;
}

const resolved = new WeakMap<Esp32BuildConfig, ResolvedEsp32Config>();

/** Validate and freeze; the same input object resolves to the same frozen result. */
export function resolveEsp32Config(c: Esp32BuildConfig): ResolvedEsp32Config {
  const have = resolved.get(c);
  if (have) return have;
  if (!isChipName(c.chip)) throw new ConfigError(`unknown chip '${String(c.chip)}'`);
  const idfVersion = c.idfVersion ?? '5.5';
  if (!IDF_VERSIONS.includes(idfVersion)) {
    throw new ConfigError(`idfVersion '${idfVersion}' is not one of ${IDF_VERSIONS.join(', ')}`);
  }
  const rollback = c.rollback ?? false;
  const antiRollback = c.antiRollback ?? false;
  if (antiRollback && !rollback) {
    throw new ConfigError('antiRollback needs rollback (CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK depends on CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE)');
  }
  const partitionTableOffset = c.partitionTableOffset ?? PARTITION_TABLE_OFFSET;
  if (!Number.isInteger(partitionTableOffset) || partitionTableOffset <= 0 || partitionTableOffset % 0x1000 !== 0) {
    throw new ConfigError(`partitionTableOffset 0x${partitionTableOffset.toString(16)} must be a positive multiple of 0x1000`);
  }
  if (c.chipRevision !== undefined && (!Number.isInteger(c.chipRevision) || c.chipRevision < 0 || c.chipRevision > 0xffff)) {
    throw new ConfigError(`chipRevision ${c.chipRevision} must be major×100+minor (0..65535)`);
  }
  const secureBoot = c.secureBoot === undefined ? null : resolveSecureBoot(c.chip, c.secureBoot);
  if (secureBoot !== null && c.signedOnUpdate === false) {
    throw new ConfigError('signedOnUpdate cannot be off with secureBoot (CONFIG_SECURE_BOOT_V2_ENABLED always sets CONFIG_SECURE_SIGNED_ON_UPDATE)');
  }
  const out = Object.freeze({
    chip: c.chip, rollback, antiRollback, idfVersion, chipRevision: c.chipRevision, partitionTableOffset,
    checkBootloaderImage: c.checkBootloaderImage ?? false,
    secureBoot, signedOnUpdate: secureBoot !== null || (c.signedOnUpdate ?? false),
  });
  resolved.set(c, out);
  return out;
}

/** True when `v` is `min` or newer. */
export function idfAtLeast(v: IdfVersion, min: IdfVersion): boolean {
  return IDF_VERSIONS.indexOf(v) >= IDF_VERSIONS.indexOf(min);
}
