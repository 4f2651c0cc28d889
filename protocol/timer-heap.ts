/**
 * A binary min-heap of timers ordered by due time, then by the order they were set, with O(log n)
 * removal: each entry knows its index. Both clocks (protocol/clock.ts) keep every timer of a
 * process in one of these, so ten thousand devices cost one heap, not ten thousand Node timers.
 * Pure: no timers, no I/O.
 */

/** One pending timer. `index` is its place in the heap, −1 once it has left. */
export interface TimerEntry {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  index: number;
}

export class TimerHeap {
  readonly #items: TimerEntry[] = [];
  #seq = 0;

  /** Number of pending timers. */
  get size(): number {
    return this.#items.length;
  }

  /** The earliest timer, or undefined when none is pending. */
  peek(): TimerEntry | undefined {
    return this.#items[0];
  }

  /** Add a timer due at `at` (ms); timers due at the same ms run in the order they were added. */
  push(at: number, fn: () => void): TimerEntry {
    const entry: TimerEntry = { at, seq: this.#seq++, fn, index: this.#items.length };
    this.#items.push(entry);
    this.#up(entry.index);
    return entry;
  }

  /** Remove and return the earliest timer. */
  pop(): TimerEntry | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Remove `entry` if it is still pending; returns whether it was. */
  remove(entry: TimerEntry): boolean {
    const i = entry.index;
    if (i < 0 || this.#items[i] !== entry) return false;
    const last = this.#items.pop() as TimerEntry;
    entry.index = -1;
    if (last !== entry) {
      this.#items[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    return true;
  }

  /** Drop every pending timer. */
  clear(): void {
    for (const e of this.#items) e.index = -1;
    this.#items.length = 0;
  }

  #less(a: TimerEntry, b: TimerEntry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #swap(i: number, j: number): void {
    const a = this.#items[i] as TimerEntry;
    const b = this.#items[j] as TimerEntry;
    this.#items[i] = b;
    this.#items[j] = a;
    b.index = i;
    a.index = j;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(this.#items[i] as TimerEntry, this.#items[parent] as TimerEntry)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(this.#items[l] as TimerEntry, this.#items[m] as TimerEntry)) m = l;
      if (r < n && this.#less(this.#items[r] as TimerEntry, this.#items[m] as TimerEntry)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
