/**
 * Inspect a whole flash image written at 0x0 (`esptool merge_bin` output, or a `read_flash` dump)
 * as the device would meet it at power-on: the 2nd-stage bootloader, the partition table, both
 * otadata copies, every app partition, and what the real emulated bootloader would boot.
 *
 * Read-only: the bootloader runs on a copy-on-write Flash over the caller's bytes, which are never
 * written. Otadata rewrites it would make (PENDING_VERIFY → ABORTED, NEW → PENDING_VERIFY, the first
 * boot's seq) are reported as `wouldWrite`; the copies are reported as they are in the file.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §1, §2.5, §2.8, §3.7, §7.
 */
import { ConfigError, FlashImageError, OtasimError, PARTITION_ERR } from '../../protocol/errors.js';
import { inspectImage, type ImageInspection, type VerifyOptions } from './app-image.js';
import { runBootloader, type BootFailure } from './bootloader.js';
import { CHIPS, isChipName, type ChipName } from './chips.js';
import { Efuse } from './efuse.js';
import { resolveEsp32Config } from './esp32-config.js';
import { Flash } from './flash.js';
import { MAX_FLASH_SIZE, detectChip, flashSizeName, headerFlashSize } from './flash-detect.js';
import { otadataReport, otadataWrites, type OtadataReport } from './flash-inspect-otadata.js';
import { bootPartitions } from './partition-find.js';
import {
  PARTITION_TABLE_MAX_LEN, PARTITION_TABLE_OFFSET, decodePartitionTable, type DecodedPartitionTable, type Partition,
} from './partition-table.js';
import { bootVerifyOptions, type SecureBootConfig } from './signature-policy.js';
import type { SlotVerifyOptions } from './slot-verify.js';

export type { OtadataCopyReport, OtadataReport, OtadataWrite } from './flash-inspect-otadata.js';

export interface FlashInspectOptions {
  /** The chip. Default: the chip_id of the bootloader header at 0x1000, 0x0 or 0x2000. */
  readonly chip?: ChipName;
  /** `CONFIG_PARTITION_TABLE_OFFSET`, a multiple of 0x1000 above the bootloader. Default 0x8000. */
  readonly tableOffset?: number;
  /**
   * The flash size the bootloader assumes, in bytes (a multiple of 4096, at most 128 MiB); it bounds
   * the partitions. Default: the bootloader header's spi_size, as the bootloader itself reads it.
   */
  readonly flashSize?: number;
  /** The bootloader was built with `CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE`. Default true. */
  readonly rollback?: boolean;
  /** Secure Boot v2 eFuse key digests: the bootloader and the ROM check signatures. Default: off. */
  readonly secureBoot?: SecureBootConfig;
}

/** A failure as `{ code, message }`. */
export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
}

export interface FlashInspection {
  readonly chip: ChipName;
  readonly chipSource: 'option' | 'bootloader-header';
  /** Bytes in the file. */
  readonly fileSize: number;
  /** Bytes of flash the bootloader addresses; a shorter file reads 0xFF beyond its end. */
  readonly flashSize: number;
  readonly flashSizeSource: 'option' | 'bootloader-header' | 'file';
  readonly bootloader: { readonly offset: number; readonly size: number; readonly image: ImageInspection };
  readonly partitionTable: { readonly offset: number; readonly table: DecodedPartitionTable | null; readonly error: ErrorInfo | null };
  readonly otadata: OtadataReport;
  /** Every app-type partition, in table order, inspected as the bootloader verifies it. */
  readonly apps: ReadonlyArray<{ readonly partition: Partition; readonly image: ImageInspection }>;
  /** The partition the bootloader would boot, or null. */
  readonly boots: Partition | null;
  /** Why nothing boots, or null. */
  readonly bootFailure: BootFailure | null;
  /** The bootloader's log lines joined: why it boots what it boots, or why nothing. */
  readonly bootReason: string;
  readonly bootLog: readonly string[];
  /** Assumptions made, e.g. bytes beyond the flash size that were ignored. */
  readonly notes: readonly string[];
}

