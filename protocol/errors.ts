/**
 * The one home of otasim's error classes (STYLE.md §7).
 *
 * Every error has a stable `code`: `OTASIM_ERR_…` for otasim's own failures, or ESP-IDF's own
 * `ESP_ERR_…` name where the emulated chip would return one. Messages say what to do.
 */

/** ESP-IDF error names and their `esp_err_t` values.
 * Sources: components/esp_common/include/esp_err.h, app_update/include/esp_ota_ops.h,
 * bootloader_support/include/esp_image_format.h, spi_flash/include/esp_flash_err.h. */
export const ESP_ERR = {
  ESP_FAIL: -1,
  ESP_ERR_NO_MEM: 0x101,
  ESP_ERR_INVALID_ARG: 0x102,
  ESP_ERR_INVALID_STATE: 0x103,
  ESP_ERR_INVALID_SIZE: 0x104,
  ESP_ERR_NOT_FOUND: 0x105,
  ESP_ERR_NOT_SUPPORTED: 0x106,
  ESP_ERR_INVALID_VERSION: 0x10a,
  ESP_ERR_NOT_FINISHED: 0x10c,
  ESP_ERR_NOT_ALLOWED: 0x10d,
  ESP_ERR_OTA_PARTITION_CONFLICT: 0x1501,
  ESP_ERR_OTA_SELECT_INFO_INVALID: 0x1502,
  ESP_ERR_OTA_VALIDATE_FAILED: 0x1503,
  ESP_ERR_OTA_SMALL_SEC_VER: 0x1504,
  ESP_ERR_OTA_ROLLBACK_FAILED: 0x1505,
  ESP_ERR_OTA_ROLLBACK_INVALID_STATE: 0x1506,
  /** ESP-IDF v6.1+ only. */
  ESP_ERR_OTA_ALREADY_IN_PROGRESS: 0x1507,
  ESP_ERR_IMAGE_FLASH_FAIL: 0x2001,
  ESP_ERR_IMAGE_INVALID: 0x2002,
  ESP_ERR_FLASH_OP_FAIL: 0x6001,
  ESP_ERR_FLASH_OP_TIMEOUT: 0x6002,
} as const;

export type EspErrName = keyof typeof ESP_ERR;

/** Base class: a stable machine-readable `code` plus a human message. */
export class OtasimError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** An error the emulated ESP32 itself would return, named as ESP-IDF names it. */
export class EspError extends OtasimError {
  declare readonly code: EspErrName;
  /** The numeric `esp_err_t`. */
  readonly esp: number;

  constructor(code: EspErrName, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.esp = ESP_ERR[code];
  }
}

/** The stable codes a {@link PartitionTableError} carries: one per kind of problem. */
export const PARTITION_ERR = {
  /** Generic: no more specific code applies. */
  TABLE: 'OTASIM_ERR_PARTITION_TABLE',
  /** Binary input longer than the table's 0x1000-byte sector. */
  LENGTH: 'OTASIM_ERR_PARTITION_LENGTH',
  /** Binary input ends inside an entry, before any end-of-table marker. */
  TRUNCATED: 'OTASIM_ERR_PARTITION_TRUNCATED',
  /** An entry is neither 0x50AA, 0xEBEB nor the 0xFFFF end marker (bootloader: "invalid magic number"). */
  MAGIC: 'OTASIM_ERR_PARTITION_MAGIC',
  /** MD5 entry does not match, or a second MD5 entry. */
  MD5: 'OTASIM_ERR_PARTITION_MD5',
  /** No end marker within the 96 slots. */
  UNTERMINATED: 'OTASIM_ERR_PARTITION_UNTERMINATED',
  /** A partition reaches past the end of flash. */
  BOUNDS: 'OTASIM_ERR_PARTITION_BOUNDS',
  /** CSV syntax: bad number, unknown keyword or flag, empty field, unknown `$VAR`. */
  CSV: 'OTASIM_ERR_PARTITION_CSV',
  /** A label that cannot be stored in the 16-byte field. */
  LABEL: 'OTASIM_ERR_PARTITION_LABEL',
  /** A value outside its field (type/subtype 0..0xFF, offset/size/flags 0..0xFFFFFFFF). */
  RANGE: 'OTASIM_ERR_PARTITION_RANGE',
  /** Two partitions (or a partition and the table itself) share bytes. */
  OVERLAP: 'OTASIM_ERR_PARTITION_OVERLAP',
  /** Offset or size off its alignment. */
  ALIGN: 'OTASIM_ERR_PARTITION_ALIGN',
  /** Two partitions with the same name. */
  DUPLICATE: 'OTASIM_ERR_PARTITION_DUPLICATE',
  /** More than one otadata (or TEE otadata), or one that is not 0x2000 bytes. */
  OTADATA: 'OTASIM_ERR_PARTITION_OTADATA',
  /** `readonly` where it is refused, or a small NVS without it. */
  READONLY: 'OTASIM_ERR_PARTITION_READONLY',
  /** More entries than fit in 0xC00 bytes (94 with the MD5 entry, 95 without). */
  TOO_MANY: 'OTASIM_ERR_PARTITION_TOO_MANY',
} as const;

