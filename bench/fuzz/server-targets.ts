/**
 * Fuzz targets for what the OTA server reads from the outside: every HTTP route (through fastify's
 * `inject`, so the router, content-type parsers, multipart, auth and handlers all run) and every
 * MQTT message kind into the collector (with the real store behind it).
 *
 * HTTP: any answer below 500 is allowed, and every 4xx must be the `{error: {code, message}}`
 * body; a 5xx, another body or a thrown `inject` is a crash. MQTT: a message is committed, or
 * refused by the collector's parser, or refused by the store and isolated (a typed StoreError);
 * a commit failing with anything untyped, or a message never settled, is a crash.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { OtasimError } from '../../protocol/errors.js';
import { topics as makeTopics, type ProtocolProfile } from '../../protocol/topics.js';
import { OtaServer } from '../../server/index.js';
import type { RouteInfo } from '../../server/http/app.js';
import type { InterceptedPublish, PublishInterceptor } from '../../server/broker/index.js';
import { Collector, topicMatches, type Refused } from '../../server/mqtt/index.js';
import type { Store } from '../../server/store/store.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { target, type FuzzTarget } from './engine.js';
import { applyMutations, mutationArb } from './mutate.js';

const enc = new TextEncoder();

/** Path and query values: slugs that exist, traversal in every spelling, NUL, bad encodings, noise. */
const NASTY = ['1.0.0', '2.0.0', 'esp32', 'esp32s3', 'd1', 'r1', 'p1', '1', '0', '-1', '99999999999999999999', 'null', 'true',
  '..', '.', '%2e%2e', '%2E%2e%2F', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '/etc/passwd', '..%5C..%5Cwindows', 'C:%5Cboot.ini',
  'a%00b', '%00', '%E0%A4%A', '%ZZ', '%252e%252e%252f', 'x'.repeat(129), 'x'.repeat(300), '%20', '%F0%9F%92%A9', 'approve', 'pause', 'cancel'];

const urlValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent) },
);

const QUERY_KEYS = ['device_id', 'device_model', 'current_version', 'version', 'min_version', 'changelog', 'release_notes',
  'is_signed', 'limit', 'active', 'status', 'name', 'x'];

/** Valid JSON bodies of the routes that take one, to mutate. */
const JSON_SEEDS: readonly Record<string, unknown>[] = [
  { name: 'r1', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'all' },
  { name: 'r2', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'canary', rollout_percentage: 10, target_filter: { groups: ['g'] } },
  { device_id: 'd1', firmware_version: '1.0.0', status: 'success' },
  { device_id: 'd1', firmware_version: '1.0.0', status: 'failed', error_message: 'x', progress_percent: 10 },
  { groups: ['beta', 'eu'] },
  { rollout_percentage: 50, is_active: false },
  { name: 'p1', firmware_version: '1.0.0', device_model: 'esp32', phases: [{ percent: 10 }, { percent: 100 }] },
];

const jsonValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(1e308, -1, 2 ** 53, 0.5, '', '\u0000', 'x'.repeat(70_000), [], {}, null));

type Body =
  | { kind: 'none' }
  | { kind: 'json'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'multipart'; boundary: string; bytes: Uint8Array };

/** A multipart body: parts with odd names and filenames, image bytes or noise, then maybe damaged. */
function multipartArb(image: Uint8Array): fc.Arbitrary<Body> {
  const part = fc.record({
    name: fc.oneof(fc.constant('file'), fc.constantFrom('firmware', '', 'file"; filename="x', 'a\r\nb'), fc.string({ maxLength: 10 })),
    filename: fc.option(fc.oneof(fc.constantFrom('firmware.bin', '../../etc/passwd', '/etc/passwd', '..\\..\\boot.ini', 'a\u0000b.bin', '%2e%2e%2f', ''), fc.string({ maxLength: 20 })), { nil: undefined }),
    type: fc.constantFrom('application/octet-stream', 'text/plain', ''),
    content: fc.oneof(fc.constant(image), fc.array(mutationArb(), { minLength: 1, maxLength: 3 }).map((m) => applyMutations(image, m)), fc.uint8Array({ maxLength: 256 })),
  });
  return fc.record({
    boundary: fc.constantFrom('otasim-fuzz', 'x', '----WebKitFormBoundary7MA4YWxkTrZu0gW'),
    parts: fc.array(part, { minLength: 0, maxLength: 3 }),
    damage: fc.array(mutationArb(), { maxLength: 2 }),
  }).map(({ boundary, parts, damage }) => {
    const chunks: Uint8Array[] = [];
    for (const p of parts) {
      const disp = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
      chunks.push(enc.encode(`--${boundary}\r\nContent-Disposition: ${disp}\r\n${p.type === '' ? '' : `Content-Type: ${p.type}\r\n`}\r\n`), p.content, enc.encode('\r\n'));
    }
    chunks.push(enc.encode(`--${boundary}--\r\n`));
    const whole = Buffer.concat(chunks);
    return { kind: 'multipart' as const, boundary, bytes: damage.length === 0 ? whole : applyMutations(whole, damage) };
  });
}

