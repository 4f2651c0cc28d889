/**
 * `--server embedded`: an OTA server in this process (PGlite in a temp directory, embedded aedes),
 * so one command rehearses a whole rollout. `rolloutWhenRegistered` uploads a built image of the
 * target version per model and creates an `all` rollout once every device of the model is
 * registered; the server's orchestrator then pushes `cmd/ota` to each.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FormData, request } from 'undici';
import { OtasimError } from '../../protocol/errors.js';
import { OtaServer, type OtaServerPorts, type ServerConfigInput } from '../../server/index.js';
import { buildAppImage, type ChipName } from '../esp32/index.js';

/** The admin key of an embedded server (it never listens beyond 127.0.0.1). */
const KEY = 'otasim-fleet-embedded-key';

/** An embedded server and its temp directory; `await using` closes both. */
export interface EmbeddedServer extends AsyncDisposable {
  readonly server: OtaServer;
  readonly url: string;
  readonly apiKey: string;
}

/**
 * Start an OTA server on 127.0.0.1 (HTTP on a free port). `mqttPort` null: the broker only has its
 * in-memory door (memory transport); a number (0 = free port): it also listens on TCP. `data`: a
 * data directory the caller owns and keeps (a restart reopens it); default a temp one removed on
 * dispose. `ports`: the server's ports (e.g. the rollout engine's `scheduler` clock).
 */
export async function startEmbeddedServer(opts: {
  mqttPort?: number | null; topicPrefix?: string; over?: ServerConfigInput; data?: string; ports?: OtaServerPorts;
} = {}): Promise<EmbeddedServer> {
  const owned = opts.data === undefined;
  const dir = opts.data ?? await mkdtemp(join(tmpdir(), 'otasim-fleet-'));
  const cleanup = (): Promise<void> => (owned ? rm(dir, { recursive: true, force: true }) : Promise.resolve());
  try {
    const server = await OtaServer.create({
      port: 0, host: '127.0.0.1', data: dir, apiKey: KEY, logLevel: 'silent', downloadCacheBytes: 256 * 1024 * 1024,
      mqttPort: opts.mqttPort ?? 0, ...(opts.topicPrefix === undefined ? {} : { topicPrefix: opts.topicPrefix }), ...opts.over,
    }, { logger: pino({ level: 'silent' }), defaultMetrics: false, ...opts.ports });
    return {
      server, url: server.url, apiKey: KEY,
      async [Symbol.asyncDispose]() {
        await server.close();
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function admin(s: EmbeddedServer, path: string, body: string | FormData, json: boolean): Promise<void> {
  const res = await request(`${s.url}${path}`, {
    method: 'POST', body, headers: { 'x-api-key': s.apiKey, ...(json ? { 'content-type': 'application/json' } : {}) },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new OtasimError('OTASIM_ERR_FLEET_SETUP', `embedded server ${path} answered ${res.statusCode}: ${text.slice(0, 200)}`);
}

/** Upload a built app image of `version` for `model` (chip `chip`), `bytes` long. */
export async function uploadBuilt(s: EmbeddedServer, model: string, chip: ChipName, version: string, bytes: number): Promise<void> {
  const form = new FormData();
  form.append('file', new Blob([buildAppImage({ chip, version, size: bytes })], { type: 'application/octet-stream' }), `${model}-${version}.bin`);
  await admin(s, `/api/admin/firmware/upload?version=${encodeURIComponent(version)}&device_model=${encodeURIComponent(model)}`, form, false);
}

/** Resolves once the server has `count` devices of `model` registered (polled every `everyMs`). */
export async function registered(s: EmbeddedServer, model: string, count: number, everyMs = 100): Promise<void> {
  while ((await s.server.store.devicesOfModel(model)).length < count) await new Promise((r) => setTimeout(r, everyMs));
}

/** Create an active rollout of `version` to every device of `model`. */
export async function rolloutAll(s: EmbeddedServer, model: string, version: string): Promise<void> {
  await admin(s, '/api/admin/rollout/create', JSON.stringify({
    name: `fleet-${model}-${version}`, firmware_version: version, device_model: model, target_type: 'all', rollout_percentage: 100,
  }), true);
}
