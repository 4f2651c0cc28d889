/**
 * Binary partition table: 32-byte `esp_partition_info_t` entries, the MD5 entry, 0xC00 bytes.
 * Facts: esp-idf-ota-facts.md §1.1–§1.5 (esp_flash_partitions.h, flash_partitions.c, gen_esp32part.py).
 */
import { createHash } from 'node:crypto';
import { PARTITION_ERR, PartitionTableError } from '../../protocol/errors.js';

/** Default `CONFIG_PARTITION_TABLE_OFFSET`. */
export const PARTITION_TABLE_OFFSET = 0x8000;
/** `ESP_PARTITION_TABLE_MAX_LEN`: bytes of table data in the table's sector. */
export const PARTITION_TABLE_MAX_LEN = 0xc00;
/** `ESP_PARTITION_TABLE_SIZE`: the table occupies one 4 KiB flash sector. */
export const PARTITION_TABLE_SIZE = 0x1000;
/** Bytes per entry (`sizeof(esp_partition_info_t)`). */
export const PARTITION_ENTRY_SIZE = 32;
/** `ESP_PARTITION_TABLE_MAX_ENTRIES`: slots the bootloader walks, terminator included. */
export const PARTITION_TABLE_MAX_ENTRIES = PARTITION_TABLE_MAX_LEN / PARTITION_ENTRY_SIZE;
/** Bytes in the label field. */
export const PARTITION_LABEL_LEN = 16;

/** `ESP_PARTITION_MAGIC` (bytes AA 50) and `ESP_PARTITION_MAGIC_MD5` (bytes EB EB), read as LE u16. */
export const PARTITION_MAGIC = 0x50aa;
export const PARTITION_MAGIC_MD5 = 0xebeb;

export const PART_TYPE = { APP: 0x00, DATA: 0x01, BOOTLOADER: 0x02, PARTITION_TABLE: 0x03 } as const;
export const APP_SUBTYPE = { FACTORY: 0x00, OTA_0: 0x10, OTA_MAX: 0x20, TEST: 0x20, TEE_0: 0x30, TEE_1: 0x31 } as const;
export const DATA_SUBTYPE = {
  OTA: 0x00, PHY: 0x01, NVS: 0x02, COREDUMP: 0x03, NVS_KEYS: 0x04, EFUSE: 0x05, UNDEFINED: 0x06,
  ESPHTTPD: 0x80, FAT: 0x81, SPIFFS: 0x82, LITTLEFS: 0x83, TEE_OTA: 0x90,
} as const;
export const BOOTLOADER_SUBTYPE = { PRIMARY: 0x00, OTA: 0x01, RECOVERY: 0x02 } as const;
export const PARTITION_TABLE_SUBTYPE = { PRIMARY: 0x00, OTA: 0x01 } as const;
/** `flags` bits. */
export const PART_FLAG = { ENCRYPTED: 1 << 0, READONLY: 1 << 1 } as const;

export interface Partition {
  /** Label: at most 16 bytes of UTF-8 (normally ASCII), no NUL. */
  readonly label: string;
  /** Type byte 0..0xFF (see {@link PART_TYPE}). */
  readonly type: number;
  /** Subtype byte 0..0xFF. */
  readonly subtype: number;
  /** Absolute flash address, bytes. */
  readonly offset: number;
  /** Bytes. */
  readonly size: number;
  /** u32 flag word (see {@link PART_FLAG}); unknown bits are kept. */
  readonly flags: number;
}

export interface PartitionTable {
  readonly partitions: readonly Partition[];
  /** Whether the binary carries (or should carry) the MD5 entry. */
  readonly md5: boolean;
}

