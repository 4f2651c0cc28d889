/**
 * Fuzz target for the HTTP wire itself: raw request bytes over TCP to the listening server, so
 * Node's HTTP parser and fastify's framing (Content-Length, chunked bodies, header limits) see
 * malformed requests that `inject` never produces. Seeds are valid requests; mutants edit their
 * lines and bytes. Allowed: a response below 500 whose 4xx carries the `{error: {code, message}}`
 * body, or the server closing a connection whose bytes were not a request at all.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { target, type FuzzTarget } from './engine.js';
import { applyLineEdits, applyMutations, lineEditArb, mutationArb, type LineEdit, type Mutation } from './mutate.js';

/** Valid raw requests (`\r\n` line ends); `KEY` is replaced by the API key. */
function seeds(apiKey: string): string[] {
  const json = JSON.stringify({ device_id: 'd1', firmware_version: '1.0.0', status: 'downloading' });
  const chunked = `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
  return [
    'GET /api/firmware/check?device_id=d1&device_model=esp32&current_version=0.9.0 HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/firmware/download/1.0.0?device_model=esp32 HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n',
    `POST /api/device/d1/update-status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
    `POST /api/device/d1/update-status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    `GET /api/admin/devices?limit=5 HTTP/1.1\r\nHost: x\r\nX-API-Key: ${apiKey}\r\n\r\n`,
    `PATCH /api/admin/rollout/r1 HTTP/1.1\r\nHost: x\r\nX-API-Key: ${apiKey}\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"rollout_percentage": 50 }`,
  ];
}

const TOKENS = ['0', '-1', '99999999999999999999', 'chunked', 'gzip', 'identity, chunked', 'close', 'keep-alive', '100-continue',
  'bytes=0-', 'a'.repeat(70_000), '\u0000', 'HTTP/1.0', 'HTTP/2.0', 'GET / HTTP/1.1', '\r', ''];

/** A wire case: a seed, line edits (header lines), byte edits. */
export interface WireCase {
  readonly seed: number;
  readonly lines: readonly LineEdit[];
  readonly bytes: readonly Mutation[];
}

interface Response {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** Send `bytes` on a fresh connection, half-close, and read until the server closes. */
function exchange(host: string, port: number, bytes: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect({ host, port }, () => s.end(bytes));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(Buffer.concat(chunks)) : reject(e)));
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** The first response in `raw`, or null when there is none. */
function firstResponse(raw: Buffer): Response | null {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (m === null || end < 0) return null;
  const head = text.slice(0, end);
  const len = /\r\ncontent-length: *(\d+)/i.exec(head);
  const rest = raw.subarray(end + 4);
  const body = (len === null ? rest : rest.subarray(0, Number(len[1]))).toString('utf8');
  return { status: Number(m[1]), head, body };
}

/** Raw mutated requests to the server at `url` (http://host:port). */
export function wireTarget(url: string, apiKey: string): FuzzTarget<WireCase> {
  const { hostname, port } = new URL(url);
  const texts = seeds(apiKey);
  const arb: fc.Arbitrary<WireCase> = fc.record({
    seed: fc.nat({ max: texts.length - 1 }),
    lines: fc.array(lineEditArb(TOKENS, /^[A-Za-z-]+: */), { maxLength: 2 }),
    bytes: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(mutationArb(), { minLength: 1, maxLength: 3 }) }),
  });
  const enc = new TextEncoder();
  return target('http-wire', arb, async (c) => {
    const text = applyLineEdits(texts, c.seed, c.lines);
    const bytes = c.bytes.length === 0 ? enc.encode(text) : applyMutations(enc.encode(text), c.bytes);
    const raw = await exchange(hostname, Number(port), bytes);
    const r = firstResponse(raw);
    if (r === null) return raw.length === 0 ? 'ok:closed' : `crash:an answer that is not an HTTP response: ${JSON.stringify(raw.subarray(0, 80).toString('latin1'))}`;
    if (r.status >= 500) return `crash:${r.status}: ${r.body.slice(0, 200)}`;
    if (r.status < 400) return `ok:${r.status}`;
    if (/^HEAD /.test(text)) return `refused:${r.status}`;
    try {
      const code = (JSON.parse(r.body) as { error?: { code?: unknown } }).error?.code;
      if (typeof code === 'string' && code.startsWith('OTASIM_ERR_')) return `refused:${r.status}:${code}`;
    } catch {
      // falls through to the crash below
    }
    return `crash:${r.status} without the error body: ${r.head.split('\r\n')[0] ?? ''} ${r.body.slice(0, 200)}`;
  });
}
