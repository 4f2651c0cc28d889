/**
 * A private Mosquitto for outage and TLS tests: the system's `mosquitto` binary started on free
 * loopback ports with a generated config in a temp directory, never the shared broker on 1883.
 * `stop()` ends it gracefully (SIGTERM: Mosquitto saves its persistence file, so sessions and
 * queued QoS 1 messages survive) and `start()` brings it back on the same ports, which is how a
 * test rehearses a broker outage. With `tls`, a second listener speaks MQTT over TLS (mqtts); the
 * plain one stays for clients inside the trust boundary (the OTA server's collector).
 *
 * Every CONNECT the broker accepts is recorded from its own log line (Mosquitto writes them
 * unbuffered to stderr) with the broker's timestamp, so a test can count reconnects per second
 * from the broker's side, whatever delays this process's event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { BrokerError } from '../../protocol/errors.js';

/** Options of {@link MosquittoProcess.start}. */
export interface MosquittoProcessOptions {
  /** The binary. Default `mosquitto` on the PATH. */
  readonly bin?: string;
  /** Add a TLS listener with this server certificate and key (PEM files). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** How long to wait for the listeners, ms. Default 10,000. */
  readonly readyTimeoutMs?: number;
}

/** Ask the kernel for a free loopback port (closed again at once; Mosquitto binds it next). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** True when a `mosquitto` binary runs here (tests skip with a notice otherwise). */
export async function mosquittoAvailable(bin = 'mosquitto'): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(bin, ['-h'], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('exit', () => resolve(true)); // `-h` exits non-zero, but it ran
  });
}

/** A Mosquitto child process owned by the caller. */
export class MosquittoProcess implements AsyncDisposable {
  /** Plain MQTT listener, `mqtt://127.0.0.1:port`. */
  readonly url: string;
  /** The TLS listener, `mqtts://127.0.0.1:port`, or null without `tls`. */
  readonly tlsUrl: string | null;
  /** Every accepted CONNECT, over every start: the broker's log time (epoch ms, 1 s resolution) and the client id. */
  readonly connects: Array<{ readonly at: number; readonly clientId: string }> = [];
  readonly #dir: string;
  readonly #bin: string;
  readonly #ports: number[];
  readonly #readyMs: number;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';
  #closed = false;

  private constructor(dir: string, bin: string, ports: number[], tls: boolean, readyMs: number) {
    this.#dir = dir;
    this.#bin = bin;
    this.#ports = ports;
    this.#readyMs = readyMs;
    this.url = `mqtt://127.0.0.1:${ports[0]}`;
    this.tlsUrl = tls ? `mqtts://127.0.0.1:${ports[1]}` : null;
  }

  /**
   * Write the config and start the broker; resolves once every listener accepts connections.
   * Rejects with `BrokerError` (`OTASIM_ERR_BROKER_START`) when the binary is missing or exits.
   */
  static async start(opts: MosquittoProcessOptions = {}): Promise<MosquittoProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-mosquitto-'));
    try {
      const ports = [await freePort(), ...(opts.tls ? [await freePort()] : [])];
      const lines = [
        `listener ${ports[0]} 127.0.0.1`,
        ...(opts.tls ? [`listener ${ports[1]} 127.0.0.1`, `certfile ${opts.tls.certFile}`, `keyfile ${opts.tls.keyFile}`] : []),
        // Started as root, Mosquitto drops to the `mosquitto` user, which cannot read this
        // process's temp files (key, persistence); run it as whoever started it instead.
        `user ${userInfo().username}`,
        'allow_anonymous true',
        'persistence true',
        `persistence_location ${dir}/`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        'connection_messages true',
        'max_queued_messages 100000',
      ];
      await writeFile(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
      const m = new MosquittoProcess(dir, opts.bin ?? 'mosquitto', ports, opts.tls !== undefined, opts.readyTimeoutMs ?? 10_000);
      await m.start();
      return m;
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** True while the broker process runs. */
  get running(): boolean {
    return this.#child !== null;
  }

  /** (Re)start on the same ports; resolves when they accept connections. No-op while running. */
  async start(): Promise<void> {
    if (this.#child !== null) return;
    if (this.#closed) throw new BrokerError('OTASIM_ERR_BROKER_START', 'this Mosquitto was closed');
    this.#stderr = '';
    const child = spawn(this.#bin, ['-c', join(this.#dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    let failed: Error | null = null;
    this.#exited = new Promise((resolve) => {
      child.once('error', (e) => { failed = e; this.#child = null; resolve(); });
      child.once('exit', () => { this.#child = null; resolve(); });
    });
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (this.#stderr.length < 64 * 1024) this.#stderr += chunk;
      const text = partial + chunk;
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        // "1795611826: New client connected from 127.0.0.1:40112 as sim-000001 (p2, c1, k15)."
        const m = /^(\d+): New client connected from \S+ as (\S+) /.exec(line);
        if (m !== null) this.connects.push({ at: Number(m[1]) * 1000, clientId: m[2] as string });
      }
    });
    const deadline = performance.now() + this.#readyMs;
    for (;;) {
      if (this.#child === null) {
        throw new BrokerError('OTASIM_ERR_BROKER_START',
          `mosquitto did not start: ${failed === null ? this.#stderr.trim().split('\n').slice(-3).join(' | ') : (failed as Error).message}`);
      }
      const open = await Promise.all(this.#ports.map(portOpen));
      if (open.every(Boolean)) return;
      if (performance.now() > deadline) {
        await this.stop();
        throw new BrokerError('OTASIM_ERR_BROKER_START', `mosquitto did not listen on ${this.#ports.join(', ')} within ${this.#readyMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop the broker (SIGTERM, then SIGKILL after 5 s); its ports and persistence stay for `start()`. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Stop the broker and remove its directory. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.stop();
    this.#closed = true;
    await rm(this.#dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