export type PartitionErrCode = (typeof PARTITION_ERR)[keyof typeof PARTITION_ERR];

/** A partition table (binary or CSV) that gen_esp32part.py or the bootloader would refuse. */
export class PartitionTableError extends OtasimError {
  /** Binary slot index (0-based) of the offending entry, when known. */
  readonly entry: number | undefined;
  /** CSV line number (1-based) of the offending row, when known. */
  readonly line: number | undefined;
  /** What ESP-IDF's bootloader returns for this problem, when it checks it (`esp_partition_table_verify`). */
  readonly esp: EspErrName | undefined;

  constructor(message: string, options?: {
    cause?: unknown; code?: string; entry?: number; line?: number; esp?: EspErrName;
  }) {
    super(options?.code ?? PARTITION_ERR.TABLE, message, options);
    this.entry = options?.entry;
    this.line = options?.line;
    this.esp = options?.esp;
  }
}

/** A command-line usage error: exit code 2. */
export class UsageError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OTASIM_ERR_USAGE', message, options);
  }
}

/** A library caller's configuration or call is malformed (an emulator build config, a power-cut plan):
 * `OTASIM_ERR_CONFIG`, or `OTASIM_ERR_DEVICE_OFF` when a powered-off or unbooted device is asked to act. */
export class ConfigError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown; code?: 'OTASIM_ERR_CONFIG' | 'OTASIM_ERR_DEVICE_OFF' }) {
    super(options?.code ?? 'OTASIM_ERR_CONFIG', message, options);
  }
}

/** The metadata store (server/store) failed or refused: `OTASIM_ERR_STORE` unless a finer code is given
 * (`OTASIM_ERR_STORE_UNREACHABLE`, `OTASIM_ERR_STORE_MIGRATION`). */
export class StoreError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'OTASIM_ERR_STORE', message, options);
  }
}

/** A uniqueness rule was broken: `OTASIM_ERR_DUPLICATE_RELEASE` (version, device_model) or
 * `OTASIM_ERR_DUPLICATE_ROLLOUT` (name). HTTP maps it to 409. */
export class ConflictError extends OtasimError {
  constructor(code: 'OTASIM_ERR_DUPLICATE_RELEASE' | 'OTASIM_ERR_DUPLICATE_ROLLOUT', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The named thing does not exist: `OTASIM_ERR_NOT_FOUND`. HTTP maps it to 404. */
export class NotFoundError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OTASIM_ERR_NOT_FOUND', message, options);
  }
}

/** The artifact store refused: `OTASIM_ERR_ARTIFACT_TOO_LARGE` (HTTP 413), `OTASIM_ERR_ARTIFACT_KEY`
 * (not a `sha256/<64 hex>` key, HTTP 400), `OTASIM_ERR_ARTIFACT_MISSING` (404), `OTASIM_ERR_ARTIFACT_RANGE`
 * (416) or `OTASIM_ERR_ARTIFACT_IO`. */
