/**
 * A synchronous, in-process stand-in for the device runtime, for the machine's table-driven tests:
 * the pure machine drives a real emulated chip (simulator/esp32), a VirtualClock, an in-memory HTTP
 * "server" (url → reply) and an in-memory MQTT session that records what is published. Network
 * faults (drop, flaky, corrupt) come from the same `DeviceFaults.network` the runtime uses; latency
 * and bandwidth are the runtime's business and are not modelled here.
 */
import { createHash } from 'node:crypto';
import { VirtualClock, type Cancel } from '../../protocol/clock.js';
import type { UpdateStatusBody } from '../../protocol/payloads.js';
import {
  CHIPS, Efuse, Esp32, ImagePool, buildAppImage, flashFromPlan, parsePartitionCsv, planFlash, type ChipName, type Partition,
} from '../../simulator/esp32/index.js';
import { deviceFaults, faultProfile, type FaultProfileInput } from '../../simulator/faults/index.js';
import {
  initialState, parseDeviceConfig, transition, type BootInfo, type DeviceConfigInput, type DeviceContext, type DeviceEffect,
  type DeviceEvent, type DeviceState, type Phase, type PowerCutPhase, type TimerName,
} from '../../simulator/device/index.js';
import { IMAGE_HEADER_BYTES } from '../../simulator/device/download.js';
import { EspError } from '../../protocol/errors.js';

export const CHIP: ChipName = 'esp32';
export const START = Date.UTC(2025, 0, 1, 12, 0, 0);
/** Default OTA slot: 256 KiB. */
export const SLOT = 0x40000;
const pool = new ImagePool();
const images = new Map<string, Uint8Array>();

