/**
 * The update itself, as esp_https_ota runs it (esp-idf-ota-facts §5.1, §5.3–§5.4): one GET; the
 * response must be 200 with a Content-Length that fits the next OTA slot; the first 1024 bytes are
 * judged (magic, chip id, app descriptor, version, secure_version vs eFuse) before esp_ota_begin;
 * the body streams into esp_ota_write; a cut resumes with `Range: bytes=N-` and `If-Range` after a
 * backoff, a bounded number of times; the SHA-256 is compared with the offer before esp_ota_end;
 * then esp_ota_set_boot_partition, "installing", "rebooting", and the restart after a delay. Pure.
 */
import { backoffDelay } from './backoff.js';
import { draw, failJob, log, report, reset, rules, running, step, timer, type Ctx } from './kit.js';
import type { Offer } from './offer.js';
import type { DeviceEffect, DeviceEvent, DeviceState, Job, JobSource, PowerCutPhase, Step } from './types.js';

type E<T extends DeviceEvent['type']> = Extract<DeviceEvent, { type: T }>;

/** esp_https_ota reads exactly this many bytes before esp_ota_begin (`IMAGE_HEADER_SIZE`, facts §5.1). */
export const IMAGE_HEADER_BYTES = 1024;

function job(s: DeviceState): Job {
  if (s.job === null) throw new Error(`internal: phase ${s.phase} has no job`);
  return s.job;
}

/** The power-cut fault for this job's `phase`, as an effect to emit before the phase starts. */
function armCut(c: Ctx, j: Job, phase: PowerCutPhase): DeviceEffect[] {
  const plan = c.dev.faults.powerCut(j.target, j.index);
  if (plan === null || plan.phase !== phase) return [];
  return [log(`fault ${plan.rule}: power cut armed at byte ${plan.atByte} of ${phase}`), { type: 'arm-power-cut', phase, atByte: plan.atByte }];
}

function request(j: Job, offset: number): DeviceEffect {
  return {
    type: 'download', url: j.url, offset, ifRange: offset > 0 ? j.etag : null, version: j.target, job: j.index, request: j.requests - 1,
  };
}

/** Take an offer: note it in NVS, acknowledge it, report the start states at 0 %, and send the GET. */
export function startJob(c: Ctx, s: DeviceState, offer: Offer, source: JobSource): Step {
  const r = running(s);
  const rl = rules(c);
  const j: Job = {
    source, url: offer.url, target: offer.target, sha256: offer.sha256, size: null, written: 0, reported: 0, retries: 0,
    etag: null, begun: false, startedAt: c.now, index: s.nvs.jobs, requests: 1, image: null, reportedAt: null, shaMismatch: null,
  };
  const next: DeviceState = {
    ...s, phase: 'downloading', job: j,
    nvs: { ...s.nvs, jobs: s.nvs.jobs + 1, pending: { from: r.version, to: offer.target, source, slot: r.nextSlot, installed: false, failure: null } },
  };
  return step(next,
    log(`offer accepted: ${r.version} → ${offer.target} from ${offer.url}`),
    ...(source === 'mqtt' ? report(c, s, { kind: 'accepted', target: offer.target }) : []),
    // A blocking download (paku-core startUpdate, facts §1.3 step 5, §6 quirk 31): client.loop() stops until the job ends.
    ...(rl.mqttDuringDownload ? [] : [{ type: 'mqtt-service', serviced: false } as const]),
    ...rl.startStates.flatMap((state) => report(c, s, { kind: 'progress', target: offer.target, state, percent: 0, downloaded: 0, total: 0, elapsedMs: 0 })),
    ...armCut(c, j, 'download'),
    request(j, 0));
}

/** Start over from byte 0 (the server ignored or refused the Range): abort the handle, new GET. */
function restartFromZero(c: Ctx, s: DeviceState, why: string): Step {
  const j = job(s);
  if (j.retries >= c.dev.config.downloadRetries) return failJob(c, s, 'download_failed', `${why}; ${j.retries} retries used`);
  const fresh: Job = { ...j, written: 0, reported: 0, begun: false, etag: null, size: null, image: null, retries: j.retries + 1, requests: j.requests + 1 };
  return step({ ...s, job: fresh }, log(`${why}: restarting from byte 0`), { type: 'download-cancel' },
    ...(j.begun ? [{ type: 'ota', op: 'abort' } as const] : []), request(fresh, 0));
}

