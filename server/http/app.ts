/**
 * The HTTP app (fastify 5): device routes open, admin routes behind `X-API-Key`, one error shape
 * (`{error: {code, message}}`), latency into the metrics. Built from ports (deps.ts); listening
 * is the caller's job (server/index.ts), so tests can also drive it with `inject`.
 */
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { RequestError } from '../../protocol/errors.js';
import { hasNul } from '../mqtt/ingest-map.js';
import { apiKeyCheck, DEVICE_ROUTES, deviceIdOf, deviceTokenCheck } from './auth.js';
import { RateLimiter, rateLimited, retryAfterSeconds } from './rate-limit.js';
import { deviceTokenRoute } from './routes/device-token.js';
import type { HttpDeps } from './deps.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { adminListRoutes } from './routes/admin-lists.js';
import { RecentCheckIns, checkInFlusher, checkRoute, type CheckIn } from './routes/check.js';
import { GroupCommit } from './group-commit.js';
import { OfferCache } from './offer-cache.js';
import { ArtifactCache } from './artifact-cache.js';
import { downloadRoute } from './routes/download.js';
import { opsRoutes } from './routes/ops.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { planRoutes } from './routes/plans.js';
import { updateStatusRoute } from './routes/update-status.js';
import { uploadRoute } from './routes/upload.js';

/** Largest JSON body accepted, bytes. */
export const JSON_BODY_LIMIT = 1024 * 1024;

/** One entry of the route table. */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  /** True when the route needs `X-API-Key`. */
  readonly admin: boolean;
  /** True for the device routes: device tokens and the per-device rate limit apply (auth.ts DEVICE_ROUTES). */
  readonly device: boolean;
}

/** A built (ready, not listening) app and its route table. */
export interface HttpApp {
  readonly app: FastifyInstance;
  readonly routes: readonly RouteInfo[];
}

/** Build the app. The caller listens (`app.listen`) and closes it. */
export async function createHttpApp(deps: HttpDeps): Promise<HttpApp> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Per-request logs off: errors are logged by errors.ts, latency goes to /metrics.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: JSON_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Path parameters are slugs of ≤ 128 characters; longer ones are refused by the router (414).
    routerOptions: { maxParamLength: 256 },
    // Router-level failures (bad URL encoding, over-long params) get the same error body.
    frameworkErrors: (err, req, reply) => errorHandler(deps.logger)(err, req, reply),
    // So do requests Node's HTTP parser refuses before fastify sees them.
    clientErrorHandler: clientError,
    // Node answers an HTTP/1.1 request without Host with a bare 400 of its own; the hook below
    // refuses it instead, with the error body.
    http: { requireHostHeader: false },
    // HTTPS when the server has a certificate (--tls-cert/--tls-key); same routes and hooks.
    ...(deps.tls === undefined ? {} : { https: { key: deps.tls.key, cert: deps.tls.cert } }),
  });
  const routes: RouteInfo[] = [];
  const guard = apiKeyCheck(deps.config.apiKey);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const admin = r.url.startsWith('/api/admin/') || (deps.config.statusRequiresKey && r.url.endsWith('/update-status') && r.url.startsWith('/api/device/'));
    const device = DEVICE_ROUTES[r.url] !== undefined;
    for (const method of methods) routes.push({ method, url: r.url, admin, device });
  });

  // Our own JSON parser so malformed JSON gets our code and message.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      done(new RequestError(400, 'OTASIM_ERR_INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`, { cause: e }), undefined);
      return;
    }
    if ((text.includes('\\u0000') || text.includes('\u0000')) && hasNul(parsed)) done(nulRefused('body'), undefined);
    else done(null, parsed);
  });
  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      throw new RequestError(400, 'OTASIM_ERR_BAD_REQUEST', 'an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)');
    }
  });
  // Query values too, before any handler reads them (path parameters are slugs or device ids, which refuse NUL).
  app.addHook('preValidation', async (req) => {
    if (hasNul(req.query)) throw nulRefused('query');
  });
  await app.register(multipart, { throwFileSizeLimit: true, limits: { fileSize: deps.config.maxUploadBytes, files: 1 } });

  // No per-request child logger (a pino child per request is measurable on /check at fleet
  // rates); error logs carry method and URL instead.
  app.setChildLoggerFactory((logger) => logger);
  app.setErrorHandler(errorHandler(deps.logger));
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.observeHttp(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  const now = deps.now ?? (() => performance.now());
  const cache = new OfferCache(deps.store, now, deps.config.cacheTtlMs);
  const checkIns = new GroupCommit<CheckIn>(checkInFlusher(deps.store));
  const recent = new RecentCheckIns(now, deps.config.checkInResolutionMs);
  deviceGuard(app, deps, now);
  // Check-ins in flight are committed before the app reports closed.
  app.addHook('onClose', async () => checkIns.idle());
  checkRoute(app, deps, { cache, checkIns, recent }, now);
  downloadRoute(app, deps, new ArtifactCache(deps.artifacts, deps.config.downloadCacheBytes,
    Math.min(deps.config.maxUploadBytes, deps.config.downloadCacheBytes)), cache);
  updateStatusRoute(app, deps, deps.config.statusRequiresKey ? guard : undefined);
  opsRoutes(app, deps);
  await app.register(async (admin) => {
    // onRequest: a request without the key is refused before its body is read or parsed.
    admin.addHook('onRequest', async (req) => guard(req));
    uploadRoute(admin, deps, cache);
    adminListRoutes(admin, deps);
    rolloutRoutes(admin, deps, cache);
    if (deps.plans !== undefined) planRoutes(admin, deps.plans, cache);
    if (deps.config.deviceTokenSecret !== null) deviceTokenRoute(admin, deps.config.deviceTokenSecret);
  });
  await app.ready();
  return { app, routes };
}

