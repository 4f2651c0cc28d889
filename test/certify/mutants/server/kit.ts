/**
 * The rig that turns the real server into a broken one, one seam at a time: a real OtaServer
 * (PGlite in a temp dir) whose HTTP API is reached through a small reverse proxy and whose MQTT
 * broker is an aedes broker owned by the rig. A mutant alters one exchange at a seam — a request
 * rewritten on its way in, an answer on its way out, a publish re-routed or a delivery dropped in
 * the broker — and everything else is the real server. The server's `publicUrl` is the proxy, so
 * `cmd/ota` URLs lead through the mutant too.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Aedes } from 'aedes';
import { request } from 'undici';
import type { OtaServer } from '../../../../server/index.js';
import { startServer, TEST_KEY, type TestServer } from '../../../server/http-harness.js';

/** One HTTP request as the proxy forwards it. `path` includes the query. */
export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** One HTTP answer as the proxy returns it. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** An HTTP seam: rewrite the request, the answer, or both. */
export interface HttpSeam {
  request?(ex: Exchange): Exchange | Promise<Exchange>;
  response?(ex: Exchange, answer: Answer): Answer | Promise<Answer>;
}

/** A broker seam: re-route a client's publish, or keep a message from one subscriber. */
export interface BrokerSeam {
  /** The topic the publish is routed to (return `topic` to leave it). */
  publish?(topic: string, publisher: string | null): string;
  /** Whether the message on `topic` is delivered to the subscriber `subscriber`. */
  forward?(topic: string, subscriber: string): boolean;
}

/** What a mutant's seams may read: the real server behind them. */
export interface MutantContext {
  readonly server: OtaServer;
  readonly apiKey: string;
}

/** A broken server: the real one with one seam altered. */
export interface ServerMutant {
  readonly name: string;
  /** The bug, in a sentence. */
  readonly bug: string;
  /** The requirement ids the suite must fail, exactly. */
  readonly fails: readonly string[];
  /** Fresh seams for one suite run (mutants may keep state per run). */
  seams(ctx: MutantContext): { http?: HttpSeam; broker?: BrokerSeam };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'proxy-connection', 'te', 'trailer']);

function flat(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const listen = (s: HttpServer | NetServer): Promise<number> => new Promise((resolve, reject) => {
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port));
});

const closeServer = (s: HttpServer | NetServer): Promise<void> => new Promise((resolve) => {
  if ('closeAllConnections' in s) s.closeAllConnections();
  s.close(() => resolve());
});

export class MutantRig implements AsyncDisposable {
  /** The seams of the mutant in use; none for the real server. */
  private seams: { http?: HttpSeam; broker?: BrokerSeam } = {};

  private constructor(
    readonly url: string,
    readonly brokerUrl: string,
    private readonly test: TestServer,
    private readonly proxy: HttpServer,
    private readonly mqtt: NetServer,
    private readonly aedes: Aedes,
  ) {}

  get server(): OtaServer {
    return this.test.server;
  }

  readonly apiKey = TEST_KEY;

  static async create(): Promise<MutantRig> {
    const aedes = await Aedes.createBroker();
    // The broker and the proxy start before the rig exists; they find it here once it does.
    const slot: { rig?: MutantRig } = {};
    aedes.authorizePublish = (client, packet, callback) => {
      const seam = slot.rig?.seams.broker;
      if (seam?.publish !== undefined) packet.topic = seam.publish(packet.topic, client?.id ?? null);
      callback(null);
    };
    aedes.authorizeForward = (client, packet) => {
      const seam = slot.rig?.seams.broker;
      return seam?.forward === undefined || seam.forward(packet.topic, client.id) ? packet : null;
    };
    const mqtt = createNetServer((socket) => aedes.handle(socket));
    const mqttPort = await listen(mqtt);
    let target = '';
    const proxy = createHttpServer((req, res) => {
      void (async () => slot.rig?.forward(target, req, res))().catch((err: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`mutant proxy: ${(err as Error).message}`);
      });
    });
    const proxyPort = await listen(proxy);
    const url = `http://127.0.0.1:${proxyPort}`;
    const brokerUrl = `mqtt://127.0.0.1:${mqttPort}`;
    let test: TestServer;
    try {
      test = await startServer({ broker: brokerUrl, publicUrl: url });
    } catch (e) {
      await closeServer(proxy);
      await closeServer(mqtt);
      await new Promise<void>((r) => aedes.close(() => r()));
      throw e;
    }
    target = test.url;
    slot.rig = new MutantRig(url, brokerUrl, test, proxy, mqtt, aedes);
    return slot.rig;
  }

  /** Put `mutant`'s seams in place for the next run (undefined: the real server, through the same rig). */
  use(mutant: ServerMutant | undefined): void {
    this.seams = mutant?.seams({ server: this.server, apiKey: this.apiKey }) ?? {};
  }

  private async forward(target: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const seam = this.seams.http;
    let ex: Exchange = { method: req.method ?? 'GET', path: req.url ?? '/', headers: flat(req.headers), body: await readAll(req) };
    if (seam?.request !== undefined) ex = await seam.request(ex);
    const r = await request(target + ex.path, {
      method: ex.method as 'GET', headers: ex.headers, ...(ex.body.length === 0 ? {} : { body: ex.body }),
    });
    const body = Buffer.from(await r.body.arrayBuffer());
    const headers = flat(r.headers as Record<string, string | string[] | undefined>);
    let answer: Answer = { status: r.statusCode, headers, body };
    if (seam?.response !== undefined) answer = await seam.response(ex, answer);
    const length = ex.method === 'HEAD' ? String(r.headers['content-length'] ?? 0) : String(answer.body.length);
    res.writeHead(answer.status, { ...answer.headers, 'content-length': length });
    res.end(ex.method === 'HEAD' ? undefined : answer.body);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.test[Symbol.asyncDispose]();
    await closeServer(this.proxy);
    await new Promise<void>((r) => this.aedes.close(() => r()));
    await closeServer(this.mqtt);
  }
}
