/**
 * Live progress on stderr (issue 5 "Output"): a cli-progress bar when stderr is a TTY, otherwise one
 * line every `everyMs` on the fleet's clock, both counting devices by fleet state. The bar's value
 * is devices with an outcome (when updates run) or devices started (while the fleet ramps).
 */
import cliProgress from 'cli-progress';
import type { Cancel, Clock } from '../../protocol/clock.js';
import { FLEET_STATES, type FleetState } from './states.js';

/** What the reporter reads. */
export interface ProgressSource {
  readonly devices: number;
  readonly started: number;
  counts(): Record<FleetState, number>;
}

/** Where it writes. */
export interface ProgressOut {
  write(s: string): unknown;
  readonly isTTY?: boolean;
}

const SHORT: Record<FleetState, string> = {
  starting: 'starting', idle: 'idle', downloading: 'downloading', installing: 'installing', rebooting: 'rebooting',
  verifying: 'verifying', success: 'success', failed: 'failed', 'rolled back': 'rolled_back',
};

/** `idle=3 downloading=10 …` with every state, zeros too, so lines line up for grep and awk. */
export function countsLine(c: Record<FleetState, number>): string {
  return FLEET_STATES.map((s) => `${SHORT[s]}=${c[s]}`).join(' ');
}

/** A running reporter; `stop()` draws the last state. */
export interface Progress {
  stop(): void;
}

/** Start reporting `src` on `out`. */
export function startProgress(src: ProgressSource, out: ProgressOut, clock: Clock, everyMs = 5000): Progress {
  const t0 = clock.now();
  const value = (c: Record<FleetState, number>): number => {
    const outcomes = c.success + c.failed + c['rolled back'];
    return outcomes > 0 || c.downloading + c.installing + c.rebooting + c.verifying > 0 ? outcomes : src.started;
  };
  if (out.isTTY === true) {
    const bar = new cliProgress.SingleBar({
      stream: out as unknown as NodeJS.WritableStream, hideCursor: true, clearOnComplete: false, fps: 5, etaBuffer: 50,
      format: 'fleet {bar} {value}/{total} | {states}',
    }, cliProgress.Presets.shades_classic);
    bar.start(src.devices, 0, { states: countsLine(src.counts()) });
    let cancel: Cancel = () => {};
    const tick = (): void => {
      const c = src.counts();
      bar.update(value(c), { states: countsLine(c) });
      cancel = clock.setTimer({ delay: 200 }, tick);
    };
    tick();
    return {
      stop() {
        cancel();
        const c = src.counts();
        bar.update(value(c), { states: countsLine(c) });
        bar.stop();
      },
    };
  }
  const line = (): void => {
    out.write(`fleet t=${((clock.now() - t0) / 1000).toFixed(1)}s started=${src.started}/${src.devices} ${countsLine(src.counts())}\n`);
  };
  let cancel: Cancel = () => {};
  const tick = (): void => {
    line();
    cancel = clock.setTimer({ delay: everyMs }, tick);
  };
  cancel = clock.setTimer({ delay: everyMs }, tick);
  return {
    stop() {
      cancel();
      line();
    },
  };
}
