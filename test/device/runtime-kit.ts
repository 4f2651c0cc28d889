/**
 * Shared pieces for the runtime tests: a tiny image server on port 0 whose behaviour each test sets
 * (Range, lies, stalls, HTML), a provisioned chip, and fault plans.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { ImagePool, buildAppImage, type ChipName } from '../../simulator/esp32/index.js';
import { provisionDevice } from '../../simulator/device/runtime-provision.js';
import type { DeviceFaults, NetworkPlan } from '../../simulator/faults/decide.js';

export const pool = new ImagePool();

/** A built image, memoised by (chip, version, size). */
const images = new Map<string, Uint8Array>();
export function image(version: string, opts: { chip?: ChipName; size?: number; secureVersion?: number } = {}): Uint8Array {
  const key = `${opts.chip ?? 'esp32'}/${version}/${opts.size ?? 0}/${opts.secureVersion ?? 0}`;
  let img = images.get(key);
  if (img === undefined) {
    img = buildAppImage({ chip: opts.chip ?? 'esp32', version, size: opts.size ?? 256 * 1024, secureVersion: opts.secureVersion ?? 0 });
    images.set(key, img);
  }
  return img;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A device on 1.0.0, powered off. */
export function chip(version = '1.0.0', slotBytes: number | null = null) {
  return provisionDevice({ chip: 'esp32', version, pool, slotBytes });
}

/** A request the image server saw. */
export interface SeenRequest {
  readonly url: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  status: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;

/** Serve `img` with Range support (206 + Content-Range, strong ETag), in 16 KiB writes. */
export function rangeHandler(img: Uint8Array, etag = `"${sha256(img)}"`): Handler {
  return (req, res, seen) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRangeOk = req.headers['if-range'] === undefined || req.headers['if-range'] === etag;
    const start = m && ifRangeOk ? Number(m[1]) : 0;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', etag, 'content-length': String(img.length - start) };
    if (m && ifRangeOk) headers['content-range'] = `bytes ${start}-${img.length - 1}/${img.length}`;
    seen.status = m && ifRangeOk ? 206 : 200;
    res.writeHead(seen.status, headers);
    const body = Buffer.from(img.buffer, img.byteOffset + start, img.length - start);
    for (let i = 0; i < body.length; i += 16 * 1024) res.write(body.subarray(i, i + 16 * 1024));
    res.end();
  };
}

export interface ImageServer extends AsyncDisposable {
  readonly url: string;
  readonly seen: SeenRequest[];
  handler: Handler;
}

export async function imageServer(handler: Handler): Promise<ImageServer> {
  const seen: SeenRequest[] = [];
  const state = { handler };
  const server: Server = createServer((req, res) => {
    const s: SeenRequest = { url: req.url ?? '', range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, status: 0 };
    seen.push(s);
    state.handler(req, res, s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get handler() { return state.handler; },
    set handler(h: Handler) { state.handler = h; },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const CLEAN: NetworkPlan = Object.freeze({ latencyMs: 0, bytesPerSecond: null, cutAfter: null, corrupt: [] });

/** Fault decisions where only the network plan matters; `plan` may depend on the request. */
export function networkFaults(plan: (r: { request: number }) => NetworkPlan = () => CLEAN): DeviceFaults {
  return {
    boot: () => ({ kind: 'ok' }),
    brokerBlockedMs: () => 0,
    clockSkewMs: () => 0,
    powerCut: () => null,
    network: (r) => plan(r),
    slotBytes: () => null,
  };
}
