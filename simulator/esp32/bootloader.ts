/**
 * The 2nd-stage bootloader's slot choice, rollback handling and load loop.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §2.8 and §7 (ESP-IDF bootloader_utility.c
 * bootloader_utility_get_selected_boot_partition, bootloader_utility_load_boot_image,
 * set_actual_ota_seq; bootloader_start.c), §4.5 for anti-rollback.
 *
 * It never throws for a bad flash: every outcome, a brick included, is a BootResult.
 */
import { EspError, OtasimError } from '../../protocol/errors.js';
import type { AppDesc } from './app-image.js';
import { CHIPS } from './chips.js';
import type { Efuse } from './efuse.js';
import type { ResolvedEsp32Config } from './esp32-config.js';
import type { Flash } from './flash.js';
import { memoOnBuffer } from './image-pool.js';
import {
  OtaImgState, activeOtaCopy, isEntryInvalid, isEntryValid, makeOtaEntry, otaSeqCrc, otaStateName,
  selectOtaCopy, slotForSeq, type OtaData,
} from './otadata.js';
import { readOtadata, writeOtadataCopy } from './otadata-store.js';
import { bootPartitions, type BootPartitions } from './partition-find.js';
import {
  PARTITION_TABLE_MAX_LEN, decodePartitionTable, type DecodedPartitionTable, type Partition,
} from './partition-table.js';
import { bootVerifyOptions } from './signature-policy.js';
import { readSlotAppDesc, verifySlot } from './slot-verify.js';

/** Bootloader partition indices (ESP-IDF bootloader_config.h); 0..15 are OTA slots. */
export const BOOT_INDEX = { FACTORY: -1, TEST: -2 } as const;

/** What the emulated bootloader acts on. */
export interface BootDevice {
  readonly flash: Flash;
  readonly efuse: Efuse;
  readonly config: ResolvedEsp32Config;
}

export interface BootOk {
  readonly ok: true;
  /** The app partition that was loaded. */
  readonly partition: Partition;
  /** −1 factory, −2 test, 0..15 the OTA slot. */
  readonly index: number;
  /** The loaded app's descriptor, or null when it has none. */
  readonly app: AppDesc | null;
  /** The partition table as read from flash. */
  readonly table: DecodedPartitionTable;
  /** What the bootloader logged, in order. */
  readonly log: readonly string[];
}

/** Why nothing runs: the device resets forever (or, for `power-lost`, is simply off). */
export type BootFailure =
  | 'bootloader-invalid'
  | 'partition-table-invalid'
  | 'otadata-unreadable'
  | 'no-bootable-app'
  | 'power-lost';

export interface BootFailed {
  readonly ok: false;
  readonly reason: BootFailure;
  readonly log: readonly string[];
}

export type BootResult = BootOk | BootFailed;

/**
 * Log lines repeat across a fleet (same table, same slots), so one copy of each is kept and shared
 * by every BootResult: a bounded, content-keyed cache of immutable strings.
 */
const lineCache = new Map<string, string>();
const LINE_CACHE_MAX = 4096;

/** Append `line` to `log`, sharing one copy of each distinct line. */
function note(log: string[], line: string): void {
  let shared = lineCache.get(line);
  if (shared === undefined) {
    shared = line;
    if (lineCache.size < LINE_CACHE_MAX) lineCache.set(line, line);
  }
  log.push(shared);
}

/** Run the bootloader once against the device's flash and eFuses. */
export function runBootloader(dev: BootDevice): BootResult {
  const log: string[] = [];
  try {
    return boot(dev, log);
  } catch (e) {
    if (e instanceof EspError && e.code === 'ESP_ERR_FLASH_OP_FAIL' && !dev.flash.powered) {
      note(log, `power lost: ${e.message}`);
      return { ok: false, reason: 'power-lost', log };
    }
    throw e;
  }
}

function boot(dev: BootDevice, log: string[]): BootResult {
  const { flash, config } = dev;
  const chip = CHIPS[config.chip];
  if (config.checkBootloaderImage) {
    const region = { offset: chip.bootloaderOffset, size: config.partitionTableOffset - chip.bootloaderOffset };
    // With Secure Boot v2 the ROM checks the bootloader's signature against the eFuse digests.
    const v = verifySlot(flash, region, bootVerifyOptions(config, true));
    if (!v.ok) return fail('bootloader-invalid', log, `ROM: invalid 2nd-stage bootloader at 0x${hex(region.offset)}: ${v.error.message}`);
  }
  const table = readTable(flash, config.partitionTableOffset);
  if (!table.ok) return fail('partition-table-invalid', log, `boot: failed to verify partition table: ${table.error.message}`);
  const bp = bootPartitions(table.value);
  const sel = selectBootIndex(dev, bp, log);
  if (sel === null) return fail('otadata-unreadable', log, 'boot: otadata partition is smaller than two sectors');
  return loadBootImage(dev, bp, table.value, sel, log);
}

