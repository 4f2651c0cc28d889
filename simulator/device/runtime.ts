/**
 * The device runtime: binds the pure firmware machine (machine.ts) to its ports — the Clock, the
 * undici Dispatcher, the MQTT connector and the emulated chip (ports.ts). Events are fed to the
 * machine one at a time, in order; each step's effects are carried out by the small drivers beside
 * this file (runtime-chip, runtime-download, runtime-mqtt, runtime-http), whose outcomes come back
 * as events. Per device there is no Node timer and no buffer beyond the in-flight chunk: timers are
 * entries in the one clock heap.
 */
import type { Cancel } from '../../protocol/clock.js';
import { NO_FAULTS, type FaultProfile } from '../faults/profile.js';
import { deviceFaults, type DeviceFaults } from '../faults/decide.js';
import type { BehaviourRules } from './behaviour.js';
import { parseDeviceConfig, type DeviceConfig, type DeviceConfigInput } from './config.js';
import { initialState, transition } from './machine.js';
import type { DevicePorts } from './ports.js';
import { ChipDriver, type ChipOutcome } from './runtime-chip.js';
import { Transfer } from './runtime-download.js';
import { httpCheck, httpReport, serverPath, type HttpCallDeps } from './runtime-http.js';
import { MqttLink } from './runtime-mqtt.js';
import type { DeviceContext, DeviceEffect, DeviceEvent, DeviceState, OtaOp, TimerName } from './types.js';

/** Options of {@link DeviceRuntime.create}; every duration in ms. */
export interface DeviceRuntimeOptions {
  /** The device's configuration (validated here; ConfigError names a bad field). */
  readonly config: DeviceConfigInput | DeviceConfig;
  /** Fault profile (simulator/faults). Default: none. */
  readonly faults?: FaultProfile;
  /** The OTA server's base URL (check, update-status, relative download URLs), e.g. `http://127.0.0.1:8080`. */
  readonly serverUrl: string;
  /** `X-API-Key` for update-status when the server requires it. Default none (the seeds' devices send none). */
  readonly apiKey?: string | null;
  /** No body byte for this long cuts a download as stalled. Default 5,000 (esp_http_client `timeout_ms` in ESP-IDF's OTA examples). */
  readonly stallTimeoutMs?: number;
  /** Largest single `esp_ota_write`, bytes (the firmware's receive buffer). Default 4096. */
  readonly writeBytes?: number;
  /** Timeout of check and update-status requests. Default 10,000. */
  readonly httpTimeoutMs?: number;
  /** MQTT CONNACK wait. Default 10,000. */
  readonly mqttConnectTimeoutMs?: number;
  /** The firmware's behaviour rules, for a firmware variant that is no named profile. Default: `config.behaviour`'s row. */
  readonly rules?: BehaviourRules;
}

/** One virtual ESP32 running the OTA client firmware. */
export class DeviceRuntime implements AsyncDisposable {
  readonly config: DeviceConfig;
  readonly faults: DeviceFaults;
  readonly #ctx: DeviceContext;
  readonly #ports: DevicePorts;
  readonly #chip: ChipDriver;
  readonly #transfer: Transfer;
  readonly #link: MqttLink;
  readonly #http: HttpCallDeps;
  readonly #timers = new Map<TimerName, Cancel>();
  readonly #queue: DeviceEvent[] = [];
  #state: DeviceState = initialState();
  #busy = false;
  #stopped = false;