/** What {@link decodePartitionTable} found, beyond the table itself. */
export interface DecodedPartitionTable extends PartitionTable {
  /** The MD5 entry's digest as 32 hex digits, or null when the table has none. */
  readonly md5Digest: string | null;
  /** Slot of the MD5 entry, or null. Partitions after it are counted by the bootloader but not
   * by the app's `esp_partition` loader, which stops at the MD5 entry. */
  readonly md5Slot: number | null;
  /** Slot of the end-of-table marker (1..95). */
  readonly endSlot: number;
  /** Every slot before the end marker read as an entry, the MD5 entry included: what the
   * bootloader's load loop indexes (see `bootPartitions`). */
  readonly slots: readonly Partition[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const md5 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('md5').update(bytes).digest());
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const utf8 = new TextDecoder('utf-8');

/**
 * Decode a binary table the way the bootloader's `esp_partition_table_verify` walks it
 * (ESP-IDF bootloader_support/src/flash_partitions.c), slot by slot up to 96:
 * - magic AA 50: a partition; with `flashSize`, `offset > flashSize` or `size > flashSize − offset`
 *   is refused (`ESP_ERR_INVALID_SIZE`);
 * - magic EB EB: the MD5 of every byte before it must equal bytes 16..31; a second one is refused;
 * - magic FF FF with type FF and subtype FF, in any slot but the first: end of table;
 * - anything else, or no end within 96 slots: refused (`ESP_ERR_INVALID_STATE`).
 *
 * `bin` may be the 0xC00-byte table, its whole 0x1000-byte sector, or shorter if the end
 * marker lies inside it. Labels decode as UTF-8 up to the first NUL.
 * @throws PartitionTableError with a code from `PARTITION_ERR` and the slot in `entry`.
 */
export function decodePartitionTable(bin: Uint8Array, opts: { flashSize?: number } = {}): DecodedPartitionTable {
  if (bin.length > PARTITION_TABLE_SIZE) {
    throw new PartitionTableError(`input is ${bin.length} bytes, more than the table's 0x1000-byte sector; `
      + `pass only the sector at the table offset`, { code: PARTITION_ERR.LENGTH });
  }
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const partitions: Partition[] = [];
  const slots: Partition[] = [];
  let md5Slot: number | null = null;
  let md5Digest: string | null = null;
  for (let slot = 0; slot < PARTITION_TABLE_MAX_ENTRIES; slot++) {
    const at = slot * PARTITION_ENTRY_SIZE;
    if (at + PARTITION_ENTRY_SIZE > bin.length) {
      throw new PartitionTableError(`input ends at byte ${hex(bin.length)}, inside entry ${slot}, before any `
        + `end-of-table marker; a table is 0xC00 bytes`, { code: PARTITION_ERR.TRUNCATED, entry: slot });
    }
    const magic = view.getUint16(at, true);
    if (magic === PARTITION_MAGIC) {
      const p = decodeEntry(bin, view, at);
      checkBounds(p, slot, opts.flashSize);
      partitions.push(p);
      slots.push(p);
    } else if (magic === PARTITION_MAGIC_MD5) {
      if (md5Slot !== null) {
        throw new PartitionTableError(`entry ${slot} is a second MD5 entry (the first is entry ${md5Slot}); only one `
          + `is allowed`, { code: PARTITION_ERR.MD5, entry: slot, esp: 'ESP_ERR_INVALID_STATE' });
      }
      const stored = bin.subarray(at + 16, at + 32);
      const computed = md5(bin.subarray(0, at));
      if (toHex(stored) !== toHex(computed)) {
        throw new PartitionTableError(`entry ${slot}: MD5 entry says ${toHex(stored)} but entries 0..${slot - 1} hash to `
          + `${toHex(computed)}; the table was altered after it was generated`,
        { code: PARTITION_ERR.MD5, entry: slot, esp: 'ESP_ERR_INVALID_STATE' });
      }
      md5Slot = slot;
      md5Digest = toHex(stored);
      slots.push(decodeEntry(bin, view, at));
    } else if (slot !== 0 && magic === 0xffff && bin[at + 2] === 0xff && bin[at + 3] === 0xff) {
      return { partitions, md5: md5Slot !== null, md5Digest, md5Slot, endSlot: slot, slots };
    } else {
      const why = slot === 0 && magic === 0xffff ? ' (the table is empty: entry 0 is erased)' : '';
      throw new PartitionTableError(`entry ${slot} has invalid magic ${hex(magic)}${why}; expected 0x50aa (AA 50), `
        + `the MD5 entry 0xebeb (EB EB) or the end marker FF FF FF FF`,
      { code: PARTITION_ERR.MAGIC, entry: slot, esp: 'ESP_ERR_INVALID_STATE' });
    }
  }
  throw new PartitionTableError(`no end-of-table marker in the ${PARTITION_TABLE_MAX_ENTRIES} slots of the table`,
    { code: PARTITION_ERR.UNTERMINATED, esp: 'ESP_ERR_INVALID_STATE' });
}

function decodeEntry(bin: Uint8Array, view: DataView, at: number): Partition {
  const labelField = bin.subarray(at + 12, at + 12 + PARTITION_LABEL_LEN);
  const nul = labelField.indexOf(0);
  return {
    label: utf8.decode(nul < 0 ? labelField : labelField.subarray(0, nul)),
    type: bin[at + 2] ?? 0,
    subtype: bin[at + 3] ?? 0,
    offset: view.getUint32(at + 4, true),
    size: view.getUint32(at + 8, true),
    flags: view.getUint32(at + 28, true),
  };
}

// ESP-IDF flash_partitions.c: `pos->offset > chip_size || pos->size > chip_size - pos->offset`.
function checkBounds(p: Partition, slot: number, flashSize: number | undefined): void {
  if (flashSize === undefined) return;
  if (p.offset > flashSize || p.size > flashSize - p.offset) {
    throw new PartitionTableError(`entry ${slot} ('${p.label}'): offset ${hex(p.offset)} size ${hex(p.size)} `
      + `exceeds the flash size ${hex(flashSize)}`, { code: PARTITION_ERR.BOUNDS, entry: slot, esp: 'ESP_ERR_INVALID_SIZE' });
  }
}

/** Most partitions a table holds: entries plus the MD5 entry must stay under 0xC00 bytes
 * (gen_esp32part.py `to_binary`), so 94 with the MD5 entry and 95 without. */
export function maxPartitions(md5: boolean): number {
  return PARTITION_TABLE_MAX_ENTRIES - 1 - (md5 ? 1 : 0);
}

/**
 * Encode to exactly 0xC00 bytes as gen_esp32part.py `to_binary` does: entries in order, the MD5
 * entry (EB EB, 14 × FF, MD5 of the entries) when `md5`, then 0xFF padding.
 * @throws PartitionTableError for too many partitions, a label over 16 bytes, a value outside its
 *   field, or an empty table without MD5 entry (all 0xFF, which the bootloader refuses).
 */
export function encodePartitionTable(table: PartitionTable): Uint8Array {
  const n = table.partitions.length;
  if (n > maxPartitions(table.md5)) {
    throw new PartitionTableError(`${n} partitions do not fit: the table holds at most ${maxPartitions(table.md5)}`
      + `${table.md5 ? ' with the MD5 entry' : ' without the MD5 entry'}`, { code: PARTITION_ERR.TOO_MANY });
  }
  if (n === 0 && !table.md5) {
    throw new PartitionTableError('an empty table without MD5 entry is all 0xFF, which the bootloader refuses; '
      + 'add a partition or the MD5 entry', { code: PARTITION_ERR.TABLE });
  }
  const out = new Uint8Array(PARTITION_TABLE_MAX_LEN).fill(0xff);
  const view = new DataView(out.buffer);
  table.partitions.forEach((p, i) => encodeEntry(out, view, i * PARTITION_ENTRY_SIZE, p, i));
  if (table.md5) {
    const at = n * PARTITION_ENTRY_SIZE;
    out[at] = 0xeb;
    out[at + 1] = 0xeb;
    out.set(md5(out.subarray(0, at)), at + 16);
  }
  return out;
}

function encodeEntry(out: Uint8Array, view: DataView, at: number, p: Partition, i: number): void {
  const where = `partition ${i} ('${p.label}')`;
  const label = new TextEncoder().encode(p.label);
  if (label.length > PARTITION_LABEL_LEN || label.includes(0)) {
    throw new PartitionTableError(`${where}: label is ${label.length} bytes${label.includes(0) ? ' with a NUL' : ''}; `
      + 'the field holds at most 16 bytes and no NUL', { code: PARTITION_ERR.LABEL, entry: i });
  }
  checkField(where, 'type', p.type, 0xff, i);
  checkField(where, 'subtype', p.subtype, 0xff, i);
  checkField(where, 'offset', p.offset, 0xffffffff, i);
  checkField(where, 'size', p.size, 0xffffffff, i);
  checkField(where, 'flags', p.flags, 0xffffffff, i);
  view.setUint16(at, PARTITION_MAGIC, true);
  out[at + 2] = p.type;
  out[at + 3] = p.subtype;
  view.setUint32(at + 4, p.offset, true);
  view.setUint32(at + 8, p.size, true);
  out.fill(0, at + 12, at + 28);
  out.set(label, at + 12);
  view.setUint32(at + 28, p.flags, true);
}

function checkField(where: string, field: string, value: number, max: number, i: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new PartitionTableError(`${where}: ${field} ${value} is outside 0..${hex(max)}`, { code: PARTITION_ERR.RANGE, entry: i });
  }
}

export {
  bootPartitions, factoryPartition, findPartition, findPartitionByLabel, findPartitions, otaSlot, otaSlots,
  otadataPartition, testPartition, type BootPartitions, type PartitionQuery,
} from './partition-find.js';
