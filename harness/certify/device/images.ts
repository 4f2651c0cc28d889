/**
 * The images the suite offers. A virtual device gets images built by the simulator's image
 * builder. A real device gets its own firmware build (`--firmware`), re-stamped: the version in
 * `esp_app_desc_t` rewritten and the image re-sealed (checksum byte and appended SHA-256), so every
 * offer is the same app under a new version, as `esp_ota_end` and the bootloader check it.
 */
import { createHash } from 'node:crypto';
import { ConfigError, UsageError } from '../../../protocol/errors.js';
import {
  APP_DESC_OFFSET, CHIPS, buildAppImage, inspectImage, type ChipName,
} from '../../../simulator/esp32/index.js';

/** Where `esp_app_desc_t.version` sits in the image: the descriptor at 0x20, its version at +16, 32 bytes. */
const VERSION_AT = APP_DESC_OFFSET + 16;
const VERSION_BYTES = 32;
/** `esp_image_header_t.chip_id`, u16 little-endian at offset 12; `hash_appended` at 23. */
const CHIP_ID_AT = 12;
const HASH_APPENDED_AT = 23;

/** Makes the images of one run. */
export interface ImageSource {
  /** A valid app image of `version` for `chip` (default: the device's chip). */
  image(version: string, chip?: ChipName): Uint8Array;
  /** The device's chip. */
  readonly chip: ChipName;
}

/** Images built by the simulator (virtual devices). */
export function builtImages(chip: ChipName, size = 64 * 1024): ImageSource {
  return { chip, image: (version, c = chip) => buildAppImage({ chip: c, version, size }) };
}

/** Rewrite `bytes[at, at+n)` with `next`, keeping the image checksum (an XOR of every segment byte) right. */
function patchSegmentBytes(img: Uint8Array, checksumAt: number, at: number, next: Uint8Array): void {
  let delta = 0;
  for (let i = 0; i < next.length; i++) {
    delta ^= (img[at + i] as number) ^ (next[i] as number);
    img[at + i] = next[i] as number;
  }
  img[checksumAt] = (img[checksumAt] as number) ^ delta;
}

/** Recompute the appended SHA-256 over everything before it. */
function reseal(img: Uint8Array): void {
  if (img[HASH_APPENDED_AT] !== 1) return;
  const end = img.length - 32;
  img.set(createHash('sha256').update(img.subarray(0, end)).digest(), end);
}

/**
 * Images re-stamped from a real firmware build. Throws UsageError when `firmware` is not a valid,
 * unsigned app image with a descriptor.
 */
export function restampedImages(firmware: Uint8Array, source: string): ImageSource {
  const info = inspectImage(firmware);
  if (!info.valid || info.size === null || info.chip === null) {
    throw new UsageError(`--firmware ${source}: not a valid app image (${info.error?.message ?? 'unreadable'})`);
  }
  if (info.app === null) throw new UsageError(`--firmware ${source}: the image has no esp_app_desc_t, so its version cannot be set`);
  if (info.signature !== null) throw new UsageError(`--firmware ${source}: a signed image cannot be re-stamped; give an unsigned build`);
  const size = info.size;
  const base = firmware.slice(0, size);
  const hashed = base[HASH_APPENDED_AT] === 1;
  const checksumAt = size - (hashed ? 33 : 1);
  const chip = info.chip;
  return {
    chip,
    image(version, c = chip) {
      const bytes = new TextEncoder().encode(version);
      if (bytes.length >= VERSION_BYTES) throw new ConfigError(`version ${version} does not fit esp_app_desc_t.version`);
      const img = base.slice();
      const field = new Uint8Array(VERSION_BYTES);
      field.set(bytes);
      patchSegmentBytes(img, checksumAt, VERSION_AT, field);
      if (c !== chip) {
        const id = CHIPS[c].chipId;
        img[CHIP_ID_AT] = id & 0xff;
        img[CHIP_ID_AT + 1] = (id >> 8) & 0xff;
      }
      reseal(img);
      return img;
    },
  };
}
