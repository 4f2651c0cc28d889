/**
 * The fleet runner: N virtual ESP32s in one process on ONE clock, ONE HTTP dispatcher (shared undici
 * Agent behind a p-limit of downloads), one image pool and one MQTT connector (the embedded aedes
 * in memory, or a broker URL). It ramps devices by rate, folds each device's phases into the fleet
 * states, counts them, records update durations and outcomes, and hands every change to `onEvent`.
 * Per device it keeps the runtime and two numbers; no per-device timer, buffer or closure over state.
 */
import type { Dispatcher } from 'undici';
import type { Cancel, Clock } from '../../protocol/clock.js';
import { ConfigError } from '../../protocol/errors.js';
import type { DeviceConfigInput } from '../device/config.js';
import type { AckNote, MqttConnector, TransitionNote, WireNote } from '../device/ports.js';
import { DeviceRuntime, type DeviceRuntimeOptions } from '../device/runtime.js';
import { provisionDevice } from '../device/runtime-provision.js';
import { ImagePool, buildAppImage, type Esp32 } from '../esp32/index.js';
import { deviceFaults } from '../faults/decide.js';
import { DEFAULT_COMPOSITION, traitsOf, type Composition } from './composition.js';
import { limitConnects } from './connect-limit.js';
import { FleetDispatcher } from './dispatcher.js';
import type { FleetEvent } from './events.js';
import { fleetIdentity, DEFAULT_PREFIX } from './identity.js';
import { ramp } from './ramp.js';
import { shardRange, WHOLE, type Shard } from './shard.js';
import { FLEET_STATES, STATE_INDEX, isOutcome, isUpdating, outcomeOf, stateForPhase, type FleetState } from './states.js';
import { countsRecord, durationStats, type FleetSummary } from './stats.js';

const quiet = (): void => {};

/** Options of {@link Fleet.create}. Durations in ms, rates per second. */
export interface FleetOptions {
  /** Devices in the whole fleet (all shards), 1 … 16,777,216. */
  readonly devices: number;
  /** Id prefix (identity.ts). Default `sim`. */
  readonly prefix?: string;
  /** The one seed: composition draws, fault dice and backoff jitter. Default 0. */
  readonly seed?: number;
  /** This process's part of the fleet. Default the whole fleet. */
  readonly shard?: Shard;
  /** An explicit half-open index range of the whole fleet, instead of `shard` (a worker process runs part of its parent's shard). */
  readonly range?: { readonly start: number; readonly end: number };
  /** Model, version, group and fault mix. Default every device an esp32 on 1.0.0, no faults. */
  readonly composition?: Composition;
  /** OTA server base URL. */
  readonly serverUrl: string;
  /** MQTT connector every device uses (memory door or broker URL). */
  readonly mqtt: MqttConnector;
  /** The one clock. */
  readonly clock: Clock;
  /** The shared HTTP dispatcher (one undici Agent). */
  readonly http: Dispatcher;
  /** Concurrent download bodies across the fleet (p-limit). Default 64. */
  readonly downloads?: number;
  /** Devices started per second. Default 2,000. */
  readonly rampPerSecond?: number;
  /** MQTT connect attempts per second across the fleet, first connects and reconnects alike (connect-limit.ts). Default no cap. */
  readonly connectsPerSecond?: number;
  /** Fields every device's config shares (topic prefix, firmware delays, mode…). */
  readonly deviceConfig?: Partial<DeviceConfigInput>;
  /** Runtime options every device shares (stall timeout, write size…). */
  readonly runtime?: Partial<Omit<DeviceRuntimeOptions, 'config' | 'faults' | 'serverUrl'>>;
  /** Image pool; default a new one (shared by every device of this fleet). */
  readonly pool?: ImagePool;
  /** Every state change, in order (NDJSON sink). */
  readonly onEvent?: (e: FleetEvent) => void;
  /** Firmware log lines of every device (noisy; default dropped). */
  readonly onLog?: (deviceId: string, line: string, at: number) => void;
  /** The HTTP door of one device, given the fleet's shared one (a harness gates it for network partitions). Default the shared one. */
  readonly deviceHttp?: (deviceId: string, shared: Dispatcher) => Dispatcher;
}

