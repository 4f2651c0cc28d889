/**
 * `GET /health` and `GET /metrics` (seed 001 Admin API table; paku-protocol-facts §2.4.9), open to
 * anyone as in the real service. `/metrics` is Prometheus text; a client that asks for JSON
 * (`Accept: application/json`) gets the real service's JSON shape instead.
 */
import type { FastifyInstance } from 'fastify';
import type { ErrorBody } from '../../../protocol/payloads.js';
import type { HttpDeps } from '../deps.js';

/** True when `accept` prefers JSON over text (JSON listed and text/plain not listed before it). */
export function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const types = accept.split(',').map((t) => t.split(';')[0]?.trim().toLowerCase() ?? '');
  const json = types.indexOf('application/json');
  const text = types.findIndex((t) => t === 'text/plain' || t.startsWith('application/openmetrics-text'));
  return json >= 0 && (text < 0 || json < text);
}

export function opsRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { store, metrics, logger } = deps;

  app.get('/health', async (_req, reply) => {
    try {
      await store.ping();
    } catch (err) {
      logger.warn({ err }, 'health check: store unreachable');
      const body: ErrorBody = { error: { code: 'OTASIM_ERR_UNHEALTHY', message: 'the metadata store is unreachable' } };
      return reply.code(503).send(body);
    }
    return { status: 'healthy', store: store.kind };
  });

  app.get('/metrics', async (req, reply) => {
    if (wantsJson(req.headers.accept)) return metrics.renderJson();
    const text = await metrics.render();
    return reply.type(metrics.contentType).send(text);
  });
}
