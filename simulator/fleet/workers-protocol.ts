/**
 * The IPC messages between `runFleetWorkers` (workers.ts) and a worker process (workers-child.ts),
 * sent with Node's advanced serialization (structured clone), so the validated composition and the
 * summaries cross as they are.
 */
import type { RunOptions } from './run.js';
import type { FleetSummary } from './stats.js';

/** Parent → worker. */
export type ParentMessage =
  /** Run `options` (a range of the fleet, against URLs); `events`: forward NDJSON lines. */
  | { readonly type: 'start'; readonly options: RunOptions; readonly events: boolean }
  /** End the run now (the parent's run ended: done, duration, signal or another worker's failure). */
  | { readonly type: 'stop' };

/** Worker → parent. */
export type ChildMessage =
  /** Started devices and counts by fleet state (FLEET_STATES order), sent periodically and at changes of phase. */
  | { readonly type: 'counts'; readonly started: number; readonly counts: number[] }
  /** NDJSON lines of state changes, in the worker's order (its summary line is not among them). */
  | { readonly type: 'events'; readonly text: string }
  /**
   * Every device of the worker is idle (connected and registered): the parent may start a rollout.
   * `since`: when its ramp started; `at`: now (both epoch ms, as the fleet's SystemClock counts).
   */
  | { readonly type: 'idle'; readonly since: number; readonly at: number }
  /** Every device of the worker has an update outcome. */
  | { readonly type: 'settled' }
  /** The worker's summary and its raw update durations (ms), sent once, last. */
  | { readonly type: 'summary'; readonly summary: FleetSummary; readonly durations: number[] }
  /** The run failed in the worker. */
  | { readonly type: 'error'; readonly code: string; readonly message: string };
