/**
 * The OTA server's one typed config (STYLE.md §8). `SERVER_OPTIONS` is the single table: the CLI
 * derives its flags and `--help` from it, and `resolveServerConfig` applies its defaults,
 * validates once and freezes. Nothing below cli/ reads `process.env`.
 */
import { isChipName, type ChipName } from '../simulator/esp32/chips.js';
import { PROTOCOL_PROFILES, type ProtocolProfile } from '../protocol/topics.js';
import { PROFILES } from '../protocol/profiles.js';
import { SLUG_PATTERN } from '../protocol/payloads.js';
import { ConfigError } from '../protocol/errors.js';
import { BUCKETINGS, type Bucketing } from './rollout/targeting.js';

/** The API key used when none is given. Explicit, and logged as a warning when it is used. */
export const DEFAULT_API_KEY = 'otasim-dev-key';

/** The server's resolved config: every field set, frozen. */
export interface ServerConfig {
  /** HTTP port; 0 picks a free one. Default 8080 (the real service's). */
  readonly port: number;
  /** Interface to listen on (HTTP and the embedded broker). Default `127.0.0.1`; use `0.0.0.0` for real devices. */
  readonly host: string;
  /** PGlite data directory, also home of the firmware artifacts. Default `./otasim-data`. */
  readonly data: string;
  /** PostgreSQL URL; when set, metadata goes there instead of PGlite (artifacts stay under `data`). Default none. */
  readonly database: string | null;
  /** PostgreSQL schema for the tables; default `public`. */
  readonly databaseSchema: string | null;
  /** `embedded` (aedes in-process) or an external broker URL `mqtt://host:port`. Default `embedded`. */
  readonly broker: string;
  /** TCP port of the embedded broker; 0 picks a free one. Default 1883. */
  readonly mqttPort: number;
  /** The admin `X-API-Key`. Default `DEFAULT_API_KEY` (see `apiKeyDefaulted`). */
  readonly apiKey: string;
  /** True when `apiKey` is the built-in default: the server logs a warning. */
  readonly apiKeyDefaulted: boolean;
  /** MQTT topic prefix. Default `paku`. */
  readonly topicPrefix: string;
  /** MQTT wire profile. Default `paku-edge` (real firmware ≥ 1.4.2). */
  readonly protocol: ProtocolProfile;
  /** Canary bucketing: `release` (sticky per release) or `device` (the real service's rule). Default: the protocol profile's. */
  readonly bucketing: Bucketing;
  /** Largest firmware upload accepted, in bytes. Default 16 MiB (the largest ESP32 app partition). */
  readonly maxUploadBytes: number;
  /** Base URL devices reach this server at, for absolute URLs in MQTT commands. Default derived from host/port. */
  readonly publicUrl: string | null;
  /** Require `X-API-Key` on `POST /api/device/{id}/update-status`, as the real service does since ad9c9a4. Default false (the seeds' devices send none). */
  readonly statusRequiresKey: boolean;
  /** Extra device_model → chip names for upload validation (board names otasim cannot infer). */
  readonly modelChips: Readonly<Record<string, ChipName>>;
  /** How long `/api/firmware/check` may serve rollouts and releases cached from the store, in ms; writes through this server invalidate at once. 0 disables. Default 1000. */
  readonly cacheTtlMs: number;
  /** Bytes of verified firmware images held in memory for downloads; 0 streams every download from disk. Default 64 MiB. */
  readonly downloadCacheBytes: number;
  /** A device polling again within this many ms with the same model, version and offer is not rewritten (last_seen keeps this resolution; real devices poll hourly). 0 writes every check. Default 10000. */
  readonly checkInResolutionMs: number;
  /** Publish `cmd/ota` when a seeds' rollout is created or changed. Default true; false is the real service, which has no MQTT client (its workflow publishes, paku-protocol-facts §1.2, §2.8). */
  readonly pushOnRollout: boolean;
  /** `required`: check, download and update-status need the device's `X-Device-Token` (server/http/auth.ts). Default `off`. */
  readonly deviceTokens: 'off' | 'required';
  /** HMAC secret device tokens derive from (≥ 16 characters); required with `deviceTokens: 'required'`. Default none. */
  readonly deviceTokenSecret: string | null;
  /** Requests per device per minute on the device routes (also the burst); past it, 429 with Retry-After. 0 = no limit (default). */
  readonly deviceRateLimit: number;
  /** pino level. Default `info`. */
  readonly logLevel: string;
  /** PEM certificate (chain) file: with `tlsKey`, HTTP is served over TLS (https). Default none. */
  readonly tlsCert: string | null;
  /** PEM private key file of `tlsCert`. Default none. */
  readonly tlsKey: string | null;
}

