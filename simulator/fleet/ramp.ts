/**
 * Ramp by rate (STYLE.md §12): device k starts at `k / rate` seconds, driven by ONE repeating timer
 * on the fleet's Clock that starts, on each tick, every device whose time has come. No per-device
 * timer exists, and a slow tick catches up instead of drifting.
 */
import type { Cancel, Clock } from '../../protocol/clock.js';
import { UsageError } from '../../protocol/errors.js';

/** Parse `2000/s`, `500/m` or a bare number (per second) into devices per second. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|m|min))?\s*$/.exec(text);
  const n = m === null ? NaN : Number(m[1]);
  if (m === null || !(n > 0)) throw new UsageError(`--ramp ${text}: expected a rate such as 2000/s or 600/m`);
  return m[2] === 'm' || m[2] === 'min' ? n / 60 : n;
}

/**
 * Start `count` things at `perSecond` on `clock`, calling `start(i)` for i = 0 … count−1 in order.
 * `tickMs` (default 10) is the timer's period. Returns a cancel.
 */
export function ramp(clock: Clock, count: number, perSecond: number, start: (i: number) => void, tickMs = 10, onDone?: () => void): Cancel {
  const t0 = clock.now();
  let started = 0;
  let cancel: Cancel = () => {};
  let stopped = false;
  const tick = (): void => {
    const due = Math.min(count, Math.floor(((clock.now() - t0) * perSecond) / 1000) + 1);
    while (started < due && !stopped) start(started++);
    if (started < count && !stopped) cancel = clock.setTimer({ delay: tickMs }, tick);
    else if (!stopped) onDone?.();
  };
  if (count > 0) tick();
  else onDone?.();
  return () => {
    stopped = true;
    cancel();
  };
}
