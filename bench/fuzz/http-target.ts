/**
 * Fuzz target for every HTTP route, through fastify's `inject` (so the router, content-type
 * parsers, multipart, auth, device guards and handlers all run): random requests built from the
 * route table, and mutants of one valid request per route. Any answer below 500 is allowed, and
 * every 4xx must be the `{error: {code, message}}` body; a 5xx, another body or a thrown `inject`
 * is a crash.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { deviceToken } from '../../server/http/auth.js';
import type { RouteInfo } from '../../server/http/app.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { target, type FuzzTarget } from './engine.js';
import { applyMutations, jsonValue, mutationArb, type Mutation } from './mutate.js';

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

/** The boundary of the valid uploads. */
export const BOUNDARY = 'otasim-fuzz-boundary';

/** A valid multipart upload of `image` as field `file`. */
export function multipartUpload(image: Uint8Array): Uint8Array {
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
