/**
 * Immutable image buffers shared by many emulated devices, keyed by SHA-256, plus a memo for
 * pure functions of those buffers (image verification, table decoding), so that ten thousand
 * devices holding the same image store it once and verify it once.
 *
 * Contract: a buffer handed out by the pool (or mapped into a Flash) is never written again.
 * Flash honours that (copy-on-write); callers must too.
 */
import { createHash } from 'node:crypto';

export class ImagePool {
  readonly #byHash = new Map<string, Uint8Array>();

  /**
   * The pool's buffer with exactly the bytes of `bytes`. The first caller with new content
   * donates a private copy of it; later callers get that same buffer back.
   */
  intern(bytes: Uint8Array): Uint8Array {
    const key = sha256Hex(bytes);
    const have = this.#byHash.get(key);
    if (have && have.length === bytes.length) return have;
    const copy = bytes.slice();
    this.#byHash.set(key, copy);
    return copy;
  }

  /** The buffer whose SHA-256 is `sha256` (64 lowercase hex digits), if pooled. */
  get(sha256: string): Uint8Array | undefined {
    return this.#byHash.get(sha256.toLowerCase());
  }

  /** Number of distinct images held. */
  get size(): number {
    return this.#byHash.size;
  }

  /** Total bytes held. */
  get bytes(): number {
    let n = 0;
    for (const b of this.#byHash.values()) n += b.length;
    return n;
  }

  /** Forget an image; devices that map it keep their reference. Returns whether it was held. */
  delete(sha256: string): boolean {
    return this.#byHash.delete(sha256.toLowerCase());
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What a memoised computation produced: its value, or what it threw. */
type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

const memo = new WeakMap<Uint8Array, Map<string, Outcome<unknown>>>();

/**
 * `compute()` once per (`buffer` object, `key`): later calls return the same value or rethrow the
 * same error. Only for pure computations over buffers that are never written (pool buffers and
 * Flash mappings). The memo does not keep `buffer` alive.
 */
export function memoOnBuffer<T>(buffer: Uint8Array, key: string, compute: () => T): T {
  let perBuffer = memo.get(buffer);
  if (!perBuffer) {
    perBuffer = new Map();
    memo.set(buffer, perBuffer);
  }
  let out = perBuffer.get(key) as Outcome<T> | undefined;
  if (!out) {
    try {
      out = { ok: true, value: compute() };
    } catch (error) {
      out = { ok: false, error };
    }
    perBuffer.set(key, out);
  }
  if (out.ok) return out.value;
  throw out.error;
}
