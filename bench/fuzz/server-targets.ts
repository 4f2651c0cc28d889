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
import { applyMutations, mutationArb, type Mutation } from './mutate.js';
import { deviceToken } from '../../server/http/auth.js';
import { createHttpApp } from '../../server/http/app.js';
import { createMetrics } from '../../server/http/metrics.js';

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

/** A request built from nothing but the route table: any route, random parameters, query, headers and body. */
export interface RandomCase {
  readonly kind: 'random';
  readonly route: number;
  readonly method: string | null;
  readonly params: readonly string[];
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly key: Key;
  readonly contentType: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

/** A valid request with a few edits: reaches the handlers far more often than a random one. */
export interface MutantCase {
  readonly kind: 'mutant';
  readonly base: number;
  readonly edits: readonly Edit[];
  readonly key: Key;
  readonly token: 'right' | 'none' | 'wrong';
  readonly headers: Readonly<Record<string, string>>;
}

export type HttpCase = RandomCase | MutantCase;

/** Which X-API-Key a case sends. */
type Key = 'right' | 'none' | 'wrong' | 'twice';

type Edit =
  | { readonly op: 'query-set'; readonly i: number; readonly value: string }
  | { readonly op: 'query-drop'; readonly i: number }
  | { readonly op: 'query-add'; readonly key: string; readonly value: string }
  | { readonly op: 'segment'; readonly i: number; readonly value: string }
  | { readonly op: 'field'; readonly key: string; readonly value: unknown; readonly drop: boolean }
  | { readonly op: 'bytes'; readonly m: readonly Mutation[] }
  | { readonly op: 'method'; readonly method: string };

/** One valid request per route (the fuzzed server is seeded so that the names exist). */
interface ValidRequest {
  readonly method: string;
  readonly segments: readonly string[];
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly json?: Record<string, unknown>;
  /** A multipart upload of the fuzz image. */
  readonly upload?: true;
}

const VALID: readonly ValidRequest[] = [
  { method: 'GET', segments: ['api', 'firmware', 'check'], query: [['device_id', 'd1'], ['device_model', 'esp32'], ['current_version', '0.9.0']] },
  { method: 'GET', segments: ['api', 'firmware', 'download', '1.0.0'], query: [['device_model', 'esp32']] },
  { method: 'HEAD', segments: ['api', 'firmware', 'download', '1.0.0'], query: [] },
  { method: 'POST', segments: ['api', 'device', 'd1', 'update-status'], query: [], json: { device_id: 'd1', firmware_version: '1.0.0', status: 'downloading', progress_percent: 10 } },
  { method: 'POST', segments: ['api', 'admin', 'firmware', 'upload'], query: [['version', '2.0.0'], ['device_model', 'esp32'], ['is_signed', 'true'], ['min_version', '0.1.0'], ['release_notes', 'n']], upload: true },
  { method: 'GET', segments: ['api', 'admin', 'firmware', 'releases'], query: [['device_model', 'esp32'], ['limit', '5']] },
  { method: 'POST', segments: ['api', 'admin', 'rollout', 'create'], query: [], json: { name: 'r2', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'canary', rollout_percentage: 10 } },
  { method: 'PATCH', segments: ['api', 'admin', 'rollout', 'r1'], query: [], json: { rollout_percentage: 50 } },
  { method: 'POST', segments: ['api', 'admin', 'rollout', '1', 'deactivate'], query: [] },
  { method: 'GET', segments: ['api', 'admin', 'rollouts'], query: [['active', 'true']] },
  { method: 'GET', segments: ['api', 'admin', 'devices'], query: [['device_model', 'esp32'], ['limit', '5']] },
  { method: 'PUT', segments: ['api', 'admin', 'devices', 'd1', 'groups'], query: [], json: { groups: ['beta'] } },
  { method: 'GET', segments: ['api', 'admin', 'devices', 'd1', 'token'], query: [] },
  { method: 'GET', segments: ['api', 'admin', 'update-status'], query: [['device_id', 'd1'], ['limit', '5']] },
  { method: 'POST', segments: ['api', 'admin', 'plans'], query: [], json: { name: 'p2', firmware_version: '1.0.0', device_model: 'esp32', phases: [{ percent: 10 }, { percent: 100 }] } },
  { method: 'GET', segments: ['api', 'admin', 'plans'], query: [] },
  { method: 'GET', segments: ['api', 'admin', 'plans', 'p1'], query: [] },
  { method: 'POST', segments: ['api', 'admin', 'plans', 'p1', 'pause'], query: [] },
  { method: 'PATCH', segments: ['api', 'admin', 'plans', 'p1'], query: [], json: { percent: 20 } },
  { method: 'GET', segments: ['health'], query: [] },
  { method: 'GET', segments: ['metrics'], query: [] },
];

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const BODY_KEYS = ['name', 'firmware_version', 'device_model', 'target_type', 'target_filter', 'rollout_percentage', 'device_id', 'status',
  'progress_percent', 'error_message', 'groups', 'phases', 'percent', 'is_active'];

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('query-set' as const), i: fc.nat(), value: urlValue }),
  fc.record({ op: fc.constant('query-drop' as const), i: fc.nat() }),
  fc.record({ op: fc.constant('query-add' as const), key: fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 }).map(encodeURIComponent)), value: urlValue }),
  fc.record({ op: fc.constant('segment' as const), i: fc.nat(), value: urlValue }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('field' as const), key: fc.oneof(fc.constantFrom(...BODY_KEYS), fc.string({ maxLength: 8 })), value: jsonValue, drop: fc.boolean() }) },
  fc.record({ op: fc.constant('bytes' as const), m: fc.array(mutationArb(), { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('method' as const), method: fc.constantFrom(...METHODS) }),
);

const extraHeaders = fc.record({
  range: fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-5', 'bytes=0-0,5-6', 'bytes=abc', 'bytes=99999999999999999999-'),
  'if-range': fc.constantFrom('"x"', 'Wed, 21 Oct 2015 07:28:00 GMT', 'garbage'),
  'if-none-match': fc.constantFrom('*', '"x"', 'W/"y"', ''),
  'x-device-id': fc.constantFrom('d1', 'd2', '', '..'),
}, { requiredKeys: [] });

const keyArb = fc.constantFrom<Key>('right', 'right', 'right', 'none', 'wrong', 'twice');

function httpCaseArb(routes: number, image: Uint8Array): fc.Arbitrary<HttpCase> {
  const random: fc.Arbitrary<RandomCase> = fc.record({
    kind: fc.constant('random' as const),
    route: fc.nat({ max: routes }), // `routes` itself: a path no route has
    method: fc.option(fc.constantFrom(...METHODS), { freq: 8, nil: null }),
    params: fc.array(urlValue, { minLength: 3, maxLength: 3 }),
    query: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 }).map(encodeURIComponent)), urlValue), { maxLength: 5 }),
    key: keyArb,
    contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream',
      'multipart/form-data', 'application/x-www-form-urlencoded', 'application/xml', '*/*', ';;', 'multipart/form-data; boundary='), { freq: 2, nil: null }),
    headers: extraHeaders,
    body: bodyArb(image),
  });
  const mutant: fc.Arbitrary<MutantCase> = fc.record({
    kind: fc.constant('mutant' as const),
    base: fc.nat({ max: VALID.length - 1 }),
    edits: fc.array(editArb, { maxLength: 2 }),
    key: keyArb,
    token: fc.constantFrom<MutantCase['token']>('right', 'right', 'none', 'wrong'),
    headers: extraHeaders,
  });
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 2, arbitrary: mutant });
}

