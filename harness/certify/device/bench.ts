/**
 * The test bench of the device suite: the harness plays the OTA server (a small HTTP file server
 * whose serving modes are the bad networks the suite needs) and the broker (embedded aedes on a TCP
 * port), and watches everything the device under test publishes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { EmbeddedBroker } from '../../../server/broker/index.js';
import { topics, type ProtocolProfile, type Topics } from '../../../protocol/topics.js';

/** How `/fw/{name}` is served. */
export type ServeMode =
  /** 200 with Content-Length; `Range: bytes=N-` gets a 206. */
  | 'plain'
  /** The first request without Range gets half the body, then the connection is dropped. */
  | 'drop'
  /** One byte in the middle is flipped on the way. */
  | 'corrupt'
  /** 206 with `Content-Range: bytes 0-(n-1)/n` to a request without Range. */
  | 'partial'
  /** Half the body, a pause of `stallMs`, then the rest. */
  | 'stall';

interface Served {
  readonly bytes: Uint8Array;
  readonly mode: ServeMode;
}

/** A request the file server answered. */
export interface ServedRequest {
  readonly path: string;
  readonly range: string | null;
  readonly status: number;
}

/** Something the device published, in arrival order. */
export interface Heard {
  readonly seq: number;
  /** ms since the bench started. */
  readonly at: number;
  readonly kind: 'status' | 'progress' | 'result' | 'announce' | 'lwt';
  readonly raw: string;
  /** Parsed JSON, or undefined when the payload is not JSON. */
  readonly json: Record<string, unknown> | undefined;
}

export interface BenchOptions {
  readonly deviceId: string;
  readonly protocol: ProtocolProfile;
  readonly topicPrefix: string;
  /** HTTP port; 0 picks a free one. */
  readonly httpPort: number;
  /** MQTT port; 0 picks a free one. */
  readonly mqttPort: number;
  /** Interface both listeners bind. */
  readonly bind: string;
  /** Host the device is told to use (its URLs and broker address). */
  readonly host: string;
  /** How long `stall` holds the body, ms. */
  readonly stallMs: number;
}

