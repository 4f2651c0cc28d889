/**
 * Finding partitions, as the app (`esp_partition_find_first`) and the bootloader
 * (`bootloader_utility_load_partition_table`) do. Facts: esp-idf-ota-facts.md §1.6, §7.
 */
import type { DecodedPartitionTable, Partition, PartitionTable } from './partition-table.js';

const APP = 0x00;
const DATA = 0x01;
const FACTORY = 0x00;
const TEST = 0x20;
const OTA_0 = 0x10;
const OTADATA = 0x00;
/** Number of OTA app slots (`ota_0` … `ota_15`). */
const OTA_SLOTS = 16;

/** What to match; a missing field matches anything (ESP-IDF's `…_ANY`). */
export interface PartitionQuery {
  readonly type?: number;
  readonly subtype?: number;
  readonly label?: string;
}

const matches = (p: Partition, q: PartitionQuery): boolean =>
  (q.type === undefined || p.type === q.type) && (q.subtype === undefined || p.subtype === q.subtype)
  && (q.label === undefined || p.label === q.label);

/** Every partition matching `query`, in table order (`esp_partition_find`). */
export function findPartitions(table: PartitionTable, query: PartitionQuery): Partition[] {
  return table.partitions.filter((p) => matches(p, query));
}

/** The first partition matching `query` (`esp_partition_find_first`). */
export function findPartition(table: PartitionTable, query: PartitionQuery): Partition | undefined {
  return table.partitions.find((p) => matches(p, query));
}

/** The first partition labelled `label`. */
export function findPartitionByLabel(table: PartitionTable, label: string): Partition | undefined {
  return findPartition(table, { label });
}

/** The first app/factory partition. */
export function factoryPartition(table: PartitionTable): Partition | undefined {
  return findPartition(table, { type: APP, subtype: FACTORY });
}

/** The first app/test partition. */
export function testPartition(table: PartitionTable): Partition | undefined {
  return findPartition(table, { type: APP, subtype: TEST });
}

/** The first data/ota (otadata) partition. */
export function otadataPartition(table: PartitionTable): Partition | undefined {
  return findPartition(table, { type: DATA, subtype: OTADATA });
}

/** The first app partition with subtype `ota_<index>` (0x10 + index), index 0..15. */
export function otaSlot(table: PartitionTable, index: number): Partition | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= OTA_SLOTS) return undefined;
  return findPartition(table, { type: APP, subtype: OTA_0 + index });
}

/** `ota_0` … `ota_15` by index (subtype & 0xF); holes are undefined. First match per slot. */
export function otaSlots(table: PartitionTable): ReadonlyArray<Partition | undefined> {
  return Array.from({ length: OTA_SLOTS }, (_, i) => otaSlot(table, i));
}

/** The partitions the bootloader collects before choosing what to boot. */
export interface BootPartitions {
  readonly factory: Partition | undefined;
  readonly test: Partition | undefined;
  /** Indexed by `subtype & 0xF`; 16 entries, holes undefined. */
  readonly ota: ReadonlyArray<Partition | undefined>;
  /** `bs->app_count`: how many entries have `(subtype & 0xF0) == 0x10`, duplicates included. */
  readonly appCount: number;
  readonly otadata: Partition | undefined;
}

/**
 * Collect factory, test, the OTA slots and otadata the way ESP-IDF's
 * `bootloader_utility_load_partition_table` does: it reads slots 0..count−1 where count is the
 * number of partitions (so an MD5 entry in mid-table is read as an entry and the last partition is
 * missed), a later entry overwrites an earlier one of the same role, and `appCount` counts every
 * OTA entry.
 */
export function bootPartitions(table: PartitionTable | DecodedPartitionTable): BootPartitions {
  const slots = 'slots' in table ? table.slots.slice(0, table.partitions.length) : table.partitions;
  let factory: Partition | undefined;
  let test: Partition | undefined;
  let otadata: Partition | undefined;
  const ota: Array<Partition | undefined> = new Array<Partition | undefined>(OTA_SLOTS).fill(undefined);
  let appCount = 0;
  for (const p of slots) {
    if (p.type === APP && p.subtype === FACTORY) factory = p;
    else if (p.type === APP && p.subtype === TEST) test = p;
    else if (p.type === APP && (p.subtype & 0xf0) === OTA_0) {
      ota[p.subtype & 0x0f] = p;
      appCount++;
    } else if (p.type === DATA && p.subtype === OTADATA) otadata = p;
  }
  return { factory, test, ota, appCount, otadata };
}
