/**
 * Per-chip facts the image format, the bootloader and the eFuses depend on.
 * Sources: esp_app_format.h `esp_chip_id_t`; esp_rom/<chip>/esp_rom_caps.h
 * (ESP_ROM_BOOTLOADER_OFFSET_FLASH); soc/<chip>/include/soc/soc.h (IROM/DROM);
 * bootloader/Kconfig.app_rollback (secure-version eFuse width).
 */

export const CHIP_NAMES = [
  'esp32', 'esp32s2', 'esp32c3', 'esp32s3', 'esp32c2', 'esp32c6', 'esp32h2', 'esp32p4',
  'esp32c61', 'esp32c5', 'esp32h21', 'esp32h4', 'esp32s31',
] as const;

export type ChipName = (typeof CHIP_NAMES)[number];

/** A half-open address range `[start, end)`. */
export interface AddrRange {
  readonly start: number;
  readonly end: number;
}

export interface Chip {
  readonly name: ChipName;
  /** `esp_image_header_t.chip_id`. */
  readonly chipId: number;
  /** Flash offset of the 2nd-stage bootloader. */
  readonly bootloaderOffset: number;
  /** Flash-mapped data and instruction ranges; `null` where otasim has not tabulated them. */
  readonly drom: AddrRange | null;
  readonly irom: AddrRange | null;
  /** Width in bits of the unary `secure_version` eFuse field. */
  readonly secureVersionBits: number;
  /** MMU page size in bytes used for flash-mapped segment congruence (default 64 KiB). */
  readonly mmuPageSize: number;
}

const KiB64 = 0x10000;

function chip(name: ChipName, chipId: number, bootloaderOffset: number, drom: AddrRange | null,
  irom: AddrRange | null, secureVersionBits = 16): Chip {
  return Object.freeze({ name, chipId, bootloaderOffset, drom, irom, secureVersionBits, mmuPageSize: KiB64 });
}

const r = (start: number, end: number): AddrRange => Object.freeze({ start, end });

export const CHIPS: Readonly<Record<ChipName, Chip>> = Object.freeze({
  esp32: chip('esp32', 0x0000, 0x1000, r(0x3f400000, 0x3f800000), r(0x400d0000, 0x40400000), 32),
  esp32s2: chip('esp32s2', 0x0002, 0x1000, r(0x3f000000, 0x3ff80000), r(0x40080000, 0x40800000)),
  esp32c3: chip('esp32c3', 0x0005, 0x0, r(0x3c000000, 0x3c800000), r(0x42000000, 0x42800000)),
  esp32s3: chip('esp32s3', 0x0009, 0x0, r(0x3c000000, 0x3e000000), r(0x42000000, 0x44000000)),
  esp32c2: chip('esp32c2', 0x000c, 0x0, null, null, 4),
  esp32c6: chip('esp32c6', 0x000d, 0x0, r(0x42800000, 0x43000000), r(0x42000000, 0x42800000)),
  esp32h2: chip('esp32h2', 0x0010, 0x0, null, null),
  esp32p4: chip('esp32p4', 0x0012, 0x2000, null, null),
  esp32c61: chip('esp32c61', 0x0014, 0x0, null, null),
  esp32c5: chip('esp32c5', 0x0017, 0x2000, null, null, 9),
  esp32h21: chip('esp32h21', 0x0019, 0x0, null, null),
  esp32h4: chip('esp32h4', 0x001c, 0x2000, null, null),
  esp32s31: chip('esp32s31', 0x0020, 0x2000, null, null),
});

/** The chip whose image `chip_id` is `id`, or `undefined`. */
export function chipById(id: number): Chip | undefined {
  return CHIP_NAMES.map((n) => CHIPS[n]).find((c) => c.chipId === id);
}

export function isChipName(s: string): s is ChipName {
  return (CHIP_NAMES as readonly string[]).includes(s);
}
