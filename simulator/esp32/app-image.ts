/**
 * ESP32 app image: parse and verify as `esp_image_verify` does.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §3 (esp_app_format.h, esp_image_format.c).
 *
 * CONTRACT STUB — to be implemented (owner: app-image work).
 */
import { EspError } from '../../protocol/errors.js';
import type { ChipName } from './chips.js';

export const ESP_IMAGE_HEADER_MAGIC = 0xe9;
export const ESP_APP_DESC_MAGIC = 0xabcd5432;
/** Image offset of `esp_app_desc_t` (24-byte header + 8-byte segment header). */
export const APP_DESC_OFFSET = 0x20;

export interface ImageSegment {
  readonly loadAddr: number;
  readonly length: number;
  /** Image offset of the segment's data. */
  readonly dataOffset: number;
}

/** `esp_app_desc_t`, decoded. */
export interface AppDesc {
  readonly secureVersion: number;
  readonly version: string;
  readonly projectName: string;
  readonly time: string;
  readonly date: string;
  readonly idfVersion: string;
  /** Hex of `app_elf_sha256` (64 chars). */
  readonly elfSha256: string;
}

export interface ImageInfo {
  /** Chip name for `chipId`, or null when unknown. */
  readonly chip: ChipName | null;
  readonly chipId: number;
  readonly entryAddr: number;
  readonly spiMode: number;
  readonly spiSpeed: number;
  readonly spiSize: number;
  readonly minChipRevFull: number;
  readonly maxChipRevFull: number;
  readonly hashAppended: boolean;
  readonly segments: readonly ImageSegment[];
  readonly checksum: { readonly stored: number; readonly computed: number; readonly ok: boolean };
  /** `appended`: hex of the stored digest, or null when `hash_appended` is 0. */
  readonly sha256: { readonly appended: string | null; readonly ok: boolean };
  readonly app: AppDesc | null;
  /** Image length in bytes, appended SHA-256 included; partition bytes beyond it are not part of the image. */
  readonly size: number;
}

export interface VerifyOptions {
  /** The running chip; a different `chip_id` is ESP_FAIL. Default: accept any known chip. */
  readonly chip?: ChipName;
  /** The chip's revision as major×100+minor. Default 0 for min check, skipped for max when absent. */
  readonly chipRevision?: number;
  /** The partition's size; an image that does not fit is ESP_ERR_IMAGE_INVALID. */
  readonly partitionSize?: number;
  /** Verify as a 2nd-stage bootloader image (hash not required, no app desc). Default false. */
  readonly bootloader?: boolean;
}

/** Verify `bytes` (an image, possibly followed by unused partition bytes). Throws EspError on failure. */
export function verifyImage(_bytes: Uint8Array, _opts: VerifyOptions = {}): ImageInfo {
  throw new EspError('ESP_ERR_IMAGE_INVALID', 'not implemented');
}

/** Decode the app descriptor at offset 0x20, or null when its magic is absent. */
export function readAppDesc(_bytes: Uint8Array): AppDesc | null {
  throw new EspError('ESP_ERR_NOT_FOUND', 'not implemented');
}
