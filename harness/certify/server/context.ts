/**
 * One certify run against one server: its namespace and the calls every requirement shares.
 *
 * Everything a run creates is named under a random run id, so the suite can run again and again
 * against a shared staging server: models `esp32-ctf-<id>-<area>` (the `esp32` part makes a
 * validating server check the images as ESP32 app images), devices `ctf-<id>-<area>-0000`,
 * versions `1.0.0-ctf<id>`/`2.0.0-ctf<id>`, rollouts `ctf-<id>-<what>`. Rollouts are deactivated at
 * the end; releases and device rows stay (the seeds' API has no delete), under their own models.
 */
import { createHash, randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { buildAppImage } from '../../../simulator/esp32/image-builder.js';
import { RequirementFailed } from '../common/index.js';
import { ServerHttp, describe, fileForm, isJsonObject, type Reply } from './http.js';

/** Bytes of every image the suite uploads: big enough for range checks, small enough to be quick. */
export const IMAGE_BYTES = 32 * 1024;

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A release the run uploaded. */
export interface Uploaded {
  readonly model: string;
  readonly version: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
  /** The upload's JSON answer. */
  readonly answer: unknown;
}

/** `GET /api/firmware/check`'s answer (seed 002 FirmwareCheckResponse; facts §2.4.1). */
export interface CheckAnswer {
  readonly update_available: boolean;
  readonly current_version: string | null;
  readonly latest_version: string | null;
  readonly download_url: string | null;
  readonly file_size: number | null;
  readonly checksum_sha256: string | null;
  readonly release_notes: string | null;
}

/** The keys every check answer carries, and the JSON types each may have. */
export const CHECK_KEYS: Readonly<Record<keyof CheckAnswer, readonly string[]>> = {
  update_available: ['boolean'],
  current_version: ['string', 'null'],
  latest_version: ['string', 'null'],
  download_url: ['string', 'null'],
  file_size: ['number', 'null'],
  checksum_sha256: ['string', 'null'],
  release_notes: ['string', 'null'],
};

const jsonType = (v: unknown): string => (v === null ? 'null' : typeof v);

/** What is wrong with a check answer's shape, or null. */
export function checkShapeProblem(json: unknown): string | null {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'the body is not a JSON object';
  const o = json as Record<string, unknown>;
  for (const [k, types] of Object.entries(CHECK_KEYS)) {
    if (!(k in o)) return `key "${k}" is missing`;
    if (!types.includes(jsonType(o[k]))) return `"${k}" is ${jsonType(o[k])}, expected ${types.join(' or ')}`;
  }
  return null;
}

export interface RunSettings {
  /** Random when omitted: 6 hex digits. */
  readonly runId?: string;
  /** Concurrent requests of a fleet sweep. */
  readonly concurrency: number;
}

export class CertifyRun {
  readonly id: string;
  readonly v1: string;
  readonly v2: string;
  /** Rollouts created (or maybe created) by this run, for cleanup. */
  readonly rollouts = new Set<string>();
  /** Ids the server gave created rollouts (otasim answers with `rollout_id`; the real service does not). */
  readonly #rolloutIds = new Map<string, number>();
  readonly #uploads = new Map<string, Promise<Uploaded>>();
  readonly #limit: ReturnType<typeof pLimit>;

  constructor(readonly http: ServerHttp, settings: RunSettings) {
    this.id = settings.runId ?? randomBytes(3).toString('hex');
    this.v1 = `1.0.0-ctf${this.id}`;
    this.v2 = `2.0.0-ctf${this.id}`;
    this.#limit = pLimit(settings.concurrency);
  }

  model(area: string): string {
    return `esp32-ctf-${this.id}-${area}`;
  }

  device(area: string, i: number): string {
    return `ctf-${this.id}-${area}-${String(i).padStart(4, '0')}`;
  }

  devices(area: string, n: number): string[] {
    return Array.from({ length: n }, (_, i) => this.device(area, i));
  }

  rolloutName(what: string): string {
    return `ctf-${this.id}-${what}`;
  }

  /** A valid esp32 app image whose app-desc version is `version` (the same bytes for every model). */
  image(version: string): Uint8Array {
    return buildAppImage({ chip: 'esp32', version, size: IMAGE_BYTES });
  }

  /** Upload (once per model and version); a refusal is an Error, so requirements that need it are errors. */
  upload(model: string, version: string): Promise<Uploaded> {
    const key = `${model}\u0000${version}`;
    let p = this.#uploads.get(key);
    if (p === undefined) {
      p = (async () => {
        const bytes = this.image(version);
        const r = await this.http.post(this.uploadPath(model, version), { key: true, body: fileForm(bytes) });
        if (r.status !== 200) throw new Error(`setup: upload of ${version} for ${model} answered ${describe(r)}`);
        return { model, version, bytes, sha256: sha256(bytes), answer: r.json };
      })();
      this.#uploads.set(key, p);
    }
    return p;
  }

  uploadPath(model: string, version: string): string {
    return `/api/admin/firmware/upload?version=${encodeURIComponent(version)}&device_model=${encodeURIComponent(model)}&is_signed=false`;
  }

  /** Create a rollout (seed 001 body); resolves to the answer, throws when it is not 200. */
  async createRollout(body: Record<string, unknown> & { name: string }): Promise<Reply> {
    this.rollouts.add(body.name);
    const r = await this.http.post('/api/admin/rollout/create', { key: true, json: { is_active: true, ...body } });
    if (r.status !== 200) throw new Error(`setup: creating rollout ${body.name} answered ${describe(r)}`);
    const id = (r.json as { rollout_id?: unknown } | undefined)?.rollout_id;
    if (typeof id === 'number') this.#rolloutIds.set(body.name, id);
    return r;
  }

  /** Deactivate a rollout (seed 001 `POST /api/admin/rollout/{rollout_id}/deactivate`): by its id when the server gave one, else by name. */
  deactivate(name: string): Promise<Reply> {
    const ref = this.#rolloutIds.get(name) ?? name;
    return this.http.post(`/api/admin/rollout/${encodeURIComponent(String(ref))}/deactivate`, { key: true });
  }

  checkPath(deviceId: string, model: string, current: string): string {
    const q = new URLSearchParams({ device_id: deviceId, device_model: model, current_version: current });
    return `/api/firmware/check?${q.toString()}`;
  }

  /** One check, as a device sends it (no key). Not 200 or a malformed answer fails the requirement. */
  async check(deviceId: string, model: string, current: string): Promise<CheckAnswer> {
    const r = await this.http.get(this.checkPath(deviceId, model, current));
    if (r.status !== 200) throw new RequirementFailed(`check of ${deviceId} answered ${describe(r)}`);
    const problem = checkShapeProblem(r.json);
    if (problem !== null) throw new RequirementFailed(`check of ${deviceId}: ${problem}`, { actual: describe(r) });
    return r.json as CheckAnswer;
  }

  /** Check every device (a virtual fleet sweep, `concurrency` at a time); answers in input order. */
  async checkAll(ids: readonly string[], model: string, current: string): Promise<Map<string, CheckAnswer>> {
    const answers = await Promise.all(ids.map((id) => this.#limit(() => this.check(id, model, current))));
    return new Map(ids.map((id, i) => [id, answers[i] as CheckAnswer]));
  }

  /** The ids of a sweep that were offered an update. */
  static offered(answers: ReadonlyMap<string, CheckAnswer>): string[] {
    return [...answers].filter(([, a]) => a.update_available).map(([id]) => id);
  }

  /** Admin list of a model's devices. */
  async listDevices(model: string): Promise<Array<Record<string, unknown>>> {
    const r = await this.http.get(`/api/admin/devices?device_model=${encodeURIComponent(model)}&limit=500`, { key: true });
    if (r.status !== 200 || !isJsonObject(r)) throw new RequirementFailed(`GET /api/admin/devices answered ${describe(r)}`);
    const list = (r.json as { devices?: unknown }).devices;
    if (!Array.isArray(list)) throw new RequirementFailed('GET /api/admin/devices: no "devices" array', { actual: describe(r) });
    return list as Array<Record<string, unknown>>;
  }

  /** Admin list of a device's status reports, newest first. */
  async listStatus(deviceId: string): Promise<Array<Record<string, unknown>>> {
    const r = await this.http.get(`/api/admin/update-status?device_id=${encodeURIComponent(deviceId)}&limit=50`, { key: true });
    if (r.status !== 200 || !isJsonObject(r)) throw new RequirementFailed(`GET /api/admin/update-status answered ${describe(r)}`);
    const list = (r.json as { updates?: unknown }).updates;
    if (!Array.isArray(list)) throw new RequirementFailed('GET /api/admin/update-status: no "updates" array', { actual: describe(r) });
    return list as Array<Record<string, unknown>>;
  }

  /** Deactivate every rollout this run created; the names that could not be. */
  async cleanup(): Promise<string[]> {
    const left: string[] = [];
    for (const name of this.rollouts) {
      try {
        const r = await this.deactivate(name);
        // 404: never created (a refused probe) or the server has no deactivate route.
        if (r.status !== 200 && r.status !== 404) left.push(`${name} (${r.status})`);
      } catch (e) {
        left.push(`${name} (${(e as Error).message})`);
      }
    }
    return left;
  }
}

/** Poll `probe` every `everyMs` until it returns a value or `timeoutMs` passes; then the last value (undefined). */
export async function pollFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T | undefined> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() >= end) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
