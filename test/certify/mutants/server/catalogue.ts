/**
 * The catalogue of broken servers the server suite must catch (issue 8 "Mutants"). Each is the
 * real OtaServer with one seam altered (kit.ts), and names the requirement ids the suite must fail
 * — exactly those, so a mutant also shows that no other requirement fails spuriously.
 */
import type { FirmwareCheckResponse } from '../../../../protocol/payloads.js';
import { downloadPath } from '../../../../server/http/routes/check.js';
import { isTargeted } from '../../../../server/rollout/targeting.js';
import type { ReleaseRow } from '../../../../server/store/store.js';
import type { Answer, Exchange, ServerMutant } from './kit.js';

const pathOf = (ex: Exchange): string => ex.path.split('?')[0] ?? ex.path;
const query = (ex: Exchange): URLSearchParams => new URL(ex.path, 'http://x').searchParams;
const isCheck = (ex: Exchange): boolean => ex.method === 'GET' && pathOf(ex) === '/api/firmware/check';
const isDownload = (ex: Exchange): boolean => pathOf(ex).startsWith('/api/firmware/download/');
const isRolloutCreate = (ex: Exchange): boolean => ex.method === 'POST' && pathOf(ex) === '/api/admin/rollout/create';

function jsonOf(b: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(b.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

const withJson = (ex: Exchange, body: unknown): Exchange => ({ ...ex, body: Buffer.from(JSON.stringify(body)) });
const answerJson = (a: Answer, body: unknown): Answer => ({ ...a, body: Buffer.from(JSON.stringify(body)) });

/** Rewrite the body of a rollout create. */
function rolloutBody(ex: Exchange, change: (b: Record<string, unknown>) => Record<string, unknown>): Exchange {
  const b = isRolloutCreate(ex) ? jsonOf(ex.body) : undefined;
  return b === undefined ? ex : withJson(ex, change(b));
}

/** The offer the check route would make for `rel` (server/http/routes/check.ts). */
function offerOf(rel: ReleaseRow, current: string): FirmwareCheckResponse {
  return {
    update_available: true, current_version: current, latest_version: rel.version, download_url: downloadPath(rel.version, rel.device_model),
    file_size: rel.file_size, size: rel.file_size, checksum_sha256: rel.checksum_sha256, release_notes: rel.release_notes,
  };
}

/** A check answered "no update": its device, model, version and answer. */
function noUpdate(ex: Exchange, a: Answer): { id: string; model: string; current: string; body: Record<string, unknown> } | undefined {
  if (!isCheck(ex) || a.status !== 200) return undefined;
  const body = jsonOf(a.body);
  const q = query(ex);
  const [id, model, current] = [q.get('device_id'), q.get('device_model'), q.get('current_version')];
  if (body === undefined || body.update_available !== false || id === null || model === null || current === null) return undefined;
  return { id, model, current, body };
}

/** Check-ins of models that have a canary rollout get `salt()` appended to their device id: buckets rehashed. */
function rehashed(salt: (rolloutsOfModel: number) => string): ServerMutant['seams'] {
  return () => {
    const canaries = new Map<string, number>();
    return {
      http: {
        request(ex) {
          const b = isRolloutCreate(ex) ? jsonOf(ex.body) : undefined;
          if (b?.target_type === 'canary' && typeof b.device_model === 'string') canaries.set(b.device_model, (canaries.get(b.device_model) ?? 0) + 1);
          if (!isCheck(ex)) return ex;
          const q = query(ex);
          const n = canaries.get(q.get('device_model') ?? '');
          if (n === undefined) return ex;
          q.set('device_id', `${q.get('device_id') ?? ''}~${salt(n)}`);
          return { ...ex, path: `/api/firmware/check?${q.toString()}` };
        },
      },
    };
  };
}

const HTML_500: Answer = {
  status: 500, headers: { 'content-type': 'text/html' }, body: Buffer.from('<html><body><h1>Internal Server Error</h1></body></html>'),
};

export const SERVER_MUTANTS: readonly ServerMutant[] = [
  {
    name: 'untargeted', bug: 'a specific rollout ignores its device list and goes to every device of the model',
    fails: ['SRV-MQTT-002', 'SRV-TARGET-001', 'SRV-TARGET-002'],
    seams: () => ({ http: { request: (ex) => rolloutBody(ex, (b) => (b.target_type === 'specific' ? { ...b, target_type: 'all', target_filter: null, rollout_percentage: 100 } : b)) } }),
  },
  {
    name: 'group-ignored', bug: 'a group rollout ignores its groups and falls back to the percentage (the real service\'s TODO)',
    fails: ['SRV-TARGET-003'],
    seams: () => ({ http: { request: (ex) => rolloutBody(ex, (b) => (b.target_type === 'group' ? { ...b, target_type: 'canary' } : b)) } }),
  },
  {
    name: 'rehash-per-rollout', bug: 'canary buckets are rehashed for every new percentage, so 25% is not a superset of 10%',
    fails: ['SRV-BUCKET-001'],
    seams: rehashed((n) => `r${n}`),
  },
  {
    name: 'rehash-per-request', bug: 'canary buckets are drawn afresh on every check',
    fails: ['SRV-BUCKET-001', 'SRV-BUCKET-002'],
    seams: (ctx) => {
      let n = 0;
      return rehashed(() => `q${n++}`)(ctx);
    },
  },
  {
    name: 'ignores-range', bug: 'Range is ignored: always 200 with the whole image',
    fails: ['SRV-RANGE-001', 'SRV-RANGE-002'],
    seams: () => ({
      http: {
        request(ex) {
          if (!isDownload(ex)) return ex;
          const { range: _r, 'if-range': _i, ...headers } = ex.headers;
          return { ...ex, headers };
        },
      },
    }),
  },
  {
    name: 'wrong-checksum-header', bug: 'X-Checksum-SHA256 does not match the body',
    fails: ['SRV-DL-003'],
    seams: () => ({
      http: {
        response(ex, a) {
          const sum = a.headers['x-checksum-sha256'];
          if (!isDownload(ex) || sum === undefined) return a;
          return { ...a, headers: { ...a.headers, 'x-checksum-sha256': `${sum.startsWith('0') ? '1' : '0'}${sum.slice(1)}` } };
        },
      },
    }),
  },
  {
    name: 'wrong-content-length', bug: 'a full download is one byte short, and its Content-Length says so',
    fails: ['SRV-DL-001', 'SRV-DL-002', 'SRV-DL-003', 'SRV-MQTT-001'],
    seams: () => ({ http: { response: (ex, a) => (isDownload(ex) && a.status === 200 && a.body.length > 0 ? { ...a, body: a.body.subarray(0, -1) } : a) } }),
  },
  {
    name: 'accepts-wrong-key', bug: 'any X-API-Key is accepted on admin routes',
    fails: ['SRV-AUTH-002'],
    seams: (ctx) => ({
      http: {
        request(ex) {
          const key = ex.headers['x-api-key'];
          return pathOf(ex).startsWith('/api/admin/') && key !== undefined ? { ...ex, headers: { ...ex.headers, 'x-api-key': ctx.apiKey } } : ex;
        },
      },
    }),
  },
  {
    name: 'no-auth-on-update-status', bug: 'GET /api/admin/update-status needs no key',
    fails: ['SRV-AUTH-001', 'SRV-AUTH-002'],
    seams: (ctx) => ({
      http: { request: (ex) => (ex.method === 'GET' && pathOf(ex) === '/api/admin/update-status' ? { ...ex, headers: { ...ex.headers, 'x-api-key': ctx.apiKey } } : ex) },
    }),
  },
  {
    name: 'html-500-on-bad-input', bug: 'bad input gets a 500 HTML page instead of a 4xx JSON body',
    fails: ['SRV-ERR-001', 'SRV-ERR-002'],
    seams: () => ({ http: { response: (_ex, a) => ([400, 413, 415, 422].includes(a.status) ? HTML_500 : a) } }),
  },
  {
    name: 'same-version', bug: 'a device already on the offered version is offered it again',
    fails: ['SRV-CHECK-003'],
    seams: (ctx) => ({
      http: {
        async response(ex, a) {
          const n = noUpdate(ex, a);
          if (n === undefined || n.body.latest_version !== n.current) return a;
          const rel = await ctx.server.store.getRelease(n.current, n.model);
          return rel === undefined ? a : answerJson(a, offerOf(rel, n.current));
        },
      },
    }),
  },
  {
    name: 'downgrade', bug: 'once the newest rollout is satisfied, an older active rollout that targets the device offers its older release',
    fails: ['SRV-CHECK-004'],
    seams: (ctx) => ({
      http: {
        async response(ex, a) {
          const n = noUpdate(ex, a);
          if (n === undefined) return a;
          const { store, config } = ctx.server;
          const row = await store.getDevice(n.id);
          const device = { device_id: n.id, device_model: n.model, mac_address: row?.mac_address ?? null, groups: row?.groups ?? [] };
          const older = (await store.listRollouts({ device_model: n.model, active: true, limit: 100 }))
            .filter((r) => r.firmware_version !== n.current && isTargeted(r, device, config.bucketing))
            .sort((x, y) => x.created_at.getTime() - y.created_at.getTime() || x.id - y.id)[0];
          const rel = older === undefined ? undefined : await store.getRelease(older.firmware_version, n.model);
          return rel === undefined ? a : answerJson(a, offerOf(rel, n.current));
        },
      },
    }),
  },
  {
    name: 'cmd-never-published', bug: 'creating a rollout publishes no cmd/ota',
    fails: ['SRV-MQTT-001'],
    seams: () => ({ broker: { forward: (topic) => !topic.endsWith('/cmd/ota') } }),
  },
  {
    name: 'cmd-wrong-topic', bug: 'cmd/ota goes to the legacy devices/ layout while the server claims paku-edge',
    fails: ['SRV-MQTT-001'],
    seams: () => ({
      broker: {
        publish: (topic, publisher) => (publisher?.startsWith('otasim-orchestrator-') === true ? topic.replace(/\/edge\/([^/]+)\/cmd\/ota$/, '/devices/$1/cmd/ota') : topic),
      },
    }),
  },
  {
    name: 'drops-results', bug: 'ota/result reports never reach the collector',
    fails: ['SRV-MQTT-003'],
    seams: () => ({ broker: { forward: (topic, subscriber) => !(topic.endsWith('/ota/result') && subscriber.startsWith('otasim-collector-')) } }),
  },
];
