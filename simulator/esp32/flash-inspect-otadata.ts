/**
 * The otadata part of a flash inspection: both copies as the file holds them, which one is active
 * and which slot each selects, and the rewrites the bootloader would make.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §2.2–§2.5, §2.8 (bootloader_common_loader.c).
 */
import { OtasimError, PARTITION_ERR } from '../../protocol/errors.js';
import type { Flash } from './flash.js';
import { SECTOR_SIZE } from './flash-geometry.js';
import type { ErrorInfo } from './flash-inspect.js';
import { SEQ_ERASED, activeOtaCopy, isEntryValid, otaSeqCrc, otaStateName, slotForSeq, type OtaSelectEntry } from './otadata.js';
import { readOtadata } from './otadata-store.js';
import type { BootPartitions } from './partition-find.js';
import type { Partition } from './partition-table.js';

export interface OtadataCopyReport {
  readonly copy: 0 | 1;
  /** Flash address of the copy's 32-byte entry. */
  readonly offset: number;
  readonly seq: number;
  readonly state: number;
  /** `NEW`, `PENDING_VERIFY`, `VALID`, `INVALID`, `ABORTED`, `UNDEFINED`, or the hex of another value. */
  readonly stateName: string;
  readonly crc: number;
  /** The stored CRC matches the seq. */
  readonly crcOk: boolean;
  /** `bootloader_common_ota_select_valid`: seq written, state not INVALID/ABORTED, CRC right. */
  readonly valid: boolean;
  /** The OTA slot it names, (seq − 1) mod app_count; null when erased or there are no OTA slots. */
  readonly slot: number | null;
  /** The label of the partition in that slot, or null. */
  readonly selects: string | null;
}

/** A copy the bootloader would rewrite (inspect writes nothing). */
export interface OtadataWrite {
  readonly copy: 0 | 1;
  readonly before: { readonly seq: number; readonly state: string };
  readonly after: { readonly seq: number; readonly state: string };
}

export interface OtadataReport {
  /** The otadata partition the bootloader uses, or null when the table has none (it then boots factory). */
  readonly partition: Partition | null;
  /** Both copies as the file holds them; empty when there is no readable otadata. */
  readonly copies: readonly OtadataCopyReport[];
  /** The active copy (`bootloader_common_get_active_otadata`), or null. */
  readonly active: 0 | 1 | null;
  readonly error: ErrorInfo | null;
  readonly wouldWrite: readonly OtadataWrite[];
}

/** Both copies as they are now. */
export function otadataReport(flash: Flash, bp: BootPartitions | null): Omit<OtadataReport, 'wouldWrite'> {
  if (bp === null) {
    return { partition: null, copies: [], active: null, error: { code: PARTITION_ERR.TABLE, message: 'no valid partition table to find otadata in' } };
  }
  const part = bp.otadata ?? null;
  if (part === null) return { partition: null, copies: [], active: null, error: null };
  try {
    const two = readOtadata(flash, part);
    const active = activeOtaCopy(two);
    const copies = ([0, 1] as const).map((copy) => copyReport(copy, part.offset + copy * SECTOR_SIZE, two[copy], bp));
    return { partition: part, copies, active: active === -1 ? null : active, error: null };
  } catch (e) {
    if (!(e instanceof OtasimError)) throw e;
    return { partition: part, copies: [], active: null, error: { code: e.code, message: e.message } };
  }
}

function copyReport(copy: 0 | 1, offset: number, e: OtaSelectEntry, bp: BootPartitions): OtadataCopyReport {
  const slot = e.seq === SEQ_ERASED || bp.appCount === 0 ? null : slotForSeq(e.seq, bp.appCount);
  return {
    copy, offset, seq: e.seq, state: e.state, stateName: otaStateName(e.state), crc: e.crc, crcOk: e.crc === otaSeqCrc(e.seq),
    valid: isEntryValid(e), slot, selects: slot === null ? null : (bp.ota[slot]?.label ?? null),
  };
}

/** The copies that differ on `flash` now from `before` (read after the bootloader ran). */
export function otadataWrites(flash: Flash, bp: BootPartitions | null, before: Omit<OtadataReport, 'wouldWrite'>): OtadataWrite[] {
  if (bp === null || before.partition === null || before.copies.length === 0) return [];
  const now = otadataReport(flash, bp).copies;
  const out: OtadataWrite[] = [];
  for (const b of before.copies) {
    const a = now[b.copy];
    if (!a || (a.seq === b.seq && a.state === b.state && a.crc === b.crc)) continue;
    out.push({ copy: b.copy, before: { seq: b.seq, state: b.stateName }, after: { seq: a.seq, state: a.stateName } });
  }
  return out;
}
