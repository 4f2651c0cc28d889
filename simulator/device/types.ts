/**
 * The virtual ESP32's firmware, as data: its state, the events the runtime feeds it and the
 * effects it asks the runtime to carry out. The machine (machine.ts) is a pure function
 * `(context, state, event, now) → { state, effects }`; the runtime (runtime.ts) owns the sockets,
 * the clock and the emulated chip and turns effects into calls and results back into events.
 *
 * Vocabulary is ESP-IDF's: `PENDING_VERIFY`, `esp_ota_begin`, `esp_ota_end`,
 * `esp_ota_set_boot_partition`, `esp_ota_mark_app_valid_cancel_rollback` (esp-idf-ota-facts §2.4,
 * §2.7, §5.1). Pure: no I/O.
 */
import type { EspErrName } from '../../protocol/errors.js';
import type { UpdateStatusBody } from '../../protocol/payloads.js';
import type { DeviceConfig } from './config.js';
import type { DeviceFaults } from '../faults/decide.js';
import type { FailureReason } from './reasons.js';
import type { BehaviourRules } from './behaviour.js';

export type { DeviceConfig, DeviceConfigInput } from './config.js';

// ---------------------------------------------------------------------------------------------
// Boot

/** `esp_ota_img_states_t` by name (esp_flash_partitions.h; facts §2.4). */
export type OtaImgStateName = 'NEW' | 'PENDING_VERIFY' | 'VALID' | 'INVALID' | 'ABORTED' | 'UNDEFINED';

/** What the app learns at start-up: the bootloader's choice and its own app descriptor. */
export type BootInfo =
  | {
      readonly ok: true;
      /** `esp_app_desc_t.version` of the running image. */
      readonly version: string;
      /** `esp_app_desc_t.secure_version` of the running image. */
      readonly secureVersion: number;
      /** Label of the running partition, e.g. `ota_0`. */
      readonly partition: string;
      /** otadata state of the running slot (`UNDEFINED` for factory or rollback-disabled builds). */
      readonly otaState: OtaImgStateName;
      /** eFuse `SECURE_VERSION` (popcount), what an update's `secure_version` must reach. */
      readonly efuseSecureVersion: number;
      /** `esp_chip_id_t` of this chip (facts §3.6). */
      readonly chipId: number;
      /** Label of `esp_ota_get_next_update_partition(NULL)`, or null when there is none. */
      readonly nextSlot: string | null;
      /** Its size in bytes, or null. */
      readonly nextSlotBytes: number | null;
      /** Whether the bootloader can roll back (`CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE`). */
      readonly rollback: boolean;
    }
  | {
      readonly ok: false;
      /** Why nothing runs (simulator/esp32 `BootFailure`), e.g. `no-bootable-app`, `power-lost`. */
      readonly reason: string;
    };

/** What the first 1024 bytes of a download say (esp_https_ota reads exactly these; facts §5.1). */
export interface ImageHeaderInfo {
  /** Bytes examined: 1024, or fewer when the body ended first. */
  readonly bytes: number;
  /** First byte is 0xE9 (`ESP_IMAGE_HEADER_MAGIC`). */
  readonly magicOk: boolean;
  /** `esp_image_header_t.chip_id`, or null when the header is not an image header. */
  readonly chipId: number | null;
  /** App descriptor, or null when its magic 0xABCD5432 is missing. */
  readonly app: { readonly version: string; readonly secureVersion: number; readonly projectName: string } | null;
}

// ---------------------------------------------------------------------------------------------
// State

