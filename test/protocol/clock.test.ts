import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SystemClock, VirtualClock, sleep } from '../../protocol/clock.js';
import { TimerHeap } from '../../protocol/timer-heap.js';
import { ConfigError } from '../../protocol/errors.js';

describe('TimerHeap', () => {
  it('pops in (due, insertion) order whatever is pushed and removed', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 50 }), drop: fc.boolean() }), { maxLength: 200 }),
      (ops) => {
        const heap = new TimerHeap();
        const entries = ops.map((o, i) => ({ o, i, e: heap.push(o.at, () => {}) }));
        for (const x of entries) if (x.o.drop) expect(heap.remove(x.e)).toBe(true);
        const expected = entries.filter((x) => !x.o.drop).sort((a, b) => a.o.at - b.o.at || a.i - b.i).map((x) => x.e);
        const got = [];
        for (let e = heap.pop(); e !== undefined; e = heap.pop()) got.push(e);
        expect(got).toEqual(expected);
        expect(heap.size).toBe(0);
      },
    ));
  });

  it('removing twice, or after the pop, reports false and leaves the heap intact', () => {
    const heap = new TimerHeap();
    const a = heap.push(1, () => {});
    const b = heap.push(2, () => {});
    expect(heap.pop()).toBe(a);
    expect(heap.remove(a)).toBe(false);
    expect(heap.remove(b)).toBe(true);
    expect(heap.remove(b)).toBe(false);
    expect(heap.size).toBe(0);
  });
});

describe('VirtualClock', () => {
  it('runs timers in due order with now() at each due time, including timers set by timers', () => {
    const clock = new VirtualClock({ start: 1_000 });
    const seen: string[] = [];
    clock.setTimer({ delay: 30 }, () => seen.push(`c@${clock.now()}`));
    clock.setTimer({ at: 1_010 }, () => {
      seen.push(`a@${clock.now()}`);
      clock.setTimer({ delay: 5 }, () => seen.push(`nested@${clock.now()}`));
    });
    clock.setTimer({ delay: 10 }, () => seen.push(`b@${clock.now()}`));
    expect(clock.advance(20)).toBe(3);
    expect(seen).toEqual(['a@1010', 'b@1010', 'nested@1015']);
    expect(clock.now()).toBe(1_020);
    clock.advance(100);
    expect(seen).toEqual(['a@1010', 'b@1010', 'nested@1015', 'c@1030']);
    expect(clock.pending).toBe(0);
  });

  it('cancel stops a timer and is idempotent; past times run at once on the next advance', () => {
    const clock = new VirtualClock();
    let ran = 0;
    const cancel = clock.setTimer({ delay: 5 }, () => ran++);
    cancel();
    cancel();
    clock.setTimer({ at: -50 }, () => ran += 10);
    clock.setTimer({ delay: Number.NaN }, () => ran += 100);
    expect(clock.nextAt).toBe(-50);
    clock.advance(0);
    expect(ran).toBe(110);
  });

  it('runUntilIdle drains finite work and refuses endless re-arming', () => {
    const clock = new VirtualClock();
    let n = 0;
    const tick = (): void => {
      n++;
      if (n < 5) clock.setTimer({ delay: 1_000 }, tick);
    };
    clock.setTimer({ delay: 1_000 }, tick);
    expect(clock.runUntilIdle()).toBe(5);
    expect(clock.now()).toBe(5_000);

    const forever = (): void => {
      clock.setTimer({ delay: 60_000 }, forever);
    };
    forever();
    expect(() => clock.runUntilIdle(50)).toThrow(ConfigError);
  });

  it('advanceAsync lets promise chains woken by a timer run before the next timer', async () => {
    const clock = new VirtualClock();
    const order: string[] = [];
    void (async () => {
      await sleep(clock, 100);
      order.push('slept 100');
      await Promise.resolve();
      order.push('then 100');
    })();
    clock.setTimer({ delay: 101 }, () => order.push('timer 101'));
    await clock.advanceAsync(200);
    expect(order).toEqual(['slept 100', 'then 100', 'timer 101']);
  });

  it('an hour of backoff runs in no real time', async () => {
    const clock = new VirtualClock();
    let attempts = 0;
    const done = (async () => {
      for (let delay = 1_000; delay <= 512_000; delay *= 2) {
        await sleep(clock, delay);
        attempts++;
      }
    })();
    await clock.advanceAsync(3_600_000);
    await done;
    expect(attempts).toBe(10);
    expect(clock.now()).toBe(3_600_000);
  });

  it('sleep rejects with the abort reason and leaves no timer behind', async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    const p = sleep(clock, 1_000, ac.signal);
    expect(clock.pending).toBe(1);
    ac.abort(new Error('stopped'));
    await expect(p).rejects.toThrow('stopped');
    expect(clock.pending).toBe(0);
    await expect(sleep(clock, 1, ac.signal)).rejects.toThrow('stopped');
  });

  it('refuses to move backwards', () => {
    expect(() => new VirtualClock().advance(-1)).toThrow(ConfigError);
  });
});

describe('SystemClock', () => {
  const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('fires in due order and keeps one Node timer for a thousand pending timers', async () => {
    const clock = new SystemClock();
    const before = timeouts();
    const order: number[] = [];
    const all: Promise<void>[] = [];
    const base = clock.now();
    for (let i = 999; i >= 0; i--) {
      all.push(new Promise((resolve) => clock.setTimer({ at: base + 1 + (i % 20) }, () => {
        order.push(i % 20);
        resolve();
      })));
    }
    expect(clock.pending).toBe(1_000);
    expect(timeouts() - before).toBeLessThanOrEqual(1);
    await Promise.all(all);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(clock.pending).toBe(0);
    expect(timeouts()).toBe(before);
  });

  it('cancel and close leave nothing armed', async () => {
    const clock = new SystemClock();
    const before = timeouts();
    let ran = false;
    const cancel = clock.setTimer({ delay: 5 }, () => { ran = true; });
    clock.setTimer({ delay: 10_000 }, () => { ran = true; });
    cancel();
    expect(clock.pending).toBe(1);
    clock.close();
    expect(clock.pending).toBe(0);
    expect(timeouts()).toBe(before);
    await new Promise((r) => setTimeout(r, 15));
    expect(ran).toBe(false);
  });

  it('now() never goes back', () => {
    const clock = new SystemClock();
    let last = clock.now();
    for (let i = 0; i < 10_000; i++) {
      const t = clock.now();
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(60_000);
  });
});
