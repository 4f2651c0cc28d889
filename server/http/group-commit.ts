/**
 * Group commit: callers add items and wait; items that arrive while a flush runs go together in
 * the next flush. No timer: before each flush the drain yields one event-loop turn
 * (`setImmediate`), so every request already read from the sockets joins the batch. That turn
 * matters with PGlite, whose queries run on this thread and resolve without any I/O wait: a
 * microtask-only drain would flush one item at a time and never let new requests in. A lone item
 * waits one turn; a busy server writes in large batches. Every caller's promise settles with its
 * own batch's outcome, so a resolved `add` means the item is committed.
 */
import { setImmediate as turn } from 'node:timers/promises';
export class GroupCommit<T> {
  #queue: T[] = [];
  #waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  #running: Promise<void> | undefined;

  /**
   * @param flush writes one batch (one transaction)
   * @param maxBatch items per flush at most (default 1,000)
   * @param yieldTurn waits one event-loop turn (default `setImmediate`)
   */
  constructor(private readonly flush: (items: T[]) => Promise<void>, private readonly maxBatch = 1000,
    private readonly yieldTurn: () => Promise<unknown> = () => turn()) {}

  /** Queue `item`; resolves once the batch holding it has been flushed, rejects if that flush failed. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push(item);
      this.#waiters.push({ resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  /** Resolves when nothing is queued or being flushed. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #drain(): Promise<void> {
    for (;;) {
      await this.yieldTurn();
      if (this.#queue.length === 0) break;
      const items = this.#queue.splice(0, this.maxBatch);
      const waiters = this.#waiters.splice(0, items.length);
      try {
        await this.flush(items);
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e);
      }
    }
    this.#running = undefined;
  }
}
