/**
 * The Clock/Scheduler port (STYLE.md §3, "time is an input"): what the device runtime, the fleet and
 * the server's rollout engine take instead of `Date.now()` and `setTimeout`. Two implementations share
 * one binary heap of timers (protocol/timer-heap.ts):
 *
 * - `SystemClock`: real time, one Node timer armed for the earliest due timer, however many are set;
 * - `VirtualClock`: time moves only when told (`advance`, `advanceAsync`, `runUntilIdle`), so hours of
 *   backoff, timeouts and soak run in milliseconds. Nothing is monkeypatched.
 */
import { performance } from 'node:perf_hooks';
import { ConfigError } from './errors.js';
import { TimerHeap, type TimerEntry } from './timer-heap.js';

/** Cancels a timer; calling it again, or after the timer ran, does nothing. */
export type Cancel = () => void;

/** When a timer runs: at an absolute time (ms since the Unix epoch) or after a delay (ms). */
export type TimerWhen = { readonly at: number } | { readonly delay: number };

/** The one time port. */
export interface Clock {
  /** Current time in ms since the Unix epoch (virtual clocks start where they are told). Never goes back. */
  now(): number;
  /**
   * Run `fn` once, at `when.at` or `when.delay` ms from now. A time already past runs at the next
   * opportunity, in due order with the other overdue timers. Negative or NaN delays count as 0.
   */
  setTimer(when: TimerWhen, fn: () => void): Cancel;
}

/** Alias: the same port, named for code that only schedules. */
export type Scheduler = Clock;

function dueAt(clock: Clock, when: TimerWhen): number {
  const now = clock.now();
  const at = 'at' in when ? when.at : now + (Number.isFinite(when.delay) && when.delay > 0 ? when.delay : 0);
  return Number.isNaN(at) ? now : at;
}

/**
 * Resolve after `ms` on `clock`; reject with the signal's reason if `signal` aborts first (the timer
 * is cancelled then, so nothing is left behind).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimer({ delay: ms }, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Node refuses delays above 2^31−1 ms (it fires them at once); longer waits re-arm. */
const MAX_NODE_DELAY = 0x7fffffff;

/**
 * Real time. Every timer lives in one heap behind one Node timer. With `scale` N, time runs N× wall
 * time: `now()` advances N ms per wall ms and a timer of delay d fires after d/N wall ms, so a
 * rehearsal's boots, backoffs, soaks and engine timeouts shrink together.
 */
export class SystemClock implements Clock {
  readonly #heap = new TimerHeap();
  readonly #wall0 = Date.now();
  readonly #perf0 = performance.now();
  readonly #unref: boolean;
  readonly #scale: number;
  #node: NodeJS.Timeout | undefined;
  #armedAt = Infinity;

