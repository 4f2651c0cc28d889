/**
 * One emulated ESP32: chip + flash + eFuses + build configuration, booted by the emulated
 * bootloader and driven through the ESP-IDF OTA API (names in camelCase: `esp_ota_begin` →
 * `otaBegin`). Pure: no clock, no I/O; a power cut is injected through `flash.armPowerCut`.
 *
 * Life cycle: `Esp32.create(...)` gives a device that is off; `boot()` powers it on and runs the
 * bootloader. When flash power is cut during an API call, that call throws
 * EspError('ESP_ERR_FLASH_OP_FAIL') and the device is off until the next `boot()`.
 */
import { ConfigError } from '../../protocol/errors.js';
import type { AppDesc } from './app-image.js';
import { runBootloader, type BootResult } from './bootloader.js';
import { Efuse } from './efuse.js';
import { resolveEsp32Config, type Esp32BuildConfig, type ResolvedEsp32Config } from './esp32-config.js';
import type { Flash } from './flash.js';
import type { ImagePool } from './image-pool.js';
import { OTA_SIZE_UNKNOWN, OtaHandles, otaAbort, otaBegin, otaEnd, otaWrite } from './ota-ops.js';
import * as sel from './ota-select.js';
import { findPartition, type PartitionQuery } from './partition-find.js';
import type { Partition, PartitionTable } from './partition-table.js';

export interface Esp32Options {
  /** Build configuration (resolved once per object, so share one across a fleet). */
  readonly config: Esp32BuildConfig;
  /** The device's flash, e.g. from `flashFromPlan(plan)`. */
  readonly flash: Flash;
  /** Default: fresh eFuses for the chip. */
  readonly efuse?: Efuse;
  /** Where verified OTA images are shared across devices. Default: none (each keeps its own copy). */
  readonly pool?: ImagePool;
}

/** `'off'` before the first boot or after a power cut; `'bricked'` when the bootloader found nothing to run. */
export type Esp32State = 'off' | 'running' | 'bricked';

export class Esp32 {
  readonly config: ResolvedEsp32Config;
  readonly flash: Flash;
  readonly efuse: Efuse;
  readonly pool: ImagePool | undefined;
  #boot: BootResult | null = null;
  #ctx: sel.OtaContext | null = null;
  readonly #handles = new OtaHandles();

  private constructor(config: ResolvedEsp32Config, flash: Flash, efuse: Efuse, pool: ImagePool | undefined) {
    this.config = config;
    this.flash = flash;
    this.efuse = efuse;
    this.pool = pool;
  }

  /** A device that is powered off; call `boot()`. */
  static create(opts: Esp32Options): Esp32 {
    const config = resolveEsp32Config(opts.config);
    const efuse = opts.efuse ?? Efuse.create(config.chip);
    if (efuse.chip !== config.chip) throw new ConfigError(`eFuses are for ${efuse.chip}, the device is ${config.chip}`);
    return new Esp32(config, opts.flash, efuse, opts.pool);
  }