  private constructor(opts: DeviceRuntimeOptions, ports: DevicePorts) {
    this.config = parseDeviceConfig(opts.config);
    this.faults = deviceFaults(opts.faults ?? NO_FAULTS, this.config.seed, this.config.deviceId);
    this.#ctx = { config: this.config, faults: this.faults, ...(opts.rules === undefined ? {} : { rules: opts.rules }) };
    this.#ports = ports;
    serverPath(opts.serverUrl, '/'); // validates the URL now rather than at the first request
    const emit = (e: DeviceEvent): void => this.#emit(e);
    const log = (line: string): void => ports.observer?.log?.(line, ports.clock.now());
    this.#chip = new ChipDriver(ports.chip);
    this.#transfer = new Transfer({
      clock: ports.clock, http: ports.http, faults: this.faults, chip: this.#chip, serverUrl: opts.serverUrl,
      token: { deviceId: this.config.deviceId, value: this.config.deviceToken ?? null },
      stallTimeoutMs: opts.stallTimeoutMs ?? 5_000, writeBytes: opts.writeBytes ?? 4096, emit,
    });
    const acked = ports.observer?.acked;
    this.#link = new MqttLink({
      clock: ports.clock, connector: ports.mqtt, connectTimeoutMs: opts.mqttConnectTimeoutMs ?? 10_000, emit, log,
      ...(acked === undefined ? {} : { acked: (topic: string, payload: string) => acked({ kind: 'mqtt', topic, payload }, ports.clock.now()) }),
    });
    this.#http = {
      http: ports.http, serverUrl: opts.serverUrl, deviceId: this.config.deviceId, apiKey: opts.apiKey ?? null,
      deviceToken: this.config.deviceToken ?? null, emit, log,
      timeoutMs: opts.httpTimeoutMs ?? 10_000, clock: ports.clock, latencyMs: () => this.#latencyMs(),
      ...(acked === undefined ? {} : { acked: (body: string) => acked({ kind: 'http', body }, ports.clock.now()) }),
    };
  }

  /** A device that is not yet powered; call `start()`. Throws ConfigError for a bad config or URL. */
  static create(opts: DeviceRuntimeOptions, ports: DevicePorts): DeviceRuntime {
    return new DeviceRuntime(opts, ports);
  }

  /** The firmware's state now (immutable). */
  get state(): DeviceState {
    return this.#state;
  }

  /** Apply power. */
  start(): void {
    this.#stopped = false;
    this.#emit({ type: 'power-on' });
  }

  /** Pull the plug now: the chip loses power between flash operations; it comes back after `powerRestoreMs`. */
  powerCut(): void {
    this.#chip.powerOff();
    this.#emit({ type: 'power-lost' });
  }

  /**
   * Stop the device: cancel its timers and requests and drop its MQTT session without DISCONNECT,
   * so the broker publishes its last will (`{"online":false}`), as when a device is unplugged.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    this.#transfer.reset();
    this.#link.close(false);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #emit(e: DeviceEvent): void {
    if (this.#stopped) return;
    this.#queue.push(e);
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined && !this.#stopped; next = this.#queue.shift()) this.#step(next);
    } finally {
      this.#busy = false;
    }
  }

  #step(e: DeviceEvent): void {
    const { clock, observer } = this.#ports;
    const before = this.#state;
    let out;
    try {
      out = transition(this.#ctx, before, e, clock.now());
    } catch (err) {
      // A machine bug must not take the process (or the fleet) down: log it and drop the event.
      observer?.log?.(`internal error on ${e.type} in ${before.phase}: ${err instanceof Error ? err.message : String(err)}`, clock.now());
      return;
    }
    this.#state = out.state;
    if (out.state.phase !== before.phase) {
      observer?.transition?.({ deviceId: this.config.deviceId, at: clock.now(), from: before.phase, to: out.state.phase, event: e.type, state: out.state });
    }
    for (const effect of out.effects) this.#do(effect);
  }

  #do(f: DeviceEffect): void {
    const { clock, observer } = this.#ports;
    const now = clock.now();
    switch (f.type) {
      case 'boot':
        this.#transfer.reset();
        this.#link.clearOutbox(); // a reset empties esp-mqtt's RAM outbox
        this.#emit({ type: 'booted', boot: this.#chip.boot() });
        return;
      case 'ota':
        this.#ota(f.op);
        return;
      case 'set-timer': {
        this.#timers.get(f.name)?.();
        const name = f.name;
        this.#timers.set(name, clock.setTimer({ delay: f.delayMs }, () => {
          this.#timers.delete(name);
          this.#emit({ type: 'timer', name });
        }));
        return;
      }
      case 'cancel-timer':
        this.#timers.get(f.name)?.();
        this.#timers.delete(f.name);
        return;
      case 'mqtt-connect':
        this.#link.connect(f, this.#latencyMs());
        return;
      case 'mqtt-subscribe':
        this.#link.subscribe(f.topic, f.qos);
        return;
      case 'mqtt-publish':
        if (this.#link.publish(f.topic, f.payload, f.qos, f.retain)) observer?.wire?.({ kind: 'mqtt', topic: f.topic, payload: f.payload, retain: f.retain }, now);
        else observer?.log?.(`mqtt offline: dropped publish to ${f.topic}`, now);
        return;
      case 'mqtt-close':
        this.#link.close(f.graceful);
        return;
      case 'mqtt-service':
        this.#link.service(f.serviced);
        return;
      case 'http-check':
        observer?.wire?.({ kind: 'http', method: 'GET', url: '/api/firmware/check' }, now);
        void httpCheck(this.#http, f.query);
        return;
      case 'http-report':
        observer?.wire?.({ kind: 'http', method: 'POST', url: `/api/device/${this.config.deviceId}/update-status`, body: JSON.stringify(f.body) }, now);
        void httpReport(this.#http, f.body);
        return;
      case 'download':
        observer?.wire?.({ kind: 'http', method: 'GET', url: f.url }, now);
        this.#transfer.start(f);
        return;
      case 'download-accept':
        this.#transfer.accept(f.imageSize);
        return;
      case 'download-cancel':
        this.#transfer.cancel();
        return;
      case 'arm-power-cut':
        this.#chip.arm(f.phase, f.atByte);
        return;
      case 'log':
        observer?.log?.(f.message, now);
        return;
    }
  }

  /** The `latency` fault for a check, report or MQTT connect made now (keyed on the running version). */
  #latencyMs(): number {
    const running = this.#state.running;
    if (running === null) return 0;
    return this.faults.network({ version: running.version, job: this.#state.nvs.jobs, request: 0, offset: 0, size: null }).latencyMs;
  }

  #ota(op: Extract<DeviceEffect, { type: 'ota' }>['op']): void {
    if (op === 'mark-invalid') {
      const r = this.#chip.markInvalid();
      if (r.kind === 'booted') {
        this.#transfer.reset();
        this.#emit({ type: 'booted', boot: r.boot });
      } else this.#answer('mark-invalid', r);
      return;
    }
    const out = op === 'end' ? this.#chip.end()
      : op === 'set-boot' ? this.#chip.setBoot()
        : op === 'mark-valid' ? this.#chip.markValid()
          : this.#chip.abort();
    if (op === 'abort' && out.kind !== 'power-lost') return; // esp_ota_abort: no answer
    this.#answer(op, out);
  }

  #answer(op: OtaOp | 'mark-invalid', out: ChipOutcome): void {
    if (out.kind === 'power-lost') {
      this.#emit({ type: 'power-lost' });
      return;
    }
    // OtaOp has no 'mark-invalid'; the machine's `marked` tells the two marks apart only by op === 'mark-valid',
    // so a refused mark-invalid answers with another op name ('abort': nothing else is pending then).
    const asOp: OtaOp = op === 'mark-invalid' ? 'abort' : op;
    this.#emit(out.kind === 'ok' ? { type: 'ota-done', op: asOp } : { type: 'ota-done', op: asOp, error: out.error });
  }
}