/** A running fleet. `await using` stops it. */
export class Fleet implements AsyncDisposable {
  readonly devices: number;
  readonly first: number;
  readonly #o: FleetOptions;
  readonly #http: FleetDispatcher;
  readonly #pool: ImagePool;
  readonly #comp: Composition;
  readonly #runtimes: (DeviceRuntime | undefined)[];
  readonly #chips: (Esp32 | undefined)[];
  readonly #state: Uint8Array;
  readonly #since: Float64Array;
  readonly #counts: Uint32Array;
  readonly #durations: number[] = [];
  readonly #errors = new Map<string, number>();
  readonly #waiters = new Set<() => void>();
  /** Factory images by `chip/version`: built once, shared by every device that starts on them. */
  readonly #images = new Map<string, Uint8Array>();
  /** The caller's connector with mqtt.js's per-client `debug` logger replaced by a no-op. */
  readonly #mqtt: MqttConnector;
  #started = 0;
  #t0 = 0;
  #stopRamp: Cancel = () => {};
  #stopped = false;

  private constructor(o: FleetOptions) {
    const range = o.range ?? shardRange(o.devices, o.shard ?? WHOLE);
    this.first = range.start;
    this.devices = range.end - range.start;
    this.#o = o;
    this.#http = new FleetDispatcher(o.http, o.downloads ?? 64);
    this.#pool = o.pool ?? new ImagePool();
    this.#comp = o.composition ?? DEFAULT_COMPOSITION;
    this.#runtimes = new Array<DeviceRuntime | undefined>(this.devices);
    this.#chips = new Array<Esp32 | undefined>(this.devices);
    this.#state = new Uint8Array(this.devices);
    this.#since = new Float64Array(this.devices);
    this.#counts = new Uint32Array(FLEET_STATES.length);
    // mqtt.js builds a `debug` logger per client and calls it on every packet even when disabled
    // (2% of the connect ramp's CPU, profiled); a fleet never turns it on.
    const quietMqtt: MqttConnector = (opts) => o.mqtt({ log: quiet, ...opts });
    this.#mqtt = o.connectsPerSecond === undefined ? quietMqtt : limitConnects(quietMqtt, o.clock, o.connectsPerSecond);
  }

  /** Validate and start ramping. Throws ConfigError for a bad size, prefix or rate. */
  static create(o: FleetOptions): Fleet {
    if (!Number.isInteger(o.devices) || o.devices < 1 || o.devices > 0x1000000) {
      throw new ConfigError(`fleet size ${o.devices} must be an integer in 1…16777216`);
    }
    fleetIdentity(o.prefix ?? DEFAULT_PREFIX, o.devices - 1); // validates prefix and range now
    const r = o.range;
    if (r !== undefined && !(Number.isInteger(r.start) && Number.isInteger(r.end) && r.start >= 0 && r.start <= r.end && r.end <= o.devices)) {
      throw new ConfigError(`fleet range [${r.start}, ${r.end}) must lie within 0…${o.devices}`);
    }
    const rate = o.rampPerSecond ?? 2000;
    if (!(rate > 0)) throw new ConfigError(`ramp rate ${rate} must be > 0 devices/s`);
    const f = new Fleet(o);
    f.#t0 = o.clock.now();
    f.#stopRamp = ramp(o.clock, f.devices, rate, (i) => f.#start(i), 10, () => f.#changed());
    return f;
  }

  /** Devices in each fleet state now (the ones not yet started are not counted). */
  counts(): Record<FleetState, number> {
    return countsRecord(this.#counts);
  }

  /** Devices started so far. */
  get started(): number {
    return this.#started;
  }

  /** Download slots in use and waiting. */
  get downloads(): { active: number; waiting: number } {
    return this.#http.downloads;
  }

  /** The state of the device at fleet index `index` (whole-fleet numbering), or undefined outside this shard. */
  stateOf(index: number): FleetState | undefined {
    const i = index - this.first;
    return i >= 0 && i < this.devices ? FLEET_STATES[this.#state[i] as number] : undefined;
  }

  /** The runtime of fleet index `index`, once started. */
  runtime(index: number): DeviceRuntime | undefined {
    return this.#runtimes[index - this.first];
  }

  /** The emulated chip of fleet index `index`, once started (to inspect its flash). */
  chip(index: number): Esp32 | undefined {
    return this.#chips[index - this.first];
  }

  /** Resolves when `pred(counts, started)` holds, checked after every change; rejects never. */
  until(pred: (counts: Record<FleetState, number>, started: number) => boolean): Promise<void> {
    if (pred(this.counts(), this.#started)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (pred(this.counts(), this.#started)) {
          this.#waiters.delete(check);
          resolve();
        }
      };
      this.#waiters.add(check);
    });
  }

  /** Every device of this shard started and reached `state` (e.g. `idle`: connected and registered). */
  all(state: FleetState): Promise<void> {
    return this.until((c, started) => started === this.devices && c[state] === this.devices);
  }

