/**
 * The images a scenario uploads: built through the core (`buildAppImage`), then made wrong on
 * purpose when the entry names a defect, or the real `.bin` the loader read. Pure.
 */
import { buildAppImage, type ChipName } from '../../simulator/esp32/index.js';
import type { ScenarioFirmware } from '../scenario/loader.js';

/** A chip other than `chip`, for `wrong_chip`. */
const otherChip = (chip: ChipName): ChipName => (chip === 'esp32' ? 'esp32s3' : 'esp32');

/** SHA-256 length appended to a built image (hash_appended = 1). */
const SHA_LEN = 32;

/** The bytes of `fw` (seeded by `seed`, so a rerun uploads the same image). */
export function firmwareBytes(fw: ScenarioFirmware, seed: number): Uint8Array {
  if (fw.bytes !== null) return fw.bytes;
  const chip = fw.defect === 'wrong_chip' ? otherChip(fw.chip) : fw.chip;
  const img = buildAppImage({ chip, version: fw.version, size: fw.size, seed, ...(fw.secureVersion === undefined ? {} : { secureVersion: fw.secureVersion }) });
  switch (fw.defect) {
    case undefined:
    case 'wrong_chip':
      return img;
    case 'bad_magic': {
      const b = img.slice();
      b[0] = 0x00; // ESP_IMAGE_HEADER_MAGIC is 0xE9
      return b;
    }
    case 'bad_checksum': {
      // The checksum byte ends the 16-byte aligned padding, just before the appended digest.
      const b = img.slice();
      const at = b.length - SHA_LEN - 1;
      b[at] = (b[at] as number) ^ 0xff;
      return b;
    }
    case 'bad_sha': {
      const b = img.slice();
      b[b.length - 1] = (b[b.length - 1] as number) ^ 0xff;
      return b;
    }
    case 'truncated':
      return img.slice(0, Math.floor(img.length * 0.6));
  }
}