function bodyArb(image: Uint8Array): fc.Arbitrary<Body> {
  const seeded = fc.record({
    seed: fc.constantFrom(...JSON_SEEDS),
    key: fc.oneof(fc.constantFrom('name', 'firmware_version', 'device_model', 'target_type', 'target_filter', 'rollout_percentage',
      'device_id', 'status', 'progress_percent', 'groups', 'phases', 'is_active'), fc.string({ maxLength: 8 })),
    value: jsonValue,
    drop: fc.boolean(),
  }).map(({ seed, key, value, drop }) => {
    const o: Record<string, unknown> = { ...seed };
    if (drop) delete o[key];
    else o[key] = value;
    return { kind: 'json' as const, text: JSON.stringify(o) };
  });
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 3, arbitrary: seeded },
    { weight: 1, arbitrary: fc.constantFrom(...JSON_SEEDS).map((o) => ({ kind: 'json' as const, text: JSON.stringify(o) })) },
    { weight: 1, arbitrary: jsonValue.map((v) => ({ kind: 'json' as const, text: JSON.stringify(v) ?? '' })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...JSON_SEEDS), fc.array(mutationArb(), { minLength: 1, maxLength: 3 }))
      .map(([o, m]) => ({ kind: 'bytes' as const, bytes: applyMutations(enc.encode(JSON.stringify(o)), m) })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
    { weight: 3, arbitrary: multipartArb(image) },
  );
}

/** One request: a route of the table (or none), its parameters, query, headers and body. */
export interface HttpCase {
  readonly route: number;
  readonly method: string | null;
  readonly params: readonly string[];
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly key: 'right' | 'none' | 'wrong' | 'twice';
  readonly contentType: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

function httpCaseArb(routes: number, image: Uint8Array): fc.Arbitrary<HttpCase> {
  return fc.record({
    route: fc.nat({ max: routes }), // `routes` itself: a path no route has
    method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'), { freq: 8, nil: null }),
    params: fc.array(urlValue, { minLength: 3, maxLength: 3 }),
    query: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 }).map(encodeURIComponent)), urlValue), { maxLength: 5 }),
    key: fc.constantFrom('right', 'right', 'right', 'none', 'wrong', 'twice'),
    contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream',
      'multipart/form-data', 'application/x-www-form-urlencoded', 'application/xml', '*/*', ';;', 'multipart/form-data; boundary='), { freq: 2, nil: null }),
    headers: fc.record({
      range: fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-5', 'bytes=0-0,5-6', 'bytes=abc', 'bytes=99999999999999999999-'),
      'if-range': fc.constantFrom('"x"', 'Wed, 21 Oct 2015 07:28:00 GMT', 'garbage'),
      'if-none-match': fc.constantFrom('*', '"x"', 'W/"y"', ''),
      'x-device-token': fc.string({ maxLength: 70 }).map((s) => s.replace(/[^\x21-\x7e]/g, '')),
    }, { requiredKeys: [] }),
    body: bodyArb(image),
  });
}

/** The `inject` request for a case. */
function request(c: HttpCase, routes: readonly RouteInfo[], apiKey: string) {
  const r = routes[c.route];
  let i = 0;
  const path = r === undefined ? `/api/${c.params[0] ?? ''}/${c.params[1] ?? ''}` : r.url.replace(/:[a-z_]+/g, () => c.params[i++ % c.params.length] ?? '');
  const q = c.query.map(([k, v]) => `${k}=${v}`).join('&');
  const headers: Record<string, string | string[]> = { ...c.headers };
  if (c.key === 'right') headers['x-api-key'] = apiKey;
  else if (c.key === 'wrong') headers['x-api-key'] = `${apiKey}x`;
  else if (c.key === 'twice') headers['x-api-key'] = [apiKey, apiKey];
  let payload: string | Buffer | undefined;
  if (c.body.kind === 'json') {
    payload = c.body.text;
    headers['content-type'] = 'application/json';
  } else if (c.body.kind === 'bytes') {
    payload = Buffer.from(c.body.bytes);
  } else if (c.body.kind === 'multipart') {
    payload = Buffer.from(c.body.bytes);
    headers['content-type'] = `multipart/form-data; boundary=${c.body.boundary}`;
  }
  if (c.contentType !== null) headers['content-type'] = c.contentType;
  return { method: c.method ?? r?.method ?? 'GET', url: q === '' ? path : `${path}?${q}`, headers, ...(payload === undefined ? {} : { payload }) };
}