/** Where the firmware is. Each phase waits for exactly the events listed in machine.ts's table. */
export type Phase =
  /** No power. Leaves on `power-on`. */
  | 'off'
  /** Reset taken: the bootloader is choosing a slot (`boot` effect in flight). */
  | 'booting'
  /** No bootable app: the chip resets forever (bootloader `no-bootable-app` and friends). */
  | 'bricked'
  /** Running a PENDING_VERIFY image: the self-test is in progress (esp-idf behaviour). */
  | 'self-test'
  /** The new image will panic: waiting for the crash. */
  | 'crashing'
  /** The app hangs in PENDING_VERIFY; the task watchdog may reset it. */
  | 'hung'
  /** `esp_ota_mark_app_valid_cancel_rollback` or `…_invalid_rollback_and_reboot` in flight. */
  | 'marking'
  /** Running normally, no OTA job. */
  | 'idle'
  /** Poll mode: `GET /api/firmware/check` in flight. */
  | 'checking'
  /** A download request is open (headers, the 1024-byte header, or the body streaming into flash). */
  | 'downloading'
  /** The download was cut: waiting to resume with `Range`. */
  | 'retry-wait'
  /** `esp_ota_end` (image verify) in flight, after the SHA-256 matched. */
  | 'verifying'
  /** `esp_ota_set_boot_partition` in flight. */
  | 'activating'
  /** Boot partition set: waiting the configured delay before `esp_restart`. */
  | 'rebooting';

/** The MQTT link, orthogonal to the phase (poll-only devices stay `down`). */
export type LinkState = 'down' | 'connecting' | 'up' | 'waiting';

/** Where an OTA job came from. */
export type JobSource = 'mqtt' | 'poll';

/** One OTA attempt, from accepted offer to reboot (or failure). Kept small: counters, no bytes. */
export interface Job {
  readonly source: JobSource;
  readonly url: string;
  /** Version the offer names, or `unknown` (paku-protocol-facts §1.3). */
  readonly target: string;
  /** Expected SHA-256 (lower-case hex), or null: skip the comparison. */
  readonly sha256: string | null;
  /** Image size from Content-Length of the first 200, or null before it. */
  readonly size: number | null;
  /** Bytes written to flash so far. */
  readonly written: number;
  /** Highest progress step already reported, in percent (0, 10, 20 …). */
  readonly reported: number;
  /** Download retries used after cuts (0 on the first request). */
  readonly retries: number;
  /** Strong validator of the first response, sent as `If-Range` when resuming. */
  readonly etag: string | null;
  /** `esp_ota_begin` has returned a handle (abort it on failure). */
  readonly begun: boolean;
  /** Device time (ms) the job started, for `elapsed_ms`. */
  readonly startedAt: number;
  /** Update attempt index (`Nvs.jobs` when it started). */
  readonly index: number;
  /** Requests made so far (1 after the first), the network faults' request counter. */
  readonly requests: number;
  /** `esp_app_desc_t.version` of the incoming image, once its header is in. */
  readonly image: string | null;
  /** Device time (ms) of the last download progress report (time-throttled progress), or null. */
  readonly reportedAt: number | null;
  /** The body's SHA-256 differs from the offer's, found at the end of the body (checked after activation). */
  readonly shaMismatch: string | null;
}

/**
 * An update the app must still report (kept in NVS on a real device): written when the job starts,
 * marked `installed` at esp_ota_set_boot_partition, cleared once reported after the next boot.
 */
export interface PendingReport {
  /** Version running when the job started. */
  readonly from: string;
  /** Version the offer named (`unknown` when it named none). */
  readonly to: string;
  readonly source: JobSource;
  /** Partition label the update is written to. */
  readonly slot: string | null;
  /** esp_ota_set_boot_partition succeeded: the next boot should run `slot`. */
  readonly installed: boolean;
  /** Set by the new image before it rolls itself back (e.g. `self_test_failed`). */
  readonly failure: FailureReason | null;
}

/** What survives a reset (NVS). */
export interface Nvs {
  readonly pending: PendingReport | null;
  /** Update attempts ever started (the one-shot faults count them). */
  readonly jobs: number;
  /** Version last installed by OTA (set at `esp_ota_set_boot_partition`), or null. */
  readonly lastInstalled: string | null;
  /** Version last rolled back on this device (`esp_ota_get_last_invalid_partition`'s), refused when offered again. */
  readonly lastInvalid: string | null;
}

/** The whole firmware state of one device: a few dozen bytes, no buffers, no closures. */
export interface DeviceState {
  readonly phase: Phase;
  readonly link: LinkState;
  /** Consecutive failed MQTT connects (0 when up). */
  readonly linkFailures: number;
  /** The running app, or null before boot / when off. */
  readonly running: Extract<BootInfo, { ok: true }> | null;
  /** Boots since provisioning (the fault draws key on it). */
  readonly boots: number;
  /** Device time (ms) of the last reset, for uptime and `after_ms` faults. */
  readonly bootAt: number;
  /** The boot before this one came from an update (the image was new). */
  readonly updated: boolean;
  readonly job: Job | null;
  readonly nvs: Nvs;
  /** Why the last reset happened (`esp_reset_reason()`; survives the reset). */
  readonly resetCause: ResetCause;
  /** Counter of random draws (backoff jitter), so every draw is a pure function of (seed, id, n). */
  readonly draws: number;
}

