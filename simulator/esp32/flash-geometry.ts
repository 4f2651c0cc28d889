/**
 * SPI flash geometry ESP-IDF assumes.
 * ESP-IDF spi_flash_mmap.h: SPI_FLASH_SEC_SIZE 4096; spi_flash_chip_generic.c: page_size 256.
 */

/** Erase sector size in bytes. */
export const SECTOR_SIZE = 0x1000;
/** Program page size in bytes. */
export const PAGE_SIZE = 0x100;
/** The value of an erased byte. */
export const ERASED = 0xff;

export function isSectorAligned(n: number): boolean {
  return n % SECTOR_SIZE === 0;
}

/** `n` rounded up to a whole number of sectors. */
export function roundUpToSector(n: number): number {
  return Math.ceil(n / SECTOR_SIZE) * SECTOR_SIZE;
}