/** Every route of `app` (from its own route table) under random and mutated requests. */
export function httpTarget(app: FastifyInstance, routes: readonly RouteInfo[], apiKey: string): FuzzTarget<HttpCase> {
  const image = buildAppImage({ chip: 'esp32', version: '2.0.0', size: 4096 });
  return target('http-routes', httpCaseArb(routes.length, image), async (c) => {
    const req = request(c, routes, apiKey);
    const res = await app.inject({ ...req, method: req.method as 'GET' });
    const where = `${req.method} ${req.url}`;
    if (res.statusCode >= 500) return `crash:${res.statusCode} for ${where}: ${res.body.slice(0, 300)}`;
    if (res.statusCode < 400) return `ok:${res.statusCode}`;
    if (req.method === 'HEAD') return `refused:${res.statusCode}`;
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      return `crash:${res.statusCode} for ${where} is not JSON: ${res.body.slice(0, 200)}`;
    }
    const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (typeof err?.code !== 'string' || !err.code.startsWith('OTASIM_ERR_') || typeof err.message !== 'string') {
      return `crash:${res.statusCode} for ${where} without the error body: ${res.body.slice(0, 200)}`;
    }
    return `refused:${res.statusCode}:${err.code}`;
  });
}

// ---------------------------------------------------------------------------------------------
// MQTT

/** One device → server message: a reply kind on its topic (or a damaged topic), and a payload. */
export interface MqttCase {
  readonly kind: 'status' | 'progress' | 'result' | 'edge';
  readonly deviceId: string;
  readonly topic: 'proper' | 'noise' | 'damaged';
  readonly noiseTopic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
}

const STAMP = '2026-01-01T00:00:00+00:00';
/** Valid payloads of each kind (paku-protocol-facts §1.4–§1.7). */
const MQTT_SEEDS: Readonly<Record<MqttCase['kind'], readonly Record<string, unknown>[]>> = {
  status: [{ timestamp: STAMP, status: 'accepted', current_version: '1.0.0', target_version: '2.0.0' }, { status: 'accepted', version: '2.0.0' }],
  progress: [{ timestamp: STAMP, state: 'Downloading', percent: 40, downloaded: 4096, total: 10240, elapsed_ms: 900 }, { state: 'verifying', percent: 100 }],
  result: [{ timestamp: STAMP, current_version: '2.0.0', target_version: '2.0.0', success: true, result_code: 0, message: 'Success' },
    { success: false, version: '2.0.0', message: 'Download failed', result_code: 2 }],
  edge: [{ online: true, device_id: 'd1', firmware_version: '1.0.0', device_model: 'esp32', mac_address: 'AA:BB:CC:DD:EE:FF', uptime_seconds: 5, signal_strength_dbm: -60 },
    { online: false }],
};