/** One row of the option table: a config key, its CLI flag, type, default and help text. */
export interface ServerOption {
  readonly key: keyof ServerConfig;
  readonly flag: string;
  readonly type: 'string' | 'number' | 'boolean' | 'array';
  readonly describe: string;
  /** Default shown in `--help`; `undefined` for none. */
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
}

/** Every settable option, in `--help` order. */
export const SERVER_OPTIONS: readonly ServerOption[] = [
  { key: 'port', flag: 'port', type: 'number', default: 8080, describe: 'HTTP port (0 = any free port)' },
  { key: 'host', flag: 'host', type: 'string', default: '127.0.0.1', describe: 'interface to listen on (0.0.0.0 for real devices)' },
  { key: 'data', flag: 'data', type: 'string', default: './otasim-data', describe: 'data directory: PGlite database and firmware files' },
  { key: 'database', flag: 'database', type: 'string', describe: 'PostgreSQL URL (postgres://…) instead of PGlite' },
  { key: 'databaseSchema', flag: 'database-schema', type: 'string', describe: 'PostgreSQL schema for the tables (default public)' },
  { key: 'broker', flag: 'broker', type: 'string', default: 'embedded', describe: 'MQTT broker: embedded (aedes) or mqtt://host:port' },
  { key: 'mqttPort', flag: 'mqtt-port', type: 'number', default: 1883, describe: 'embedded broker TCP port (0 = any free port)' },
  { key: 'apiKey', flag: 'api-key', type: 'string', describe: `admin X-API-Key (default "${DEFAULT_API_KEY}", with a warning)` },
  { key: 'topicPrefix', flag: 'topic-prefix', type: 'string', default: 'paku', describe: 'MQTT topic prefix' },
  { key: 'protocol', flag: 'protocol', type: 'string', default: 'paku-edge', choices: PROTOCOL_PROFILES, describe: 'MQTT wire profile' },
  { key: 'bucketing', flag: 'bucketing', type: 'string', choices: BUCKETINGS, describe: 'canary buckets: per release, or per device as the real service (default: the protocol profile\'s; paku-edge device, paku-legacy release)' },
  { key: 'maxUploadBytes', flag: 'max-upload-bytes', type: 'number', default: 16 * 1024 * 1024, describe: 'largest firmware upload, bytes' },
  { key: 'publicUrl', flag: 'public-url', type: 'string', describe: 'base URL devices use to reach this server (for MQTT download URLs)' },
  { key: 'statusRequiresKey', flag: 'status-requires-key', type: 'boolean', default: false, describe: 'require X-API-Key on device update-status, as the real service does' },
  { key: 'modelChips', flag: 'model-chip', type: 'array', describe: 'map a device_model to a chip for upload checks: NAME=CHIP (repeatable)' },
  { key: 'cacheTtlMs', flag: 'cache-ttl-ms', type: 'number', default: 1000, describe: 'ms /check may serve cached rollouts/releases (another server\'s changes show within it)' },
  { key: 'downloadCacheBytes', flag: 'download-cache-bytes', type: 'number', default: 64 * 1024 * 1024, describe: 'bytes of firmware held in memory for downloads (0 = always stream from disk)' },
  { key: 'checkInResolutionMs', flag: 'check-in-resolution-ms', type: 'number', default: 10_000, describe: 'ms within which a repeated identical device check is not rewritten (last_seen resolution)' },
  { key: 'pushOnRollout', flag: 'push-on-rollout', type: 'boolean', default: true, describe: 'publish cmd/ota when a rollout is created or changed (--no-push-on-rollout: like the real service, leave it to the workflow)' },
  { key: 'deviceTokens', flag: 'device-tokens', type: 'string', default: 'off', choices: ['off', 'required'], describe: 'require a per-device X-Device-Token on check, download and update-status' },
  { key: 'deviceTokenSecret', flag: 'device-token-secret', type: 'string', describe: 'secret device tokens are derived from (HMAC-SHA256; ≥ 16 characters)' },
  { key: 'deviceRateLimit', flag: 'device-rate-limit', type: 'number', default: 0, describe: 'requests per device per minute on device routes, 429 past it (0 = no limit)' },
  { key: 'tlsCert', flag: 'tls-cert', type: 'string', describe: 'serve HTTPS with this PEM certificate (chain) file; needs --tls-key' },
  { key: 'tlsKey', flag: 'tls-key', type: 'string', describe: 'PEM private key file of --tls-cert' },
  { key: 'logLevel', flag: 'log-level', type: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], describe: 'log level' },
];