interface Selection {
  readonly index: number;
  /** otadata was erased or CRC-bad: the first OTA boot writes copy 0 (set_actual_ota_seq). */
  readonly initial: boolean;
}

/** Step A: choose the index to start from; null when otadata cannot be read. */
function selectBootIndex(dev: BootDevice, bp: BootPartitions, log: string[]): Selection | null {
  const { flash, config } = dev;
  if (!bp.otadata) {
    note(log, 'boot: no otadata partition, defaulting to factory');
    return { index: BOOT_INDEX.FACTORY, initial: false };
  }
  const region = bp.otadata;
  let two: OtaData;
  try {
    two = readOtadata(flash, region);
  } catch (e) {
    if (e instanceof EspError && e.code === 'ESP_FAIL') return null;
    throw e;
  }
  if (config.rollback) {
    for (const i of [0, 1] as const) {
      if (two[i].state !== OtaImgState.PENDING_VERIFY) continue;
      // ESP-IDF: an app that never confirmed itself is aborted on the next boot.
      note(log, `boot: otadata[${i}] seq ${two[i].seq} was PENDING_VERIFY: marking ABORTED`);
      const aborted = { ...two[i], state: OtaImgState.ABORTED };
      writeOtadataCopy(flash, region, i, aborted);
      two = i === 0 ? [aborted, two[1]] : [two[0], aborted];
    }
  }
  const erasedOrBad = (i: 0 | 1): boolean => two[i].seq === 0xffffffff || two[i].crc !== otaSeqCrc(two[i].seq);
  const bothBlank = erasedOrBad(0) && erasedOrBad(1);
  if (config.antiRollback) {
    if (bothBlank) {
      note(log, 'boot: otadata is in its initial state');
      return { index: BOOT_INDEX.FACTORY, initial: true };
    }
    const eligible = (i: 0 | 1): boolean => {
      if (!isEntryValid(two[i]) || bp.appCount === 0) return false;
      const part = bp.ota[slotForSeq(two[i].seq, bp.appCount)];
      const desc = part ? readSlotAppDesc(flash, part) : null;
      return desc !== null && dev.efuse.checkSecureVersion(desc.secureVersion);
    };
    const active = selectOtaCopy(two, [eligible(0), eligible(1)]);
    if (active === -1) {
      note(log, 'boot: no otadata copy selects an app allowed by the eFuse secure_version; trying factory');
      return { index: BOOT_INDEX.FACTORY, initial: false };
    }
    const index = activate(dev, region, two, active, bp.appCount, log);
    if (two[active].state === OtaImgState.VALID) {
      const part = bp.ota[index];
      const desc = part ? readSlotAppDesc(flash, part) : null;
      if (desc) burn(dev.efuse, desc.secureVersion, log);
    }
    return { index, initial: false };
  }
  if ((isEntryInvalid(two[0]) && isEntryInvalid(two[1])) || bp.appCount === 0) {
    if (bp.factory) {
      note(log, 'boot: OTA sequence numbers both empty or invalid; defaulting to factory');
      return { index: BOOT_INDEX.FACTORY, initial: false };
    }
    note(log, 'boot: no factory image, trying OTA 0');
    return { index: 0, initial: bothBlank };
  }
  const active = activeOtaCopy(two);
  if (active !== -1) return { index: activate(dev, region, two, active, bp.appCount, log), initial: false };
  note(log, bp.factory ? 'boot: ota data partition invalid, falling back to factory'
    : 'boot: ota data partition invalid and no factory, will try all partitions');
  return { index: BOOT_INDEX.FACTORY, initial: false };
}

/** The slot the active copy selects; with rollback a NEW copy becomes PENDING_VERIFY. */
function activate(dev: BootDevice, region: Partition, two: OtaData, active: 0 | 1, appCount: number, log: string[]): number {
  const e = two[active];
  const index = slotForSeq(e.seq, appCount);
  note(log, `boot: otadata[${active}] seq ${e.seq} state ${otaStateName(e.state)} selects OTA slot ${index}`);
  if (dev.config.rollback && e.state === OtaImgState.NEW) {
    note(log, `boot: otadata[${active}] NEW → PENDING_VERIFY`);
    writeOtadataCopy(dev.flash, region, active, { ...e, state: OtaImgState.PENDING_VERIFY });
  }
  return index;
}