/** An `inject` request. */
interface Injected {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  payload?: string | Buffer;
}

function withKey(headers: Record<string, string | string[]>, key: Key, apiKey: string): void {
  if (key === 'right') headers['x-api-key'] = apiKey;
  else if (key === 'wrong') headers['x-api-key'] = `${apiKey}x`;
  else if (key === 'twice') headers['x-api-key'] = [apiKey, apiKey];
}

/** The `inject` request for a random case. */
function randomRequest(c: RandomCase, routes: readonly RouteInfo[], apiKey: string): Injected {
  const r = routes[c.route];
  let i = 0;
  const path = r === undefined ? `/api/${c.params[0] ?? ''}/${c.params[1] ?? ''}` : r.url.replace(/:[a-z_]+/g, () => c.params[i++ % c.params.length] ?? '');
  const q = c.query.map(([k, v]) => `${k}=${v}`).join('&');
  const headers: Record<string, string | string[]> = { ...c.headers };
  withKey(headers, c.key, apiKey);
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

const BOUNDARY = 'otasim-fuzz-boundary';

function multipartUpload(image: Uint8Array): Uint8Array {
  return Buffer.concat([enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="fw.bin"\r\n`
    + 'Content-Type: application/octet-stream\r\n\r\n'), image, enc.encode(`\r\n--${BOUNDARY}--\r\n`)]);
}

/** The `inject` request for a mutant of a valid request. */
function mutantRequest(c: MutantCase, apiKey: string, image: Uint8Array, token: (id: string) => string): Injected {
  const base = VALID[c.base % VALID.length] as ValidRequest;
  let method = base.method;
  const segments = [...base.segments];
  const query = base.query.map(([k, v]) => [k, v] as [string, string]);
  const json = base.json === undefined ? undefined : { ...base.json };
  let multipart = base.upload === true ? multipartUpload(image) : undefined;
  let text: Uint8Array | undefined;
  for (const e of c.edits) {
    switch (e.op) {
      case 'query-set': if (query.length > 0) (query[e.i % query.length] as [string, string])[1] = e.value; break;
      case 'query-drop': if (query.length > 0) query.splice(e.i % query.length, 1); break;
      case 'query-add': query.push([e.key, e.value]); break;
      case 'segment': segments[e.i % segments.length] = e.value; break;
      case 'field':
        if (json !== undefined && e.drop) delete json[e.key];
        else if (json !== undefined) json[e.key] = e.value;
        break;
      case 'bytes':
        if (multipart !== undefined) multipart = applyMutations(multipart, e.m);
        else text = applyMutations(enc.encode(JSON.stringify(json ?? {})), e.m);
        break;
      case 'method': method = e.method; break;
    }
  }
  const headers: Record<string, string | string[]> = { ...c.headers };
  withKey(headers, c.key, apiKey);
  const device = c.headers['x-device-id'] ?? 'd1';
  if (c.token === 'right') headers['x-device-token'] = token(device);
  else if (c.token === 'wrong') headers['x-device-token'] = token(`${device}x`);
  let payload: string | Buffer | undefined;
  if (multipart !== undefined) {
    payload = Buffer.from(multipart);
    headers['content-type'] = `multipart/form-data; boundary=${BOUNDARY}`;
  } else if (text !== undefined || json !== undefined) {
    payload = text === undefined ? JSON.stringify(json) : Buffer.from(text);
    headers['content-type'] = 'application/json';
  }
  const q = query.map(([k, v]) => `${k}=${v}`).join('&');
  const path = `/${segments.join('/')}`;
  return { method, url: q === '' ? path : `${path}?${q}`, headers, ...(payload === undefined ? {} : { payload }) };
}

/**
 * Every route of `app` (from its own route table) under random requests and mutants of valid
 * ones. `tokenSecret` lets mutants carry the right device token when the app requires them.
 */
export function httpTarget(name: string, app: FastifyInstance, routes: readonly RouteInfo[], apiKey: string, tokenSecret: string | null = null): FuzzTarget<HttpCase> {
  const image = buildAppImage({ chip: 'esp32', version: '2.0.0', size: 4096 });
  const token = (id: string): string => (tokenSecret === null ? 'no-token' : deviceToken(tokenSecret, id));
  return target(name, httpCaseArb(routes.length, image), async (c) => {
    const req = c.kind === 'random' ? randomRequest(c, routes, apiKey) : mutantRequest(c, apiKey, image, token);
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
