/**
 * Binary partition table: 32-byte `esp_partition_info_t` entries, the MD5 entry, 0xC00 bytes.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §1 (esp_flash_partitions.h, gen_esp32part.py).
 *
 * CONTRACT STUB — to be implemented (owner: partition-table work).
 */
import { PartitionTableError } from '../../protocol/errors.js';

/** Default `CONFIG_PARTITION_TABLE_OFFSET`. */
export const PARTITION_TABLE_OFFSET = 0x8000;
/** `ESP_PARTITION_TABLE_MAX_LEN`: bytes of table data in the table's sector. */
export const PARTITION_TABLE_MAX_LEN = 0xc00;

export const PART_TYPE = { APP: 0x00, DATA: 0x01, BOOTLOADER: 0x02, PARTITION_TABLE: 0x03 } as const;
export const APP_SUBTYPE = { FACTORY: 0x00, OTA_0: 0x10, OTA_MAX: 0x20, TEST: 0x20 } as const;
export const DATA_SUBTYPE = { OTA: 0x00, PHY: 0x01, NVS: 0x02, COREDUMP: 0x03, NVS_KEYS: 0x04, EFUSE: 0x05, UNDEFINED: 0x06 } as const;
/** `flags` bits. */
export const PART_FLAG = { ENCRYPTED: 1 << 0, READONLY: 1 << 1 } as const;

export interface Partition {
  /** ASCII label, at most 16 bytes. */
  readonly label: string;
  readonly type: number;
  readonly subtype: number;
  /** Absolute flash address. */
  readonly offset: number;
  /** Bytes. */
  readonly size: number;
  readonly flags: number;
}

export interface PartitionTable {
  readonly partitions: readonly Partition[];
  /** Whether the binary carries (or should carry) the MD5 entry. */
  readonly md5: boolean;
}

/** Decode a binary table the way the bootloader's `esp_partition_table_verify` walks it. */
export function decodePartitionTable(_bin: Uint8Array, _opts: { flashSize?: number } = {}): PartitionTable {
  throw new PartitionTableError('not implemented');
}

/** Encode to exactly 0xC00 bytes: entries, MD5 entry (when `md5`), 0xFF padding. */
export function encodePartitionTable(_table: PartitionTable): Uint8Array {
  throw new PartitionTableError('not implemented');
}