/** Inspect `bytes`, a flash image starting at address 0. Throws FlashImageError or ConfigError; never for bad contents. */
export function inspectFlash(bytes: Uint8Array, opts: FlashInspectOptions = {}): FlashInspection {
  if (bytes.length === 0) throw new FlashImageError('OTASIM_ERR_FLASH_EMPTY', 'the flash image is empty (0 bytes)');
  if (bytes.length > MAX_FLASH_SIZE) {
    throw new FlashImageError('OTASIM_ERR_FLASH_TOO_LARGE', `the flash image is ${bytes.length} bytes, more than the largest ESP32 flash (128 MiB)`);
  }
  if (opts.chip !== undefined && !isChipName(opts.chip)) throw new ConfigError(`unknown chip '${String(opts.chip)}'`);
  const chip = opts.chip ?? detectChip(bytes);
  const tableOffset = opts.tableOffset ?? PARTITION_TABLE_OFFSET;
  const blOffset = CHIPS[chip].bootloaderOffset;
  const notes: string[] = [];
  const { size: flashSize, source: flashSizeSource } = chooseFlashSize(bytes, blOffset, opts.flashSize, notes);
  if (!Number.isInteger(tableOffset) || tableOffset <= blOffset || tableOffset + PARTITION_TABLE_MAX_LEN > flashSize) {
    throw new ConfigError(`table offset 0x${tableOffset.toString(16)} must lie after ${chip}'s bootloader at 0x${blOffset.toString(16)} `
      + `and inside the ${flashSizeName(flashSize)} flash`);
  }
  const config = resolveEsp32Config({
    chip, rollback: opts.rollback ?? true, partitionTableOffset: tableOffset, checkBootloaderImage: true,
    ...(opts.secureBoot === undefined ? {} : { secureBoot: opts.secureBoot }),
  });
  const flash = Flash.create(flashSize, [{ addr: 0, data: bytes.subarray(0, Math.min(bytes.length, flashSize)) }]);

  const blSize = tableOffset - blOffset;
  const bootloader = { offset: blOffset, size: blSize, image: inspectImage(flash.read(blOffset, blSize), verifyOpts(bootVerifyOptions(config, true), blSize)) };
  const partitionTable = readTable(flash, tableOffset);
  if (partitionTable.error?.code === PARTITION_ERR.BOUNDS && flashSizeSource === 'bootloader-header') {
    notes.push(`the bootloader header's flash size (${flashSizeName(flashSize)}) bounds the table, and a device running this bootloader `
      + 'refuses it too; esptool --flash_size (or CONFIG_ESPTOOLPY_FLASHSIZE) writes the real size into the header, and the '
      + 'flash-size option (--flash-size) inspects as if it had');
  }
  const table = partitionTable.table;
  const bp = table === null ? null : bootPartitions(table);
  const otadata = otadataReport(flash, bp);
  const apps = (table?.partitions ?? []).filter((p) => p.type === 0x00).map((partition) => ({
    partition, image: inspectImage(flash.read(partition.offset, partition.size), verifyOpts(bootVerifyOptions(config), partition.size)),
  }));

  const r = runBootloader({ flash, efuse: Efuse.create(chip), config });
  const wouldWrite = otadataWrites(flash, bp, otadata);
  return {
    chip, chipSource: opts.chip === undefined ? 'bootloader-header' : 'option', fileSize: bytes.length, flashSize, flashSizeSource,
    bootloader, partitionTable, otadata: { ...otadata, wouldWrite }, apps,
    boots: r.ok ? r.partition : null, bootFailure: r.ok ? null : r.reason,
    bootReason: r.log.map((l) => l.replace(/^boot: /, '')).join('; '), bootLog: r.log, notes,
  };
}

function chooseFlashSize(bytes: Uint8Array, blOffset: number, given: number | undefined, notes: string[]):
  { size: number; source: FlashInspection['flashSizeSource'] } {
  let size: number;
  let source: FlashInspection['flashSizeSource'];
  if (given !== undefined) {
    if (!Number.isInteger(given) || given <= 0 || given % 0x1000 !== 0 || given > MAX_FLASH_SIZE) {
      throw new ConfigError(`flash size ${given} must be a positive multiple of 4096 bytes, at most 128 MiB`);
    }
    [size, source] = [given, 'option'];
  } else {
    const fromHeader = headerFlashSize(bytes, blOffset);
    if (fromHeader !== null) [size, source] = [fromHeader, 'bootloader-header'];
    else {
      size = 1024 * 1024;
      while (size < bytes.length) size *= 2;
      source = 'file';
      notes.push(`no bootloader header to read the flash size from: assuming ${flashSizeName(size)}, the smallest flash holding the file`);
    }
  }
  if (bytes.length > size) {
    notes.push(`the file is ${bytes.length} bytes but the flash is ${flashSizeName(size)}`
      + `${source === 'bootloader-header' ? ' (as the bootloader header says)' : ''}: bytes from 0x${size.toString(16)} on are beyond the bootloader's reach and ignored`);
  }
  return { size, source };
}

function verifyOpts(o: SlotVerifyOptions, partitionSize: number): VerifyOptions {
  return {
    chip: o.chip, partitionSize, bootloader: o.bootloader ?? false,
    ...(o.signature === undefined ? {} : { signature: o.signature }),
  };
}

function readTable(flash: Flash, offset: number): FlashInspection['partitionTable'] {
  try {
    return { offset, table: decodePartitionTable(flash.read(offset, PARTITION_TABLE_MAX_LEN), { flashSize: flash.size }), error: null };
  } catch (e) {
    if (!(e instanceof OtasimError)) throw e;
    return { offset, table: null, error: { code: e.code, message: e.message } };
  }
}
