/**
 * Partition-relative flash access with the checks `esp_partition_write` / `esp_partition_erase_range`
 * make (ESP-IDF esp_partition/partition_target.c; facts §6.2, §6.4).
 */
import { EspError } from '../../protocol/errors.js';
import type { Flash } from './flash.js';
import { isSectorAligned } from './flash-geometry.js';
import { PART_FLAG, type Partition } from './partition-table.js';

function checkBounds(p: Partition, offset: number, len: number, what: string): void {
  if (offset > p.size) {
    throw new EspError('ESP_ERR_INVALID_ARG', `${what} at offset ${offset} is outside partition '${p.label}' (${p.size} bytes)`);
  }
  if (offset + len > p.size) {
    throw new EspError('ESP_ERR_INVALID_SIZE', `${what} of ${len} bytes at offset ${offset} runs past the end of partition '${p.label}' (${p.size} bytes)`);
  }
  if (p.flags & PART_FLAG.READONLY) {
    throw new EspError('ESP_ERR_NOT_ALLOWED', `partition '${p.label}' is read-only`);
  }
}

/** `esp_partition_write`: program `data` at partition offset `offset`. */
export function partitionWrite(flash: Flash, p: Partition, offset: number, data: Uint8Array): void {
  checkBounds(p, offset, data.length, 'write');
  flash.write(p.offset + offset, data);
}

/** `esp_partition_erase_range`: offset not 4096-aligned → INVALID_ARG, size → INVALID_SIZE. */
export function partitionErase(flash: Flash, p: Partition, offset: number, len: number): void {
  if (!isSectorAligned(offset)) throw new EspError('ESP_ERR_INVALID_ARG', `erase offset ${offset} is not 4096-aligned`);
  if (!isSectorAligned(len)) throw new EspError('ESP_ERR_INVALID_SIZE', `erase size ${len} is not a multiple of 4096`);
  checkBounds(p, offset, len, 'erase');
  flash.erase(p.offset + offset, len);
}

/** True when `p` is an app partition with subtype ota_0..ota_15. */
export function isOtaApp(p: Partition): boolean {
  return p.type === 0x00 && (p.subtype & 0xf0) === 0x10;
}

/** Same partition (as ESP-IDF compares them: by address, type and subtype). */
export function samePartition(a: Partition | undefined | null, b: Partition | undefined | null): boolean {
  return !!a && !!b && a.offset === b.offset && a.type === b.type && a.subtype === b.subtype;
}
