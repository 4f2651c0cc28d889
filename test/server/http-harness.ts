/**
 * Test helpers for the HTTP API: a real OtaServer on port 0 (PGlite and artifacts in a temp
 * directory, embedded broker on a free port), undici requests, and built ESP32 images.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FormData, request } from 'undici';
import { OtaServer, type ServerConfigInput } from '../../server/index.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import type { ChipName } from '../../simulator/esp32/chips.js';

export const TEST_KEY = 'test-api-key-0123456789';

/** Hook timeout for starting a server: PGlite initialises a fresh data dir in seconds, more on a loaded machine. */
export const SERVER_START_MS = 180_000;

/** A running server plus its temp dir; `await using` closes both. */
export interface TestServer extends AsyncDisposable {
  readonly server: OtaServer;
  readonly url: string;
  readonly dir: string;
}

/** Start a server on free ports with a temp data dir. */
export async function startServer(over: ServerConfigInput = {}, ports: { now?: () => number } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'otasim-http-'));
  try {
    const server = await OtaServer.create({
      port: 0, mqttPort: 0, data: dir, apiKey: TEST_KEY, logLevel: 'silent', ...over,
    }, { logger: pino({ level: 'silent' }), defaultMetrics: false, ...ports });
    return {
      server, url: server.url, dir,
      async [Symbol.asyncDispose]() {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  bytes: Buffer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** One HTTP request with undici; the body is read whole. */
export async function http(base: string, method: string, path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer | FormData; key?: string | null } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== undefined && opts.key !== null) headers['x-api-key'] = opts.key;
  const r = await request(base + path, {
    method: method as 'GET',
    headers,
    ...(opts.body === undefined ? {} : { body: opts.body }),
  });
  const bytes = Buffer.from(await r.body.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.statusCode, headers: r.headers, text, bytes, json };
}

/** POST/PATCH a JSON body with the test key. */
export function sendJson(base: string, method: string, path: string, body: unknown, key: string | null = TEST_KEY): Promise<Res> {
  return http(base, method, path, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), key });
}

/** A valid app image for `chip` whose app-desc version is `version`. */
export function image(version: string, chip: ChipName = 'esp32', size = 64 * 1024): Uint8Array {
  return buildAppImage({ chip, version, size });
}

/** Multipart form with `bytes` as field `field` (default `file`). */
export function fileForm(bytes: Uint8Array, field = 'file', filename = 'firmware.bin'): FormData {
  const form = new FormData();
  form.append(field, new Blob([bytes], { type: 'application/octet-stream' }), filename);
  return form;
}

/** Upload `bytes` as (version, model) with the test key. */
export function upload(base: string, version: string, model: string, bytes: Uint8Array, extra = ''): Promise<Res> {
  return http(base, 'POST', `/api/admin/firmware/upload?version=${encodeURIComponent(version)}&device_model=${encodeURIComponent(model)}${extra}`,
    { body: fileForm(bytes), key: TEST_KEY });
}
