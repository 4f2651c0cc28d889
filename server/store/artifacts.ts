/**
 * The artifact store: firmware bytes on disk, content-addressed by SHA-256, never in the database.
 *
 * Layout under `dir`: `sha256/<first 2 hex>/<64 hex>` for artifacts, `tmp/` for uploads in flight.
 * A write goes to a fresh temp file, is fsynced, renamed into place and the directory fsynced, so
 * once `put` resolves the bytes survive a crash, and a reader never sees a partial file.
 * Keys are `sha256/<64 lower-case hex>`; a path is only ever built from a validated digest, so
 * no key can name a file outside `dir`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ArtifactError } from '../../protocol/errors.js';

/** A stored artifact. */
export interface ArtifactInfo {
  /** `sha256/<hex>`: what `firmware_releases.file_path` holds. */
  key: string;
  /** Lower-case hex SHA-256 of the bytes. */
  sha256: string;
  /** Bytes. */
  size: number;
}

/** An inclusive byte range, as HTTP `Range: bytes=start-end` means it. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ArtifactStoreOptions {
  /** Root directory; created if missing. */
  dir: string;
  /** Default upload cap in bytes for `put`; default 16 MiB (an ESP32 app partition is at most 16 MiB). */
  maxBytes?: number;
}

const KEY = /^sha256\/([0-9a-f]{64})$/;
const DEFAULT_MAX = 16 * 1024 * 1024;

/** The key for a digest. */
export function artifactKey(sha256: string): string {
  return `sha256/${sha256}`;
}

/** The digest inside a key; throws `OTASIM_ERR_ARTIFACT_KEY` for anything that is not exactly a key. */
export function parseArtifactKey(key: string): string {
  const m = KEY.exec(key);
  if (m === null) throw new ArtifactError('OTASIM_ERR_ARTIFACT_KEY', `${JSON.stringify(key.slice(0, 80))} is not an artifact key (sha256/<64 lower-case hex>)`);
  return m[1]!;
}

async function fsyncDir(path: string): Promise<void> {
  const dh = await open(path, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT';
}

export class ArtifactStore implements AsyncDisposable {
  private constructor(readonly dir: string, private readonly maxBytes: number) {}

  /** Open (creating) the store under `opts.dir`; leftovers of interrupted uploads are removed. */
  static async create(opts: ArtifactStoreOptions): Promise<ArtifactStore> {
    const store = new ArtifactStore(opts.dir, opts.maxBytes ?? DEFAULT_MAX);
    await mkdir(join(opts.dir, 'sha256'), { recursive: true });
    await mkdir(join(opts.dir, 'tmp'), { recursive: true });
    for (const f of await readdir(join(opts.dir, 'tmp'))) {
      if (f.endsWith('.part')) await rm(join(opts.dir, 'tmp', f), { force: true });
    }
    return store;
  }

  #path(key: string): string {
    const sha = parseArtifactKey(key);
    return join(this.dir, 'sha256', sha.slice(0, 2), sha);
  }

  /**
   * Store bytes durably; resolves with their key once they are on disk (fsync + rename + dir
   * fsync). Identical content is stored once. Throws `OTASIM_ERR_ARTIFACT_TOO_LARGE` past
   * `maxBytes` (default: the store's cap), leaving nothing behind.
   */
  async put(source: Uint8Array | AsyncIterable<Uint8Array>, opts: { maxBytes?: number } = {}): Promise<ArtifactInfo> {
    const cap = opts.maxBytes ?? this.maxBytes;
    const tmp = join(this.dir, 'tmp', `${randomBytes(12).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    let fh: FileHandle | undefined = await open(tmp, 'wx');
    try {
      const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = source instanceof Uint8Array ? [source] : source;
      for await (const chunk of chunks) {
        size += chunk.byteLength;
        if (size > cap) {
          throw new ArtifactError('OTASIM_ERR_ARTIFACT_TOO_LARGE', `upload exceeds the ${cap}-byte limit; raise the server's upload limit or send a smaller image`);
        }
        hash.update(chunk);
        await fh.write(chunk);
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      const sha256 = hash.digest('hex');
      const key = artifactKey(sha256);
      const dest = this.#path(key);
      const destDir = join(this.dir, 'sha256', sha256.slice(0, 2));
      await mkdir(destDir, { recursive: true });
      await rename(tmp, dest);
      await fsyncDir(destDir);
      return { key, sha256, size };
    } catch (e) {
      await fh?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      if (e instanceof ArtifactError) throw e;
      throw new ArtifactError('OTASIM_ERR_ARTIFACT_IO', `could not store the artifact under ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Size of a stored artifact, or `undefined` when it is absent. */
  async stat(key: string): Promise<ArtifactInfo | undefined> {
    const path = this.#path(key);
    try {
      const s = await stat(path);
      return { key, sha256: parseArtifactKey(key), size: s.size };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new ArtifactError('OTASIM_ERR_ARTIFACT_IO', `could not stat ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  async has(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  /**
   * Open an artifact, or an inclusive byte range of it, as a stream. The file is opened before
   * this resolves, so a missing artifact fails here (`OTASIM_ERR_ARTIFACT_MISSING`), and a range
   * outside `[0, size)` gives `OTASIM_ERR_ARTIFACT_RANGE`. `size` is the whole artifact's.
   */
  async read(key: string, range?: ByteRange): Promise<{ stream: Readable; size: number; length: number }> {
    const path = this.#path(key);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (isNotFound(e)) throw new ArtifactError('OTASIM_ERR_ARTIFACT_MISSING', `artifact ${key} is not in ${this.dir}`, { cause: e });
      throw new ArtifactError('OTASIM_ERR_ARTIFACT_IO', `could not open ${key}: ${(e as Error).message}`, { cause: e });
    }
    const { size } = await fh.stat();
    if (range !== undefined) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= size) {
        await fh.close();
        throw new ArtifactError('OTASIM_ERR_ARTIFACT_RANGE', `range ${start}-${end} is outside the ${size}-byte artifact`);
      }
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    if (size === 0) {
      await fh.close();
      return { stream: Readable.from([]), size, length: 0 };
    }
    // autoClose: the stream closes the handle when it ends or is destroyed.
    return { stream: fh.createReadStream({ start, end }), size, length: end - start + 1 };
  }

  /** The whole artifact in memory (for validating an image); prefer `read` for serving. */
  async readAll(key: string): Promise<Uint8Array> {
    const { stream } = await this.read(key);
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(c as Buffer);
    const b = Buffer.concat(parts);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Delete an artifact; true if it existed. Callers check `Store.artifactInUse` first. */
  async remove(key: string): Promise<boolean> {
    const path = this.#path(key);
    try {
      await unlink(path);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw new ArtifactError('OTASIM_ERR_ARTIFACT_IO', `could not remove ${key}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Nothing to release (files are opened per call); present so servers can `await using` it. */
  async [Symbol.asyncDispose](): Promise<void> {}
}
