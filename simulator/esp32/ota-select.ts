/**
 * The selection half of the ESP-IDF OTA API: which partition boots next, app states, rollback.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §2.6, §2.7, §4.5 (ESP-IDF
 * components/app_update/esp_ota_ops.c).
 */
import { EspError } from '../../protocol/errors.js';
import type { AppDesc } from './app-image.js';
import type { Efuse } from './efuse.js';
import { idfAtLeast, type ResolvedEsp32Config } from './esp32-config.js';
import type { Flash } from './flash.js';
import type { ImagePool } from './image-pool.js';
import {
  OtaImgState, activeOtaCopy, isEntryInvalid, isEntryValid, isEntryWritten, otaSeqCrc, planSelectSlot,
  selectOtaCopy, slotForSeq, type OtaData, type OtaSelectEntry,
} from './otadata.js';
import { eraseOtadata, eraseOtadataCopy, readOtadata, writeOtadataCopy } from './otadata-store.js';
import { factoryPartition, otaSlot, otadataPartition, testPartition } from './partition-find.js';
import { isOtaApp, partitionErase, samePartition } from './partition-io.js';
import type { Partition, PartitionTable } from './partition-table.js';
import { updateVerifyOptions } from './signature-policy.js';
import { readSlotAppDesc, verifySlot } from './slot-verify.js';

/** What the OTA API of a running app works on. */
export interface OtaContext {
  readonly flash: Flash;
  readonly efuse: Efuse;
  readonly config: ResolvedEsp32Config;
  /** The app's view of the partition table. */
  readonly table: PartitionTable;
  /** The partition the running app was loaded from. */
  readonly running: Partition;
  /** The running app's descriptor. */
  readonly runningApp: AppDesc | null;
  /** Where verified images are shared; absent: each device keeps a private copy. */
  readonly pool: ImagePool | undefined;
}

/** This device's partition equal to `p` (same address, type, subtype, size); unknown → ESP_ERR_NOT_FOUND. */
export function resolvePartition(ctx: OtaContext, p: Partition): Partition {
  const mine = ctx.table.partitions.find((q) => samePartition(q, p) && q.size === p.size);
  if (!mine) throw new EspError('ESP_ERR_NOT_FOUND', `partition '${p.label}' at 0x${p.offset.toString(16)} is not in this device's table`);
  return mine;
}

/** `esp_ota_get_app_partition_count`: consecutive ota_N subtypes from ota_0. */
export function appPartitionCount(table: PartitionTable): number {
  let n = 0;
  while (n < 16 && otaSlot(table, n)) n++;
  return n;
}

interface Otadata {
  readonly part: Partition;
  readonly two: OtaData;
  readonly n: number;
}

function loadOtadata(ctx: OtaContext): Otadata | undefined {
  const part = otadataPartition(ctx.table);
  if (!part) return undefined;
  return { part, two: readOtadata(ctx.flash, part), n: appPartitionCount(ctx.table) };
}

function verifies(ctx: OtaContext, p: Partition): boolean {
  return verifySlot(ctx.flash, p, updateVerifyOptions(ctx)).ok;
}

/**
 * `esp_ota_set_boot_partition`: full verify (ESP_ERR_OTA_VALIDATE_FAILED), app type only,
 * factory → erase otadata, anti-rollback → ESP_ERR_OTA_SMALL_SEC_VER after erasing the
 * partition, else rewrite otadata to select it with state NEW (UNDEFINED without rollback).
 */
export function setBootPartition(ctx: OtaContext, partition: Partition): void {
  const p = resolvePartition(ctx, partition);
  // CONFIG_SECURE_SIGNED_ON_UPDATE: the signature replaces the plain hash (signature-policy.ts).
  const v = verifySlot(ctx.flash, p, updateVerifyOptions(ctx));
  if (!v.ok) {
    throw new EspError('ESP_ERR_OTA_VALIDATE_FAILED', `partition '${p.label}' does not hold a valid app: ${v.error.message}`, { cause: v.error });
  }
  if (p.type !== 0x00) throw new EspError('ESP_ERR_INVALID_ARG', `partition '${p.label}' is not an app partition`);
  const otadata = otadataPartition(ctx.table);
  if (p.subtype === 0x00) {
    if (!otadata) throw new EspError('ESP_ERR_NOT_FOUND', 'no otadata partition to erase');
    eraseOtadata(ctx.flash, otadata);
    return;
  }
  const secure = v.info.app?.secureVersion ?? 0;
  if (ctx.config.antiRollback && !ctx.efuse.checkSecureVersion(secure)) {
    partitionErase(ctx.flash, p, 0, p.size);
    throw new EspError('ESP_ERR_OTA_SMALL_SEC_VER',
      `app in '${p.label}' has secure_version ${secure}, below the eFuse's ${ctx.efuse.readSecureVersion()}; the partition was erased`);
  }
  rewriteOtaData(ctx, p);
}

