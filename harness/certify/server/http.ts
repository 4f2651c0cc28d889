/**
 * The suite's HTTP client for the server under test: undici requests with a timeout, the whole
 * body read, JSON parsed when it is JSON. Paths are joined to the base URL as given, so a server
 * behind a path prefix (`https://example.org/ota`) works.
 */
import { FormData, request } from 'undici';

/** One answer, body read whole. */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** The parsed body when it is JSON (by content type or by shape), else undefined. */
  readonly json: unknown;
}

/** What a request sends: `key` `true` sends the suite's API key, a string sends that key, absent sends none. */
export interface Send {
  readonly key?: true | string;
  readonly json?: unknown;
  readonly body?: string | Buffer | FormData;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The network error code of a failed request or connection: the innermost `code` along the cause
 * chain (`ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_CONNECT_TIMEOUT`…), else the message.
 */
export function networkCode(e: unknown): string {
  let code: string | undefined;
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur !== null && typeof cur === 'object'; i++) {
    const err = cur as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof err.code === 'string') code = err.code;
    cur = err.cause ?? err.errors?.[0];
  }
  return code ?? (e instanceof Error ? e.message : String(e));
}

export class ServerHttp {
  readonly base: string;

  /**
   * @param base server base URL, e.g. `http://127.0.0.1:8080`
   * @param apiKey the admin key sent when a request asks for it
   * @param timeoutMs headers and body timeout per request, ms
   */
  constructor(base: string, private readonly apiKey: string, private readonly timeoutMs: number) {
    this.base = base.replace(/\/+$/, '');
  }

  /** Absolute URL for a path, or `url` itself when it is already absolute. */
  resolve(pathOrUrl: string): string {
    return /^https?:\/\//i.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  async send(method: string, path: string, o: Send = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.key !== undefined) headers['x-api-key'] = o.key === true ? this.apiKey : o.key;
    let body = o.body;
    if (o.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(o.json);
    }
    const r = await request(this.resolve(path), {
      method: method as 'GET', headers, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs,
      ...(body === undefined ? {} : { body }),
    });
    const bytes = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, headers: r.headers, body: bytes, json: parseJson(bytes, r.headers['content-type']) };
  }

  get(path: string, o: Send = {}): Promise<Reply> {
    return this.send('GET', path, o);
  }

  post(path: string, o: Send = {}): Promise<Reply> {
    return this.send('POST', path, o);
  }
}

function parseJson(bytes: Buffer, type: string | string[] | undefined): unknown {
  const t = String(type ?? '');
  const text = bytes.toString('utf8').trim();
  if (!/json/i.test(t) && !text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** True when the reply is a JSON object (what every error body must be). */
export function isJsonObject(r: Reply): boolean {
  return /json/i.test(String(r.headers['content-type'] ?? '')) && r.json !== null && typeof r.json === 'object' && !Array.isArray(r.json);
}

/** One header as a string (the first when repeated). */
export function header(r: Reply, name: string): string | undefined {
  const v = r.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `401 {"detail":"Invalid API key"}` → a short text for messages. */
export function describe(r: Reply): string {
  const text = r.body.subarray(0, 120).toString('utf8').replace(/\s+/g, ' ');
  return `${r.status} ${String(r.headers['content-type'] ?? 'no content-type').split(';')[0]} ${text}`.trim();
}

/** Multipart form with `bytes` as field `file` (seed 001's `curl -F "file=@firmware.bin"`). */
export function fileForm(bytes: Uint8Array, filename = 'firmware.bin'): FormData {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: 'application/octet-stream' }), filename);
  return form;
}
