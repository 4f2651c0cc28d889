/**
 * The fleet's one HTTP door (issue 5 "Shared resources"): every device's requests go through one
 * undici Agent, and downloads wait for a p-limit slot, so 10,000 devices offered an image at once
 * stream at most `downloads` bodies (anchors N10: whole fleets in flight buffer gigabytes and gain
 * nothing). A slot is held from dispatch until the response ends or fails. Body bytes are counted
 * here, once for the fleet.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { Dispatcher } from 'undici';
import { ADMISSION, type Admission } from '../device/ports.js';

/** Requests that take a download slot: every GET except the small poll-mode check. */
function isDownload(opts: Dispatcher.DispatchOptions): boolean {
  return (opts.method ?? 'GET') === 'GET' && !String(opts.path).startsWith('/api/firmware/check');
}

type AnyHandler = Dispatcher.DispatchHandler & Record<string, unknown>;

/** A Dispatcher over `inner` that bounds concurrent downloads and counts body bytes. */
export class FleetDispatcher extends Dispatcher {
  readonly #inner: Dispatcher;
  readonly #limit: LimitFunction;
  /** Response body bytes received, all requests. */
  bytes = 0;

  /** @param downloads concurrent download bodies, ≥ 1. */
  constructor(inner: Dispatcher, downloads: number) {
    super();
    this.#inner = inner;
    this.#limit = pLimit(Math.max(1, Math.floor(downloads)));
  }

  /** Downloads streaming now, and waiting for a slot. */
  get downloads(): { active: number; waiting: number } {
    return { active: this.#limit.activeCount, waiting: this.#limit.pendingCount };
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (!isDownload(opts)) return this.#inner.dispatch(opts, this.#counted(handler, () => {}));
    const admission = (opts as { [ADMISSION]?: Admission })[ADMISSION];
    admission?.('queued');
    void this.#limit(() => new Promise<void>((release) => {
      try {
        admission?.('admitted');
        this.#inner.dispatch(opts, this.#counted(handler, release));
      } catch (e) {
        release();
        (handler as AnyHandler).onError?.call(handler, e as Error);
      }
    }));
    return true;
  }

  /** `handler` with its body callbacks counting bytes and its end callbacks calling `done` once. */
  #counted(handler: Dispatcher.DispatchHandler, done: () => void): Dispatcher.DispatchHandler {
    let ended = false;
    const end = (): void => {
      if (!ended) {
        ended = true;
        done();
      }
    };
    return new Proxy(handler as AnyHandler, {
      get: (target, key) => {
        const v = target[key as string];
        if (typeof v !== 'function') return v;
        const f = v as (...args: unknown[]) => unknown;
        switch (key) {
          case 'onData':
          case 'onResponseData':
            return (...args: unknown[]) => {
              const chunk = args[key === 'onData' ? 0 : 1] as { length?: number } | undefined;
              this.bytes += chunk?.length ?? 0;
              return f.apply(target, args);
            };
          case 'onComplete':
          case 'onError':
          case 'onResponseEnd':
          case 'onResponseError':
            return (...args: unknown[]) => {
              end();
              return f.apply(target, args);
            };
          default:
            return f.bind(target);
        }
      },
    });
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const p = this.#inner.close();
    if (callback === undefined) return p;
    void p.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : a ?? null;
    const cb = typeof a === 'function' ? a : b;
    const p = this.#inner.destroy(err);
    if (cb === undefined) return p;
    void p.then(cb, cb);
  }
}
