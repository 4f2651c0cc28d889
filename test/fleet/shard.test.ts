/** `--shard i/n` partitions the fleet: every device in exactly one shard, sizes within one. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../protocol/errors.js';
import { parseShard, shardRange } from '../../simulator/fleet/index.js';

describe('shards', () => {
  it('split any fleet into contiguous ranges that cover it exactly once, sizes differing by at most one', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 300 }), (devices, count) => {
      let next = 0;
      const sizes: number[] = [];
      for (let index = 1; index <= count; index++) {
        const r = shardRange(devices, { index, count });
        expect(r.start).toBe(next);
        next = r.end;
        sizes.push(r.end - r.start);
      }
      expect(next).toBe(devices);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }));
  });

  it('parses i/n and refuses what is not a shard with a usage error naming it', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    expect(shardRange(10, parseShard('3/3'))).toEqual({ start: 7, end: 10 });
    for (const bad of ['0/4', '5/4', '1/0', 'a/b', '1', '1/2/3', '-1/2']) {
      expect(() => parseShard(bad)).toThrow(UsageError);
      expect(() => parseShard(bad)).toThrow(bad);
    }
  });
});