/** An app image for `chip`, built once per (chip, version, size, secureVersion). */
export function image(version: string, opts: { size?: number; secureVersion?: number; chip?: ChipName } = {}): Uint8Array {
  const chip = opts.chip ?? CHIP;
  const key = `${chip}:${version}:${opts.size ?? 40_000}:${opts.secureVersion ?? 0}`;
  let img = images.get(key);
  if (img === undefined) {
    img = buildAppImage({ chip, version, size: opts.size ?? 40_000, secureVersion: opts.secureVersion ?? 0 });
    images.set(key, img);
  }
  return img;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** What the in-memory server answers. */
export interface Reply {
  readonly status: number;
  readonly body?: Uint8Array;
  /** Defaults: Content-Length = body length, no Content-Range, application/octet-stream, no ETag. */
  readonly contentLength?: number | null;
  readonly contentRange?: string | null;
  readonly contentType?: string;
  readonly etag?: string | null;
}

export type Server = (req: { url: string; offset: number; ifRange: string | null }) => Reply;

/** A server that holds `files` (url → bytes) and honours Range/If-Range with a strong ETag. */
export function fileServer(files: Record<string, Uint8Array>): Server {
  return ({ url, offset, ifRange }) => {
    const path = url.split('?')[0] ?? url;
    const body = files[path];
    if (body === undefined) return { status: 404, body: new TextEncoder().encode('{"error":"not found"}'), contentType: 'application/json' };
    const etag = `"${sha256(body).slice(0, 16)}"`;
    if (offset > 0 && (ifRange === null || ifRange === etag)) {
      if (offset >= body.length) return { status: 416, contentRange: `bytes */${body.length}` };
      return { status: 206, body: body.subarray(offset), contentRange: `bytes ${offset}-${body.length - 1}/${body.length}`, etag };
    }
    return { status: 200, body, etag };
  };
}

export interface LoopbackOptions {
  readonly id?: string;
  readonly config?: Partial<DeviceConfigInput>;
  readonly profile?: FaultProfileInput;
  /** Starting version in ota_0. Default 1.0.0. */
  readonly version?: string;
  readonly secureVersion?: number;
  /** eFuse SECURE_VERSION raw bits already burned. */
  readonly efuseRaw?: number;
  readonly rollback?: boolean;
  readonly antiRollback?: boolean;
  readonly server?: Server;
  readonly check?: (q: { device_id: string; device_model: string; current_version: string }) => { status: number; body: string };
  /** The broker refuses every connect. */
  readonly brokerDown?: boolean;
}

interface Stream {
  readonly body: Uint8Array;
  /** Image offset of body[0]. */
  readonly start: number;
  /** Body bytes delivered so far. */
  pos: number;
  readonly cutAfter: number | null;
}

/** One device in a test: the machine, the chip, the clock and everything said on the wire. */
export class Loopback {
  readonly clock = new VirtualClock({ start: START });
  readonly chip: Esp32;
  readonly ctx: DeviceContext;
  state: DeviceState = initialState();
  /** The phase chain, consecutive repeats collapsed. */
  readonly phases: Phase[] = ['off'];
  /** The status log, one compact line per report (see `describeWire`). */
  readonly statusLog: string[] = [];
  readonly published: { topic: string; payload: string; retain: boolean }[] = [];
  readonly httpReports: UpdateStatusBody[] = [];
  readonly requests: { url: string; offset: number; ifRange: string | null; status: number }[] = [];
  readonly connects: number[] = [];
  readonly lines: string[] = [];
  readonly effects: DeviceEffect[] = [];
  #queue: DeviceEvent[] = [];
  #pumping = false;
  #timers = new Map<TimerName, Cancel>();
  #stream: Stream | null = null;
  #cut: { phase: PowerCutPhase; atByte: number } | null = null;
  #handle: number | null = null;
  #slot: Partition | null = null;
  #link = false;

  constructor(readonly opts: LoopbackOptions = {}) {
    const config = parseDeviceConfig({ deviceId: opts.id ?? 'esp32_001', mac: 'AA:BB:CC:00:00:01', ...opts.config });
    const faults = deviceFaults(faultProfile(opts.profile ?? {}), config.seed, config.deviceId);
    this.ctx = { config, faults };
    const slot = faults.slotBytes() ?? SLOT;
    const table = parsePartitionCsv([
      'nvs, data, nvs, 0x9000, 0x5000', 'otadata, data, ota, 0xe000, 0x2000',
      `ota_0, app, ota_0, 0x10000, 0x${slot.toString(16)}`, `ota_1, app, ota_1, , 0x${slot.toString(16)}`,
    ].join('\n'));
    const flashSize = Math.max(0x400000, 0x10000 + 2 * slot);
    const plan = planFlash({ chip: CHIP, flashSize, table, pool, apps: { ota_0: image(opts.version ?? '1.0.0', { secureVersion: opts.secureVersion ?? 0 }) }, otadata: { slot: 0 } });
    this.chip = Esp32.create({
      config: { chip: CHIP, rollback: opts.rollback ?? true, antiRollback: opts.antiRollback ?? false }, flash: flashFromPlan(plan), pool,
      ...(opts.efuseRaw === undefined ? {} : { efuse: Efuse.create(CHIP, { secureVersionRaw: opts.efuseRaw }) }),
    });
  }

  get config() {
    return this.ctx.config;
  }

  /** Power on and run until `ms` of device time passed. */
  start(ms = 60_000): this {
    this.send({ type: 'power-on' });
    return this.run(ms);
  }

  run(ms: number): this {
    this.clock.advance(ms);
    return this;
  }

  /** Publish an OTA command to the device (if it is connected), then run `ms`. */
  offer(payload: object | string, ms = 120_000): this {
    if (this.#link) {
      const topic = `${this.config.topicPrefix}/${this.config.protocol === 'paku-legacy' ? 'devices' : 'edge'}/${this.config.deviceId}/cmd/ota`;
      this.send({ type: 'mqtt-message', topic, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
    }
    return this.run(ms);
  }

  /** Pull the plug now. */
  pullPlug(): void {
    this.chip.powerOff();
    this.#stream = null;
    this.send({ type: 'power-lost' });
  }

  /** What the chip runs: `label:version (STATE)`, or why nothing runs. */
  get running(): string {
    const b = this.state.running;
    if (b === null) return `(${this.state.phase})`;
    return `${b.partition}:${b.version}`;
  }

  send(e: DeviceEvent): void {
    this.#queue.push(e);
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (let ev = this.#queue.shift(); ev !== undefined; ev = this.#queue.shift()) {
        const out = transition(this.ctx, this.state, ev, this.clock.now());
        this.state = out.state;
        if (this.phases.at(-1) !== out.state.phase) this.phases.push(out.state.phase);
        for (const eff of out.effects) this.#apply(eff);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #apply(e: DeviceEffect): void {
    this.effects.push(e);
    switch (e.type) {
      case 'boot': return this.#boot();
      case 'ota': return this.#ota(e.op);
      case 'set-timer': {
        this.#timers.get(e.name)?.();
        this.#timers.set(e.name, this.clock.setTimer({ delay: e.delayMs }, () => {
          this.#timers.delete(e.name);
          this.send({ type: 'timer', name: e.name });
        }));
        return;
      }
      case 'cancel-timer': {
        this.#timers.get(e.name)?.();
        this.#timers.delete(e.name);
        return;
      }
      case 'mqtt-connect': {
        this.connects.push(this.clock.now());
        if (this.opts.brokerDown) return this.send({ type: 'mqtt-failed', reason: 'connection refused' });
        this.#link = true;
        return this.send({ type: 'mqtt-up' });
      }
      case 'mqtt-subscribe': return;
      case 'mqtt-publish': return this.#record(e.topic, e.payload, e.retain);
      case 'mqtt-close': {
        if (this.#link && !e.graceful) this.#record(`${this.config.topicPrefix}/edge/${this.config.deviceId}/status`, '{"online":false}', true);
        this.#link = false;
        return;
      }
      case 'http-check': {
        const r = this.opts.check?.(e.query) ?? { status: 200, body: '{"update_available":false}' };
        return this.send({ type: 'check-response', status: r.status, body: r.body });
      }
      case 'http-report': {
        this.httpReports.push(e.body);
        this.statusLog.push(`http ${e.body.status} ${e.body.firmware_version} ${e.body.progress_percent ?? '-'}${e.body.error_message ? ` ${e.body.error_message.split(':')[0]}` : ''}`);
        return;
      }
      case 'download': return this.#download(e);
      case 'download-accept': return this.#accept(e.imageSize);
      case 'download-cancel': this.#stream = null; return;
      case 'arm-power-cut': this.#cut = { phase: e.phase, atByte: e.atByte }; return;
      case 'log': this.lines.push(e.message); return;
    }
  }

  #record(topic: string, payload: string, retain: boolean): void {
    this.published.push({ topic, payload, retain });
    this.statusLog.push(describeWire(topic, payload));
  }

  #lost(): void {
    this.#stream = null;
    this.#handle = null;
    this.send({ type: 'power-lost' });
  }

  #fire(phase: PowerCutPhase): void {
    if (this.#cut?.phase !== phase) return;
    this.chip.flash.cutPowerAfter(this.#cut.atByte);
    this.#cut = null;
  }

  #boot(): void {
    this.#handle = null;
    this.chip.flash.powerOn();
    this.#fire('reboot');
    const r = this.chip.boot();
    this.chip.flash.disarmPowerCut();
    if (!r.ok && r.reason === 'power-lost') return this.#lost();
    this.send({ type: 'booted', boot: this.#bootInfo() });
  }

  #bootInfo(): BootInfo {
    const r = this.chip.lastBoot;
    if (r === null || !r.ok) return { ok: false, reason: r?.reason ?? 'never booted' };
    const next = this.chip.getNextUpdatePartition();
    let otaState: Extract<BootInfo, { ok: true }>['otaState'] = 'UNDEFINED';
    try {
      const names = ['NEW', 'PENDING_VERIFY', 'VALID', 'INVALID', 'ABORTED'] as const;
      otaState = names[this.chip.getStatePartition(r.partition)] ?? 'UNDEFINED';
    } catch { /* no otadata entry */ }
    return {
      ok: true, version: r.app?.version ?? '', secureVersion: r.app?.secureVersion ?? 0, partition: r.partition.label, otaState,
      efuseSecureVersion: this.chip.efuse.readSecureVersion(), chipId: CHIPS[CHIP].chipId, nextSlot: next?.label ?? null, nextSlotBytes: next?.size ?? null,
      rollback: this.chip.config.rollback,
    };
  }

  /** Run a chip call; `false` when it cut the power (the machine has been told). */
  #call(op: 'begin' | 'write' | 'end' | 'set-boot' | 'mark-valid' | 'abort', fn: () => void, report = true): boolean {
    try {
      fn();
      if (report) this.send({ type: 'ota-done', op });
      return true;
    } catch (err) {
      if (this.chip.state === 'off') {
        this.#lost();
        return false;
      }
      if (!(err instanceof EspError)) throw err;
      this.send({ type: 'ota-done', op, error: { code: err.code, message: err.message } });
      return false;
    }
  }

  #ota(op: 'end' | 'set-boot' | 'mark-valid' | 'abort' | 'mark-invalid'): void {
    switch (op) {
      case 'mark-valid': this.#call('mark-valid', () => this.chip.markAppValidCancelRollback()); return;
      case 'mark-invalid':
        if (this.#call('mark-valid', () => this.chip.markAppInvalidRollback(), false)) this.#boot();
        return;
      case 'abort': {
        const h = this.#handle;
        this.#handle = null;
        if (h !== null) this.#call('abort', () => this.chip.otaAbort(h), false);
        return;
      }
      case 'end': {
        const h = this.#handle;
        this.#handle = null;
        this.#call('end', () => { if (h === null) throw new EspError('ESP_ERR_INVALID_ARG', 'no handle'); this.chip.otaEnd(h); });
        return;
      }
      case 'set-boot': {
        const slot = this.#slot;
        this.#fire('otadata');
        this.#call('set-boot', () => { if (slot === null) throw new EspError('ESP_ERR_INVALID_ARG', 'no slot'); this.chip.setBootPartition(slot); });
        this.chip.flash.disarmPowerCut();
        return;
      }
    }
  }

  #download(e: Extract<DeviceEffect, { type: 'download' }>): void {
    const server = this.opts.server ?? fileServer({});
    const reply = server({ url: e.url, offset: e.offset, ifRange: e.ifRange });
    this.requests.push({ url: e.url, offset: e.offset, ifRange: e.ifRange, status: reply.status });
    const body = reply.body ?? new Uint8Array(0);
    const contentLength = reply.contentLength === undefined ? body.length : reply.contentLength;
    const plan = this.ctx.faults.network({ version: e.version, job: e.job, request: e.request, offset: e.offset, size: e.offset + body.length });
    const bytes = plan.corrupt.length === 0 ? body : body.slice();
    for (const c of plan.corrupt) {
      const i = c.at - e.offset;
      if (i >= 0 && i < bytes.length) bytes[i] = (bytes[i] ?? 0) ^ c.xor;
    }
    this.send({ type: 'download-response', response: {
      status: reply.status, contentLength, contentRange: reply.contentRange ?? null,
      contentType: reply.contentType ?? 'application/octet-stream', etag: reply.etag ?? null,
    } });
    if (reply.status < 200 || reply.status > 299 || this.state.phase !== 'downloading') return;
    this.#stream = { body: bytes.subarray(0, contentLength ?? bytes.length), start: e.offset, pos: 0, cutAfter: plan.cutAfter };
    if (e.offset === 0) {
      const s = this.#stream;
      const head = s.body.subarray(0, IMAGE_HEADER_BYTES);
      if (this.#cut?.phase === 'download' && this.#cut.atByte < head.length) {
        this.#cut = null;
        this.chip.powerOff();
        return this.#lost();
      }
      if (s.cutAfter !== null && s.cutAfter < head.length) {
        this.#stream = null;
        return this.send({ type: 'download-error', written: 0, reason: 'connection reset (fault)' });
      }
      this.send({ type: 'download-header', header: headerOf(head) });
    } else {
      this.#pump();
    }
  }

  #accept(imageSize: number): void {
    const slot = this.chip.getNextUpdatePartition();
    if (slot === null) return this.send({ type: 'ota-done', op: 'begin', error: { code: 'ESP_ERR_NOT_FOUND', message: 'no slot' } });
    this.#fire('erase');
    const ok = this.#call('begin', () => { this.#handle = this.chip.otaBegin(slot, imageSize); }, false);
    this.chip.flash.disarmPowerCut();
    if (!ok) return;
    this.#slot = slot;
    this.#fire('write');
    this.#pump();
  }

  /** Deliver the stream in 4 KiB chunks into esp_ota_write, honouring cuts and power cuts. */
  #pump(): void {
    for (;;) {
      const s = this.#stream;
      if (s === null || this.state.phase !== 'downloading') return;
      const written = s.start + s.pos;
      if (s.pos >= s.body.length) {
        this.#stream = null;
        const slot = this.#slot;
        const hash = slot === null ? '' : sha256(this.chip.flash.read(slot.offset, written));
        return this.send({ type: 'download-end', written, sha256: hash });
      }
      let n = Math.min(4096, s.body.length - s.pos);
      if (s.cutAfter !== null) n = Math.min(n, s.cutAfter - s.pos);
      if (this.#cut?.phase === 'download') n = Math.min(n, Math.max(0, this.#cut.atByte - written));
      if (n <= 0) {
        if (this.#cut?.phase === 'download' && written >= this.#cut.atByte) {
          this.#cut = null;
          this.chip.powerOff();
          return this.#lost();
        }
        this.#stream = null;
        return this.send({ type: 'download-error', written, reason: 'connection reset (fault)' });
      }
      const chunk = s.body.subarray(s.pos, s.pos + n);
      const h = this.#handle;
      if (h === null) return;
      if (!this.#call('write', () => this.chip.otaWrite(h, chunk), false)) return;
      s.pos += n;
      this.send({ type: 'download-progress', written: s.start + s.pos });
    }
  }
}

