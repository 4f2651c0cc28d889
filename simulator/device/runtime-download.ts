/**
 * The download path of the virtual device, as esp_https_ota runs it (esp-idf-ota-facts §5.1, §5.4):
 * one `GET` through the undici Dispatcher, the first 1024 bytes held for the header check, then
 * `esp_ota_begin` and every further chunk straight into `esp_ota_write` as it arrives, hashed on the
 * way. Nothing but the in-flight chunk (and the 1024-byte header while the machine judges it) is
 * ever held: the image is never buffered. A resume sends `Range: bytes=N-` (+ `If-Range`) and keeps
 * writing through the same handle, like `esp_ota_resume`.
 *
 * Network faults apply here, at the port (simulator/faults/apply-http.ts), and so does a
 * `download`-phase power cut. Outcomes go back to the machine as events.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { sleep, type Cancel, type Clock } from '../../protocol/clock.js';
import { OtasimError } from '../../protocol/errors.js';
import { APP_DESC_OFFSET, APP_DESC_SIZE, ESP_IMAGE_HEADER_MAGIC, readAppDesc } from '../esp32/index.js';
import { faultyBody, isCleanPlan } from '../faults/apply-http.js';
import type { DeviceFaults } from '../faults/decide.js';
import { readSlot, type ChipDriver } from './runtime-chip.js';
import { serverPath, tokenHeaders } from './runtime-http.js';
import type { DeviceEffect, DeviceEvent, DownloadResponse, ImageHeaderInfo } from './types.js';
import { ADMISSION, type Admission } from './ports.js';

/** esp_https_ota reads exactly this many bytes before it checks the image (`IMAGE_HEADER_SIZE`, facts §5.1). */
export const HEADER_BYTES = 1024;

type DownloadEffect = Extract<DeviceEffect, { type: 'download' }>;

/** What the download path needs. */
export interface TransferDeps {
  readonly clock: Clock;
  readonly http: Dispatcher;
  readonly faults: DeviceFaults;
  readonly chip: ChipDriver;
  /** Base for relative download URLs (the OTA server), or null. */
  readonly serverUrl: string | null;
  /** The device's id and `X-Device-Token` (config `deviceToken`), sent with requests to `serverUrl`'s origin; none without a token. */
  readonly token?: { readonly deviceId: string; readonly value: string | null };
  /** No body byte for this long aborts the transfer as stalled, ms. */
  readonly stallTimeoutMs: number;
  /**
   * Largest `esp_ota_write`, bytes: the in-flight chunk is written in pieces of at most this, each
   * one a `download-progress` (esp_https_ota writes its receive buffer each time). Default 4096.
   */
  readonly writeBytes?: number;
  readonly emit: (event: DeviceEvent) => void;
}

/** Decode what the first bytes of a download say (`esp_image_header_t` + `esp_app_desc_t`, facts §3). */
export function headerInfo(b: Uint8Array): ImageHeaderInfo {
  const magicOk = b.length > 0 && b[0] === ESP_IMAGE_HEADER_MAGIC;
  // esp_image_header_t.chip_id: u16 little-endian at offset 12.
  const chipId = magicOk && b.length >= 24 ? (b[12] as number) | ((b[13] as number) << 8) : null;
  const desc = b.length >= APP_DESC_OFFSET + APP_DESC_SIZE ? readAppDesc(b) : null;
  return {
    bytes: b.length,
    magicOk,
    chipId,
    app: desc === null ? null : { version: desc.version, secureVersion: desc.secureVersion, projectName: desc.projectName },
  };
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = h[name];
  return typeof v === 'string' ? v : null;
}

function contentLength(v: string | null): number | null {
  return v !== null && /^\d{1,15}$/.test(v) ? Number(v) : null;
}

function reasonOf(e: unknown): string {
  if (e instanceof Error) {
    const code = 'code' in e && typeof e.code === 'string' ? `${e.code}: ` : '';
    return `${code}${e.message}`;
  }
  return String(e);
}

/** One request in flight. */
interface Active {
  readonly controller: AbortController;
  readonly offset: number;
  /** Body bytes held before the header was accepted (offset 0 only). */
  held: Uint8Array[] | null;
  accepted: boolean;
  wakeAccept: (() => void) | null;
  stalled: boolean;
  stallTimer: Cancel | null;
}

/** The device's one download slot. */
export class Transfer {
  readonly #d: TransferDeps;
  #active: Active | null = null;
  #hash: Hash | null = null;
  /** Bytes the hash (and flash) have taken, counted from image offset 0. */
  #written = 0;
  /** Body bytes left before a `download`-phase power cut, or null. */
  #cutLeft: number | null = null;

