/**
 * The suite's offers, one step at a time: publish a `cmd/ota`, serve the image the way the step
 * asks, and collect what the device said until the step settles — a result (and, after a success,
 * the device's announce from its restart), or silence. Each step is kept as a record the
 * requirements are judged on afterwards (evaluate.ts).
 */
import { createHash } from 'node:crypto';
import type { Bench, Heard, ServeMode } from './bench.js';

/** What one step was for. */
export type StepKind =
  /** A good update the device must take. */
  | 'good'
  /** A bad offer the device must refuse. */
  | 'bad'
  /** A good update after a bad one. */
  | 'recovery'
  /** A good update under a hard network (cut, 206, stall) or an offline device. */
  | 'hard';

export interface StepRecord {
  /** Short name, e.g. `wrong-sha`. */
  readonly name: string;
  readonly kind: StepKind;
  /** The version the offer named. */
  readonly version: string;
  /** The running version before the offer (last announce). */
  readonly before: string | null;
  /** Everything heard during the step, in order. */
  readonly heard: readonly Heard[];
  /** The path served for it. */
  readonly path: string;
  /** The step did not settle in time. */
  readonly timedOut: boolean;
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The first report of `kind` in `heard`. */
export const first = (heard: readonly Heard[], kind: Heard['kind']): Heard | undefined => heard.find((h) => h.kind === kind);

/**
 * Announces of a running app (`online: true`) in `heard`; a status that says the device is about to
 * restart (`state: "rebooting"`) is not one.
 */
export const announces = (heard: readonly Heard[]): Heard[] => heard.filter((h) => h.kind === 'announce' && h.json?.online === true && h.json.state !== 'rebooting');

/** The firmware version an announce names. */
export const versionOf = (h: Heard | undefined): string | null => (typeof h?.json?.firmware_version === 'string' ? h.json.firmware_version : null);

/** Whether a result says success. */
export const succeeded = (h: Heard | undefined): boolean => h?.json?.success === true;

export interface StepTimings {
  /** Longest a step may take, ms. */
  readonly timeoutMs: number;
  /** Silence that ends a step nothing else ended, ms. */
  readonly quietMs: number;
  /** Silence after the device announced itself (it restarted) that ends a step without a result, ms. */
  readonly afterAnnounceMs: number;
  /** Wait this long after a result for a second one or a trailing report, ms. */
  readonly lingerMs: number;
}

/** The step has its answer: a result (after a success, also an announce), or enough silence. */
function settled(heard: readonly Heard[], sinceMs: number, nowMs: number, t: StepTimings): boolean {
  const result = first(heard, 'result');
  const lastAt = heard.at(-1)?.at ?? sinceMs;
  const quiet = nowMs - lastAt;
  if (result !== undefined) {
    // Let a second result or a trailing report arrive; a success waits for the restart's announce.
    if (quiet < t.lingerMs) return false;
    return !succeeded(result) || announces(heard).length > 0 || quiet >= t.quietMs;
  }
  // No result: after a restart's announce a short silence is enough, else the long one.
  return quiet >= (announces(heard).length > 0 ? Math.min(t.afterAnnounceMs, t.quietMs) : t.quietMs);
}

/** Runs the steps against one bench, tracking the version the device announces. */
export class StepRunner {
  readonly records: StepRecord[] = [];

  constructor(private readonly bench: Bench, private readonly timings: StepTimings) {}

  /** The version of the device's latest announce. */
  get running(): string | null {
    return versionOf(announces(this.bench.heard).at(-1));
  }

  /** Wait for the step whose first message would be `from`, begun at bench time `sinceMs`, to settle; false on timeout. */
  async settle(from: number, sinceMs: number): Promise<boolean> {
    return this.bench.until(() => settled(this.bench.since(from), sinceMs, this.bench.now(), this.timings), this.timings.timeoutMs);
  }

  /**
   * Offer `bytes` as `version`: served at `/fw/{name}` in `mode`, with `checksum` (default: the
   * SHA-256 of `bytes`; null sends none). `before` runs after the image is served and before the
   * command goes out (e.g. take the device offline).
   */
  async offer(name: string, kind: StepKind, version: string, bytes: Uint8Array, o: {
    mode?: ServeMode; checksum?: string | null; during?: (publish: () => Promise<number>) => Promise<number>;
  } = {}): Promise<StepRecord> {
    const before = this.running;
    const url = this.bench.put(name, bytes, o.mode ?? 'plain');
    const checksum = o.checksum === undefined ? sha256Hex(bytes) : o.checksum;
    const command = { url, version, ...(checksum === null ? {} : { checksum }) };
    const publish = (): Promise<number> => this.bench.offer(command);
    const sinceMs = this.bench.now();
    const from = o.during === undefined ? await publish() : await o.during(publish);
    const ok = await this.settle(from, sinceMs);
    const record: StepRecord = { name, kind, version, before, heard: this.bench.since(from), path: new URL(url).pathname, timedOut: !ok };
    this.records.push(record);
    return record;
  }
}
