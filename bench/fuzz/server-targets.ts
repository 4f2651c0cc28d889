/**
 * The server-side fuzz targets on one real OtaServer: its HTTP app (through `inject`, and raw bytes
 * on its listening socket), a second app on the same store with device tokens and a rate limit on,
 * and the collector for each wire profile.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { OtaServer } from '../../server/index.js';
import { createHttpApp } from '../../server/http/app.js';
import { createMetrics } from '../../server/http/metrics.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import type { FuzzTarget } from './engine.js';
import { BOUNDARY, httpTarget, multipartUpload } from './http-target.js';
import { mqttTarget } from './mqtt-target.js';
import { wireTarget } from './wire-target.js';

/** The API key of the fuzzed server. */
export const FUZZ_API_KEY = 'fuzz-api-key-0123456789';
/** The device-token secret of the guarded app. */
export const FUZZ_TOKEN_SECRET = 'fuzz-device-token-secret';

/** Give the server the names the valid requests use: release 1.0.0, rollout r1 (id 1), device d1, plan p1. */
async function seed(app: FastifyInstance): Promise<void> {
  const headers = { 'x-api-key': FUZZ_API_KEY };
  const json = { ...headers, 'content-type': 'application/json' };
  const steps = [
    { method: 'POST', url: '/api/admin/firmware/upload?version=1.0.0&device_model=esp32', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload: Buffer.from(multipartUpload(buildAppImage({ chip: 'esp32', version: '1.0.0', size: 4096 }))) },
    { method: 'GET', url: '/api/firmware/check?device_id=d1&device_model=esp32&current_version=0.9.0', headers: {} },
    { method: 'POST', url: '/api/admin/rollout/create', headers: json, payload: JSON.stringify({ name: 'r1', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'all' }) },
    { method: 'POST', url: '/api/admin/plans', headers: json, payload: JSON.stringify({ name: 'p1', firmware_version: '1.0.0', device_model: 'esp32', phases: [{ percent: 10 }, { percent: 100 }], advance: 'manual' }) },
  ];
  for (const st of steps) {
    const r = await app.inject({ ...st, method: st.method as 'GET' });
    if (r.statusCode !== 200) throw new Error(`fuzz seed ${st.method} ${st.url}: ${r.statusCode} ${r.body}`);
  }
}

/**
 * Start a real OtaServer (PGlite and artifacts in a temp dir, embedded broker, port 0), seed it,
 * build the targets on it — its HTTP app, a second app on the same store with device tokens and
 * a rate limit on, and the collector for each wire profile — run `fn`, and tear everything down.
 */
export async function withServerTargets(fn: (targets: FuzzTarget<unknown>[], server: OtaServer) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otasim-fuzz-'));
  const logger = pino({ level: 'silent' });
  try {
    const server = await OtaServer.create({ port: 0, mqttPort: 0, data: dir, apiKey: FUZZ_API_KEY, logLevel: 'silent', maxUploadBytes: 256 * 1024 },
      { logger, defaultMetrics: false });
    try {
      await seed(server.http);
      const guarded = await createHttpApp({
        store: server.store, artifacts: server.artifacts, logger, metrics: createMetrics(server.store, { defaultMetrics: false }),
        config: { ...server.config, deviceTokens: 'required', deviceTokenSecret: FUZZ_TOKEN_SECRET, deviceRateLimit: 600 },
      });
      const edge = await mqttTarget(server.store, 'paku-edge');
      const legacy = await mqttTarget(server.store, 'paku-legacy');
      try {
        await fn([
          httpTarget('http-routes', server.http, server.routes, FUZZ_API_KEY),
          httpTarget('http-routes-guarded', guarded.app, guarded.routes, FUZZ_API_KEY, FUZZ_TOKEN_SECRET),
          wireTarget(server.url, FUZZ_API_KEY),
          edge.target, legacy.target,
        ] as FuzzTarget<unknown>[], server);
      } finally {
        await edge.close();
        await legacy.close();
        await guarded.app.close();
      }
    } finally {
      await server.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