  constructor(deps: TransferDeps) {
    this.#d = deps;
  }

  /** Open the request the `download` effect asks for (dropping any other). */
  start(effect: DownloadEffect): void {
    this.cancel();
    const a: Active = {
      controller: new AbortController(), offset: effect.offset, held: effect.offset === 0 ? [] : null,
      accepted: effect.offset > 0, wakeAccept: null, stalled: false, stallTimer: null,
    };
    this.#active = a;
    const cut = this.#d.chip.takeDownloadCut();
    if (cut !== null) this.#cutLeft = cut;
    void this.#run(a, effect).catch((e: unknown) => this.#fail(a, e));
  }

  /** The machine accepted the header: `esp_ota_begin(slot, imageSize)`, then let the body flow into flash. */
  accept(imageSize: number): void {
    const a = this.#active;
    if (a === null || a.accepted) return;
    const out = this.#d.chip.begin(imageSize);
    if (out.kind === 'power-lost') {
      this.#drop(a);
      this.#d.emit({ type: 'power-lost' });
      return;
    }
    if (out.kind === 'error') {
      this.#drop(a);
      this.#d.emit({ type: 'ota-done', op: 'begin', error: out.error });
      return;
    }
    this.#hash = createHash('sha256');
    this.#written = 0;
    a.accepted = true;
    a.wakeAccept?.();
  }

  /** Drop the open request, if any. */
  cancel(): void {
    if (this.#active !== null) this.#drop(this.#active);
  }

  /** Forget the hash and counters (a reset lost RAM). */
  reset(): void {
    this.cancel();
    this.#hash = null;
    this.#written = 0;
    this.#cutLeft = null;
  }

  #drop(a: Active): void {
    if (this.#active === a) this.#active = null;
    a.stallTimer?.();
    a.stallTimer = null;
    a.controller.abort();
    a.wakeAccept?.();
  }

  #current(a: Active): boolean {
    return this.#active === a;
  }

  #fail(a: Active, e: unknown): void {
    if (!this.#current(a)) return;
    this.#drop(a);
    const written = a.accepted ? this.#written : a.offset;
    this.#d.emit({ type: 'download-error', written, reason: a.stalled ? `stalled: no data for ${this.#d.stallTimeoutMs} ms` : reasonOf(e), ...(a.stalled ? { stalled: true } : {}) });
  }