// ESP-IDF esp_rewrite_ota_data.
function rewriteOtaData(ctx: OtaContext, p: Partition): void {
  const od = loadOtadata(ctx);
  if (!od) throw new EspError('ESP_ERR_NOT_FOUND', 'no otadata partition');
  const slot = p.subtype & 0x0f;
  if (slot >= od.n) throw new EspError('ESP_ERR_INVALID_ARG', `OTA slot ${slot} is beyond the ${od.n} consecutive OTA partitions`);
  const same = idfAtLeast(ctx.config.idfVersion, '6.0') ? 'in-place' : 'other-copy';
  const plan = planSelectSlot(od.two, slot, od.n, same);
  const state = ctx.config.rollback ? OtaImgState.NEW : OtaImgState.UNDEFINED;
  writeOtadataCopy(ctx.flash, od.part, plan.copy, { ...od.two[plan.copy], seq: plan.seq, state, crc: otaSeqCrc(plan.seq) });
}

/** `find_default_boot_partition`: factory, else the first OTA slot present, else test. */
function defaultBootPartition(table: PartitionTable): Partition | null {
  const factory = factoryPartition(table);
  if (factory) return factory;
  for (let i = 0; i < 16; i++) {
    const p = otaSlot(table, i);
    if (p) return p;
  }
  return testPartition(table) ?? null;
}

/** `esp_ota_get_boot_partition`: what otadata selects; null without otadata. */
export function getBootPartition(ctx: OtaContext): Partition | null {
  const od = loadOtadata(ctx);
  if (!od) return null;
  if (od.n === 0 || (isEntryInvalid(od.two[0]) && isEntryInvalid(od.two[1]))) return defaultBootPartition(ctx.table);
  const active = activeOtaCopy(od.two);
  if (active === -1) return defaultBootPartition(ctx.table);
  return otaSlot(ctx.table, slotForSeq(od.two[active].seq, od.n)) ?? null;
}

/** `esp_ota_get_next_update_partition`: the OTA slot after `start` (default: running), wrapping. */
export function getNextUpdatePartition(ctx: OtaContext, start?: Partition): Partition | null {
  const from = start ? resolvePartition(ctx, start) : ctx.running;
  let first: Partition | null = null;
  let nextIsResult = false;
  for (let i = 0; i < 16; i++) {
    const p = otaSlot(ctx.table, i);
    if (!p) continue;
    first ??= p;
    if (nextIsResult) return p;
    if (p.offset === from.offset) nextIsResult = true;
  }
  return first;
}

/**
 * `esp_ota_get_state_partition`: the state in the first copy (0, then 1) whose slot is `p`'s and
 * whose CRC is right. Not an OTA partition → ESP_ERR_NOT_SUPPORTED; none → ESP_ERR_NOT_FOUND.
 */
export function getStatePartition(ctx: OtaContext, partition: Partition): number {
  const p = resolvePartition(ctx, partition);
  if (!isOtaApp(p)) throw new EspError('ESP_ERR_NOT_SUPPORTED', `partition '${p.label}' is not an OTA app partition`);
  const od = loadOtadata(ctx);
  if (!od || od.n === 0) throw new EspError('ESP_ERR_NOT_FOUND', 'no otadata partition or no OTA app partitions');
  for (const e of od.two) {
    if (slotForSeq(e.seq, od.n) === (p.subtype & 0x0f) && e.crc === otaSeqCrc(e.seq)) return e.state;
  }
  throw new EspError('ESP_ERR_NOT_FOUND', `otadata has no entry for '${p.label}'`);
}

/**
 * `esp_ota_mark_app_valid_cancel_rollback`: set the active copy VALID (rewriting it with the same
 * seq) unless it already is; with anti-rollback, raise the eFuse to the running app's version.
 * No active copy → ESP_FAIL ("Running firmware is factory").
 */
export function markAppValidCancelRollback(ctx: OtaContext): void {
  const { od, active } = requireActive(ctx);
  const e = od.two[active];
  if (e.state === OtaImgState.VALID) return;
  writeOtadataCopy(ctx.flash, od.part, active, { ...e, state: OtaImgState.VALID });
  if (ctx.config.antiRollback) {
    const v = ctx.runningApp?.secureVersion ?? 0;
    if (ctx.efuse.readSecureVersion() < v) ctx.efuse.burnSecureVersion(v);
  }
}

