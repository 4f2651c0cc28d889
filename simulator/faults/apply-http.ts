/**
 * Network faults applied at the device's HTTP port (issue 4 "Faults: network", "bytes corrupted in
 * transit"): a download body passes through `faultyBody`, which flips bytes at image offsets, caps the
 * rate on the clock, and cuts the connection after a number of body bytes — exactly at that byte,
 * whatever the chunking. The plan comes from `DeviceFaults.network` (decide.ts), so it is seeded and
 * per device. No Node timers: waiting goes through the Clock port.
 */
import { sleep, type Clock } from '../../protocol/clock.js';
import { OtasimError } from '../../protocol/errors.js';
import type { NetworkPlan } from './decide.js';

/** Code of the error a planned cut raises; the runtime reports it as a transfer break. */
export const FAULT_CUT = 'OTASIM_ERR_FAULT_CUT';

/** Options of {@link faultyBody}. */
export interface FaultyBodyOptions {
  readonly clock: Clock;
  /** Image offset of the body's first byte (the `Range` start; 0 for a full download). */
  readonly startOffset: number;
  /** Aborts a rate-limit wait. */
  readonly signal?: AbortSignal;
}

/** Largest slice delivered at once under a rate cap: a tenth of a second's worth, so progress stays smooth. */
function sliceBytes(bytesPerSecond: number): number {
  return Math.max(1, Math.floor(bytesPerSecond / 10));
}

/** True when the plan changes nothing about a body. */
export function isCleanPlan(plan: NetworkPlan): boolean {
  return plan.bytesPerSecond === null && plan.cutAfter === null && plan.corrupt.length === 0;
}

/** `chunk` with the plan's corruptions that fall in [at, at + length) applied (copied only when one does). */
function corrupt(chunk: Uint8Array, at: number, plan: NetworkPlan): Uint8Array {
  let out = chunk;
  for (const c of plan.corrupt) {
    const i = c.at - at;
    if (i < 0 || i >= chunk.length) continue;
    if (out === chunk) out = Uint8Array.from(chunk);
    out[i] = (out[i] as number) ^ c.xor;
  }
  return out;
}

/**
 * `body` as the faulty network delivers it. After `plan.cutAfter` bytes it throws
 * OtasimError(`OTASIM_ERR_FAULT_CUT`); the caller must then destroy the real response.
 */
export async function* faultyBody(body: AsyncIterable<Uint8Array>, plan: NetworkPlan, opts: FaultyBodyOptions): AsyncGenerator<Uint8Array> {
  const { clock, signal } = opts;
  let delivered = 0;
  let nextFree = clock.now();
  const cutAfter = plan.cutAfter;
  const cut = (): OtasimError => new OtasimError(FAULT_CUT,
    `fault: connection cut after ${delivered} body bytes (image offset ${opts.startOffset + delivered})`);
  if (cutAfter === 0) throw cut();
  for await (const raw of body) {
    let chunk = raw;
    if (cutAfter !== null && delivered + chunk.length > cutAfter) chunk = chunk.subarray(0, cutAfter - delivered);
    chunk = corrupt(chunk, opts.startOffset + delivered, plan);
    const bps = plan.bytesPerSecond;
    if (bps === null) {
      delivered += chunk.length;
      yield chunk;
    } else {
      const step = sliceBytes(bps);
      for (let i = 0; i < chunk.length; i += step) {
        const slice = chunk.subarray(i, i + step);
        nextFree = Math.max(nextFree, clock.now()) + (slice.length * 1000) / bps;
        const wait = nextFree - clock.now();
        if (wait > 0) await sleep(clock, wait, signal);
        delivered += slice.length;
        yield slice;
      }
    }
    if (cutAfter !== null && delivered >= cutAfter) throw cut();
  }
}
