/**
 * The device's small HTTP calls, as seed 002's client makes them: `GET /api/firmware/check` (poll
 * mode) and `POST /api/device/{id}/update-status` (fire and forget). Bodies are read with a cap, so
 * a server answering with megabytes cannot make a device hold them.
 */
import type { Dispatcher } from 'undici';
import { sleep, type Clock } from '../../protocol/clock.js';
import type { DeviceEvent } from './types.js';
import type { UpdateStatusBody } from '../../protocol/payloads.js';

/** Largest check response a device reads, bytes (ArduinoJson `DynamicJsonDocument doc(2048)` in seed 002, with room). */
export const MAX_CHECK_BODY = 16 * 1024;

/** What the HTTP calls need from the runtime. */
export interface HttpCallDeps {
  readonly http: Dispatcher;
  /** The OTA server's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly serverUrl: string;
  readonly deviceId: string;
  /** `X-API-Key` for update-status, when the server requires it; null sends none (as the seeds' devices). */
  readonly apiKey: string | null;
  /** `X-Device-Token` for check and update-status (config `deviceToken`); null sends none. */
  readonly deviceToken: string | null;
  readonly emit: (event: DeviceEvent) => void;
  readonly log: (line: string) => void;
  /** Request timeout, ms (undici headers and body timeouts). */
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** The `latency` fault for a request made now, ms (0 without one). */
  readonly latencyMs: () => number;
  /** An update-status report was answered 200 (the server has stored it). */
  readonly acked?: (body: string) => void;
}

/** The latency fault: the answer arrives this much later. */
async function delayed<T>(d: HttpCallDeps, answer: Promise<T>): Promise<T> {
  const ms = d.latencyMs();
  const [value] = await Promise.all([answer, ms > 0 ? sleep(d.clock, ms) : undefined]);
  return value;
}

function why(e: unknown): string {
  if (e instanceof Error) return `${'code' in e && typeof e.code === 'string' ? `${e.code}: ` : ''}${e.message}`;
  return String(e);
}

/**
 * The device-token header (server/http/auth.ts `DEVICE_TOKEN_HEADER`), plus `X-Device-Id` where the
 * URL does not name the device (the download); none without a token.
 */
export function tokenHeaders(token: string | null, deviceId?: string): Record<string, string> {
  if (token === null) return {};
  return { 'x-device-token': token, ...(deviceId === undefined ? {} : { 'x-device-id': deviceId }) };
}

/** Join `path` to the server's base URL (keeping a base path such as `/ota`). */
export function serverPath(serverUrl: string, path: string): URL {
  const base = new URL(serverUrl);
  const root = base.pathname.replace(/\/+$/, '');
  return new URL(`${root}${path}`, base.origin);
}

async function readCapped(body: AsyncIterable<Uint8Array>, cap: number): Promise<string | null> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > cap) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts, n).toString('utf8');
}

/** `GET /api/firmware/check?device_id&device_model&current_version`; answers `check-response` or `check-failed`. */
export async function httpCheck(d: HttpCallDeps, query: Readonly<Record<string, string>>): Promise<void> {
  const url = serverPath(d.serverUrl, '/api/firmware/check');
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  try {
    const res = await delayed(d, d.http.request({
      origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers: tokenHeaders(d.deviceToken),
      headersTimeout: d.timeoutMs, bodyTimeout: d.timeoutMs,
    }));
    const body = await readCapped(res.body, MAX_CHECK_BODY);
    if (body === null) {
      res.body.destroy();
      d.emit({ type: 'check-failed', reason: `the check response is larger than ${MAX_CHECK_BODY} bytes` });
      return;
    }
    d.emit({ type: 'check-response', status: res.statusCode, body });
  } catch (e) {
    d.emit({ type: 'check-failed', reason: why(e) });
  }
}

/** `POST /api/device/{id}/update-status`; failures are logged, never retried (seed 002 `reportStatus`). */
export async function httpReport(d: HttpCallDeps, body: UpdateStatusBody): Promise<void> {
  const url = serverPath(d.serverUrl, `/api/device/${encodeURIComponent(d.deviceId)}/update-status`);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...tokenHeaders(d.deviceToken) };
  if (d.apiKey !== null) headers['x-api-key'] = d.apiKey;
  const text = JSON.stringify(body);
  try {
    const res = await delayed(d, d.http.request({
      origin: url.origin, path: url.pathname, method: 'POST', headers, body: text,
      headersTimeout: d.timeoutMs, bodyTimeout: d.timeoutMs,
    }));
    await res.body.dump();
    if (res.statusCode !== 200) d.log(`update-status answered HTTP ${res.statusCode}`);
    else d.acked?.(text);
  } catch (e) {
    d.log(`update-status failed: ${why(e)}`);
  }
}