  #armStall(a: Active): void {
    a.stallTimer?.();
    a.stallTimer = this.#d.clock.setTimer({ delay: this.#d.stallTimeoutMs }, () => {
      a.stalled = true;
      a.controller.abort(new OtasimError('OTASIM_ERR_DOWNLOAD_STALLED', 'no data'));
    });
  }

  async #run(a: Active, effect: DownloadEffect): Promise<void> {
    const d = this.#d;
    let url: URL;
    try {
      url = d.serverUrl !== null && effect.url.startsWith('/') ? serverPath(d.serverUrl, effect.url) : new URL(effect.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported scheme ${url.protocol}`);
    } catch (e) {
      this.#fail(a, new OtasimError('OTASIM_ERR_INVALID_URL', `invalid download URL ${JSON.stringify(effect.url)}: ${reasonOf(e)}`));
      return;
    }
    // The token only goes to the OTA server it was issued by, never to another host a command names.
    const own = d.token !== undefined && d.serverUrl !== null && url.origin === new URL(d.serverUrl).origin;
    const headers: Record<string, string> = own && d.token !== undefined ? tokenHeaders(d.token.value, d.token.deviceId) : {};
    if (effect.offset > 0) {
      headers.range = `bytes=${effect.offset}-`;
      if (effect.ifRange !== null) headers['if-range'] = effect.ifRange;
    }
    this.#armStall(a);
    // A queueing dispatcher (the fleet's) stops the stall clock while the request waits for a slot.
    const admission: Admission = (state) => {
      if (!this.#current(a)) return;
      if (state === 'admitted') this.#armStall(a);
      else {
        a.stallTimer?.();
        a.stallTimer = null;
      }
    };
    const res = await d.http.request({
      origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers, signal: a.controller.signal, [ADMISSION]: admission,
    } as Dispatcher.RequestOptions);
    const h = res.headers;
    const response: DownloadResponse = {
      status: res.statusCode,
      contentLength: contentLength(header(h, 'content-length')),
      contentRange: header(h, 'content-range'),
      contentType: header(h, 'content-type'),
      etag: header(h, 'etag'),
    };
    const total = response.contentLength === null ? null : effect.offset + response.contentLength;
    const plan = d.faults.network({ version: effect.version, job: effect.job, request: effect.request, offset: effect.offset, size: total });
    a.stallTimer?.();
    if (plan.latencyMs > 0) await sleep(d.clock, plan.latencyMs, a.controller.signal);
    if (!this.#current(a)) return;
    d.emit({ type: 'download-response', response });
    if (!this.#current(a)) return;
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      this.#fail(a, new OtasimError('OTASIM_ERR_HTTP_STATUS', `HTTP ${res.statusCode}`));
      return;
    }
    if (effect.offset > 0 && res.statusCode !== 206) {
      // esp_https_ota: anything but 206 to a resume is ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE (facts §5.4).
      this.#fail(a, new OtasimError('OTASIM_ERR_HTTP_STATUS', `HTTP ${res.statusCode} to a Range request: the server ignored Range`));
      return;
    }
    const body = isCleanPlan(plan) ? res.body : faultyBody(res.body, plan, { clock: d.clock, startOffset: effect.offset, signal: a.controller.signal });
    if (a.accepted && !this.#resumeHash(a)) return;
    this.#armStall(a);
    let heldBytes = 0;
    for await (const chunk of body) {
      if (!this.#current(a)) return;
      if (!a.accepted) {
        (a.held as Uint8Array[]).push(chunk);
        heldBytes += chunk.length;
        if (heldBytes < HEADER_BYTES) continue;
        if (!(await this.#awaitAccept(a, heldBytes))) return;
        continue;
      }
      this.#armStall(a);
      if (!this.#write(a, chunk)) return;
    }
    if (!this.#current(a)) return;
    if (!a.accepted && !(await this.#awaitAccept(a, heldBytes))) return;
    this.#drop(a);
    d.emit({ type: 'download-end', written: this.#written, sha256: (this.#hash as Hash).copy().digest('hex') });
  }

  /** Report the (possibly short) header, wait for the machine's verdict, then write what was held. */
  async #awaitAccept(a: Active, heldBytes: number): Promise<boolean> {
    a.stallTimer?.();
    a.stallTimer = null;
    const held = Buffer.concat(a.held as Uint8Array[], heldBytes);
    a.held = null;
    this.#d.emit({ type: 'download-header', header: headerInfo(held.subarray(0, HEADER_BYTES)) });
    if (!a.accepted && this.#current(a)) await new Promise<void>((resolve) => { a.wakeAccept = resolve; });
    a.wakeAccept = null;
    if (!this.#current(a) || !a.accepted) return false;
    this.#armStall(a);
    return this.#write(a, held);
  }

  /** After a resume: the hash must cover bytes [0, offset); rebuild it from flash when RAM lost it. */
  #resumeHash(a: Active): boolean {
    if (this.#hash !== null && this.#written === a.offset) return true;
    const slot = this.#d.chip.slot;
    if (slot === null || !this.#d.chip.open) {
      this.#drop(a);
      this.#d.emit({ type: 'ota-done', op: 'write', error: { code: 'ESP_ERR_INVALID_ARG', message: 'resume: no OTA handle is open' } });
      return false;
    }
    this.#hash = createHash('sha256').update(readSlot(this.#d.chip.chip, slot, a.offset));
    this.#written = a.offset;
    return true;
  }

  /** `esp_ota_write` the chunk in pieces of at most `writeBytes`. */
  #write(a: Active, chunk: Uint8Array): boolean {
    const piece = this.#d.writeBytes ?? 4096;
    for (let at = 0; at < chunk.length; at += piece) {
      if (!this.#writePiece(a, chunk.subarray(at, at + piece))) return false;
    }
    return true;
  }

  /** `esp_ota_write` one piece (or the part of it before a power cut). */
  #writePiece(a: Active, chunk: Uint8Array): boolean {
    const d = this.#d;
    let data = chunk;
    const cutHere = this.#cutLeft !== null && this.#cutLeft < chunk.length;
    if (cutHere) data = chunk.subarray(0, this.#cutLeft as number);
    else if (this.#cutLeft !== null) this.#cutLeft -= chunk.length;
    if (data.length > 0) {
      const out = d.chip.write(data);
      if (out.kind !== 'ok') {
        this.#drop(a);
        d.emit(out.kind === 'power-lost' ? { type: 'power-lost' } : { type: 'ota-done', op: 'write', error: out.error });
        return false;
      }
      this.#hash?.update(data);
      this.#written += data.length;
    }
    if (cutHere) {
      this.#cutLeft = null;
      this.#drop(a);
      d.chip.powerOff();
      d.emit({ type: 'power-lost' });
      return false;
    }
    d.emit({ type: 'download-progress', written: this.#written });
    return this.#current(a);
  }
}
