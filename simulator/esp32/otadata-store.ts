/**
 * Reading and rewriting the otadata partition on a Flash.
 * ESP-IDF esp_ota_ops.c read_otadata / rewrite_ota_seq and bootloader_utility.c write_otadata:
 * a copy is rewritten by erasing its whole 4 KiB sector, then writing the 32-byte entry.
 */
import { EspError } from '../../protocol/errors.js';
import type { Flash } from './flash.js';
import { SECTOR_SIZE } from './flash-geometry.js';
import { OTA_SELECT_ENTRY_SIZE, decodeOtaEntry, encodeOtaEntry, type OtaData, type OtaSelectEntry } from './otadata.js';

/** Where the otadata partition is. */
export interface OtadataRegion {
  /** Absolute flash address (sector-aligned). */
  readonly offset: number;
  /** Bytes; at least 2 sectors. */
  readonly size: number;
}

/**
 * Both copies. A partition smaller than two sectors → ESP_FAIL, as the bootloader's
 * bootloader_common_read_otadata refuses it.
 */
export function readOtadata(flash: Flash, region: OtadataRegion): OtaData {
  if (region.size < 2 * SECTOR_SIZE) {
    throw new EspError('ESP_FAIL', `otadata partition is ${region.size} bytes; it must hold two 4096-byte sectors`);
  }
  return [
    decodeOtaEntry(flash.view(region.offset, OTA_SELECT_ENTRY_SIZE)),
    decodeOtaEntry(flash.view(region.offset + SECTOR_SIZE, OTA_SELECT_ENTRY_SIZE)),
  ];
}

/** Erase copy `copy`'s sector, then write `entry` at its start. Flash errors pass through. */
export function writeOtadataCopy(flash: Flash, region: OtadataRegion, copy: 0 | 1, entry: OtaSelectEntry): void {
  const addr = region.offset + copy * SECTOR_SIZE;
  flash.erase(addr, SECTOR_SIZE);
  flash.write(addr, encodeOtaEntry(entry));
}

/** Erase copy `copy`'s sector (ESP-IDF esp_ota_invalidate_inactive_ota_data_slot). */
export function eraseOtadataCopy(flash: Flash, region: OtadataRegion, copy: 0 | 1): void {
  flash.erase(region.offset + copy * SECTOR_SIZE, SECTOR_SIZE);
}

/** Erase both copies: the "factory state" (esp_ota_set_boot_partition(factory)). */
export function eraseOtadata(flash: Flash, region: OtadataRegion): void {
  flash.erase(region.offset, region.size - (region.size % SECTOR_SIZE));
}
