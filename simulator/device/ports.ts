/**
 * What a device runtime is given (STYLE.md §2, "ports are passed in"): the clock, the HTTP
 * dispatcher, the MQTT connector, the emulated chip and an observer. Tests pass fakes through the
 * same seams; the runtime imports none of the real ones.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../protocol/clock.js';
import type { Esp32 } from '../esp32/index.js';
import type { DeviceEvent, DeviceState, Phase } from './types.js';

/**
 * Gives a **connected** mqtt.js client (CONNACK received) for `options`, or rejects. The embedded
 * broker's `clientFactory` (in-memory duplex) and `mqttUrlConnector(url)` (TCP/TLS/WS) both fit.
 * The runtime passes `reconnectPeriod: 0`: reconnecting, with backoff and jitter, is the firmware's job.
 */
/**
 * A request option key (symbol, so no HTTP library reads it): a dispatcher that holds downloads in
 * a queue (the fleet's, which bounds how many bodies stream at once) calls `opts[ADMISSION]('queued')`
 * when it holds one and `('admitted')` when the request leaves the queue for the network. The queue
 * is the simulation's load bound, not the device's network: a device's stall clock stops while
 * queued and starts again when admitted, so waiting for a slot is never judged a stalled transfer.
 */
export const ADMISSION: unique symbol = Symbol('otasim.download.admission');
export type Admission = (state: 'queued' | 'admitted') => void;

export type MqttConnector = (options: IClientOptions) => Promise<MqttClient>;

/** A state change, as the observer sees it. */
export interface TransitionNote {
  readonly deviceId: string;
  /** Runtime clock time, ms. */
  readonly at: number;
  readonly from: Phase;
  readonly to: Phase;
  /** The event that caused it. */
  readonly event: DeviceEvent['type'];
  readonly state: DeviceState;
}

/** Something the device put on a wire. */
export type WireNote =
  | { readonly kind: 'mqtt'; readonly topic: string; readonly payload: string; readonly retain: boolean }
  | { readonly kind: 'http'; readonly method: 'GET' | 'POST'; readonly url: string; readonly body?: string };

/** A report the server acknowledged: a QoS 1 PUBACK, or HTTP 200 on update-status. */
export type AckNote =
  | { readonly kind: 'mqtt'; readonly topic: string; readonly payload: string }
  | { readonly kind: 'http'; readonly body: string };

/**
 * Observability port (STYLE.md §10): every callback optional, called synchronously, must not throw.
 * `otasim device` prints `transition` and `log`; tests collect the status log from `wire`.
 */
export interface DeviceObserver {
  transition?(note: TransitionNote): void;
  /** The firmware's log lines and the runtime's own (transport errors). */
  log?(line: string, at: number): void;
  /** Each MQTT publish and HTTP request the device makes. */
  wire?(note: WireNote, at: number): void;
  /** Each report the server acknowledged (durability checks compare these with the store). */
  acked?(note: AckNote, at: number): void;
}

/** The ports of one device. */
export interface DevicePorts {
  /** The one scheduler: every device timer lives in its heap. */
  readonly clock: Clock;
  /** undici Dispatcher for check, report and download requests (an Agent, a Pool, or a test MockAgent). */
  readonly http: Dispatcher;
  /** Needed when the device speaks MQTT (`mode: mqtt` or `reportVia` mqtt/both). */
  readonly mqtt?: MqttConnector;
  /** The emulated chip, provisioned and powered off (see `provisionDevice`). */
  readonly chip: Esp32;
  readonly observer?: DeviceObserver;
}