/** Node's HTTP parser errors, by their code: status line, our code and message. Others are 400. */
const CLIENT_ERRORS: Readonly<Record<string, { status: string; code: string; message: string }>> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: '408 Request Timeout', code: 'OTASIM_ERR_REQUEST_TIMEOUT', message: 'the request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: '431 Request Header Fields Too Large', code: 'OTASIM_ERR_HEADERS_TOO_LARGE', message: 'the request headers are larger than the server accepts' },
};

/**
 * A request Node's HTTP parser refuses (malformed request line or headers, bad chunking): answer
 * with the same `{error: {code, message}}` body as every other refusal, then close the connection,
 * since the rest of its bytes cannot be framed.
 */
function clientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = CLIENT_ERRORS[err.code ?? '']
    ?? { status: '400 Bad Request', code: 'OTASIM_ERR_BAD_REQUEST', message: `malformed HTTP request (${err.code ?? 'parse error'})` };
  const body = JSON.stringify({ error: { code: e.code, message: e.message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${e.status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/**
 * PostgreSQL text cannot hold U+0000 (SQLSTATE 22P05): a NUL that reached the store would make it
 * refuse the statement and the request fail as a 503. Refused here, once, for every route.
 */
function nulRefused(where: 'body' | 'query'): RequestError {
  return new RequestError(422, 'OTASIM_ERR_VALIDATION', `${where}: contains U+0000, which no stored text can hold`);
}

/**
 * Device tokens, then the per-device rate limit, on the device routes (onRequest: before any body
 * is read). The token comes first so a request that cannot prove its device never spends that
 * device's budget.
 */
function deviceGuard(app: FastifyInstance, deps: HttpDeps, now: () => number): void {
  const { deviceTokens, deviceTokenSecret, deviceRateLimit } = deps.config;
  const tokens = deviceTokens === 'required' && deviceTokenSecret !== null ? deviceTokenCheck(deviceTokenSecret) : undefined;
  const limiter = deviceRateLimit > 0 ? new RateLimiter(deviceRateLimit, now) : undefined;
  if (tokens === undefined && limiter === undefined) return;
  app.addHook('onRequest', async (req, reply) => {
    const where = DEVICE_ROUTES[req.routeOptions.url ?? ''];
    if (where === undefined) return;
    const id = deviceIdOf(req, where);
    tokens?.(req, id);
    if (limiter === undefined) return;
    // A route that names no device (a download without X-Device-Id) is limited per client address.
    const key = id ?? `address ${req.ip}`;
    const d = limiter.take(key);
    if (!d.ok) {
      void reply.header('retry-after', String(retryAfterSeconds(d.retryAfterMs)));
      throw rateLimited(key, d.retryAfterMs);
    }
  });
}
