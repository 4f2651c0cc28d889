/**
 * Behaviour profiles: the choices that make one device firmware differ from another, kept as data so
 * a new profile is a new row, not new branches. Pure.
 *
 * - `esp-idf`: the ideal esp_https_ota client (esp-idf-ota-facts §5): a persistent session with a
 *   QoS 1 subscription, the offer and the image header vetted before `esp_ota_begin`, Range resume,
 *   a self-test before `esp_ota_mark_app_valid_cancel_rollback`, the result reported by the new image.
 * - `paku-core`: the real firmware as built (paku-protocol-facts §1.1, §1.5–§1.6, §4.3–§4.6, §6 quirks
 *   29–31): PubSubClient (QoS 0, clean session), one blocking `HTTPClient` GET that must answer exactly
 *   200 with a Content-Length, no resume, no MQTT servicing while `startUpdate` runs, progress at most
 *   once per second, the checksum compared after `Update.end(true)` has already set the boot
 *   partition, the result published before `ESP.restart()`, and `validateCurrentFirmware()` at the top
 *   of `setup()`.
 */
import type { Behaviour } from './config.js';

/** A title-case `OtaClient::stateToString` progress state (paku-protocol-facts §1.5). */
export type ProgressStateName = 'Checking' | 'Downloading' | 'Verifying' | 'Installing' | 'Complete';

export interface BehaviourRules {
  /** QoS of the `cmd/ota` subscription (esp-mqtt can take 1; PubSubClient only 0). */
  readonly subscribeQos: 0 | 1;
  /** MQTT clean session. False keeps the session, so QoS 1 commands sent while offline arrive on reconnect. */
  readonly cleanSession: boolean;
  /** A PENDING_VERIFY image runs a self-test before confirming itself (else it confirms at the top of setup()). */
  readonly selfTest: boolean;
  /** A cut download resumes with `Range` (else the attempt fails at the first cut). */
  readonly resume: boolean;
  /** The app stops its MQTT client before `esp_restart` (no LWT on a planned reboot). */
  readonly gracefulRestart: boolean;
  /**
   * The offer's model and version and the image header's chip id, app descriptor, version and
   * secure_version are checked before `esp_ota_begin` (else only the 0xE9 magic byte, by the writer).
   */
  readonly vetsImage: boolean;
  /**
   * The first response must be exactly 200 (`HTTPClient.GET()`); else any 2xx holding the image from
   * byte 0 is taken, a 206 with `Content-Range: bytes 0-…/total` too. Both need a Content-Length.
   */
  readonly strictDownload: boolean;
  /** MQTT is serviced (keepalive pings, incoming messages) while a download runs. */
  readonly mqttDuringDownload: boolean;
  /** Download progress: at most one report per this many ms (first write at once), or null for every `progressStepPercent`. */
  readonly progressEveryMs: number | null;
  /** Progress states sent when a job starts, in order (each at 0 %, total 0). */
  readonly startStates: readonly ProgressStateName[];
  /** The `Verifying` state is sent only when the offer carried a checksum. */
  readonly verifyingNeedsChecksum: boolean;
  /** The SHA-256 is compared only after `esp_ota_end` + `esp_ota_set_boot_partition` (a mismatch leaves the new slot as boot partition). */
  readonly checksumAfterActivate: boolean;
  /** Progress state sent once the boot partition is set. */
  readonly installedState: ProgressStateName;
  /** `ota/result` success is sent by the old image before the restart (else by the new image once confirmed). */
  readonly resultBeforeReboot: boolean;
  /** A command that is not JSON or has no usable `url` gets a failure result (else it is only logged, facts §1.3). */
  readonly reportsBadCommands: boolean;
}

export const BEHAVIOUR_RULES: Readonly<Record<Behaviour, BehaviourRules>> = Object.freeze({
  'esp-idf': Object.freeze<BehaviourRules>({
    subscribeQos: 1, cleanSession: false, selfTest: true, resume: true, gracefulRestart: true, vetsImage: true,
    strictDownload: false, mqttDuringDownload: true, progressEveryMs: null, startStates: ['Downloading'],
    verifyingNeedsChecksum: false, checksumAfterActivate: false, installedState: 'Installing', resultBeforeReboot: false,
    reportsBadCommands: true,
  }),
  'paku-core': Object.freeze<BehaviourRules>({
    subscribeQos: 0, cleanSession: true, selfTest: false, resume: false, gracefulRestart: false, vetsImage: false,
    strictDownload: true, mqttDuringDownload: false, progressEveryMs: 1000, startStates: ['Checking', 'Downloading'],
    verifyingNeedsChecksum: true, checksumAfterActivate: true, installedState: 'Complete', resultBeforeReboot: true,
    reportsBadCommands: false,
  }),
});