export class ArtifactError extends OtasimError {
  constructor(code: 'OTASIM_ERR_ARTIFACT_TOO_LARGE' | 'OTASIM_ERR_ARTIFACT_KEY' | 'OTASIM_ERR_ARTIFACT_MISSING'
    | 'OTASIM_ERR_ARTIFACT_RANGE' | 'OTASIM_ERR_ARTIFACT_IO', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** An HTTP request the OTA server refuses (issue 3 "Bad input"). `status` is the 4xx it answers with;
 * `code` names the problem: `OTASIM_ERR_INVALID_JSON`, `OTASIM_ERR_VALIDATION` (schema, unknown fields, bad
 * versions, traversal), `OTASIM_ERR_UNAUTHORIZED`, `OTASIM_ERR_INVALID_FIRMWARE` (not an app image for the
 * model's chip, or app-desc version ≠ version), `OTASIM_ERR_UPLOAD_TOO_LARGE`, `OTASIM_ERR_UNSUPPORTED_MODEL`,
 * `OTASIM_ERR_RANGE_NOT_SATISFIABLE`, `OTASIM_ERR_NOT_FOUND`, `OTASIM_ERR_BAD_REQUEST`. */
export class RequestError extends OtasimError {
  readonly status: number;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** A Secure Boot v2 signing request espsecure would refuse: `OTASIM_ERR_SIGNING_KEY` (unreadable, encrypted
 * or unsupported key: SBv2 signs with RSA-3072 or ECDSA P-192/P-256/P-384) or `OTASIM_ERR_SIGNING` (nothing
 * to sign, a full signature sector, an image that changed after it was signed). */
export class SigningError extends OtasimError {
  constructor(message: string, options?: { cause?: unknown; code?: 'OTASIM_ERR_SIGNING_KEY' | 'OTASIM_ERR_SIGNING' }) {
    super(options?.code ?? 'OTASIM_ERR_SIGNING', message, options);
  }
}

/** MQTT trouble on the server side (server/broker, server/mqtt): `OTASIM_ERR_MQTT_CONNECT` (first connect
 * failed), `OTASIM_ERR_MQTT_SUBSCRIBE` (the broker refused a subscription), `OTASIM_ERR_MQTT_PUBLISH`,
 * `OTASIM_ERR_MQTT_TOPIC` (a device id that cannot be a topic level), `OTASIM_ERR_MQTT_PAYLOAD_TOO_LARGE`
 * (a command the device's 1 KiB PubSubClient buffer would drop) or `OTASIM_ERR_MQTT_CLOSED` (used after close). */
export class MqttError extends OtasimError {
  constructor(code: 'OTASIM_ERR_MQTT_CONNECT' | 'OTASIM_ERR_MQTT_SUBSCRIBE' | 'OTASIM_ERR_MQTT_PUBLISH'
    | 'OTASIM_ERR_MQTT_TOPIC' | 'OTASIM_ERR_MQTT_PAYLOAD_TOO_LARGE' | 'OTASIM_ERR_MQTT_CLOSED', message: string,
  options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A flash image (`otasim flash inspect`: a merged or read-back dump written at 0x0) that cannot be examined:
 * `OTASIM_ERR_FLASH_EMPTY` (0 bytes), `OTASIM_ERR_FLASH_TOO_LARGE` (beyond the largest ESP32 flash, 128 MiB),
 * `OTASIM_ERR_FLASH_CHIP` (no bootloader header names the chip), or `OTASIM_ERR_FLASH_NO_BOOT` (it was
 * examined, and the bootloader would boot nothing from it). */
export class FlashImageError extends OtasimError {
  constructor(code: 'OTASIM_ERR_FLASH_EMPTY' | 'OTASIM_ERR_FLASH_TOO_LARGE' | 'OTASIM_ERR_FLASH_CHIP' | 'OTASIM_ERR_FLASH_NO_BOOT',
    message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A broker provider (harness/brokers) could not give a broker: `OTASIM_ERR_NO_DOCKER` (a `container:` broker was
 * asked for and no Docker engine answers; the environment's fault) or `OTASIM_ERR_CONTAINER` (the engine runs but
 * the broker container did not start or never became ready) or `OTASIM_ERR_BROKER_START` (a broker process
 * started here, harness/brokers/mosquitto-process.ts, did not start or listen). */
export class BrokerError extends OtasimError {
  constructor(code: 'OTASIM_ERR_NO_DOCKER' | 'OTASIM_ERR_CONTAINER' | 'OTASIM_ERR_BROKER_START', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A scenario file the harness refuses at load time (`OTASIM_ERR_SCENARIO`): `file:line:col: path: message`.
 * The CLI exits 2 for it, before any run starts. */
export class ScenarioError extends OtasimError {
  readonly file: string;
  readonly line: number | undefined;
  readonly col: number | undefined;
  /** Dotted path inside the file (`steps.3.wait.timeout`), or '' for the file as a whole. */
  readonly path: string;

  constructor(where: { file: string; line?: number; col?: number; path?: string }, message: string, options?: { cause?: unknown }) {
    const pos = where.line === undefined ? where.file : `${where.file}:${where.line}:${where.col ?? 1}`;
    super('OTASIM_ERR_SCENARIO', `${pos}: ${where.path === undefined || where.path === '' ? '' : `${where.path}: `}${message}`, options);
    this.file = where.file;
    this.line = where.line;
    this.col = where.col;
    this.path = where.path ?? '';
  }
}

/** True when `e` is an otasim error whose code is `code`. */
export function isErrorCode(e: unknown, code: string): boolean {
  return e instanceof OtasimError && e.code === code;
}