/** Step B: try start, start−1 … factory, then start+1 … app_count−1, then test. */
function loadBootImage(dev: BootDevice, bp: BootPartitions, table: DecodedPartitionTable, sel: Selection, log: string[]): BootResult {
  const order: number[] = [];
  if (sel.index === BOOT_INDEX.TEST) order.push(BOOT_INDEX.TEST);
  else {
    for (let i = sel.index; i >= BOOT_INDEX.FACTORY; i--) order.push(i);
    for (let i = sel.index + 1; i < bp.appCount; i++) order.push(i);
    order.push(BOOT_INDEX.TEST);
  }
  for (const index of order) {
    const part = index === BOOT_INDEX.FACTORY ? bp.factory : index === BOOT_INDEX.TEST ? bp.test : bp.ota[index];
    if (!part || part.size === 0) continue;
    const app = tryLoad(dev, part, log);
    if (app === undefined) continue;
    if (sel.initial && index >= 0) setActualOtaSeq(dev, bp, index, app, log);
    note(log, `boot: loaded app from partition '${part.label}' at 0x${hex(part.offset)}`);
    return { ok: true, partition: part, index, app, table, log };
  }
  return fail('no-bootable-app', log, 'boot: no bootable app partitions in the partition table');
}

/** Verify `part` (and its secure_version with anti-rollback); its descriptor, or undefined when it cannot boot. */
function tryLoad(dev: BootDevice, part: Partition, log: string[]): AppDesc | null | undefined {
  // Secure Boot v2 (CONFIG_SECURE_SIGNED_ON_BOOT): the signature replaces the plain hash (facts §3.7 step 9).
  const v = verifySlot(dev.flash, part, bootVerifyOptions(dev.config));
  if (!v.ok) {
    note(log, `boot: partition '${part.label}' does not hold a valid app (${v.error.code}): ${v.error.message}`);
    return undefined;
  }
  const app = v.info.app;
  if (dev.config.antiRollback && !dev.efuse.checkSecureVersion(app?.secureVersion ?? 0)) {
    note(log, `boot: partition '${part.label}' secure_version ${app?.secureVersion ?? 0} is below the eFuse's ${dev.efuse.readSecureVersion()}`);
    return undefined;
  }
  return app;
}

/** `set_actual_ota_seq`: on a first boot from erased otadata, record the slot as VALID in copy 0. */
function setActualOtaSeq(dev: BootDevice, bp: BootPartitions, index: number, app: AppDesc | null, log: string[]): void {
  const region = bp.otadata;
  if (!region) return;
  note(log, `boot: otadata initial state: writing otadata[0] seq ${index + 1} VALID`);
  writeOtadataCopy(dev.flash, region, 0, makeOtaEntry(index + 1, OtaImgState.VALID));
  if (dev.config.antiRollback && app) burn(dev.efuse, app.secureVersion, log);
}

function burn(efuse: Efuse, version: number, log: string[]): void {
  if (efuse.readSecureVersion() >= version) return;
  try {
    efuse.burnSecureVersion(version);
    note(log, `boot: eFuse secure_version raised to ${version}`);
  } catch (e) {
    if (!(e instanceof EspError)) throw e;
    note(log, `boot: could not raise eFuse secure_version to ${version} (${e.code})`);
  }
}

type TableRead = { readonly ok: true; readonly value: DecodedPartitionTable } | { readonly ok: false; readonly error: OtasimError };

/** Decode the table at `offset` (memoised when the bytes are a shared mapping). */
function readTable(flash: Flash, offset: number): TableRead {
  const len = Math.min(PARTITION_TABLE_MAX_LEN, flash.size - Math.min(offset, flash.size));
  const decode = (bytes: Uint8Array): TableRead => {
    try {
      return { ok: true, value: decodePartitionTable(bytes, { flashSize: flash.size }) };
    } catch (e) {
      if (e instanceof OtasimError) return { ok: false, error: e };
      throw e;
    }
  };
  if (len < PARTITION_TABLE_MAX_LEN) return decode(flash.read(offset, len));
  const m = flash.mappingAt(offset);
  if (m && m.data.length >= len) return memoOnBuffer(m.data, `table:${flash.size}`, () => decode(m.data.subarray(0, len)));
  return decode(flash.read(offset, len));
}

function fail(reason: BootFailure, log: string[], line: string): BootFailed {
  note(log, line);
  return { ok: false, reason, log };
}

function hex(n: number): string {
  return n.toString(16);
}
