/**
 * The eFuse bits otasim emulates: the unary `secure_version` field used by anti-rollback.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §4.5 (esp_efuse_fields.c,
 * bootloader/Kconfig.app_rollback). eFuse bits only ever go from 0 to 1.
 */
import { ConfigError, EspError } from '../../protocol/errors.js';
import { CHIPS, type ChipName } from './chips.js';

/** ESP32 eFuse coding scheme; secure_version burns need NONE there. */
export type EfuseCodingScheme = 'none' | '3/4' | 'repeat';

export interface EfuseOptions {
  /**
   * Width N of the secure_version field (`CONFIG_BOOTLOADER_APP_SEC_VER_SIZE_EFUSE_FIELD`).
   * Default and maximum: the chip's width (ESP32 32, C2 4, C5 9, others 16).
   */
  readonly secureVersionBits?: number;
  /** Raw bits already burned into the field. Default 0. */
  readonly secureVersionRaw?: number;
  /** ESP32 only. Default 'none'. */
  readonly codingScheme?: EfuseCodingScheme;
}

export class Efuse {
  readonly chip: ChipName;
  /** Width N of the secure_version field, in bits. */
  readonly secureVersionBits: number;
  readonly codingScheme: EfuseCodingScheme;
  #raw: number;

  private constructor(chip: ChipName, bits: number, raw: number, scheme: EfuseCodingScheme) {
    this.chip = chip;
    this.secureVersionBits = bits;
    this.#raw = raw;
    this.codingScheme = scheme;
  }

  /** Fresh eFuses for `chip` (nothing burned unless `secureVersionRaw` says so). */
  static create(chip: ChipName, opts: EfuseOptions = {}): Efuse {
    const max = CHIPS[chip].secureVersionBits;
    const bits = opts.secureVersionBits ?? max;
    if (!Number.isInteger(bits) || bits < 1 || bits > max) {
      throw new ConfigError(`secureVersionBits for ${chip} must be 1..${max}, got ${bits}`);
    }
    const raw = opts.secureVersionRaw ?? 0;
    if (!Number.isInteger(raw) || raw < 0 || raw > 0xffffffff) {
      throw new ConfigError(`secureVersionRaw must be a u32, got ${raw}`);
    }
    return new Efuse(chip, bits, raw >>> 0, opts.codingScheme ?? 'none');
  }

  /** The raw 32-bit field as burned. */
  get secureVersionRaw(): number {
    return this.#raw;
  }

  /** `esp_efuse_read_secure_version`: popcount of the lowest N bits. */
  readSecureVersion(): number {
    return popcount(this.#raw & lowMask(this.secureVersionBits));
  }

  /** `esp_efuse_check_secure_version`: an app is acceptable iff its version ≥ the eFuse value. */
  checkSecureVersion(appSecureVersion: number): boolean {
    return appSecureVersion >>> 0 >= this.readSecureVersion();
  }

  /**
   * `esp_efuse_update_secure_version`: raise the field to `version` (bits only go 0 → 1).
   * version > N → ESP_ERR_INVALID_ARG; eFuse already above `version` → ESP_FAIL (no burn);
   * ESP32 without coding scheme NONE → ESP_ERR_NOT_SUPPORTED.
   */
  burnSecureVersion(version: number): void {
    if (!Number.isInteger(version) || version < 0 || version > this.secureVersionBits) {
      throw new EspError('ESP_ERR_INVALID_ARG',
        `secure_version ${version} does not fit the ${this.secureVersionBits}-bit eFuse field`);
    }
    if (this.chip === 'esp32' && this.codingScheme !== 'none') {
      throw new EspError('ESP_ERR_NOT_SUPPORTED', 'ESP32 can burn secure_version only with eFuse coding scheme NONE');
    }
    const cur = this.readSecureVersion();
    if (cur > version) {
      throw new EspError('ESP_FAIL', `eFuse secure_version is ${cur}; it cannot be lowered to ${version}`);
    }
    // Set the low `version` bits that are still 0 (thermometer code).
    let raw = this.#raw;
    for (let bit = 0; popcount(raw & lowMask(this.secureVersionBits)) < version && bit < this.secureVersionBits; bit++) {
      raw = (raw | (1 << bit)) >>> 0;
    }
    this.#raw = raw;
  }
}

function lowMask(bits: number): number {
  return bits >= 32 ? 0xffffffff : ((1 << bits) >>> 0) - 1;
}

function popcount(n: number): number {
  let v = n >>> 0;
  let c = 0;
  while (v) {
    v &= v - 1;
    c++;
  }
  return c;
}