// ---------------------------------------------------------------------------------------------
// Events (runtime → machine)

/** Timers the machine sets; at most one of each name is pending per device. */
export type TimerName =
  | 'boot-done' | 'self-test' | 'crash' | 'watchdog' | 'mqtt-retry' | 'poll' | 'download-retry' | 'reboot' | 'power-restore';

/** The chip calls the machine asks for (`ota` effect). */
export type OtaOp = 'begin' | 'write' | 'end' | 'set-boot' | 'mark-valid' | 'abort';

/** An error a chip call returned. `code` is ESP-IDF's name when the chip gave one. */
export interface OpError {
  readonly code: EspErrName | string;
  readonly message: string;
}

/** Response metadata of a download request. */
export interface DownloadResponse {
  readonly status: number;
  /** Content-Length, or null when absent or not a non-negative integer. */
  readonly contentLength: number | null;
  /** Content-Range of a 206, verbatim. */
  readonly contentRange: string | null;
  readonly contentType: string | null;
  readonly etag: string | null;
}

export type DeviceEvent =
  /** Power applied (first start or after a power loss). */
  | { readonly type: 'power-on' }
  /** Power lost (a power-cut fault fired, or the user pulled the plug). */
  | { readonly type: 'power-lost' }
  /** The bootloader finished after a `boot` effect. */
  | { readonly type: 'booted'; readonly boot: BootInfo }
  | { readonly type: 'timer'; readonly name: TimerName }
  /** A chip call finished; `error` when it returned other than ESP_OK. */
  | { readonly type: 'ota-done'; readonly op: OtaOp; readonly error?: OpError }
  | { readonly type: 'mqtt-up' }
  | { readonly type: 'mqtt-failed'; readonly reason: string }
  | { readonly type: 'mqtt-down'; readonly reason: string }
  | { readonly type: 'mqtt-message'; readonly topic: string; readonly payload: string }
  /** Poll mode: the check answered (`body` is the raw text). */
  | { readonly type: 'check-response'; readonly status: number; readonly body: string }
  | { readonly type: 'check-failed'; readonly reason: string }
  | { readonly type: 'download-response'; readonly response: DownloadResponse }
  /** The first 1024 bytes arrived (first request only; a resume skips this, like `esp_ota_resume`). */
  | { readonly type: 'download-header'; readonly header: ImageHeaderInfo }
  /** Body bytes written to flash so far, counted from 0 across resumes. */
  | { readonly type: 'download-progress'; readonly written: number }
  /** The body ended; `sha256` is over every byte written (lower-case hex). */
  | { readonly type: 'download-end'; readonly written: number; readonly sha256: string }
  /** The transfer broke (connection reset, stall timeout, transport error) after `written` bytes. */
  | { readonly type: 'download-error'; readonly written: number; readonly reason: string; readonly stalled?: boolean };

// ---------------------------------------------------------------------------------------------
// Effects (machine → runtime)

/** Why the chip resets. */
export type ResetCause = 'power-on' | 'sw-restart' | 'panic' | 'task-wdt' | 'rollback';

/** Phases a power-cut fault can hit (issue 4 "Power loss"). */
export type PowerCutPhase = 'download' | 'write' | 'erase' | 'otadata' | 'reboot';

