/**
 * The harness's hands on an OTA server: the admin API over HTTP with `X-API-Key` (docs/protocol.md
 * §2.2, §2.3), the same for the embedded server and a staging URL. A refusal is an AdminError with
 * the status and the server's own error code, so a step can expect it or report it.
 */
import { FormData, request } from 'undici';
import { OtasimError } from '../../protocol/errors.js';

/** The server answered outside 2xx, or could not be reached (`status` 0). */
export class AdminError extends OtasimError {
  readonly status: number;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** A seeds' rollout as `GET /api/admin/rollouts` lists it. */
export interface RolloutInfo {
  readonly id: number;
  readonly name: string;
  readonly firmware_version: string;
  readonly device_model: string;
  readonly target_type: 'all' | 'canary' | 'group' | 'specific';
  readonly target_filter: { device_ids?: string[]; mac_addresses?: string[]; groups?: string[]; group?: string } | null;
  readonly rollout_percentage: number | null;
  readonly is_active: boolean;
  readonly created_at: string;
}

/** A plan as `GET /api/admin/plans` lists it. */
export interface PlanInfo {
  readonly name: string;
  readonly status: string;
  readonly phase: number;
  readonly phases: number;
}

export class AdminClient {
  constructor(readonly baseUrl: () => string, readonly apiKey: string, readonly timeoutMs = 30_000) {}

  async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl()}${path}`;
    let res;
    try {
      res = await request(url, {
        method, headers: { 'x-api-key': this.apiKey, ...(body === undefined || body instanceof FormData ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
        headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs,
      });
    } catch (e) {
      throw new AdminError(0, 'OTASIM_ERR_SERVER_UNREACHABLE', `${method} ${url}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) {
      let code = `HTTP_${res.statusCode}`;
      let message = text.slice(0, 300);
      try {
        const j = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = j.error?.code ?? code;
        message = j.error?.message ?? message;
      } catch { /* a body that is not the ErrorBody is shown as text */ }
      throw new AdminError(res.statusCode, code, `${method} ${path} answered ${res.statusCode} ${code}: ${message}`);
    }
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  /** Upload an app image for `model` (multipart, as `POST /api/admin/firmware/upload` takes it). */
  upload(bytes: Uint8Array, version: string, model: string): Promise<unknown> {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'application/octet-stream' }), `${model}-${version}.bin`);
    return this.call('POST', `/api/admin/firmware/upload?version=${encodeURIComponent(version)}&device_model=${encodeURIComponent(model)}`, form);
  }

  async rollouts(): Promise<RolloutInfo[]> {
    return (await this.call<{ rollouts: RolloutInfo[] }>('GET', '/api/admin/rollouts?limit=500')).rollouts;
  }

  async plans(): Promise<PlanInfo[]> {
    return (await this.call<{ plans: PlanInfo[] }>('GET', '/api/admin/plans')).plans;
  }

  /** Registered devices of `model` (the API lists at most 500). */
  async devices(model: string): Promise<Array<{ device_id: string }>> {
    return (await this.call<{ devices: Array<{ device_id: string }> }>('GET', `/api/admin/devices?device_model=${encodeURIComponent(model)}&limit=500`)).devices;
  }
}
