import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Flash } from '../../simulator/esp32/flash.js';
import { seededRng } from '../../simulator/esp32/power-cut.js';
import { code } from './device-kit.js';

const S = 4096;

describe('Flash basics', () => {
  it('reads 0xFF where nothing was written and after erase', () => {
    const f = Flash.create(4 * S);
    expect(f.read(100, 8)).toEqual(new Uint8Array(8).fill(0xff));
    f.write(10, new Uint8Array([1, 2, 3]));
    f.erase(0, S);
    expect(f.read(0, 16)).toEqual(new Uint8Array(16).fill(0xff));
  });

  it('programs old AND new: writing can only clear bits', () => {
    const f = Flash.create(S);
    f.write(0, new Uint8Array([0b1100_1100]));
    f.write(0, new Uint8Array([0b1010_1010]));
    expect(f.read(0, 1)[0]).toBe(0b1000_1000);
  });

  it('rejects misaligned erases and out-of-bounds access with ESP-IDF codes', () => {
    const f = Flash.create(2 * S);
    expect(code(() => f.erase(1, S))).toBe('ESP_ERR_INVALID_ARG');
    expect(code(() => f.erase(0, 100))).toBe('ESP_ERR_INVALID_SIZE');
    expect(code(() => f.erase(S, 2 * S))).toBe('ESP_ERR_INVALID_SIZE');
    expect(code(() => f.write(2 * S - 1, new Uint8Array(2)))).toBe('ESP_ERR_INVALID_SIZE');
    expect(code(() => f.read(-1, 2))).toBe('ESP_ERR_INVALID_ARG');
    expect(code(() => Flash.create(1000))).toBe('ESP_ERR_INVALID_SIZE');
  });

  it('stores a small write trimmed: one 32-byte entry costs 32 bytes', () => {
    const f = Flash.create(16 * S);
    f.write(3 * S, new Uint8Array(32).fill(0));
    expect(f.footprint()).toEqual({ ownedSectors: 1, ownedBytes: 32, mappings: 0 });
    expect(f.read(3 * S + 30, 4)).toEqual(new Uint8Array([0, 0, 0xff, 0xff]));
  });
});

describe('Flash mappings (shared, copy-on-write)', () => {
  const shared = Uint8Array.from({ length: 3 * S + 100 }, (_, i) => i & 0x7f);

  it('view is zero-copy inside one mapping and a copy across its edge', () => {
    const f = Flash.create(8 * S, [{ addr: S, data: shared }]);
    const v = f.view(S + 10, 100);
    expect(v.buffer).toBe(shared.buffer);
    expect(v[0]).toBe(10);
    const edge = f.view(S + shared.length - 2, 4);
    expect(edge.buffer).not.toBe(shared.buffer);
    expect([...edge]).toEqual([shared[shared.length - 2], shared[shared.length - 1], 0xff, 0xff]);
  });

  it('a write copies only the touched sector and never changes the shared buffer', () => {
    const before = shared.slice();
    const f = Flash.create(8 * S, [{ addr: S, data: shared }]);
    f.write(2 * S + 5, new Uint8Array([0]));
    expect(shared).toEqual(before);
    expect(f.read(2 * S + 5, 1)[0]).toBe(0);
    expect(f.read(2 * S + 4, 1)[0]).toBe(shared[S + 4]);
    expect(f.footprint().ownedSectors).toBe(1);
    expect(f.mappings.map((m) => [m.addr, m.data.length])).toEqual([[S, S], [3 * S, S + 100]]);
  });

  it('an erase drops the mapping for that range only', () => {
    const f = Flash.create(8 * S, [{ addr: S, data: shared }]);
    f.erase(2 * S, S);
    expect(f.read(2 * S, 4)).toEqual(new Uint8Array(4).fill(0xff));
    expect(f.read(3 * S, 2)).toEqual(shared.subarray(2 * S, 2 * S + 2));
    expect(f.footprint().ownedSectors).toBe(0);
  });

  it('map() replaces owned sectors and is neither counted nor cut', () => {
    const f = Flash.create(8 * S);
    f.write(S, new Uint8Array(S).fill(0));
    f.cutPowerAfter(0);
    f.map(S, shared);
    expect(f.footprint()).toEqual({ ownedSectors: 0, ownedBytes: 0, mappings: 1 });
    expect(f.read(S, 3)).toEqual(shared.subarray(0, 3));
    expect(f.stats.ops).toBe(1);
  });
});