/** `bytes a-b/total` → [a, total], or null. */
function contentRange(v: string | null): [number, number] | null {
  const m = v === null ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(v.trim());
  return m === null ? null : [Number(m[1]), Number(m[3])];
}

/** Response headers of the first request or of a resume. */
export function downloadResponse(c: Ctx, s: DeviceState, e: E<'download-response'>): Step {
  const j = job(s);
  const res = e.response;
  if (j.begun) {
    // A resume: only a 206 for exactly the missing range continues the image (esp_https_ota §5.4).
    const range = contentRange(res.contentRange);
    if (res.status === 206 && range !== null && range[0] === j.written && range[1] === j.size) return step(s, log(`resumed at byte ${j.written} (206)`));
    // The server holds a different length than its first Content-Length said: the image cannot be completed.
    if (res.status === 416 || (res.status === 206 && range !== null && range[1] !== j.size)) {
      return failJob(c, s, 'content_length', `Content-Length said ${j.size ?? '?'}, resume at ${j.written} answered ${res.status} ${res.contentRange ?? ''}`.trimEnd(),
        res.status === 416 ? 'ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE' : undefined);
    }
    // Range ignored (200), or a 206 for other bytes: esp_https_ota restarts from 0 without resumption (§5.4).
    if (res.status === 200 || res.status === 206) return restartFromZero(c, s, `resume answered ${res.status}${res.contentRange ? ` ${res.contentRange}` : ''}`);
    return downloadCut(c, s, { type: 'download-error', written: j.written, reason: `resume answered HTTP ${res.status}` });
  }
  const strict = rules(c).strictDownload;
  // paku-core: HTTPClient.GET() must be exactly 200 (facts §4.5); esp_https_ota takes any 2xx body, so
  // a 206 that starts at byte 0 is the image too.
  const range = contentRange(res.contentRange);
  const fromZero = res.status === 206 && !strict && (res.contentRange === null || (range !== null && range[0] === 0));
  if (res.status !== 200 && !fromZero) {
    const esp = res.status === 304 ? 'ESP_ERR_HTTP_NOT_MODIFIED' : res.status === 416 ? 'ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE' : undefined;
    return failJob(c, s, 'http_status', `HTTP ${res.status}`, esp);
  }
  // Both need the size: paku-core getSize() <= 0 fails (facts §4.5); esp_https_ota needs image_length (esp-idf-ota-facts §5.3).
  if (res.contentLength === null || res.contentLength === 0) return failJob(c, s, 'content_length', `Content-Length is ${res.contentLength ?? 'absent'}`);
  const size = range !== null && res.status === 206 ? range[1] : res.contentLength;
  const r = running(s);
  if (r.nextSlot === null || r.nextSlotBytes === null) return failJob(c, s, 'no_partition', 'esp_ota_get_next_update_partition returned NULL');
  if (size !== null && size > r.nextSlotBytes) {
    return failJob(c, s, 'image_too_big', `${size} bytes > ${r.nextSlot} (${r.nextSlotBytes} bytes)`);
  }
  const etag = res.etag !== null && !res.etag.startsWith('W/') ? res.etag : null; // If-Range needs a strong validator
  return step({ ...s, job: { ...j, size, etag } });
}

/** The first 1024 bytes: judge the image before esp_ota_begin. */
export function downloadHeader(c: Ctx, s: DeviceState, e: E<'download-header'>): Step {
  const j = job(s);
  const r = running(s);
  const h = e.header;
  if (!h.magicOk) return failJob(c, s, 'not_an_image', 'first byte is not 0xE9', 'ESP_ERR_OTA_VALIDATE_FAILED');
  // paku-core writes whatever starts with 0xE9 (Arduino Update checks only the magic byte, facts §4.5).
  if (!rules(c).vetsImage) return step({ ...s, job: { ...j, begun: true, image: h.app?.version ?? null } }, ...armCut(c, j, 'erase'), ...armCut(c, j, 'write'), { type: 'download-accept', imageSize: j.size ?? 0 });
  // esp_https_ota: "Complete headers were not received" — even an image that short could not be an app.
  if (h.bytes < IMAGE_HEADER_BYTES) return failJob(c, s, 'image_truncated', `body ended after ${h.bytes} of the ${IMAGE_HEADER_BYTES} header bytes`);
  if (h.chipId !== r.chipId) return failJob(c, s, 'chip_mismatch', `image chip_id ${h.chipId}, this chip is ${r.chipId}`);
  if (h.app === null) return failJob(c, s, 'no_app_desc', 'no esp_app_desc_t at offset 0x20');
  if (j.target !== 'unknown' && h.app.version !== j.target) {
    return failJob(c, s, 'version_mismatch', `image is ${h.app.version}, offer named ${j.target}`);
  }
  if (!c.dev.config.allowDowngrade && h.app.version === r.version) return failJob(c, s, 'not_newer', `image is ${h.app.version}, the running version`);
  if (h.app.secureVersion < r.efuseSecureVersion) {
    return failJob(c, s, 'secure_version', `secure_version ${h.app.secureVersion} < eFuse ${r.efuseSecureVersion}`);
  }
  const accepted: Job = { ...j, begun: true, image: h.app.version };
  return step({ ...s, job: accepted }, ...armCut(c, j, 'erase'), ...armCut(c, j, 'write'), { type: 'download-accept', imageSize: j.size ?? 0 });
}

