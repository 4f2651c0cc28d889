/**
 * Build valid ESP32 app images (header, segments laid out as esptool elf2image does,
 * checksum, appended SHA-256) for tests, fleets and scenarios.
 *
 * CONTRACT STUB — to be implemented (owner: app-image work).
 */
import type { ChipName } from './chips.js';

export interface BuildImageOptions {
  readonly chip: ChipName;
  /** `esp_app_desc_t.version`, ≤ 31 chars. */
  readonly version: string;
  /** Default "otasim-app". */
  readonly projectName?: string;
  /** Default 0. */
  readonly secureVersion?: number;
  /** Approximate total image size in bytes (the builder sizes segments to land on it). Default 192 KiB. */
  readonly size?: number;
  readonly idfVersion?: string;
  readonly date?: string;
  readonly time?: string;
  /** Seed for the filler bytes, so two builds differ only when asked. Default derived from version. */
  readonly seed?: number;
}

export function buildAppImage(_opts: BuildImageOptions): Uint8Array {
  throw new Error('not implemented');
}