  /** Every started device has an update outcome. */
  settled(): Promise<void> {
    return this.until((c, started) => started === this.devices && c.success + c.failed + c['rolled back'] === this.devices);
  }

  /** Stop ramping and stop every device (their MQTT sessions drop; the broker publishes their wills). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopRamp();
    await Promise.all(this.#runtimes.map((rt) => rt?.stop()));
    for (const w of [...this.#waiters]) w();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Every update duration so far (first `downloading` to the reported outcome), ms, in the order they ended. */
  updateDurations(): readonly number[] {
    return this.#durations;
  }

  /** The summary now. `ended` says why the caller ended the run. */
  summary(ended: FleetSummary['ended']): FleetSummary {
    return {
      devices: this.devices, started: this.#started, counts: this.counts(), updateMs: durationStats(this.#durations),
      bytes: this.#http.bytes, errors: Object.fromEntries([...this.#errors].sort()), elapsedMs: this.#o.clock.now() - this.#t0, ended,
    };
  }

  #start(i: number): void {
    const o = this.#o;
    const seed = o.seed ?? 0;
    const id = fleetIdentity(o.prefix ?? DEFAULT_PREFIX, this.first + i);
    const t = traitsOf(this.#comp, seed, id.deviceId);
    const key = `${t.chip}/${t.version}`;
    let image = this.#images.get(key);
    if (image === undefined) this.#images.set(key, image = buildAppImage({ chip: t.chip, version: t.version, size: 192 * 1024 }));
    const chip = provisionDevice({
      chip: t.chip, version: t.version, pool: this.#pool, image, slotBytes: deviceFaults(t.faults, seed, id.deviceId).slotBytes(),
    });
    const rt = DeviceRuntime.create({
      ...o.runtime,
      config: { ...o.deviceConfig, deviceId: id.deviceId, mac: id.mac, deviceModel: t.model, seed, ...(t.behaviour === null ? {} : { behaviour: t.behaviour }) },
      faults: t.faults, serverUrl: o.serverUrl,
    }, {
      clock: o.clock, http: o.deviceHttp?.(id.deviceId, this.#http) ?? this.#http, mqtt: this.#mqtt, chip,
      observer: {
        transition: (n) => this.#onTransition(i, n),
        wire: (w) => this.#onWire(i, w),
        ...(o.onEvent === undefined ? {} : {
          acked: (n: AckNote, at: number) => o.onEvent?.(n.kind === 'mqtt'
            ? { type: 'acked', t: at, device: id.deviceId, via: 'mqtt', topic: n.topic, payload: n.payload }
            : { type: 'acked', t: at, device: id.deviceId, via: 'http', payload: n.body }),
        }),
        ...(o.onLog === undefined ? {} : { log: (line: string, at: number) => o.onLog?.(id.deviceId, line, at) }),
      },
    });
    this.#runtimes[i] = rt;
    this.#chips[i] = chip;
    this.#started++;
    this.#counts[STATE_INDEX.starting]! += 1;
    rt.start();
  }

  #set(i: number, to: FleetState, code?: string): void {
    const from = FLEET_STATES[this.#state[i] as number] as FleetState;
    if (from === to) return;
    const now = this.#o.clock.now();
    if (isUpdating(to) && !isUpdating(from)) this.#since[i] = now;
    if (isOutcome(to) && isUpdating(from)) this.#durations.push(now - (this.#since[i] as number));
    if (code !== undefined) this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
    this.#state[i] = STATE_INDEX[to];
    this.#counts[STATE_INDEX[from]]! -= 1;
    this.#counts[STATE_INDEX[to]]! += 1;
    this.#o.onEvent?.({ type: 'state', t: now, device: this.#runtimes[i]?.config.deviceId ?? '', from, to, ...(code === undefined ? {} : { code }) });
    this.#changed();
  }

  #changed(): void {
    for (const w of [...this.#waiters]) w();
  }

  #onTransition(i: number, n: TransitionNote): void {
    const before = FLEET_STATES[this.#state[i] as number] as FleetState;
    this.#set(i, stateForPhase(n.to, before));
  }

  #onWire(i: number, w: WireNote): void {
    const out = outcomeOf(w);
    if (out === null) return;
    // A repeated offer of what the device already runs (a command queued while it was offline, a
    // server retrying after losing its report) is refused without touching the device: it does not
    // undo the outcome the device already has.
    if (out.state !== 'success' && out.code === 'not_newer' && isOutcome(FLEET_STATES[this.#state[i] as number] as FleetState)) return;
    this.#set(i, out.state, out.state === 'success' ? undefined : out.code);
  }
}