/**
 * Bytes are in flash: report at each `progressStepPercent` crossed, or (paku-core
 * `PROGRESS_UPDATE_INTERVAL_MS`, facts §1.5) at most once per `progressEveryMs`, the first write at once.
 */
export function downloadProgress(c: Ctx, s: DeviceState, e: E<'download-progress'>): Step {
  const j = job(s);
  const size = j.size ?? 0;
  const percent = size === 0 ? 0 : Math.min(100, Math.floor((e.written * 100) / size));
  const every = rules(c).progressEveryMs;
  if (every !== null) {
    const next: DeviceState = { ...s, job: { ...j, written: e.written } };
    if (j.reportedAt !== null && c.now - j.reportedAt < every) return step(next);
    return step({ ...next, job: { ...next.job as Job, reportedAt: c.now, reported: percent } }, ...report(c, s, {
      kind: 'progress', target: j.target, state: 'Downloading', percent, downloaded: e.written, total: size, elapsedMs: c.now - j.startedAt,
    }));
  }
  const stepPct = c.dev.config.progressStepPercent;
  const reached = Math.floor(percent / stepPct) * stepPct;
  const next: DeviceState = { ...s, job: { ...j, written: e.written, reported: Math.max(j.reported, reached) } };
  if (reached <= j.reported) return step(next);
  return step(next, ...report(c, s, {
    kind: 'progress', target: j.target, state: 'Downloading', percent, downloaded: e.written, total: size, elapsedMs: c.now - j.startedAt,
  }));
}

/**
 * The body ended: all of it? the right SHA-256? Then esp_ota_end. paku-core compares the SHA-256
 * only after `Update.end(true)` has set the boot partition (facts §4.4, §6 quirk 29): the mismatch is
 * noted here and reported once the slot is activated.
 */
export function downloadEnd(c: Ctx, s: DeviceState, e: E<'download-end'>): Step {
  const j = job(s);
  const rl = rules(c);
  const size = j.size ?? 0;
  if (e.written > size) return failJob(c, s, 'content_length', `body is longer than Content-Length ${size}`);
  if (e.written < size) return downloadCut(c, s, { type: 'download-error', written: e.written, reason: `body ended at ${e.written} of ${size} bytes` });
  const mismatch = j.sha256 !== null && e.sha256 !== j.sha256 ? `got ${e.sha256}, offer says ${j.sha256}` : null;
  if (mismatch !== null && !rl.checksumAfterActivate) return failJob(c, s, 'checksum_mismatch', mismatch);
  const verifying = !rl.verifyingNeedsChecksum || j.sha256 !== null;
  return step({ ...s, phase: 'verifying', job: { ...j, written: e.written, size, shaMismatch: mismatch } },
    ...(verifying ? report(c, s, { kind: 'progress', target: j.target, state: 'Verifying', percent: 100, downloaded: size, total: size, elapsedMs: c.now - j.startedAt }) : []),
    { type: 'ota', op: 'end' });
}