describe('Flash power cuts', () => {
  it('a cut write keeps the bytes before the cut, throws ESP_ERR_FLASH_OP_FAIL and leaves the chip off', () => {
    const f = Flash.create(2 * S);
    f.cutPowerAfter(5);
    expect(code(() => f.write(0, new Uint8Array(8).fill(0)))).toBe('ESP_ERR_FLASH_OP_FAIL');
    expect([...f.read(0, 8)]).toEqual([0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
    expect(f.powered).toBe(false);
    expect(code(() => f.write(100, new Uint8Array(1)))).toBe('ESP_ERR_FLASH_OP_FAIL');
    expect(code(() => f.erase(0, S))).toBe('ESP_ERR_FLASH_OP_FAIL');
    f.powerOn();
    f.write(100, new Uint8Array(1));
    expect(f.read(100, 1)[0]).toBe(0);
  });

  it('counts bytes across ops: the op that passes the budget is the one cut', () => {
    const f = Flash.create(4 * S);
    f.cutPowerAfter(S + 3);
    f.erase(0, S);
    expect(code(() => f.write(0, new Uint8Array(10).fill(0)))).toBe('ESP_ERR_FLASH_OP_FAIL');
    expect(f.read(0, 4)).toEqual(new Uint8Array([0, 0, 0, 0xff]));
  });

  it('a cut erase leaves whole sectors before the cut erased and the rest untouched', () => {
    const f = Flash.create(4 * S);
    f.write(0, new Uint8Array(4 * S).fill(0));
    f.armPowerCut({ op: 0, byte: 2 * S + 17 });
    expect(code(() => f.erase(0, 4 * S))).toBe('ESP_ERR_FLASH_OP_FAIL');
    expect(f.read(0, 2 * S).every((b) => b === 0xff)).toBe(true);
    expect(f.read(2 * S, 2 * S).every((b) => b === 0)).toBe(true);
  });

  it('{ op, byte } cuts inside the op-th op, byte taken modulo its length', () => {
    const f = Flash.create(S);
    f.armPowerCut({ op: 1, byte: 10 + 3 * 4 });
    f.write(0, new Uint8Array([0]));
    expect(code(() => f.write(8, new Uint8Array(4).fill(0)))).toBe('ESP_ERR_FLASH_OP_FAIL');
    expect([...f.read(8, 4)]).toEqual([0, 0, 0xff, 0xff]);
  });

  it('scramble mode: the interrupted page holds a random subset of the intended 0-bits, nothing else moves', () => {
    const f = Flash.create(4 * S);
    const old = Uint8Array.from({ length: 1024 }, (_, i) => (i * 37) & 0xff | 0x0f);
    f.write(0, old);
    const data = Uint8Array.from({ length: 1024 }, (_, i) => (i * 11) & 0xff);
    f.cutPowerAfter(300, { mode: 'scramble', rng: seededRng(7) });
    expect(code(() => f.write(0, data))).toBe('ESP_ERR_FLASH_OP_FAIL');
    const got = f.read(0, 1024);
    for (let i = 0; i < 1024; i++) {
      const o = old[i]!;
      const n = data[i]!;
      const g = got[i]!;
      if (i < 256) expect(g).toBe(o & n);
      else if (i < 512) {
        expect(g & ~o & 0xff).toBe(0);
        expect(g & o & n).toBe(o & n);
      } else expect(g).toBe(o);
    }
    expect(got.subarray(256, 512)).not.toEqual(Uint8Array.from(old.subarray(256, 512), (o, i) => o & data[256 + i]!));
  });

  it('scramble mode: an interrupted erase sets random bits in that sector only', () => {
    const f = Flash.create(4 * S);
    f.write(0, new Uint8Array(4 * S).fill(0));
    f.cutPowerAfter(S + 1, { mode: 'scramble', rng: seededRng(3) });
    expect(code(() => f.erase(0, 3 * S))).toBe('ESP_ERR_FLASH_OP_FAIL');
    expect(f.read(0, S).every((b) => b === 0xff)).toBe(true);
    const mid = f.read(S, S);
    expect(mid.some((b) => b !== 0 && b !== 0xff)).toBe(true);
    expect(f.read(2 * S, 2 * S).every((b) => b === 0)).toBe(true);
  });

  it('rejects a scramble plan without an RNG', () => {
    const f = Flash.create(S);
    expect(() => f.cutPowerAfter(1, { mode: 'scramble' })).toThrow(/rng/);
  });
});

/** Index of the first differing byte, or -1 (fast, so shrinking stays quick). */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

type Op =
  | { k: 'w'; addr: number; data: number[] }
  | { k: 'e'; sector: number; count: number }
  | { k: 'm'; sector: number; which: number };

describe('Flash against a flat reference model (property)', () => {
  const SECTORS = 8;
  const shared = [0, 1, 2].map((seed) => Uint8Array.from({ length: (seed + 1) * 2500 }, (_, i) => (i * (seed + 3)) & 0xff));
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('w' as const), addr: fc.nat(SECTORS * S - 1), data: fc.array(fc.nat(255), { minLength: 1, maxLength: 600 }) }),
    fc.record({ k: fc.constant('e' as const), sector: fc.nat(SECTORS - 1), count: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ k: fc.constant('m' as const), sector: fc.nat(SECTORS - 1), which: fc.nat(2) }),
  );

  it('matches byte for byte after any sequence of writes, erases and mappings', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 25 }), (ops) => {
      const f = Flash.create(SECTORS * S);
      const ref = new Uint8Array(SECTORS * S).fill(0xff);
      for (const op of ops) {
        if (op.k === 'w') {
          const data = Uint8Array.from(op.data.slice(0, SECTORS * S - op.addr));
          f.write(op.addr, data);
          data.forEach((b, i) => { ref[op.addr + i]! &= b; });
        } else if (op.k === 'e') {
          const count = Math.min(op.count, SECTORS - op.sector);
          f.erase(op.sector * S, count * S);
          ref.fill(0xff, op.sector * S, (op.sector + count) * S);
        } else {
          const data = shared[op.which]!;
          if (op.sector * S + data.length > SECTORS * S) continue;
          f.map(op.sector * S, data);
          ref.fill(0xff, op.sector * S, op.sector * S + Math.ceil(data.length / S) * S);
          ref.set(data, op.sector * S);
        }
      }
      expect(firstDiff(f.read(0, SECTORS * S), ref)).toBe(-1);
      expect(firstDiff(f.view(S + 7, 2 * S), ref.subarray(S + 7, 3 * S + 7))).toBe(-1);
    }), { numRuns: 1000 });
  });
});