  get state(): Esp32State {
    if (!this.flash.powered || this.#boot === null) return 'off';
    return this.#ctx ? 'running' : 'bricked';
  }

  /** The last boot's result, or null before the first boot. */
  get lastBoot(): BootResult | null {
    return this.#boot;
  }

  /**
   * Power on (or reset) and run the bootloader. RAM is lost: open OTA handles are dropped.
   * Never throws for bad flash contents; a power cut armed on the flash may fire during the
   * bootloader's otadata rewrite, giving `{ ok: false, reason: 'power-lost' }`.
   */
  boot(): BootResult {
    this.flash.powerOn();
    this.#handles.reset();
    this.#ctx = null;
    const r = runBootloader(this);
    this.#boot = r;
    if (r.ok) this.#ctx = this.#context(r.partition, r.app, r.table);
    return r;
  }

  /** `esp_restart`: same as boot(). */
  reboot(): BootResult {
    return this.boot();
  }

  /** Cut power now (between flash operations). */
  powerOff(): void {
    this.flash.powerOff();
    this.#ctx = null;
    this.#handles.reset();
  }

  /** The app's view of the partition table (the running app's `esp_partition_find`). */
  get partitions(): readonly Partition[] {
    return this.#running().table.partitions;
  }

  /** `esp_partition_find_first`: the first partition matching `query`. */
  findPartition(query: PartitionQuery): Partition | undefined {
    return findPartition(this.#running().table, query);
  }

  /** `esp_ota_begin`. `imageSize`: bytes, OTA_SIZE_UNKNOWN (default) or OTA_WITH_SEQUENTIAL_WRITES. Returns the handle. */
  otaBegin(partition: Partition, imageSize: number = OTA_SIZE_UNKNOWN): number {
    return this.#guard((ctx) => otaBegin(ctx, this.#handles, partition, imageSize));
  }

  /** `esp_ota_write`: append `data` to the image being written through `handle`. */
  otaWrite(handle: number, data: Uint8Array): void {
    this.#guard((ctx) => otaWrite(ctx, this.#handles, handle, data));
  }

  /** `esp_ota_end`: close `handle` and verify the image (ESP_ERR_OTA_VALIDATE_FAILED). */
  otaEnd(handle: number): void {
    this.#guard((ctx) => otaEnd(ctx, this.#handles, handle));
  }

  /** `esp_ota_abort`: close `handle` without verifying. */
  otaAbort(handle: number): void {
    this.#guard(() => otaAbort(this.#handles, handle));
  }

  /** `esp_ota_set_boot_partition`. */
  setBootPartition(partition: Partition): void {
    this.#guard((ctx) => sel.setBootPartition(ctx, partition));
  }

  /** `esp_ota_get_running_partition`. */
  getRunningPartition(): Partition {
    return this.#running().running;
  }

  /** `esp_ota_get_boot_partition`: what otadata selects for the next boot; null without otadata. */
  getBootPartition(): Partition | null {
    return this.#guard((ctx) => sel.getBootPartition(ctx));
  }

  /** `esp_ota_get_next_update_partition(start)`; `start` defaults to the running partition. */
  getNextUpdatePartition(start?: Partition): Partition | null {
    return this.#guard((ctx) => sel.getNextUpdatePartition(ctx, start));
  }

  /** `esp_ota_get_state_partition`: an `OtaImgState` value. */
  getStatePartition(partition: Partition): number {
    return this.#guard((ctx) => sel.getStatePartition(ctx, partition));
  }

  /** `esp_ota_mark_app_valid_cancel_rollback` (+ eFuse burn with anti-rollback). */
  markAppValidCancelRollback(): void {
    this.#guard((ctx) => sel.markAppValidCancelRollback(ctx));
  }

  /** `esp_ota_mark_app_invalid_rollback` (v5.x+): mark invalid without rebooting. */
  markAppInvalidRollback(): void {
    this.#guard((ctx) => sel.markAppInvalidRollback(ctx));
  }

  /** `esp_ota_mark_app_invalid_rollback_and_reboot`: mark invalid, then reboot; the boot's result. */
  markAppInvalidRollbackAndReboot(): BootResult {
    this.markAppInvalidRollback();
    return this.boot();
  }

  /** `esp_ota_check_rollback_is_possible`. */
  checkRollbackIsPossible(): boolean {
    return this.#guard((ctx) => sel.checkRollbackIsPossible(ctx));
  }

  /** `esp_ota_get_last_invalid_partition`. */
  getLastInvalidPartition(): Partition | null {
    return this.#guard((ctx) => sel.getLastInvalidPartition(ctx));
  }

  /** `esp_ota_erase_last_boot_app_partition`. */
  eraseLastBootAppPartition(): void {
    this.#guard((ctx) => sel.eraseLastBootAppPartition(ctx));
  }

  #running(): sel.OtaContext {
    if (!this.#ctx || !this.flash.powered) {
      const why = this.#boot === null ? 'has not booted' : this.#boot.ok ? 'is powered off' : `did not boot (${this.#boot.reason})`;
      throw new ConfigError(`the device ${why}; call boot() first`, { code: 'OTASIM_ERR_DEVICE_OFF' });
    }
    return this.#ctx;
  }

  /** Run an API call on the running app; a power cut during it turns the device off. */
  #guard<T>(fn: (ctx: sel.OtaContext) => T): T {
    const ctx = this.#running();
    try {
      return fn(ctx);
    } catch (e) {
      if (!this.flash.powered) {
        this.#ctx = null;
        this.#handles.reset();
      }
      throw e;
    }
  }

  #context(running: Partition, runningApp: AppDesc | null, table: PartitionTable): sel.OtaContext {
    return { flash: this.flash, efuse: this.efuse, config: this.config, pool: this.pool, table, running, runningApp };
  }
}
