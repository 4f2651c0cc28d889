/**
 * When an armed power cut fires, counted in bytes of flash writes and erases. Pure: the
 * adversarial mode draws from an RNG the caller passes in.
 * Model: ESP-IDF partition_linux.c esp_partition_fail_after (facts §6.5), refined to byte
 * granularity; adversarial effects follow the NOR behaviour noted in facts §6.7.
 */
import { ConfigError } from '../../protocol/errors.js';

/** Where to cut: after a number of bytes, or inside the i-th mutating op from now. */
export type PowerCut =
  | { readonly afterBytes: number }
  | {
      /** 0 = the next write or erase. */
      readonly op: number;
      /** Bytes of that op applied before the cut, taken modulo the op's length. */
      readonly byte: number;
    };

/** A source of uniform numbers in [0, 1), e.g. `seededRng(seed)`. */
export type Rng = () => number;

export interface PowerCutOptions {
  /**
   * `'prefix'` (default): the ESP-IDF host model, a clean prefix. `'scramble'`: the interrupted
   * write page keeps a random subset of its 0-bits and the interrupted erase sector has random
   * bits set (needs `rng`).
   */
  readonly mode?: 'prefix' | 'scramble';
  readonly rng?: Rng;
}

export class PowerCutter {
  readonly scramble: boolean;
  readonly #rng: Rng | undefined;
  #bytesLeft: number | null;
  #opsLeft: number;
  readonly #byte: number;

  constructor(at: PowerCut, opts: PowerCutOptions) {
    this.scramble = opts.mode === 'scramble';
    this.#rng = opts.rng;
    if (this.scramble && !this.#rng) throw new ConfigError("power cut mode 'scramble' needs an rng");
    if ('afterBytes' in at) {
      checkCount(at.afterBytes, 'afterBytes');
      this.#bytesLeft = at.afterBytes;
      this.#opsLeft = 0;
      this.#byte = 0;
    } else {
      checkCount(at.op, 'op');
      checkCount(at.byte, 'byte');
      this.#bytesLeft = null;
      this.#opsLeft = at.op;
      this.#byte = at.byte;
    }
  }

  /** Account for an op of `len` > 0 bytes: the byte index where power dies, or null. */
  consume(len: number): number | null {
    if (this.#bytesLeft !== null) {
      if (this.#bytesLeft < len) return this.#bytesLeft;
      this.#bytesLeft -= len;
      return null;
    }
    if (this.#opsLeft > 0) {
      this.#opsLeft--;
      return null;
    }
    return this.#byte % len;
  }

  /** A random byte for the adversarial mode. */
  byte(): number {
    return Math.floor((this.#rng?.() ?? 0) * 256) & 0xff;
  }
}

/** A small deterministic RNG (mulberry32) for scramble mode and tests. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkCount(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`power cut ${name} must be a non-negative integer, got ${n}`);
}