  /**
   * @param opts.unref don't keep the process alive for pending timers alone. Default false.
   * @param opts.scale clock ms per wall ms, > 0. Default 1.
   */
  constructor(opts: { unref?: boolean; scale?: number } = {}) {
    this.#unref = opts.unref ?? false;
    this.#scale = opts.scale ?? 1;
    if (!(this.#scale > 0 && Number.isFinite(this.#scale))) throw new ConfigError(`clock scale ${String(opts.scale)} must be a finite number > 0`);
  }

  /** Clock ms per wall ms (1 for real time). */
  get scale(): number {
    return this.#scale;
  }

  /**
   * Whole ms, monotonic: wall time at construction plus elapsed `performance.now()` (times the
   * scale), so a wall-clock step never reorders timers (and payloads that carry times get
   * integers, as `Date.now()` gives).
   */
  now(): number {
    return Math.floor(this.#wall0 + (performance.now() - this.#perf0) * this.#scale);
  }

  /** Number of timers pending. */
  get pending(): number {
    return this.#heap.size;
  }

  setTimer(when: TimerWhen, fn: () => void): Cancel {
    const entry = this.#heap.push(dueAt(this, when), fn);
    this.#arm();
    return () => {
      if (this.#heap.remove(entry)) this.#arm();
    };
  }

  /** Cancel every pending timer (the clock stays usable). */
  close(): void {
    this.#heap.clear();
    this.#arm();
  }

  #arm(): void {
    const next = this.#heap.peek();
    const at = next?.at ?? Infinity;
    if (at === this.#armedAt) return;
    if (this.#node !== undefined) clearTimeout(this.#node);
    this.#node = undefined;
    this.#armedAt = at;
    if (next === undefined) return;
    this.#node = setTimeout(() => this.#fire(), Math.min(Math.max(0, Math.ceil((at - this.now()) / this.#scale)), MAX_NODE_DELAY));
    if (this.#unref) this.#node.unref();
  }

  #fire(): void {
    this.#node = undefined;
    this.#armedAt = Infinity;
    try {
      let top: TimerEntry | undefined;
      while ((top = this.#heap.peek()) !== undefined && top.at <= this.now()) {
        this.#heap.pop();
        top.fn();
      }
    } finally {
      this.#arm();
    }
  }
}

/** A macrotask turn: lets I/O callbacks and promise chains run between virtual timers. */
const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Time that moves only when told. Timers run in due order; `now()` reads each one's due time while it runs. */
export class VirtualClock implements Clock {
  readonly #heap = new TimerHeap();
  #now: number;

  /** @param opts.start the initial `now()`, ms since the epoch. Default 0. */
  constructor(opts: { start?: number } = {}) {
    this.#now = opts.start ?? 0;
  }

  now(): number {
    return this.#now;
  }

  /** Number of timers pending. */
  get pending(): number {
    return this.#heap.size;
  }

  /** Due time of the earliest pending timer, or undefined. */
  get nextAt(): number | undefined {
    return this.#heap.peek()?.at;
  }

  setTimer(when: TimerWhen, fn: () => void): Cancel {
    const entry = this.#heap.push(dueAt(this, when), fn);
    return () => {
      this.#heap.remove(entry);
    };
  }

  /**
   * Move time forward by `ms`, running every timer due on the way (including ones they set), each
   * with `now()` at its due time; then `now()` is the target. A timer's exception propagates; the
   * timers after it stay pending. Returns the number of timers run.
   */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new ConfigError(`advance(ms) needs ms ≥ 0, got ${ms}`);
    const target = this.#now + ms;
    let ran = 0;
    for (let top = this.#heap.peek(); top !== undefined && top.at <= target; top = this.#heap.peek()) {
      this.#runTop(top);
      ran++;
    }
    this.#now = target;
    return ran;
  }

  /**
   * Like `advance`, but awaits `settle()` (default: one macrotask turn) before each timer and at the
   * end, so promise chains and in-memory streams woken by one timer run before the next is due.
   */
  async advanceAsync(ms: number, settle: () => Promise<void> = macrotask): Promise<number> {
    if (!(ms >= 0)) throw new ConfigError(`advanceAsync(ms) needs ms ≥ 0, got ${ms}`);
    const target = this.#now + ms;
    let ran = 0;
    await settle();
    for (let top = this.#heap.peek(); top !== undefined && top.at <= target; top = this.#heap.peek()) {
      this.#runTop(top);
      ran++;
      await settle();
    }
    this.#now = target;
    return ran;
  }

  /**
   * Run timers in due order until none is pending, moving `now()` to each. Something that re-arms
   * forever (a poll interval, a keepalive) would never end: after `maxTimers` (default 100,000) this
   * throws ConfigError; use `advance(ms)` for those.
   */
  runUntilIdle(maxTimers = 100_000): number {
    let ran = 0;
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      if (ran >= maxTimers) {
        throw new ConfigError(`runUntilIdle ran ${ran} timers and ${this.#heap.size} are still pending: something re-arms itself; use advance(ms)`);
      }
      this.#runTop(top);
      ran++;
    }
    return ran;
  }

  #runTop(top: TimerEntry): void {
    this.#heap.pop();
    if (top.at > this.#now) this.#now = top.at;
    top.fn();
  }
}
