/**
 * A network partition of part of the fleet, through the devices' own ports: while a device is cut
 * off, its MQTT connects are refused and its session is dropped (the broker publishes its will),
 * and its HTTP requests fail as an unreachable host would, in-flight downloads included. The rest
 * of the fleet, and the server, see nothing unusual.
 */
import type { MqttClient } from 'mqtt';
import { Dispatcher } from 'undici';
import type { MqttConnector } from '../../simulator/device/ports.js';

type Abortable = { abort(reason?: Error): void };
type AnyHandler = Dispatcher.DispatchHandler & Record<string, unknown>;

/** Devices cut off now; the connector and per-device dispatchers consult it on every call. */
export class NetworkGate {
  /** What the partition did so far: sessions dropped, connects refused, requests failed or aborted. */
  readonly stats = { droppedSessions: 0, refusedConnects: 0, failedRequests: 0 };
  readonly #cut = new Set<string>();
  readonly #clients = new Map<string, MqttClient>();
  readonly #inflight = new Map<string, Set<Abortable>>();

  /** Is `deviceId` cut off? */
  blocked(deviceId: string): boolean {
    return this.#cut.has(deviceId);
  }

  /** Cut `deviceIds` off: drop their MQTT sessions and abort their requests in flight. */
  cut(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) {
      this.#cut.add(id);
      const client = this.#clients.get(id);
      if (client !== undefined) {
        this.stats.droppedSessions++;
        client.stream.destroy(new Error('network partition'));
      }
      for (const a of this.#inflight.get(id) ?? []) {
        this.stats.failedRequests++;
        a.abort(new Error('network partition'));
      }
    }
  }

  /** Reconnect everyone cut off. */
  heal(): void {
    this.#cut.clear();
  }

  /** `inner` with connects of cut-off devices refused (the MQTT client id is the device id). */
  connector(inner: MqttConnector): MqttConnector {
    return async (opts) => {
      const id = String(opts.clientId ?? '');
      if (this.#cut.has(id)) {
        this.stats.refusedConnects++;
        throw new Error('connect ETIMEDOUT (network partition)');
      }
      const client = await inner(opts);
      if (id !== '') {
        this.#clients.set(id, client);
        client.once('close', () => {
          if (this.#clients.get(id) === client) this.#clients.delete(id);
        });
      }
      if (this.#cut.has(id)) client.stream.destroy(new Error('network partition'));
      return client;
    };
  }

  /** The HTTP door of `deviceId` over the fleet's shared one. */
  dispatcher(deviceId: string, shared: Dispatcher): Dispatcher {
    return new GatedDispatcher(this, deviceId, shared, this.#inflight);
  }
}

class GatedDispatcher extends Dispatcher {
  constructor(readonly gate: NetworkGate, readonly deviceId: string, readonly inner: Dispatcher,
    readonly inflight: Map<string, Set<Abortable>>) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = handler as AnyHandler;
    if (this.gate.blocked(this.deviceId)) {
      this.gate.stats.failedRequests++;
      queueMicrotask(() => {
        const err = Object.assign(new Error('connect ETIMEDOUT (network partition)'), { code: 'ETIMEDOUT' });
        if (typeof h.onResponseError === 'function') (h.onResponseError as (c: unknown, e: Error) => void)(null, err);
        else (h.onError as ((e: Error) => void) | undefined)?.(err);
      });
      return true;
    }
    let set = this.inflight.get(this.deviceId);
    if (set === undefined) this.inflight.set(this.deviceId, set = new Set());
    const mine = set;
    let abortable: Abortable | undefined;
    const done = (): void => {
      if (abortable !== undefined) mine.delete(abortable);
      if (mine.size === 0 && this.inflight.get(this.deviceId) === mine) this.inflight.delete(this.deviceId);
    };
    const wrapped = new Proxy(h, {
      get: (target, key) => {
        const v = target[key as string];
        if (typeof v !== 'function') return v;
        const f = v as (...args: unknown[]) => unknown;
        switch (key) {
          case 'onConnect':
            return (abort: (e?: Error) => void, ...rest: unknown[]) => {
              abortable = { abort: (r) => abort(r) };
              mine.add(abortable);
              return f.call(target, abort, ...rest);
            };
          case 'onRequestStart':
            return (controller: Abortable, ...rest: unknown[]) => {
              abortable = { abort: (r) => controller.abort(r) };
              mine.add(abortable);
              return f.call(target, controller, ...rest);
            };
          case 'onComplete':
          case 'onError':
          case 'onResponseEnd':
          case 'onResponseError':
            return (...args: unknown[]) => {
              done();
              return f.apply(target, args);
            };
          default:
            return f.bind(target);
        }
      },
    });
    return this.inner.dispatch(opts, wrapped);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    // The shared dispatcher belongs to the fleet; closing one device's door closes nothing.
    if (callback === undefined) return Promise.resolve();
    callback();
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const cb = typeof a === 'function' ? a : b;
    if (cb === undefined) return Promise.resolve();
    cb();
  }
}
