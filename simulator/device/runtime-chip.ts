/**
 * The runtime's hands on the emulated chip: it turns the machine's `boot` and `ota` effects into
 * `Esp32` calls (the ESP-IDF OTA API) and their outcomes into results the runtime feeds back as
 * events. It owns the one open OTA handle and the slot being written, and it arms the power-cut
 * fault for the phase it names (issue 4 "Power loss": download, write, erase, otadata, reboot).
 *
 * A call that loses power (EspError ESP_ERR_FLASH_OP_FAIL with the flash unpowered) comes back as
 * `power-lost`, never as an error: the device is simply off.
 */
import { EspError } from '../../protocol/errors.js';
import { CHIPS, OtaImgState, otaStateName, type BootResult, type Esp32, type Partition } from '../esp32/index.js';
import type { BootInfo, OpError, OtaImgStateName, PowerCutPhase } from './types.js';

/** What a chip call came to. */
export type ChipOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'error'; readonly error: OpError }
  | { readonly kind: 'power-lost' };

const OK: ChipOutcome = Object.freeze({ kind: 'ok' });

/** A power cut waiting for its phase to start. */
interface ArmedCut {
  readonly phase: PowerCutPhase;
  readonly atByte: number;
}

function opError(e: unknown): OpError {
  if (e instanceof EspError) return { code: e.code, message: e.message };
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return { code: e.code, message: e.message };
  return { code: 'ESP_FAIL', message: e instanceof Error ? e.message : String(e) };
}

const KNOWN_STATES = new Set<string>(Object.keys(OtaImgState));

/** The BootInfo the app learns from a boot: what runs, its descriptor, its otadata state. */
export function bootInfo(chip: Esp32, r: BootResult): BootInfo {
  if (!r.ok) return { ok: false, reason: r.reason };
  let otaState: OtaImgStateName = 'UNDEFINED';
  try {
    const name = otaStateName(chip.getStatePartition(r.partition));
    if (KNOWN_STATES.has(name)) otaState = name as OtaImgStateName;
  } catch {
    // Factory app or no otadata entry: esp_ota_get_state_partition fails; the state is UNDEFINED.
  }
  const next = nextSlot(chip);
  return {
    ok: true,
    version: r.app?.version ?? 'unknown',
    secureVersion: r.app?.secureVersion ?? 0,
    partition: r.partition.label,
    otaState,
    efuseSecureVersion: chip.efuse.readSecureVersion(),
    chipId: CHIPS[chip.config.chip].chipId,
    nextSlot: next?.label ?? null,
    nextSlotBytes: next?.size ?? null,
    rollback: chip.config.rollback,
  };
}

/** One device's chip, with its open OTA handle and any armed power cut. */
export class ChipDriver {
  readonly chip: Esp32;
  #handle: number | null = null;
  #slot: Partition | null = null;
  #cut: ArmedCut | null = null;

  constructor(chip: Esp32) {
    this.chip = chip;
  }

  /** The slot of the open (or just finished) update, or null. */
  get slot(): Partition | null {
    return this.#slot;
  }

  /** True while `esp_ota_begin` has given a handle that is not ended or aborted. */
  get open(): boolean {
    return this.#handle !== null;
  }

  /** Arm a power cut for `phase`; it takes effect when that phase starts. `download` cuts are the transfer's business. */
  arm(phase: PowerCutPhase, atByte: number): void {
    this.#cut = { phase, atByte };
  }

  /** Take the armed `download` cut, if that is the one armed. */
  takeDownloadCut(): number | null {
    if (this.#cut?.phase !== 'download') return null;
    const at = this.#cut.atByte;
    this.#cut = null;
    return at;
  }

  #fire(phase: PowerCutPhase): void {
    if (this.#cut?.phase !== phase) return;
    this.chip.flash.cutPowerAfter(this.#cut.atByte);
    this.#cut = null;
  }

  #call(fn: () => void): ChipOutcome {
    try {
      fn();
      return OK;
    } catch (e) {
      if (this.chip.state === 'off') return this.#lost();
      return { kind: 'error', error: opError(e) };
    }
  }

  #lost(): ChipOutcome {
    this.#handle = null;
    return { kind: 'power-lost' };
  }