/**
 * `esp_ota_mark_app_invalid_rollback`: set the active copy INVALID, if rollback is possible
 * (else ESP_ERR_OTA_ROLLBACK_FAILED, nothing written). No active copy → ESP_FAIL.
 */
export function markAppInvalidRollback(ctx: OtaContext): void {
  const { od, active } = requireActive(ctx);
  if (!checkRollbackIsPossible(ctx)) {
    throw new EspError('ESP_ERR_OTA_ROLLBACK_FAILED', 'there is no other valid app to roll back to');
  }
  writeOtadataCopy(ctx.flash, od.part, active, { ...od.two[active], state: OtaImgState.INVALID });
}

function requireActive(ctx: OtaContext): { od: Otadata; active: 0 | 1 } {
  const od = loadOtadata(ctx);
  const active = od ? activeOtaCopy(od.two) : -1;
  if (!od || od.n === 0 || active === -1) throw new EspError('ESP_FAIL', 'running firmware is factory: otadata selects no OTA app');
  return { od, active };
}

/** `esp_ota_check_rollback_is_possible`: is there another app the bootloader could fall back to? */
export function checkRollbackIsPossible(ctx: OtaContext): boolean {
  const od = loadOtadata(ctx);
  if (!od || od.n === 0) return false;
  const active = activeOtaCopy(od.two);
  if (active === -1) return false;
  const other = od.two[active === 0 ? 1 : 0];
  if (!isEntryValid(other)) {
    if (ctx.config.antiRollback) return false;
    const factory = factoryPartition(ctx.table);
    return !!factory && verifies(ctx, factory);
  }
  const p = otaSlot(ctx.table, slotForSeq(other.seq, od.n));
  if (!p || !verifies(ctx, p)) return false;
  if (!ctx.config.antiRollback) return true;
  const desc = readSlotAppDesc(ctx.flash, p);
  return !!desc && ctx.efuse.checkSecureVersion(desc.secureVersion);
}

/** `esp_ota_get_last_invalid_partition`: the older INVALID/ABORTED slot, if its image still verifies. */
export function getLastInvalidPartition(ctx: OtaContext): Partition | null {
  const od = loadOtadata(ctx);
  if (!od || od.n === 0) return null;
  const bad = (e: OtaSelectEntry): boolean =>
    isEntryWritten(e) && (e.state === OtaImgState.INVALID || e.state === OtaImgState.ABORTED);
  const i = selectOtaCopy(od.two, [bad(od.two[0]), bad(od.two[1])], false);
  if (i === -1) return null;
  const p = otaSlot(ctx.table, slotForSeq(od.two[i].seq, od.n));
  return p && verifies(ctx, p) ? p : null;
}

/** The inactive copy and its slot's partition, when it is written and not the running app. */
function lastBootSlot(ctx: OtaContext): { od: Otadata; copy: 0 | 1; part: Partition } | null {
  const od = loadOtadata(ctx);
  if (!od || od.n === 0) return null;
  const active = activeOtaCopy(od.two);
  if (active === -1) return null;
  const copy = active === 0 ? 1 : 0;
  if (!isEntryWritten(od.two[copy])) return null;
  const part = otaSlot(ctx.table, slotForSeq(od.two[copy].seq, od.n));
  if (!part || samePartition(part, ctx.running)) return null;
  return { od, copy, part };
}

/** `esp_ota_erase_last_boot_app_partition`: erase the previous app and its otadata copy; else ESP_FAIL. */
export function eraseLastBootAppPartition(ctx: OtaContext): void {
  const last = lastBootSlot(ctx);
  if (!last) throw new EspError('ESP_FAIL', 'there is no previous boot app partition to erase');
  partitionErase(ctx.flash, last.part, 0, last.part.size);
  eraseOtadataCopy(ctx.flash, last.od.part, last.copy);
}

/** `esp_ota_invalidate_inactive_ota_data_slot` (v5.5+): erase the inactive otadata copy; else ESP_FAIL. */
export function invalidateInactiveOtadata(ctx: OtaContext): void {
  const last = lastBootSlot(ctx);
  if (!last) throw new EspError('ESP_FAIL', 'no inactive otadata copy to invalidate');
  eraseOtadataCopy(ctx.flash, last.od.part, last.copy);
}
