/**
 * One device's configuration: one zod schema holds the defaults, the validation and the units
 * (STYLE.md §8). `parseDeviceConfig` validates once and freezes; nothing deep reads the environment.
 * Pure: no I/O.
 */
import { z } from 'zod';
import { ConfigError } from '../../protocol/errors.js';
import { DeviceId, Slug } from '../../protocol/payloads.js';
import { DEFAULT_TOPIC_PREFIX, PROTOCOL_PROFILES } from '../../protocol/topics.js';

/**
 * Device behaviour profiles (behaviour.ts holds their rules). `esp-idf`: the ideal esp_https_ota
 * client (self-test, Range resume). `paku-core`: the real paku firmware as built (valid at boot, no
 * resume, 200 + Content-Length only, blocking download).
 */
export const BEHAVIOURS = ['esp-idf', 'paku-core'] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

const ms = z.number().int().min(0).max(2 ** 31 - 1);

/** Exponential backoff: delay = min(max, base·2^(n−1)) · (1 − jitter·u), u ∈ [0,1) drawn from the seeded RNG. */
export const Backoff = z.strictObject({
  /** First delay, ms. */
  baseMs: ms.default(1000),
  /** Cap, ms. */
  maxMs: ms.default(60_000),
  /** Fraction of the delay that is randomised (0 = none, 1 = "full jitter"). */
  jitter: z.number().min(0).max(1).default(0.5),
});
export type Backoff = z.output<typeof Backoff>;

export const DeviceConfigSchema = z.strictObject({
  /** Device id: MQTT client id and topic level (e.g. `esp32_001`). */
  deviceId: DeviceId,
  /** `device_model` it reports and accepts offers for. Default `esp32`. */
  deviceModel: Slug.default('esp32'),
  /** Wi-Fi MAC, `AA:BB:CC:DD:EE:FF`. */
  mac: z.string().regex(/^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/, 'must be AA:BB:CC:DD:EE:FF (upper-case hex)'),
  /** Seed of every random draw; with the device id it fixes the device's behaviour. Default 0. */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** How offers arrive: MQTT `cmd/ota` push, or HTTP polling of `/api/firmware/check`. Default mqtt. */
  mode: z.enum(['mqtt', 'poll']).default('mqtt'),
  /** Where status and progress go. Default: `mqtt` in mqtt mode, `http` in poll mode. */
  reportVia: z.enum(['mqtt', 'http', 'both']).optional(),
  /** Wire profile of topics and payloads. Default `paku-edge`. */
  protocol: z.enum(PROTOCOL_PROFILES).default('paku-edge'),
  /** Level(s) before `edge/{id}/…`. Default `paku`. */
  topicPrefix: z.string().min(1).default(DEFAULT_TOPIC_PREFIX),
  /** Firmware behaviour profile. Default `esp-idf`. */
  behaviour: z.enum(BEHAVIOURS).default('esp-idf'),
  /** Poll interval, ms. Default 3,600,000 (seed 002 checks hourly); the first check runs at boot. */
  pollIntervalMs: ms.min(1).default(3_600_000),
  /** Reset to app start (bootloader + init), ms. Default 300. */
  bootMs: ms.default(300),
  /** Duration of the post-update self-test, ms. Default 2000. */
  selfTestMs: ms.default(2000),
  /** Task watchdog timeout, ms (`CONFIG_ESP_TASK_WDT_TIMEOUT_S` = 5 s). */
  watchdogMs: ms.min(1).default(5000),
  /** Delay between "rebooting" and `esp_restart`, ms. Default 3000 (paku-core services MQTT for 3 s). */
  rebootDelayMs: ms.default(3000),
  /** Power returns this long after a power loss, ms. Default 1000. */
  powerRestoreMs: ms.default(1000),
  /** Report progress at every multiple of this many percent. Default 10. */
  progressStepPercent: z.number().int().min(1).max(100).default(10),
  /** Resumes allowed after download cuts before the job fails. Default 5. */
  downloadRetries: z.number().int().min(0).max(1000).default(5),
  /** Backoff between download resumes. */
  downloadBackoff: Backoff.default({ baseMs: 1000, maxMs: 30_000, jitter: 0.5 }),
  /** Backoff between MQTT connect attempts. */
  mqttBackoff: Backoff.default({ baseMs: 1000, maxMs: 60_000, jitter: 0.5 }),
  /**
   * QoS of the `ota/*` reports. 0 (default): the real firmware's PubSubClient, fire and forget. 1: an
   * esp-mqtt client, whose outbox keeps each report until its PUBACK, sends it again after a reconnect
   * and drops it after 30 s (`CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS`) or a reset.
   */
  reportQos: z.union([z.literal(0), z.literal(1)]).default(0),
  /** MQTT keep-alive, s. Default 15 (PubSubClient default, paku-protocol-facts §1.1). */
  keepaliveS: z.number().int().min(0).max(65535).default(15),
  /** Accept an offer whose version is not newer than the running one. Default false. */
  allowDowngrade: z.boolean().default(false),
  /**
   * The device's `X-Device-Token` for a server started with `--device-tokens required`
   * (HMAC-SHA256 of the server's secret and the device id, handed out by
   * `GET /api/admin/devices/{id}/token`). Sent on check, update-status and download, with
   * `X-Device-Id` on downloads. Default none: no header, as the real firmware.
   */
  deviceToken: z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
});

/** Configuration as a caller writes it (defaults optional). */
export type DeviceConfigInput = z.input<typeof DeviceConfigSchema>;
/** Configuration with every default applied; `reportVia` resolved. */
export type DeviceConfig = Readonly<Omit<z.output<typeof DeviceConfigSchema>, 'reportVia'> & { reportVia: 'mqtt' | 'http' | 'both' }>;

/** Validate, apply defaults and freeze. Throws ConfigError naming the first bad field. */
export function parseDeviceConfig(input: DeviceConfigInput): DeviceConfig {
  const r = DeviceConfigSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue === undefined || issue.path.length === 0 ? 'config' : issue.path.join('.');
    throw new ConfigError(`device config ${path}: ${issue?.message ?? 'invalid'}`, { cause: r.error });
  }
  const c = r.data;
  return Object.freeze({ ...c, reportVia: c.reportVia ?? (c.mode === 'poll' ? 'http' : 'mqtt') });
}
