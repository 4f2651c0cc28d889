/**
 * Firmware images in memory for downloads. Artifacts are immutable and content-addressed, and a
 * rollout sends the same image to every device, so holding the hot ones in memory spares a file
 * stream per download. Each image is read once (concurrent misses share the read) and checked
 * against its SHA-256 before it is ever served, so a damaged file on disk is refused rather than
 * sent. Bounded by total bytes; least recently used images go first. Images larger than
 * `maxItemBytes` are never cached (the caller streams them from disk).
 */
import { createHash } from 'node:crypto';
import { ArtifactError } from '../../protocol/errors.js';
import type { ArtifactStore } from '../store/artifacts.js';

export class ArtifactCache {
  /** Insertion order is recency order (a hit re-inserts). */
  #items = new Map<string, Promise<Buffer>>();
  #sizes = new Map<string, number>();
  #bytes = 0;

  /**
   * @param maxBytes total bytes held (default 64 MiB)
   * @param maxItemBytes largest image held (default 16 MiB)
   */
  constructor(private readonly artifacts: ArtifactStore, private readonly maxBytes = 64 * 1024 * 1024,
    private readonly maxItemBytes = 16 * 1024 * 1024) {}

  /** Whether an image of `size` bytes is served from memory. */
  cacheable(size: number): boolean {
    return size > 0 && size <= this.maxItemBytes && size <= this.maxBytes;
  }

  /** The verified bytes of `key` (whose SHA-256 is `sha256`, `size` bytes long). */
  get(key: string, sha256: string, size: number): Promise<Buffer> {
    const hit = this.#items.get(key);
    if (hit !== undefined) {
      this.#items.delete(key);
      this.#items.set(key, hit);
      return hit;
    }
    const load = this.#load(key, sha256, size);
    this.#items.set(key, load);
    this.#sizes.set(key, size);
    this.#bytes += size;
    load.catch(() => this.#forget(key, load));
    this.#evict(key);
    return load;
  }

  async #load(key: string, sha256: string, size: number): Promise<Buffer> {
    const bytes = await this.artifacts.readAll(key);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const actual = createHash('sha256').update(buf).digest('hex');
    if (buf.length !== size || actual !== sha256) {
      throw new ArtifactError('OTASIM_ERR_ARTIFACT_IO',
        `artifact ${key} is damaged on disk (${buf.length} bytes, SHA-256 ${actual}); re-upload the release`);
    }
    return buf;
  }

  #forget(key: string, which: Promise<Buffer>): void {
    if (this.#items.get(key) !== which) return;
    this.#items.delete(key);
    this.#bytes -= this.#sizes.get(key) ?? 0;
    this.#sizes.delete(key);
  }

  #evict(keep: string): void {
    for (const key of this.#items.keys()) {
      if (this.#bytes <= this.maxBytes) return;
      if (key === keep) continue;
      const p = this.#items.get(key);
      if (p !== undefined) this.#forget(key, p);
    }
  }
}
