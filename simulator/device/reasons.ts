/**
 * Why an OTA attempt failed: stable reason codes the device reports, each with the paku
 * `OtaResult` code that goes in `ota/result.result_code` (paku-protocol-facts §1.6) and, where the
 * device would see one, the ESP-IDF error (esp-idf-ota-facts §5.6). Pure: no I/O.
 */
import type { EspErrName } from '../../protocol/errors.js';
import { OTA_RESULT_MESSAGES } from '../../protocol/payloads.js';

/** paku `OtaResult` values used here (OtaClient.h enum order). */
const R = {
  SUCCESS: 0, DOWNLOAD_FAILED: 2, VERIFICATION_FAILED: 3, INSTALL_FAILED: 4, NO_PARTITION: 5,
  INVALID_URL: 6, TIMEOUT: 7, INSUFFICIENT_SPACE: 8, INVALID_FIRMWARE: 9,
} as const;

interface ReasonInfo {
  /** `result_code` of `ota/result`. */
  readonly result: number;
  /** The ESP-IDF error the device meets, when there is one. */
  readonly esp: EspErrName | null;
  /** The image was rolled back by the bootloader (HTTP status `rolled_back`). */
  readonly rolledBack: boolean;
  /** One line for people. */
  readonly text: string;
}

const reason = (result: number, esp: EspErrName | null, text: string, rolledBack = false): ReasonInfo =>
  ({ result, esp, text, rolledBack });

/** Every failure reason, in the order an attempt meets them. */
export const FAILURE_REASONS = {
  // The offer.
  offer_malformed: reason(R.INVALID_URL, null, 'the offer is not valid JSON or lacks a usable url/checksum'),
  model_mismatch: reason(R.INVALID_FIRMWARE, null, 'the offer is for another device model'),
  not_newer: reason(R.INVALID_FIRMWARE, null, 'the offered version is not newer than the running one'),
  known_bad: reason(R.INVALID_FIRMWARE, null, 'the offered version was rolled back on this device before'),
  // The HTTP response (esp_https_ota_begin: 4xx/5xx → ESP_FAIL).
  http_status: reason(R.DOWNLOAD_FAILED, 'ESP_FAIL', 'the download answered with an unexpected HTTP status'),
  content_length: reason(R.DOWNLOAD_FAILED, 'ESP_FAIL', 'Content-Length is missing, zero or disagrees with the body'),
  no_partition: reason(R.NO_PARTITION, 'ESP_ERR_NOT_FOUND', 'there is no OTA partition to write to'),
  image_too_big: reason(R.INSUFFICIENT_SPACE, 'ESP_ERR_INVALID_SIZE', 'the image is larger than the OTA partition'),
  // The first 1024 bytes (esp_https_ota perform, state BEGIN).
  not_an_image: reason(R.INSTALL_FAILED, 'ESP_ERR_OTA_VALIDATE_FAILED', 'the body is not an ESP app image (first byte is not 0xE9)'),
  image_truncated: reason(R.DOWNLOAD_FAILED, 'ESP_FAIL', 'the body ended before the 1024-byte image header'),
  chip_mismatch: reason(R.INVALID_FIRMWARE, 'ESP_ERR_INVALID_VERSION', 'the image is built for another chip'),
  no_app_desc: reason(R.INVALID_FIRMWARE, 'ESP_FAIL', 'the image has no esp_app_desc_t (magic 0xABCD5432)'),
  version_mismatch: reason(R.INVALID_FIRMWARE, null, 'the image version differs from the version offered'),
  secure_version: reason(R.INVALID_FIRMWARE, 'ESP_ERR_OTA_SMALL_SEC_VER', 'the image secure_version is below the eFuse counter'),
  // The transfer and flash.
  begin_failed: reason(R.INSTALL_FAILED, null, 'esp_ota_begin failed'),
  flash_write_failed: reason(R.INSTALL_FAILED, null, 'esp_ota_write failed'),
  download_failed: reason(R.DOWNLOAD_FAILED, 'ESP_FAIL', 'the download was cut more often than the retries allow'),
  timeout: reason(R.TIMEOUT, null, 'the download stalled'),
  checksum_mismatch: reason(R.VERIFICATION_FAILED, null, 'the SHA-256 of the image differs from the offer'),
  validate_failed: reason(R.INSTALL_FAILED, 'ESP_ERR_OTA_VALIDATE_FAILED', 'esp_ota_end refused the image'),
  set_boot_failed: reason(R.INSTALL_FAILED, null, 'esp_ota_set_boot_partition failed'),
  interrupted: reason(R.INSTALL_FAILED, null, 'the device reset while the update was in progress'),
  // After the reboot (the bootloader rolled back).
  boot_crash: reason(R.INSTALL_FAILED, null, 'the new image crashed before confirming itself; rolled back', true),
  watchdog: reason(R.INSTALL_FAILED, null, 'the new image hung and the task watchdog reset it; rolled back', true),
  self_test_failed: reason(R.INSTALL_FAILED, null, 'the new image failed its self-test and marked itself invalid; rolled back', true),
  reset_before_valid: reason(R.INSTALL_FAILED, null, 'the new image was reset before confirming itself; rolled back', true),
  not_booted: reason(R.INSTALL_FAILED, null, 'the device did not boot the installed image', true),
} as const satisfies Record<string, ReasonInfo>;

export type FailureReason = keyof typeof FAILURE_REASONS;

/** paku `OtaClient::resultToString` for a `result_code`. */
export function resultMessage(code: number): string {
  return OTA_RESULT_MESSAGES[code] ?? 'Unknown error';
}

/** The wire fields of a failure: reason, paku result code and message, ESP-IDF error name. */
export function failureInfo(r: FailureReason, esp?: string): { result: number; message: string; esp: string | null; rolledBack: boolean } {
  const info: ReasonInfo = FAILURE_REASONS[r];
  return { result: info.result, message: resultMessage(info.result), esp: esp ?? info.esp, rolledBack: info.rolledBack };
}