/** What a caller may set: any subset, `modelChips` as a record or as `NAME=CHIP` strings. */
export type ServerConfigInput = Partial<Omit<ServerConfig, 'apiKeyDefaulted' | 'modelChips'>> & {
  modelChips?: Readonly<Record<string, string>> | readonly string[];
};

function port(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(`${name} must be an integer 0–65535, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new ConfigError(`${name} must be an integer ≥ 0, got ${v}`);
  return v;
}

function nonEmpty(name: string, v: string): string {
  if (v.length === 0) throw new ConfigError(`${name} must not be empty`);
  return v;
}

function oneOf<T extends string>(name: string, v: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(v)) throw new ConfigError(`${name} must be one of ${choices.join(', ')}, got "${v}"`);
  return v as T;
}

function modelChips(input: ServerConfigInput['modelChips']): Record<string, ChipName> {
  const pairs: [string, string][] = input === undefined ? []
    : Array.isArray(input) ? (input as readonly string[]).map((s) => {
      const i = s.indexOf('=');
      if (i <= 0) throw new ConfigError(`model-chip "${s}" must be NAME=CHIP, e.g. my-board=esp32s3`);
      return [s.slice(0, i), s.slice(i + 1)];
    })
      : Object.entries(input as Readonly<Record<string, string>>);
  const out: Record<string, ChipName> = {};
  for (const [model, chip] of pairs) {
    if (!SLUG_PATTERN.test(model)) throw new ConfigError(`model-chip name "${model}" must be a device_model slug (A-Z a-z 0-9 . _ -)`);
    if (!isChipName(chip)) throw new ConfigError(`model-chip "${model}=${chip}": unknown chip; use esp32, esp32s3, esp32c3, …`);
    out[model] = chip;
  }
  return out;
}

function url(name: string, v: string, schemes: readonly string[]): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch (e) {
    throw new ConfigError(`${name} "${v}" is not a URL`, { cause: e });
  }
  if (!schemes.includes(u.protocol)) throw new ConfigError(`${name} "${v}" must use ${schemes.join(' or ')}`);
  return v;
}

/**
 * Apply defaults, validate and freeze. Throws `ConfigError` naming the bad field.
 * @example resolveServerConfig({ port: 0, data: tmpDir, mqttPort: 0 })
 */
export function resolveServerConfig(input: ServerConfigInput = {}): ServerConfig {
  const apiKey = input.apiKey ?? null;
  if (apiKey !== null && apiKey.length < 8) throw new ConfigError('api-key must be at least 8 characters');
  const broker = input.broker ?? 'embedded';
  const topicPrefix = nonEmpty('topic-prefix', input.topicPrefix ?? 'paku');
  if (/[+#]/.test(topicPrefix) || topicPrefix.includes('\0') || topicPrefix.startsWith('/') || topicPrefix.endsWith('/')) {
    throw new ConfigError(`topic-prefix "${topicPrefix}" must not contain wildcards or start/end with "/"`);
  }
  const maxUploadBytes = input.maxUploadBytes ?? 16 * 1024 * 1024;
  if (!Number.isSafeInteger(maxUploadBytes) || maxUploadBytes < 1024) {
    throw new ConfigError(`max-upload-bytes must be an integer ≥ 1024, got ${maxUploadBytes}`);
  }
  const deviceTokens = oneOf('device-tokens', input.deviceTokens ?? 'off', ['off', 'required'] as const);
  const deviceTokenSecret = input.deviceTokenSecret ?? null;
  if (deviceTokenSecret !== null && deviceTokenSecret.length < 16) throw new ConfigError('device-token-secret must be at least 16 characters');
  if (deviceTokens === 'required' && deviceTokenSecret === null) throw new ConfigError('device-tokens required needs --device-token-secret');
  const tlsCert = input.tlsCert == null ? null : nonEmpty('tls-cert', input.tlsCert);
  const tlsKey = input.tlsKey == null ? null : nonEmpty('tls-key', input.tlsKey);
  if ((tlsCert === null) !== (tlsKey === null)) throw new ConfigError('tls-cert and tls-key go together: give both to serve HTTPS, or neither');
  const schema = input.databaseSchema ?? null;
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError(`database-schema "${schema}" must be a lower-case SQL identifier`);
  }
  const protocol = oneOf('protocol', input.protocol ?? 'paku-edge', PROTOCOL_PROFILES);
  return Object.freeze({
    port: port('port', input.port ?? 8080),
    host: nonEmpty('host', input.host ?? '127.0.0.1'),
    data: nonEmpty('data', input.data ?? './otasim-data'),
    database: input.database == null ? null : url('database', input.database, ['postgres:', 'postgresql:']),
    databaseSchema: schema,
    broker: broker === 'embedded' ? broker : url('broker', broker, ['mqtt:', 'tcp:', 'mqtts:', 'ws:', 'wss:']),
    mqttPort: port('mqtt-port', input.mqttPort ?? 1883),
    apiKey: apiKey ?? DEFAULT_API_KEY,
    apiKeyDefaulted: apiKey === null,
    topicPrefix,
    protocol,
    // The wire profile names its canary rule (protocol/profiles.ts); --bucketing overrides it.
    bucketing: oneOf('bucketing', input.bucketing ?? PROFILES[protocol].bucketing, BUCKETINGS),
    maxUploadBytes,
    publicUrl: input.publicUrl == null ? null : url('public-url', input.publicUrl.replace(/\/+$/, ''), ['http:', 'https:']),
    statusRequiresKey: input.statusRequiresKey ?? false,
    modelChips: Object.freeze(modelChips(input.modelChips)),
    cacheTtlMs: nonNegative('cache-ttl-ms', input.cacheTtlMs ?? 1000),
    downloadCacheBytes: nonNegative('download-cache-bytes', input.downloadCacheBytes ?? 64 * 1024 * 1024),
    checkInResolutionMs: nonNegative('check-in-resolution-ms', input.checkInResolutionMs ?? 10_000),
    pushOnRollout: input.pushOnRollout ?? true,
    deviceTokens,
    deviceTokenSecret,
    deviceRateLimit: nonNegative('device-rate-limit', input.deviceRateLimit ?? 0),
    logLevel: oneOf('log-level', input.logLevel ?? 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    tlsCert,
    tlsKey,
  });
}
