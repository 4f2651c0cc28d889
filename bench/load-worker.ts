/**
 * The HTTP load client the server benchmarks share, run in a worker thread so it has its own
 * event loop (and core) and does not steal the server's. Closed loop: `concurrency` requests in
 * flight over an undici Pool; each response body is read whole (and optionally hashed, as a
 * device verifying its download would). Reports completed requests, bytes and errors over
 * `durationMs` after `warmupMs`.
 */
import { createHash } from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

/** What one load run does. */
export interface LoadSpec {
  /** Origin, e.g. `http://127.0.0.1:8080`. */
  readonly origin: string;
  /** Paths requested round-robin. */
  readonly paths: readonly string[];
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Pool connections (≤ concurrency); default = concurrency. */
  readonly connections?: number;
  /** HTTP/1.1 pipelining depth per connection; default 1. */
  readonly pipelining?: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** SHA-256 every body, as a device does. Default false. */
  readonly hash?: boolean;
}

/** What one load run measured. */
export interface LoadResult {
  readonly requests: number;
  readonly bytes: number;
  readonly errors: number;
  /** Status codes seen in the measured window other than 200/206. */
  readonly badStatus: Readonly<Record<string, number>>;
  readonly seconds: number;
}

/** Run `spec` in a fresh worker thread and resolve with its result. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: spec });
    w.once('message', (m: LoadResult) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with ${code}`));
    });
  });
}

async function load(spec: LoadSpec): Promise<LoadResult> {
  const pool = new Pool(spec.origin, { connections: spec.connections ?? spec.concurrency, pipelining: spec.pipelining ?? 1 });
  let next = 0;
  let measuring = false;
  let stop = false;
  let requests = 0;
  let bytes = 0;
  let errors = 0;
  const badStatus: Record<string, number> = {};
  const worker = async (): Promise<void> => {
    while (!stop) {
      const path = spec.paths[next++ % spec.paths.length] as string;
      try {
        const r = await pool.request({ method: 'GET', path });
        const h = spec.hash === true ? createHash('sha256') : undefined;
        let n = 0;
        for await (const chunk of r.body) {
          n += (chunk as Buffer).length;
          h?.update(chunk as Buffer);
        }
        h?.digest();
        if (measuring) {
          requests++;
          bytes += n;
          if (r.statusCode !== 200 && r.statusCode !== 206) badStatus[r.statusCode] = (badStatus[r.statusCode] ?? 0) + 1;
        }
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const running = Array.from({ length: spec.concurrency }, worker);
  await new Promise((r) => setTimeout(r, spec.warmupMs));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, spec.durationMs));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(running);
  await pool.close();
  return { requests, bytes, errors, badStatus, seconds };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  void load(workerData as LoadSpec).then((r) => port.postMessage(r));
}

/** The number after `--name` on the command line, or `def`. */
export function numberArg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
