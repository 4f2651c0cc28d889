/**
 * What a flash image written at 0x0 says about its device before anything is booted: the chip
 * (from the 2nd-stage bootloader's header) and the flash size the bootloader will assume.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §1.1 (bootloader offset per chip), §3.1 (header).
 */
import { FlashImageError } from '../../protocol/errors.js';
import { inspectImage } from './app-image.js';
import { u16 } from './bytes.js';
import { CHIPS, CHIP_NAMES, chipById, type ChipName } from './chips.js';
import { ESP_IMAGE_HEADER_MAGIC, IMAGE_HEADER_SIZE } from './image-header.js';

const MiB = 1024 * 1024;
/** The largest flash an image header can name (spi_size 7 = 128 MB). */
export const MAX_FLASH_SIZE = 128 * MiB;

/** Bootloader offsets, in the order a dump is probed (ESP_ROM_BOOTLOADER_OFFSET_FLASH: 0x1000, 0x0, 0x2000). */
const PROBE_OFFSETS = [0x1000, 0x0, 0x2000] as const;

/**
 * The chip whose bootloader sits in `bytes`: a header with magic 0xE9 at one of the bootloader
 * offsets whose chip_id names a chip booting from that very offset. When several qualify (bytes
 * inside one bootloader can look like a header at another offset), one that verifies as a
 * bootloader wins. Throws FlashImageError('OTASIM_ERR_FLASH_CHIP') when none qualifies.
 */
export function detectChip(bytes: Uint8Array): ChipName {
  const found: ChipName[] = [];
  const misplaced: string[] = [];
  for (const at of PROBE_OFFSETS) {
    if (bytes[at] !== ESP_IMAGE_HEADER_MAGIC || bytes.length < at + IMAGE_HEADER_SIZE) continue;
    const chip = chipById(u16(bytes, at + 12));
    if (chip === undefined) continue;
    if (chip.bootloaderOffset === at) found.push(chip.name);
    else misplaced.push(`an ${chip.name} image at 0x${at.toString(16)}, where ${chip.name}'s bootloader does not sit`);
  }
  const valid = found.find((name) => {
    const at = CHIPS[name].bootloaderOffset;
    return inspectImage(bytes.subarray(at), { chip: name, bootloader: true }).valid;
  });
  const pick = valid ?? found[0];
  if (pick !== undefined) return pick;
  const seen = misplaced.length > 0 ? `; found ${misplaced.join(' and ')} (an app image rather than a merged flash image?)` : '';
  throw new FlashImageError('OTASIM_ERR_FLASH_CHIP', 'no 2nd-stage bootloader header (magic 0xe9 and a chip id booting from '
    + `that offset) at 0x1000, 0x0 or 0x2000${seen}; name the chip with --chip (${CHIP_NAMES.join(', ')})`);
}

/**
 * The flash size the 2nd-stage bootloader configures from its own header's spi_size (ESP-IDF
 * bootloader_<chip>.c update_flash_config: 1 MB << spi_size for 0..7; a value past a chip's largest
 * size falls back to 2 MB there, and above 7 here), which bounds every partition the table may name
 * (esp_partition_table_verify's chip_size). Null when no header is at `offset`.
 */
export function headerFlashSize(bytes: Uint8Array, offset: number): number | null {
  if (bytes[offset] !== ESP_IMAGE_HEADER_MAGIC || bytes.length < offset + IMAGE_HEADER_SIZE) return null;
  const spiSize = (bytes[offset + 3] ?? 0) >>> 4;
  return spiSize <= 7 ? MiB << spiSize : 2 * MiB;
}

/** Names a flash size as esptool spells it: 4MB, 512KB. */
export function flashSizeName(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB}MB` : `${bytes / 1024}KB`;
}
