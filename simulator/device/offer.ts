/**
 * Reading an offer, from MQTT `cmd/ota` (paku-protocol-facts §1.3: `{url, version?, checksum?}`,
 * other keys ignored) or from `GET /api/firmware/check` (seed 002: `update_available`,
 * `latest_version`, `download_url`, `checksum_sha256`), and deciding whether to take it: the model
 * must be ours, the version newer (or downgrades allowed); the version it already runs is a job
 * already done ({@link AlreadyRunning}). Never throws. Pure.
 */
import { z } from 'zod';
import type { DeviceConfig } from './config.js';
import type { FailureReason } from './reasons.js';
import { isNewer } from '../../protocol/versions.js';

/** An offer the device will try. */
export interface Offer {
  readonly url: string;
  /** Version named by the offer, or `unknown`. */
  readonly target: string;
  /** Lower-case SHA-256 hex, or null to skip the comparison. */
  readonly sha256: string | null;
}

/**
 * An offer of exactly the version the device runs (and has confirmed): nothing to flash. The job is
 * already done, so the device says so (its status and a success result) instead of refusing it as
 * not newer, which a server would count as a failed update of a device that runs the release.
 */
export interface AlreadyRunning {
  readonly alreadyRunning: true;
  readonly target: string;
  readonly detail: string;
}

/** An offer refused before any download; `target` is what it named, for the report. */
export interface Refusal {
  readonly refused: FailureReason;
  readonly target: string;
  readonly detail: string;
}

const optText = z.string().nullable().optional();

/** `cmd/ota`: only `url` is required; `device_model` is honoured when a server adds it. */
const Command = z.looseObject({ url: z.unknown().optional(), version: optText, checksum: optText, device_model: optText });

/** `FirmwareCheckResponse`, read leniently (a device ignores keys it does not know). */
const CheckBody = z.looseObject({
  update_available: z.boolean(),
  latest_version: optText,
  download_url: optText,
  checksum_sha256: optText,
  device_model: optText,
});

/** What a version string may be to go on the wire (the HTTP body caps `firmware_version` at 128). */
function targetOf(v: string | null | undefined): string | null {
  if (v === null || v === undefined || v === '') return 'unknown';
  return v.length <= 128 && !v.includes('\0') ? v : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The `device_model` a download URL names in its query, if any (seed 002/paku: `?device_model=`). */
function urlModel(url: string): string | null | undefined {
  try {
    return new URL(url, 'http://device.invalid/').searchParams.get('device_model');
  } catch {
    return undefined; // not a URL at all
  }
}

/**
 * The checksum as paku-core's OtaClient reads it (facts §4.6): hex two characters at a time, only the
 * first 64 count; a shorter or odd one cannot match, so the download goes ahead and fails verifying.
 */
function lenientChecksum(v: string): string {
  const head = v.slice(0, 64);
  return /^[0-9a-fA-F]{64}$/.test(head) ? head.toLowerCase() : `unmatchable:${head}`;
}

/**
 * Check the fields common to both sources and the device's rules. `vets` false (paku-core, facts
 * §1.3, §4.1): only `url` matters; the model, the version and the checksum's form are not checked.
 */
function judge(config: DeviceConfig, runningVersion: string, lastInvalid: string | null, f: {
  url: unknown; version: string | null | undefined; checksum: string | null | undefined; model: string | null | undefined;
}, vets = true): Offer | Refusal | AlreadyRunning {
  const target = targetOf(f.version);
  if (target === null) return { refused: 'offer_malformed', target: 'unknown', detail: 'version is longer than 128 characters or holds NUL' };
  if (typeof f.url !== 'string' || f.url.length === 0) return { refused: 'offer_malformed', target, detail: 'url is missing or empty' };
  const inUrl = urlModel(f.url);
  if (inUrl === undefined) return { refused: 'offer_malformed', target, detail: `url ${JSON.stringify(f.url.slice(0, 200))} does not parse` };
  let sha256: string | null = null;
  if (!vets) return { url: f.url, target, sha256: f.checksum === null || f.checksum === undefined || f.checksum === '' ? null : lenientChecksum(f.checksum) };
  if (f.checksum !== null && f.checksum !== undefined && f.checksum !== '') {
    if (!/^[0-9a-fA-F]{64}$/.test(f.checksum)) return { refused: 'offer_malformed', target, detail: 'checksum is not 64 hex characters' };
    sha256 = f.checksum.toLowerCase();
  }
  for (const model of [f.model, inUrl]) {
    if (model !== null && model !== undefined && model !== config.deviceModel) {
      return { refused: 'model_mismatch', target, detail: `offer is for ${model}, this device is ${config.deviceModel}` };
    }
  }
  if (target === runningVersion && !config.allowDowngrade) {
    return { alreadyRunning: true, target, detail: `offered ${target}, which this device already runs` };
  }
  if (target !== 'unknown' && !config.allowDowngrade && !isNewer(target, runningVersion)) {
    return { refused: 'not_newer', target, detail: `offered ${target}, running ${runningVersion}` };
  }
  // ESP-IDF native_ota_example: refuse the version that was already rolled back here.
  if (target !== 'unknown' && !config.allowDowngrade && target === lastInvalid) {
    return { refused: 'known_bad', target, detail: `${target} was rolled back on this device before` };
  }
  return { url: f.url, target, sha256 };
}

/** Read a `cmd/ota` payload; `vets` as in BehaviourRules.vetsImage. */
export function offerFromCommand(config: DeviceConfig, runningVersion: string, payload: string, lastInvalid: string | null = null, vets = true): Offer | Refusal | AlreadyRunning {
  const json = parseJson(payload);
  if (json === undefined) return { refused: 'offer_malformed', target: 'unknown', detail: 'payload is not JSON' };
  const cmd = Command.safeParse(json);
  if (!cmd.success) return { refused: 'offer_malformed', target: 'unknown', detail: `payload is not an OTA command: ${cmd.error.issues[0]?.message ?? 'invalid'}` };
  const d = cmd.data;
  return judge(config, runningVersion, lastInvalid, { url: d.url, version: d.version, checksum: d.checksum, model: d.device_model }, vets);
}

/** What a check answer means: nothing to do, an offer, a refused offer, or an unusable answer. */
export type CheckOutcome = { readonly none: true } | { readonly unusable: string } | Offer | Refusal | AlreadyRunning;

/** Read a `/api/firmware/check` answer; `vets` as in BehaviourRules.vetsImage. */
export function offerFromCheck(config: DeviceConfig, runningVersion: string, status: number, body: string, lastInvalid: string | null = null, vets = true): CheckOutcome {
  if (status !== 200) return { unusable: `check answered HTTP ${status}` };
  const parsed = CheckBody.safeParse(parseJson(body));
  if (!parsed.success) return { unusable: 'check answer is not a FirmwareCheckResponse' };
  const d = parsed.data;
  if (!d.update_available) return { none: true };
  return judge(config, runningVersion, lastInvalid, { url: d.download_url, version: d.latest_version, checksum: d.checksum_sha256, model: d.device_model }, vets);
}

export function isRefusal(x: object): x is Refusal {
  return 'refused' in x;
}

export function isAlreadyRunning(x: object): x is AlreadyRunning {
  return 'alreadyRunning' in x;
}