/** The transfer broke: resume after a backoff, or give up when the retries are spent. */
export function downloadCut(c: Ctx, s: DeviceState, e: E<'download-error'>): Step {
  const j = job(s);
  const reason = e.stalled ? 'timeout' : 'download_failed';
  if (!rules(c).resume) return failJob(c, s, reason, e.reason);
  if (j.retries >= c.dev.config.downloadRetries) return failJob(c, s, reason, `${e.reason}; ${j.retries} retries used`);
  const [u, drawn] = draw(c, s, 'download-jitter');
  const delay = backoffDelay(c.dev.config.downloadBackoff, j.retries + 1, u);
  const written = j.begun ? Math.max(j.written, e.written) : 0;
  return step({ ...drawn, phase: 'retry-wait', job: { ...j, written, retries: j.retries + 1 } },
    { type: 'download-cancel' },
    log(`download cut at ${written} bytes (${e.reason}); retry ${j.retries + 1}/${c.dev.config.downloadRetries} in ${delay} ms`),
    timer('download-retry', delay));
}

/** The backoff is over: `Range: bytes=N-` when bytes are in flash, else start over. */
export function downloadResume(_c: Ctx, s: DeviceState): Step {
  const j = job(s);
  if (j.begun && j.written > 0) {
    const next: Job = { ...j, requests: j.requests + 1 };
    return step({ ...s, phase: 'downloading', job: next }, request(next, j.written));
  }
  const fresh: Job = { ...j, written: 0, reported: 0, begun: false, size: null, etag: null, image: null, requests: j.requests + 1 };
  return step({ ...s, phase: 'downloading', job: fresh }, ...(j.begun ? [{ type: 'ota', op: 'abort' } as const] : []), request(fresh, 0));
}

/** esp_ota_begin or esp_ota_write returned an error. */
export function writeFailed(c: Ctx, s: DeviceState, e: E<'ota-done'>): Step {
  const err = e.error;
  if (err === undefined) return step(s);
  if (e.op === 'begin' && err.code === 'ESP_ERR_INVALID_SIZE') return failJob(c, s, 'image_too_big', err.message, err.code);
  if (e.op === 'begin' && err.code === 'ESP_ERR_NOT_FOUND') return failJob(c, s, 'no_partition', err.message, err.code);
  return failJob(c, s, e.op === 'begin' ? 'begin_failed' : 'flash_write_failed', err.message, err.code);
}

/** esp_ota_end returned: the image verified → esp_ota_set_boot_partition. */
export function verified(c: Ctx, s: DeviceState, e: E<'ota-done'>): Step {
  const j = job(s);
  if (e.error !== undefined) return failJob(c, s, 'validate_failed', e.error.message, e.error.code);
  return step({ ...s, phase: 'activating', job: { ...j, begun: false } }, ...armCut(c, j, 'otadata'), { type: 'ota', op: 'set-boot' });
}

/** esp_ota_set_boot_partition returned: installed; report and restart after the delay. */
export function activated(c: Ctx, s: DeviceState, e: E<'ota-done'>): Step {
  const j = job(s);
  if (e.error !== undefined) return failJob(c, s, 'set_boot_failed', e.error.message, e.error.code);
  const rl = rules(c);
  const installed: DeviceState = { ...s, nvs: { ...s.nvs, lastInstalled: j.image ?? j.target } };
  // paku-core: the checksum fails after the new slot is already the boot partition; no restart now.
  if (j.shaMismatch !== null) return failJob(c, installed, 'checksum_mismatch', `${j.shaMismatch} (the boot partition is already set)`);
  // Firmware that reports before its restart has nothing left to report after it (facts §1.6).
  const pending = s.nvs.pending === null || rl.resultBeforeReboot ? null : { ...s.nvs.pending, installed: true };
  const size = j.size ?? 0;
  return step({ ...installed, phase: 'rebooting', nvs: { ...installed.nvs, pending } },
    log(`boot partition set to ${s.nvs.pending?.slot ?? '?'}; restarting in ${c.dev.config.rebootDelayMs} ms`),
    ...report(c, s, { kind: 'progress', target: j.target, state: rl.installedState, percent: 100, downloaded: size, total: size, elapsedMs: c.now - j.startedAt }),
    ...(rl.resultBeforeReboot ? report(c, s, { kind: 'success', target: j.target }) : []),
    ...(rl.mqttDuringDownload ? [] : [{ type: 'mqtt-service', serviced: true } as const]),
    ...report(c, s, { kind: 'rebooting', target: j.target }),
    timer('reboot', c.dev.config.rebootDelayMs));
}

/** The delay is over: esp_restart. */
export function restart(c: Ctx, s: DeviceState): Step {
  const j = job(s);
  const r = reset(c, s, 'sw-restart', rules(c).gracefulRestart);
  return step(r.state, ...armCut(c, j, 'reboot'), ...r.effects);
}
