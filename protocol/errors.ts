/**
 * The one home of otasim's error classes (STYLE.md §7).
 *
 * Every error has a stable `code`: `OTASIM_ERR_…` for otasim's own failures, or ESP-IDF's own
 * `ESP_ERR_…` name where the emulated chip would return one. Messages say what to do.
 */

/** ESP-IDF error names and their `esp_err_t` values.
 * Sources: components/esp_common/include/esp_err.h, app_update/include/esp_ota_ops.h,
 * bootloader_support/include/esp_image_format.h, spi_flash/include/esp_flash_err.h. */
export const ESP_ERR = {
  ESP_FAIL: -1,
  ESP_ERR_NO_MEM: 0x101,
  ESP_ERR_INVALID_ARG: 0x102,
  ESP_ERR_INVALID_STATE: 0x103,
  ESP_ERR_INVALID_SIZE: 0x104,
  ESP_ERR_NOT_FOUND: 0x105,
  ESP_ERR_NOT_SUPPORTED: 0x106,
  ESP_ERR_INVALID_VERSION: 0x10a,
  ESP_ERR_NOT_FINISHED: 0x10c,
  ESP_ERR_NOT_ALLOWED: 0x10d,
  ESP_ERR_OTA_PARTITION_CONFLICT: 0x1501,
  ESP_ERR_OTA_SELECT_INFO_INVALID: 0x1502,
  ESP_ERR_OTA_VALIDATE_FAILED: 0x1503,
  ESP_ERR_OTA_SMALL_SEC_VER: 0x1504,
  ESP_ERR_OTA_ROLLBACK_FAILED: 0x1505,
  ESP_ERR_OTA_ROLLBACK_INVALID_STATE: 0x1506,
  ESP_ERR_IMAGE_FLASH_FAIL: 0x2001,
  ESP_ERR_IMAGE_INVALID: 0x2002,
  ESP_ERR_FLASH_OP_FAIL: 0x6001,
  ESP_ERR_FLASH_OP_TIMEOUT: 0x6002,
} as const;

export type EspErrName = keyof typeof ESP_ERR;

/** Base class: a stable machine-readable `code` plus a human message. */
export class OtasimError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** An error the emulated ESP32 itself would return, named as ESP-IDF names it. */
export class EspError extends OtasimError {
  declare readonly code: EspErrName;
  /** The numeric `esp_err_t`. */
  readonly esp: number;

  constructor(code: EspErrName, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.esp = ESP_ERR[code];
  }
}

/** A partition table (binary or CSV) that gen_esp32part.py or the bootloader would refuse. */
export class PartitionTableError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'OTASIM_ERR_PARTITION_TABLE', message, options);
  }
}

/** A command-line usage error: exit code 2. */
export class UsageError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OTASIM_ERR_USAGE', message, options);
  }
}

/** True when `e` is an otasim error whose code is `code`. */
export function isErrorCode(e: unknown, code: string): boolean {
  return e instanceof OtasimError && e.code === code;
}