function parse(raw: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Server and broker for one device under test. `await using` closes both. */
export class Bench implements AsyncDisposable {
  readonly heard: Heard[] = [];
  readonly requests: ServedRequest[] = [];
  readonly topics: Topics;
  readonly #files = new Map<string, Served>();
  readonly #waiters = new Set<() => void>();
  readonly #t0 = performance.now();
  #seq = 0;

  private constructor(
    readonly options: BenchOptions,
    readonly broker: EmbeddedBroker,
    private readonly http: Server,
    private readonly client: MqttClient,
  ) {
    this.topics = topics({ prefix: options.topicPrefix, profile: options.protocol });
  }

  /** Start the broker and the file server, and subscribe to the device's topics. */
  static async create(o: BenchOptions): Promise<Bench> {
    const broker = await EmbeddedBroker.create({ port: o.mqttPort, host: o.bind });
    let http: Server | undefined;
    try {
      const ref: { bench?: Bench } = {}; // the handler is made before the bench it serves
      const server = createServer((req, res) => void ref.bench?.serve(req, res));
      http = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.httpPort, o.bind, () => resolve());
      });
      const client = await broker.connect({ clientId: `otasim-certify-${process.pid}`, clean: true });
      const bench = new Bench(o, broker, server, client);
      ref.bench = bench;
      const t = bench.topics;
      const id = o.deviceId;
      client.on('message', (topic, payload) => bench.hear(topic, payload.toString('utf8')));
      await client.subscribeAsync([t.otaReply(id, 'status'), t.otaReply(id, 'progress'), t.otaReply(id, 'result'), t.edgeStatus(id)], { qos: 1 });
      return bench;
    } catch (e) {
      http?.close();
      await broker.close();
      throw e;
    }
  }

  /** `mqtt://host:port` as the device must use it. */
  get mqttUrl(): string {
    return `mqtt://${this.options.host}:${this.broker.address?.port ?? 0}`;
  }

  /** `http://host:port` of the file server as the device must use it. */
  get httpUrl(): string {
    return `http://${this.options.host}:${(this.http.address() as AddressInfo).port}`;
  }

  /** Serve `bytes` at `/fw/{name}` in `mode`; returns the URL. */
  put(name: string, bytes: Uint8Array, mode: ServeMode = 'plain'): string {
    this.#files.set(name, { bytes, mode });
    return `${this.httpUrl}/fw/${encodeURIComponent(name)}`;
  }

  /** Publish the `cmd/ota` the real workflow sends (QoS 1, not retained). */
  async offer(command: Record<string, unknown>): Promise<number> {
    const seq = this.#seq;
    await this.client.publishAsync(this.topics.cmdOta(this.options.deviceId), JSON.stringify(command), { qos: 1 });
    return seq;
  }

  /** Everything heard from sequence number `from` on. */
  since(from: number): Heard[] {
    return this.heard.filter((h) => h.seq >= from);
  }

  /** ms since the bench started (the clock of `Heard.at`). */
  now(): number {
    return Math.round(performance.now() - this.#t0);
  }

  /** The next sequence number. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Wait until `done()` holds, re-checked whenever something is heard and every 100 ms; resolves
   * false after `timeoutMs`.
   */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (!done()) {
      const left = end - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(t);
          this.#waiters.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, Math.min(100, left));
        this.#waiters.add(wake);
      });
    }
    return true;
  }

  private hear(topic: string, raw: string): void {
    const t = this.topics;
    const id = this.options.deviceId;
    let kind: Heard['kind'] | null = null;
    if (topic === t.edgeStatus(id)) kind = raw.replace(/\s/g, '') === '{"online":false}' ? 'lwt' : 'announce';
    else if (topic === t.otaReply(id, 'status')) kind = 'status';
    else if (topic === t.otaReply(id, 'progress')) kind = 'progress';
    else if (topic === t.otaReply(id, 'result')) kind = 'result';
    if (kind === null) return;
    this.heard.push({ seq: this.#seq++, at: Math.round(performance.now() - this.#t0), kind, raw, json: parse(raw) });
    for (const w of [...this.#waiters]) w();
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bench.invalid');
    const name = url.pathname.startsWith('/fw/') ? decodeURIComponent(url.pathname.slice(4)) : null;
    const f = name === null ? undefined : this.#files.get(name);
    const range = typeof req.headers.range === 'string' ? req.headers.range : null;
    const answer = (status: number): void => {
      this.requests.push({ path: url.pathname, range, status });
    };
    if (req.method !== 'GET' || f === undefined) {
      answer(404);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const body = f.bytes;
    const n = body.length;
    const m = range === null ? null : /^bytes=(\d+)-$/.exec(range);
    if (m !== null) {
      const from = Number(m[1]);
      if (from >= n) {
        answer(416);
        res.writeHead(416, { 'content-range': `bytes */${n}` }).end();
        return;
      }
      answer(206);
      res.writeHead(206, { 'content-length': String(n - from), 'content-range': `bytes ${from}-${n - 1}/${n}`, 'content-type': 'application/octet-stream' });
      res.end(body.subarray(from));
      return;
    }
    const half = Math.floor(n / 2);
    switch (f.mode) {
      case 'plain':
      case 'corrupt': {
        answer(200);
        res.writeHead(200, { 'content-length': String(n), 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' });
        if (f.mode === 'plain') {
          res.end(body);
          return;
        }
        const copy = Buffer.from(body);
        copy[half] = (copy[half] ?? 0) ^ 0x5a;
        res.end(copy);
        return;
      }
      case 'partial':
        answer(206);
        res.writeHead(206, { 'content-length': String(n), 'content-range': `bytes 0-${n - 1}/${n}`, 'content-type': 'application/octet-stream' });
        res.end(body);
        return;
      case 'drop':
        answer(200);
        res.writeHead(200, { 'content-length': String(n), 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' });
        res.write(body.subarray(0, half), () => setTimeout(() => res.destroy(), 50));
        return;
      case 'stall':
        answer(200);
        res.writeHead(200, { 'content-length': String(n), 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' });
        res.write(body.subarray(0, half));
        await pause(this.options.stallMs);
        if (!res.destroyed) res.end(body.subarray(half));
        return;
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => {});
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.broker.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