function mqttCaseArb(): fc.Arbitrary<MqttCase> {
  const kind = fc.constantFrom<MqttCase['kind']>('status', 'progress', 'result', 'edge');
  const payload = (k: MqttCase['kind']): fc.Arbitrary<Uint8Array> => {
    const seeds = MQTT_SEEDS[k];
    const override = fc.record({
      seed: fc.constantFrom(...seeds),
      key: fc.oneof(fc.constantFrom(...new Set(seeds.flatMap((s) => Object.keys(s)))), fc.string({ maxLength: 8 })),
      value: jsonValue,
    }).map(({ seed, key, value }) => enc.encode(JSON.stringify({ ...seed, [key]: value })));
    return fc.oneof(
      { weight: 4, arbitrary: override },
      { weight: 1, arbitrary: fc.constantFrom(...seeds).map((s) => enc.encode(JSON.stringify(s))) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.array(mutationArb(), { minLength: 1, maxLength: 3 }))
        .map(([s, m]) => applyMutations(enc.encode(JSON.stringify(s)), m)) },
      { weight: 1, arbitrary: jsonValue.map((v) => enc.encode(JSON.stringify(v))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
      { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(0), new Uint8Array(70 * 1024).fill(0x20)) },
    );
  };
  return kind.chain((k) => fc.record({
    kind: fc.constant(k),
    deviceId: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('d1', 'dev-00042', 'AA:BB:CC:DD:EE:FF') },
      { weight: 1, arbitrary: fc.constantFrom('..', 'a b', 'x'.repeat(129), 'x'.repeat(128), '\u0000', 'é', '$SYS') },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((s) => s.replace(/[/+#]/g, '_')) }),
    topic: fc.constantFrom<MqttCase['topic']>('proper', 'proper', 'proper', 'proper', 'noise', 'damaged'),
    noiseTopic: fc.string({ maxLength: 40 }),
    payload: payload(k),
    qos: fc.constantFrom<0 | 1>(0, 1, 1),
  }));
}

/** A broker that is only the interception door: the target hands each PUBLISH straight to the collector. */
class DoorBroker {
  #interceptor: PublishInterceptor | undefined;
  intercept(i: PublishInterceptor): () => void {
    this.#interceptor = i;
    return () => { this.#interceptor = undefined; };
  }

  /** Deliver one PUBLISH; resolves with the refusal, if any, once released. */
  publish(m: InterceptedPublish): Promise<Error | undefined> {
    const i = this.#interceptor;
    if (i === undefined) return Promise.reject(new Error('no collector is intercepting'));
    return new Promise((resolve) => i(m, (refuse) => resolve(refuse)));
  }
}

/** A collector on `store` for `profile`, and the target that feeds it. `close` stops the collector. */
export async function mqttTarget(store: Pick<Store, 'ingest'>, profile: ProtocolProfile): Promise<{ target: FuzzTarget<MqttCase>; close: () => Promise<void> }> {
  const topics = makeTopics({ prefix: `fuzz-${profile}`, profile });
  const door = new DoorBroker();
  /** What the collector said about the message in flight. */
  interface Seen { refusal?: Refused; committed: boolean; untyped?: unknown }
  const seen: Seen = { committed: false };
  const collector = await Collector.create({
    embedded: door, store, topics, logger: pino({ level: 'silent' }),
    // Retries of an unknown failure wait nothing: the fuzz is about what is retried, not when.
    sleep: async () => {},
    hooks: {
      refused: (_t, r) => { seen.refusal = r; },
      committed: () => { seen.committed = true; },
      commitFailed: (e) => { if (!(e instanceof OtasimError) || e.code !== 'OTASIM_ERR_STORE_INVALID') seen.untyped = e; },
    },
  });
  const topicOf = (c: MqttCase): string => {
    // The topic builders refuse ids no device should have; a fuzzed device sends them anyway.
    const slot = '\u0001id\u0001';
    const proper = (c.kind === 'edge' ? topics.edgeStatus(slot) : topics.otaReply(slot, c.kind)).replace(slot, c.deviceId);
    if (c.topic === 'proper') return proper;
    if (c.topic === 'noise') return c.noiseTopic;
    return `${proper}${c.noiseTopic.slice(0, 3)}`;
  };
  const t = target(`mqtt-${profile}`, mqttCaseArb(), async (c) => {
    delete seen.refusal;
    delete seen.untyped;
    seen.committed = false;
    const topic = topicOf(c);
    const refused = await door.publish({ topic, payload: Buffer.from(c.payload), qos: c.qos, retain: c.kind === 'edge', clientId: 'fuzz' });
    await collector.drained();
    const { refusal, committed, untyped } = seen as Seen; // set by the hooks while awaiting
    if (untyped !== undefined) return `crash:commit failed with an untyped error: ${String(untyped)}`;
    if (refused !== undefined) return `crash:the collector refused a message it should settle: ${refused.message}`;
    if (refusal !== undefined) {
      const byStore = refusal.reason.startsWith('the store refused it');
      return `refused:${byStore ? 'store' : refusal.outcome}:${refusal.kind}`;
    }
    if (committed) return `ok:${c.kind}`;
    // Outside the reply and edge-status filters: not the collector's, passed on untouched.
    if (![topics.otaReplyFilter, topics.edgeStatusFilter].some((f) => topicMatches(f, topic))) return 'ok:not-collected';
    return 'crash:neither committed nor refused';
  });
  return { target: t, close: () => collector.close() };
}

// ---------------------------------------------------------------------------------------------

/** The API key of the fuzzed server. */
export const FUZZ_API_KEY = 'fuzz-api-key-0123456789';

/**
 * Start a real OtaServer (PGlite and artifacts in a temp dir, embedded broker, port 0), build the
 * HTTP and MQTT targets on it, run `fn`, and tear everything down.
 */
export async function withServerTargets(fn: (targets: FuzzTarget<unknown>[], server: OtaServer) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otasim-fuzz-'));
  try {
    const server = await OtaServer.create({ port: 0, mqttPort: 0, data: dir, apiKey: FUZZ_API_KEY, logLevel: 'silent', maxUploadBytes: 256 * 1024 },
      { logger: pino({ level: 'silent' }), defaultMetrics: false });
    try {
      const edge = await mqttTarget(server.store, 'paku-edge');
      const legacy = await mqttTarget(server.store, 'paku-legacy');
      try {
        await fn([httpTarget(server.http, server.routes, FUZZ_API_KEY), edge.target, legacy.target] as FuzzTarget<unknown>[], server);
      } finally {
        await edge.close();
        await legacy.close();
      }
    } finally {
      await server.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
