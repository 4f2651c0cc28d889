/**
 * The NDJSON event stream (STYLE.md §12, "write raw events first"): one line per state change,
 * batched per event-loop turn and written with backpressure — when the stream says stop, lines wait
 * in memory until it drains; nothing is dropped and the fleet never blocks on disk.
 */
import type { Writable } from 'node:stream';

/** One line of the stream. `t` is runner clock ms; `device` the id. */
export type FleetEvent =
  | { readonly type: 'state'; readonly t: number; readonly device: string; readonly from: string; readonly to: string; readonly code?: string }
  /**
   * A report the server acknowledged: `mqtt` a QoS 1 PUBACK (`topic`, `payload`), `http` a 200 on
   * update-status (`payload` is the body). What the server acknowledged it must have stored.
   */
  | { readonly type: 'acked'; readonly t: number; readonly device: string; readonly via: 'mqtt' | 'http'; readonly topic?: string; readonly payload: string }
  | { readonly type: 'summary'; readonly t: number; readonly [k: string]: unknown };

/** Writes events to a stream as NDJSON. */
export class EventSink {
  readonly #out: Writable;
  #lines: string[] = [];
  #scheduled = false;
  #blocked = false;
  /** Lines written so far. */
  written = 0;

  constructor(out: Writable) {
    this.#out = out;
  }

  /** Queue one event (written at the end of this event-loop turn, or after the stream drains). */
  push(e: FleetEvent): void {
    this.#lines.push(JSON.stringify(e));
    if (!this.#scheduled && !this.#blocked) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#blocked || this.#lines.length === 0) return;
    const chunk = `${this.#lines.join('\n')}\n`;
    this.written += this.#lines.length;
    this.#lines = [];
    if (!this.#out.write(chunk)) {
      this.#blocked = true;
      this.#out.once('drain', () => {
        this.#blocked = false;
        this.#flush();
      });
    }
  }

  /** Write everything queued and end the stream; resolves when it has flushed. */
  async close(): Promise<void> {
    while (this.#blocked) await new Promise((r) => this.#out.once('drain', r));
    this.#flush();
    await new Promise<void>((resolve, reject) => {
      this.#out.once('error', reject);
      this.#out.end(() => resolve());
    });
  }
}
