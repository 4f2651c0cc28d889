/**
 * The write half of the ESP-IDF OTA API: esp_ota_begin / write / end / abort, streaming straight
 * to flash. Facts: ../shared/reference/esp-idf-ota-facts.md §2.7, §9 (ESP-IDF
 * components/app_update/esp_ota_ops.c).
 */
import { ConfigError, EspError } from '../../protocol/errors.js';
import { ESP_IMAGE_HEADER_MAGIC } from './app-image.js';
import { idfAtLeast } from './esp32-config.js';
import { ERASED, SECTOR_SIZE, roundUpToSector } from './flash-geometry.js';
import { OtaImgState } from './otadata.js';
import { isOtaApp, partitionErase, partitionWrite, samePartition } from './partition-io.js';
import type { Partition } from './partition-table.js';
import { getStatePartition, invalidateInactiveOtadata, resolvePartition, type OtaContext } from './ota-select.js';
import { updateVerifyOptions } from './signature-policy.js';
import { rememberVerified, verifySlot } from './slot-verify.js';

/** `OTA_SIZE_UNKNOWN`: erase the whole partition in esp_ota_begin. */
export const OTA_SIZE_UNKNOWN = 0xffffffff;
/** `OTA_WITH_SEQUENTIAL_WRITES`: erase sector by sector as esp_ota_write reaches them. */
export const OTA_WITH_SEQUENTIAL_WRITES = 0xfffffffe;

/** One open `esp_ota_handle_t`. */
export interface OtaHandle {
  readonly handle: number;
  readonly partition: Partition;
  readonly sequential: boolean;
  /** Bytes written so far (`wrote_size`). */
  wrote: number;
}

/** The open handles of one device and its handle counter (ESP-IDF keeps these in RAM). */
export class OtaHandles {
  #last = 0;
  #open: Map<number, OtaHandle> | null = null;