function headerOf(head: Uint8Array): Extract<DeviceEvent, { type: 'download-header' }>['header'] {
  const magicOk = head[0] === 0xe9;
  const chipId = magicOk && head.length >= 14 ? (head[12] ?? 0) | ((head[13] ?? 0) << 8) : null;
  if (!magicOk || head.length < 0x120 || new DataView(head.buffer, head.byteOffset).getUint32(0x20, true) !== 0xabcd5432) {
    return { bytes: head.length, magicOk, chipId, app: null };
  }
  const text = (o: number) => new TextDecoder().decode(head.subarray(o, o + 32)).replace(/\0.*$/s, '');
  return { bytes: head.length, magicOk, chipId, app: { secureVersion: new DataView(head.buffer, head.byteOffset).getUint32(0x24, true), version: text(0x30), projectName: text(0x50) } };
}

/**
 * One status-log line per message: `ota/status accepted 1.1.0`, `ota/progress Downloading 40`,
 * `ota/result ok 1.1.0` / `ota/result fail boot_crash`, `edge running 1.1.0`, `edge offline`.
 */
export function describeWire(topic: string, payload: string): string {
  const p = JSON.parse(payload) as Record<string, unknown>;
  const kind = topic.split('/').slice(-2).join('/');
  if (kind.endsWith('/status') && !kind.startsWith('ota/')) return p.online === false ? 'edge offline' : `edge ${String(p.state)} ${String(p.firmware_version)}`;
  if (kind === 'ota/status') return `ota/status ${String(p.status)} ${String(p.target_version ?? p.version)}`;
  if (kind === 'ota/progress') return `ota/progress ${String(p.state)} ${String(p.percent)}`;
  if (kind === 'ota/result') {
    return p.success === true ? `ota/result ok ${String(p.current_version ?? p.version)}` : `ota/result fail ${String(p.reason ?? p.message)}`;
  }
  return `${topic} ${payload}`;
}
