/**
 * Provisioning: what a factory (or `esptool write_flash`) puts on a device before its first boot,
 * planned once as a list of shared read-only mappings so that each device's flash costs only
 * what it later writes. Bytes land where ESP-IDF puts them: the bootloader at the chip's
 * bootloader offset, the table at CONFIG_PARTITION_TABLE_OFFSET, images at their partitions.
 */
import { ConfigError } from '../../protocol/errors.js';
import { CHIPS, type ChipName } from './chips.js';
import { Flash, type FlashMapping } from './flash.js';
import { ERASED, SECTOR_SIZE, roundUpToSector } from './flash-geometry.js';
import type { ImagePool } from './image-pool.js';
import { OTA_SELECT_ENTRY_SIZE, OtaImgState, encodeOtaEntry, makeOtaEntry } from './otadata.js';
import { findPartitionByLabel, otadataPartition } from './partition-find.js';
import { PARTITION_TABLE_OFFSET, encodePartitionTable, type PartitionTable } from './partition-table.js';

export interface ProvisionSpec {
  readonly chip: ChipName;
  /** Flash size in bytes (a multiple of 4096), e.g. 4 MiB. */
  readonly flashSize: number;
  readonly table: PartitionTable;
  /** Default 0x8000. */
  readonly partitionTableOffset?: number;
  /** 2nd-stage bootloader image, placed at the chip's bootloader offset. Default: blank. */
  readonly bootloader?: Uint8Array;
  /** App images by partition label (factory, ota_0, …). */
  readonly apps?: Readonly<Record<string, Uint8Array>>;
  /**
   * otadata contents: `'erased'` (default, the factory state), `{ slot, state }` (copy 0 selects
   * OTA slot `slot` with seq slot+1; state default VALID), or raw partition bytes such as
   * Arduino's boot_app0.bin.
   */
  readonly otadata?: 'erased' | { readonly slot: number; readonly state?: number } | Uint8Array;
  /** Pool the images are interned in, so every plan and device shares one buffer per image. */
  readonly pool: ImagePool;
}

/** An immutable recipe for a device's flash; build it once, instantiate it per device. */
export interface FlashPlan {
  readonly size: number;
  readonly mappings: readonly FlashMapping[];
}

/** Plan a device flash from `spec`. Misplaced or oversized contents → ConfigError. */
export function planFlash(spec: ProvisionSpec): FlashPlan {
  const tableOffset = spec.partitionTableOffset ?? PARTITION_TABLE_OFFSET;
  const maps: FlashMapping[] = [];
  const put = (addr: number, data: Uint8Array, what: string, limit: number): void => {
    if (data.length > limit) throw new ConfigError(`${what} is ${data.length} bytes; only ${limit} fit at 0x${addr.toString(16)}`);
    if (addr + data.length > spec.flashSize) throw new ConfigError(`${what} at 0x${addr.toString(16)} runs past the ${spec.flashSize}-byte flash`);
    if (data.length > 0) maps.push({ addr, data });
  };
  if (spec.bootloader) {
    const at = CHIPS[spec.chip].bootloaderOffset;
    put(at, spec.pool.intern(spec.bootloader), 'bootloader', tableOffset - at);
  }
  put(tableOffset, spec.pool.intern(encodePartitionTable(spec.table)), 'partition table', SECTOR_SIZE);
  for (const [label, image] of Object.entries(spec.apps ?? {})) {
    const p = findPartitionByLabel(spec.table, label);
    if (!p || p.type !== 0x00) throw new ConfigError(`no app partition labelled '${label}' in the table`);
    put(p.offset, spec.pool.intern(image), `image for '${label}'`, p.size);
  }
  const od = spec.otadata ?? 'erased';
  if (od !== 'erased') {
    const part = otadataPartition(spec.table);
    if (!part) throw new ConfigError('otadata contents given but the table has no otadata partition');
    if (od instanceof Uint8Array) {
      if (od.length > part.size) throw new ConfigError(`otadata bytes (${od.length}) exceed the partition (${part.size})`);
      for (let at = 0; at < od.length; at += SECTOR_SIZE) {
        const sector = trimErased(od.subarray(at, at + SECTOR_SIZE));
        if (sector.length > 0) put(part.offset + at, spec.pool.intern(sector), 'otadata', SECTOR_SIZE);
      }
    } else {
      if (!Number.isInteger(od.slot) || od.slot < 0 || od.slot > 15) throw new ConfigError(`otadata slot ${od.slot} must be 0..15`);
      const entry = encodeOtaEntry(makeOtaEntry(od.slot + 1, od.state ?? OtaImgState.VALID));
      put(part.offset, spec.pool.intern(entry.subarray(0, OTA_SELECT_ENTRY_SIZE)), 'otadata', SECTOR_SIZE);
    }
  }
  maps.sort((a, b) => a.addr - b.addr);
  for (let i = 1; i < maps.length; i++) {
    const prev = maps[i - 1]!;
    const cur = maps[i]!;
    if (prev.addr + roundUpToSector(prev.data.length) > cur.addr) {
      throw new ConfigError(`contents at 0x${prev.addr.toString(16)} and 0x${cur.addr.toString(16)} overlap`);
    }
  }
  Flash.create(spec.flashSize, maps); // validates size and placement once
  return Object.freeze({ size: spec.flashSize, mappings: Object.freeze(maps.map((m) => Object.freeze(m))) });
}

/** A new device flash holding the plan's contents; costs no copy of them. */
export function flashFromPlan(plan: FlashPlan): Flash {
  return Flash.create(plan.size, plan.mappings);
}

/** `bytes` without its trailing 0xFF (which erased flash reads anyway). */
function trimErased(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === ERASED) end--;
  return bytes.subarray(0, end);
}