  /** Power the chip off now (a `download`-phase cut, or the plug pulled). RAM and the handle are lost. */
  powerOff(): void {
    this.chip.powerOff();
    this.#handle = null;
    this.#cut = null;
  }

  /** Run the bootloader (power-on, `esp_restart`, panic or watchdog reset: the same on the chip). */
  boot(): BootInfo {
    this.#handle = null;
    if (this.#cut?.phase === 'reboot') {
      // The cut counts the bootloader's own flash writes (otadata rewrite on a first OTA boot or a rollback).
      this.chip.flash.powerOn();
      this.#fire('reboot');
    }
    const r = this.chip.boot();
    this.chip.flash.disarmPowerCut(); // a cut the bootloader's writes did not reach ends with the phase
    return bootInfo(this.chip, r);
  }

  /** `esp_ota_begin(esp_ota_get_next_update_partition(NULL), imageSize)`. */
  begin(imageSize: number): ChipOutcome {
    const slot = this.#safeNextSlot();
    if (slot === null) return { kind: 'error', error: { code: 'ESP_ERR_NOT_FOUND', message: 'esp_ota_get_next_update_partition: no OTA app partition to write' } };
    this.#fire('erase');
    const out = this.#call(() => {
      this.#handle = this.chip.otaBegin(slot, imageSize);
    });
    this.chip.flash.disarmPowerCut();
    if (out.kind === 'ok') {
      this.#slot = slot;
      this.#fire('write');
    }
    return out;
  }

  /** `esp_ota_write(handle, data)`. */
  write(data: Uint8Array): ChipOutcome {
    const h = this.#handle;
    if (h === null) return { kind: 'error', error: { code: 'ESP_ERR_INVALID_ARG', message: 'esp_ota_write: no OTA handle is open' } };
    return this.#call(() => this.chip.otaWrite(h, data));
  }

  /** `esp_ota_end(handle)`: verifies the whole image. The handle is closed either way. */
  end(): ChipOutcome {
    const h = this.#handle;
    if (h === null) return { kind: 'error', error: { code: 'ESP_ERR_INVALID_ARG', message: 'esp_ota_end: no OTA handle is open' } };
    this.#handle = null;
    this.chip.flash.disarmPowerCut(); // a `write` cut past the image's last byte never fires
    return this.#call(() => this.chip.otaEnd(h));
  }

  /** `esp_ota_abort(handle)`, if one is open. */
  abort(): ChipOutcome {
    const h = this.#handle;
    this.#handle = null;
    if (h === null) return OK;
    return this.#call(() => this.chip.otaAbort(h));
  }

  /** `esp_ota_set_boot_partition(the written slot)`. */
  setBoot(): ChipOutcome {
    const slot = this.#slot;
    if (slot === null) return { kind: 'error', error: { code: 'ESP_ERR_INVALID_ARG', message: 'esp_ota_set_boot_partition: no slot was written' } };
    this.#fire('otadata');
    const out = this.#call(() => this.chip.setBootPartition(slot));
    this.chip.flash.disarmPowerCut();
    return out;
  }

  /** `esp_ota_mark_app_valid_cancel_rollback`. */
  markValid(): ChipOutcome {
    return this.#call(() => this.chip.markAppValidCancelRollback());
  }

  /** `esp_ota_mark_app_invalid_rollback_and_reboot`: the boot that follows, or why it could not. */
  markInvalid(): { readonly kind: 'booted'; readonly boot: BootInfo } | Exclude<ChipOutcome, { kind: 'ok' }> {
    const out = this.#call(() => this.chip.markAppInvalidRollback());
    if (out.kind !== 'ok') return out;
    return { kind: 'booted', boot: this.boot() };
  }

  #safeNextSlot(): Partition | null {
    return nextSlot(this.chip);
  }
}

/** `esp_ota_get_next_update_partition(NULL)`, or null when there is none (or the chip is off). */
function nextSlot(chip: Esp32): Partition | null {
  try {
    return chip.getNextUpdatePartition();
  } catch {
    return null;
  }
}

/** Bytes of `slot` from its start, for rebuilding a hash after a resume lost it. */
export function readSlot(chip: Esp32, slot: Partition, length: number): Uint8Array {
  return chip.flash.read(slot.offset, Math.min(length, slot.size));
}
