/**
 * The otadata partition: two 4 KiB sectors, each starting with one 32-byte
 * `esp_ota_select_entry_t`, and the pure rules ESP-IDF applies to them.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §2.1–§2.6, §8.1.
 */
import { crc32 } from 'node:zlib';
import { EspError } from '../../protocol/errors.js';

/** `esp_ota_img_states_t` (ESP-IDF esp_flash_partitions.h). */
export const OtaImgState = {
  NEW: 0x0,
  PENDING_VERIFY: 0x1,
  VALID: 0x2,
  INVALID: 0x3,
  ABORTED: 0x4,
  UNDEFINED: 0xffffffff,
} as const;

export type OtaImgStateName = keyof typeof OtaImgState;

/** Size of one `esp_ota_select_entry_t`. */
export const OTA_SELECT_ENTRY_SIZE = 32;
/** `ota_seq` of an erased copy. */
export const SEQ_ERASED = 0xffffffff;
const LABEL_SIZE = 20;

/** One decoded `esp_ota_select_entry_t` (all fields u32 LE except the 20-byte label). */
export interface OtaSelectEntry {
  readonly seq: number;
  /** `seq_label`: unused by ESP-IDF, kept as read (normally 0xFF × 20). */
  readonly label: Uint8Array;
  readonly state: number;
  /** The stored CRC, which covers `seq` only. */
  readonly crc: number;
}

/** The two copies, index 0 = sector 0. */
export type OtaData = readonly [OtaSelectEntry, OtaSelectEntry];

/**
 * CRC of `ota_seq`: `esp_rom_crc32_le(UINT32_MAX, &seq, 4)` (ESP-IDF bootloader_common_loader.c
 * bootloader_common_ota_select_crc), which equals Python `binascii.crc32(le32(seq), 0xFFFFFFFF)`.
 */
export function otaSeqCrc(seq: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, seq >>> 0, true);
  return crc32(b, 0xffffffff) >>> 0;
}

/** A fresh entry for `seq` and `state` with an erased label and the correct CRC. */
export function makeOtaEntry(seq: number, state: number, label?: Uint8Array): OtaSelectEntry {
  return { seq: seq >>> 0, label: label ?? new Uint8Array(LABEL_SIZE).fill(0xff), state: state >>> 0, crc: otaSeqCrc(seq) };
}

/** Decode the first 32 bytes of `bytes`. Fewer than 32 bytes → ESP_ERR_INVALID_SIZE. */
export function decodeOtaEntry(bytes: Uint8Array): OtaSelectEntry {
  if (bytes.length < OTA_SELECT_ENTRY_SIZE) {
    throw new EspError('ESP_ERR_INVALID_SIZE', `an otadata entry is 32 bytes; got ${bytes.length}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, OTA_SELECT_ENTRY_SIZE);
  return {
    seq: dv.getUint32(0, true),
    label: bytes.slice(4, 4 + LABEL_SIZE),
    state: dv.getUint32(24, true),
    crc: dv.getUint32(28, true),
  };
}

/** Encode to the 32 on-flash bytes (the stored `crc` is written as is). */
export function encodeOtaEntry(e: OtaSelectEntry): Uint8Array {
  const out = new Uint8Array(OTA_SELECT_ENTRY_SIZE).fill(0xff);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, e.seq >>> 0, true);
  out.set(e.label.subarray(0, LABEL_SIZE), 4);
  dv.setUint32(24, e.state >>> 0, true);
  dv.setUint32(28, e.crc >>> 0, true);
  return out;
}

/**
 * `bootloader_common_ota_select_invalid`: erased seq, or state INVALID/ABORTED. Ignores the CRC.
 */
export function isEntryInvalid(e: OtaSelectEntry): boolean {
  return e.seq === SEQ_ERASED || e.state === OtaImgState.INVALID || e.state === OtaImgState.ABORTED;
}

/** `bootloader_common_ota_select_valid`: not invalid and the CRC matches. */
export function isEntryValid(e: OtaSelectEntry): boolean {
  return !isEntryInvalid(e) && e.crc === otaSeqCrc(e.seq);
}

/** The copy's CRC matches and its seq is not erased (the app's "looks written" test). */
export function isEntryWritten(e: OtaSelectEntry): boolean {
  return e.seq !== SEQ_ERASED && e.crc === otaSeqCrc(e.seq);
}

/**
 * `bootloader_common_select_otadata`: among copies whose flag is set, the larger seq (smaller when
 * `max` is false), unsigned; a tie goes to copy 0. −1 when no flag is set.
 */
export function selectOtaCopy(two: OtaData, flags: readonly [boolean, boolean], max = true): 0 | 1 | -1 {
  if (flags[0] && flags[1]) {
    const a = two[0].seq >>> 0;
    const b = two[1].seq >>> 0;
    if (a === b) return 0;
    return (max ? a > b : a < b) ? 0 : 1;
  }
  if (flags[0]) return 0;
  if (flags[1]) return 1;
  return -1;
}

/** `bootloader_common_get_active_otadata`: the valid copy with the larger seq, or −1. */
export function activeOtaCopy(two: OtaData): 0 | 1 | -1 {
  return selectOtaCopy(two, [isEntryValid(two[0]), isEntryValid(two[1])]);
}

/** The OTA slot an entry selects: (seq − 1) mod n in uint32 arithmetic, so seq 0 wraps. */
export function slotForSeq(seq: number, appCount: number): number {
  if (!Number.isInteger(appCount) || appCount <= 0) {
    throw new EspError('ESP_ERR_INVALID_ARG', `app partition count must be positive, got ${appCount}`);
  }
  return ((seq - 1) >>> 0) % appCount;
}

/**
 * The seq `esp_rewrite_ota_data` writes to select `slot` when the active seq is `cur`: the smallest
 * ((slot + 1) mod n) + i·n, i ≥ 0, that is ≥ cur (ESP-IDF esp_ota_ops.c).
 */
export function nextOtaSeq(cur: number, slot: number, appCount: number): number {
  const base = (slot + 1) % appCount;
  const c = cur >>> 0;
  if (c <= base) return base;
  return base + Math.ceil((c - base) / appCount) * appCount;
}

/**
 * Which `set_boot_partition` behaviour to follow when re-selecting the active slot:
 * `'other-copy'` (ESP-IDF ≤ v5.5: the same seq goes to the other copy) or `'in-place'`
 * (v6.0+, commit 996a9ca25fc: the active copy is rewritten with the same seq).
 */
export type SameSlotRewrite = 'other-copy' | 'in-place';

/** The copy to erase-and-write and the seq to put there. */
export interface OtadataWritePlan {
  readonly copy: 0 | 1;
  readonly seq: number;
}

/** `esp_rewrite_ota_data`'s choice of copy and seq for selecting `slot` (facts §2.6). */
export function planSelectSlot(two: OtaData, slot: number, appCount: number, same: SameSlotRewrite): OtadataWritePlan {
  const active = activeOtaCopy(two);
  if (active === -1) return { copy: 0, seq: slot + 1 };
  const cur = two[active].seq;
  if (same === 'in-place' && slotForSeq(cur, appCount) === slot) return { copy: active, seq: cur };
  return { copy: active === 0 ? 1 : 0, seq: nextOtaSeq(cur, slot, appCount) };
}

/** Name of a state value, or its hex when ESP-IDF has no name for it. */
export function otaStateName(state: number): string {
  for (const [name, v] of Object.entries(OtaImgState)) if (v === state >>> 0) return name;
  return `0x${(state >>> 0).toString(16)}`;
}
