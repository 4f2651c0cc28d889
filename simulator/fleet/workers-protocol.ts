/**
 * The IPC messages between `runFleetWorkers` (workers.ts) and a worker process (workers-child.ts),
 * sent with Node's advanced serialization (structured clone), so the validated composition and the
 * summaries cross as they are.
 */
import type { RunOptions } from './run.js';
import type { FleetSummary } from './stats.js';

/** A worker's connect figures: devices that had a SUBACK, from its ramp start `since` to the last first SUBACK `last` (epoch ms). */
export interface Subscribed {
  readonly devices: number;
  readonly since: number;
  readonly last: number | null;
}

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
  /** Every device of the worker runs its app, idle: the parent may wait for their registration and start a rollout. */
  | { readonly type: 'idle' }
  /** Every device of the worker has had its first SUBACK (connected and subscribed). */
  | { readonly type: 'subscribed' }
  /** Every device of the worker has an update outcome. */
  | { readonly type: 'settled' }
  /**
   * The worker's summary, its raw update durations (ms), how many devices ever subscribed and when
   * the last of them first did (epoch ms, null if none), sent once, last.
   */
  | { readonly type: 'summary'; readonly summary: FleetSummary; readonly durations: number[]; readonly subscribed: Subscribed }
  /** The run failed in the worker. */
  | { readonly type: 'error'; readonly code: string; readonly message: string };