  open(partition: Partition, sequential: boolean): OtaHandle {
    const h: OtaHandle = { handle: ++this.#last, partition, sequential, wrote: 0 };
    (this.#open ??= new Map()).set(h.handle, h);
    return h;
  }

  get(handle: number): OtaHandle | undefined {
    return this.#open?.get(handle);
  }

  close(handle: number): boolean {
    return this.#open?.delete(handle) ?? false;
  }

  /** True when a handle is open on `p`. */
  busy(p: Partition): boolean {
    for (const h of this.#open?.values() ?? []) if (samePartition(h.partition, p)) return true;
    return false;
  }

  /** Forget every handle (a reboot loses RAM); the counter restarts too. */
  reset(): void {
    this.#open = null;
    this.#last = 0;
  }
}

/**
 * `esp_ota_begin`: checks, then erases (whole partition for 0 / OTA_SIZE_UNKNOWN, roundup(size)
 * otherwise, nothing now for OTA_WITH_SEQUENTIAL_WRITES), then with rollback on v5.5+ erases the
 * inactive otadata copy. Returns the handle number (1, 2, 3, …).
 */
export function otaBegin(ctx: OtaContext, handles: OtaHandles, partition: Partition, imageSize: number): number {
  const p = resolvePartition(ctx, partition);
  if (!Number.isInteger(imageSize) || imageSize < 0 || imageSize > 0xffffffff) {
    throw new ConfigError(`image size ${imageSize} must be a u32 (or OTA_SIZE_UNKNOWN / OTA_WITH_SEQUENTIAL_WRITES)`);
  }
  if (p.type !== 0x00) {
    throw new EspError('ESP_ERR_NOT_SUPPORTED', `partition '${p.label}' is not an app; otasim emulates OTA of app partitions only`);
  }
  if (!isOtaApp(p)) throw new EspError('ESP_ERR_INVALID_ARG', `partition '${p.label}' is not an OTA slot (factory and test cannot be updated)`);
  if (samePartition(p, ctx.running)) {
    throw new EspError('ESP_ERR_OTA_PARTITION_CONFLICT', `partition '${p.label}' is the running app; update the other slot`);
  }
  if (ctx.config.rollback && isOtaApp(ctx.running) && stateOrNull(ctx, ctx.running) === OtaImgState.PENDING_VERIFY) {
    throw new EspError('ESP_ERR_OTA_ROLLBACK_INVALID_STATE',
      'the running app is PENDING_VERIFY; mark it valid (or invalid) before starting another update');
  }
  if (idfAtLeast(ctx.config.idfVersion, '6.1') && handles.busy(p)) {
    throw new EspError('ESP_ERR_OTA_ALREADY_IN_PROGRESS', `an update of '${p.label}' is already open`);
  }
  const sequential = imageSize === OTA_WITH_SEQUENTIAL_WRITES;
  if (imageSize === 0 || imageSize === OTA_SIZE_UNKNOWN) partitionErase(ctx.flash, p, 0, p.size);
  else if (!sequential) partitionErase(ctx.flash, p, 0, roundUpToSector(imageSize));
  const h = handles.open(p, sequential);
  if (ctx.config.rollback && idfAtLeast(ctx.config.idfVersion, '5.5')) {
    try {
      invalidateInactiveOtadata(ctx);
    } catch (e) {
      // ESP-IDF ignores this call's result; only a power cut (which ends everything) propagates.
      if (!ctx.flash.powered) throw e;
    }
  }
  return h.handle;
}

/**
 * `esp_ota_write`: in sequential mode erase the sectors this chunk reaches first; the image's
 * first byte must be 0xE9; then program the chunk at the current position. Streams: only the
 * chunk is held.
 */
export function otaWrite(ctx: OtaContext, handles: OtaHandles, handle: number, data: Uint8Array): void {
  const h = handles.get(handle);
  if (!h) throw new EspError('ESP_ERR_INVALID_ARG', `no open OTA handle ${handle}`);
  if (data.length === 0) return;
  if (h.sequential) eraseAhead(ctx, h, data.length);
  if (h.wrote === 0 && data[0] !== ESP_IMAGE_HEADER_MAGIC) {
    throw new EspError('ESP_ERR_OTA_VALIDATE_FAILED',
      `the image must start with magic 0xE9; got 0x${(data[0] ?? 0).toString(16)} (not an ESP app image?)`);
  }
  partitionWrite(ctx.flash, h.partition, h.wrote, data);
  h.wrote += data.length;
}

// ESP-IDF ≥ v5.2: last = (wrote + size − 1) / 4096; earlier releases used wrote + size and erased
// one sector more when a chunk ended on a sector boundary.
function eraseAhead(ctx: OtaContext, h: OtaHandle, size: number): void {
  const first = Math.floor(h.wrote / SECTOR_SIZE);
  const tail = idfAtLeast(ctx.config.idfVersion, '5.2') ? h.wrote + size - 1 : h.wrote + size;
  const last = Math.floor(tail / SECTOR_SIZE);
  const from = h.wrote % SECTOR_SIZE === 0 ? first : first + 1;
  if (from <= last) partitionErase(ctx.flash, h.partition, from * SECTOR_SIZE, (last - from + 1) * SECTOR_SIZE);
}

/**
 * `esp_ota_end`: nothing written → ESP_ERR_INVALID_ARG; then a full image verify of the
 * partition → ESP_ERR_OTA_VALIDATE_FAILED. The handle is freed in every case. A verified image
 * is adopted: the device maps the pool's shared copy and frees its own sectors.
 */
export function otaEnd(ctx: OtaContext, handles: OtaHandles, handle: number): void {
  const h = handles.get(handle);
  if (!h) throw new EspError('ESP_ERR_NOT_FOUND', `no open OTA handle ${handle}`);
  handles.close(handle);
  if (h.wrote === 0) throw new EspError('ESP_ERR_INVALID_ARG', 'esp_ota_end with nothing written');
  // CONFIG_SECURE_SIGNED_ON_UPDATE: the signature replaces the plain hash (signature-policy.ts).
  const opts = updateVerifyOptions(ctx);
  const v = verifySlot(ctx.flash, h.partition, opts);
  if (!v.ok) {
    throw new EspError('ESP_ERR_OTA_VALIDATE_FAILED', `image in '${h.partition.label}' failed verification: ${v.error.message}`,
      { cause: v.error });
  }
  // A signed image is shared with its signature sector, so later signed checks read it from the pool too.
  const len = v.info.signature === null ? v.info.size : roundUpToSector(v.info.size) + SECTOR_SIZE;
  adopt(ctx, h.partition, v.bytes.subarray(0, len), opts, v.info);
}

/** `esp_ota_abort`: free the handle; flash is left as it is. */
export function otaAbort(handles: OtaHandles, handle: number): void {
  if (!handles.close(handle)) throw new EspError('ESP_ERR_NOT_FOUND', `no open OTA handle ${handle}`);
}

/** Swap the device's own sectors holding a verified image for the pool's shared buffer. */
function adopt(ctx: OtaContext, p: Partition, image: Uint8Array, opts: Parameters<typeof rememberVerified>[2],
  info: Parameters<typeof rememberVerified>[3]): void {
  const m = ctx.flash.mappingAt(p.offset);
  if (m && image.buffer === m.data.buffer && image.byteOffset === m.data.byteOffset) return; // already shared
  const end = p.offset + image.length;
  const tail = ctx.flash.read(end, roundUpToSector(image.length) - image.length);
  if (!tail.every((b) => b === ERASED)) return; // mapping implies 0xFF to the sector's end
  const shared = ctx.pool ? ctx.pool.intern(image) : image.slice();
  ctx.flash.map(p.offset, shared);
  rememberVerified(shared, p, opts, info);
}

function stateOrNull(ctx: OtaContext, p: Partition): number | null {
  try {
    return getStatePartition(ctx, p);
  } catch (e) {
    if (e instanceof EspError) return null;
    throw e;
  }
}