export type DeviceEffect =
  /** Run the bootloader (`Esp32.boot()` / `reboot()`); answer `booted`. */
  | { readonly type: 'boot'; readonly cause: ResetCause }
  /**
   * Call the chip: `end` = esp_ota_end, `set-boot` = esp_ota_set_boot_partition(the written slot),
   * `mark-valid` = esp_ota_mark_app_valid_cancel_rollback, `abort` = esp_ota_abort. Answer
   * `ota-done` (not for `abort`). `mark-invalid` = esp_ota_mark_app_invalid_rollback_and_reboot:
   * answer `booted` (or `ota-done` with an error when no rollback is possible).
   */
  | { readonly type: 'ota'; readonly op: 'end' | 'set-boot' | 'mark-valid' | 'abort' | 'mark-invalid' }
  | { readonly type: 'set-timer'; readonly name: TimerName; readonly delayMs: number }
  | { readonly type: 'cancel-timer'; readonly name: TimerName }
  /** Open the MQTT session (client id = device id, LWT retained QoS 1). */
  | {
      readonly type: 'mqtt-connect';
      readonly clientId: string;
      readonly keepaliveS: number;
      /** Clean session (else the broker keeps subscriptions and queued QoS 1 messages across connects). */
      readonly clean: boolean;
      readonly will: { readonly topic: string; readonly payload: string; readonly qos: 1; readonly retain: true };
    }
  | { readonly type: 'mqtt-subscribe'; readonly topic: string; readonly qos: 0 | 1 }
  | { readonly type: 'mqtt-publish'; readonly topic: string; readonly payload: string; readonly qos: 0 | 1; readonly retain: boolean }
  /** Close the session: `graceful` sends DISCONNECT (no LWT); otherwise the socket just dies (LWT fires). */
  | { readonly type: 'mqtt-close'; readonly graceful: boolean }
  /**
   * Stop (`serviced: false`) or restart servicing the session, as a blocking download stops
   * `client.loop()`: no keepalive ping goes out and incoming messages and a lost connection wait
   * until servicing restarts. Publishes still go out (or are dropped when the session is gone).
   */
  | { readonly type: 'mqtt-service'; readonly serviced: boolean }
  /** Poll mode: `GET {server}/api/firmware/check?…`; answer `check-response` or `check-failed`. */
  | { readonly type: 'http-check'; readonly query: { readonly device_id: string; readonly device_model: string; readonly current_version: string } }
  /** `POST {server}/api/device/{id}/update-status` with this body; fire and forget. */
  | { readonly type: 'http-report'; readonly body: UpdateStatusBody }
  /**
   * `GET url` (relative URLs resolve against the server). `offset` > 0 sends `Range: bytes=offset-`
   * and `If-Range: ifRange` when known. Answer `download-response`, then (offset 0) `download-header`
   * once 1024 bytes are in, holding them; then nothing until `download-accept`.
   */
  | {
      readonly type: 'download';
      readonly url: string;
      readonly offset: number;
      readonly ifRange: string | null;
      /** Version the offer names, update attempt index and request index: ask `DeviceFaults.network` with them. */
      readonly version: string;
      readonly job: number;
      readonly request: number;
    }
  /**
   * Header accepted: `esp_ota_begin(next update partition, imageSize)`, write the held bytes, stream
   * the rest chunk by chunk into `esp_ota_write`, hashing as it goes. Answer `download-progress`…,
   * then `download-end` / `download-error`, or `ota-done {op:'begin'|'write', error}`.
   * After a resume (`download` with offset > 0) the runtime streams at once, no accept needed.
   */
  | { readonly type: 'download-accept'; readonly imageSize: number }
  /** Drop the open request, if any (the OTA handle stays open unless an `abort` follows). */
  | { readonly type: 'download-cancel' }
  /**
   * A power-cut fault: arm it now, for the phase that starts with the next effect. `atByte` counts
   * body bytes (`download`) or flash bytes written+erased from now (`write`, `erase`, `otadata`, `reboot`).
   */
  | { readonly type: 'arm-power-cut'; readonly phase: PowerCutPhase; readonly atByte: number }
  /** A line for the device log (`otasim device` prints state changes). */
  | { readonly type: 'log'; readonly message: string };

// ---------------------------------------------------------------------------------------------
// The machine

/** Everything fixed for one device: its configuration, its fault decisions and its firmware's rules. */
export interface DeviceContext {
  readonly config: DeviceConfig;
  readonly faults: DeviceFaults;
  /** The firmware's behaviour rules. Default: the row of `config.behaviour` in BEHAVIOUR_RULES. */
  readonly rules?: BehaviourRules;
}

/** One step's outcome. */
export interface Step {
  readonly state: DeviceState;
  readonly effects: readonly DeviceEffect[];
}
