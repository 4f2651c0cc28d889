/**
 * Replays every curl example of seeds 001 and 002, read from the seed documents as printed,
 * against a started `OtaServer`, and checks each status code and the response fields. The seeds'
 * hosts are pointed at the test server; `$OTA_API_KEY` and the literal `your-secret-api-key-here`
 * are the server's key; `-F file=@…` sends a real ESP32 app image built for the upload's version.
 *
 * The seeds' monitoring calls send no `X-API-Key`; like the real service since ad9c9a4
 * (paku-protocol-facts §6.13) they get 401, and are replayed once more with the key to show the
 * route itself answers.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormData } from 'undici';
import { projectRoot } from '../fixtures.js';
import { chipForModel } from '../../server/http/models.js';
import { extractCurls, parseCurl, type CurlRequest } from './seed-curl.js';
import { http, image, startServer, type Res, type TestServer, SERVER_START_MS } from './http-harness.js';

const seedsDir = process.env.OTASIM_SEEDS ?? resolve(projectRoot, '..', 'shared', 'seeds');
const haveSeeds = existsSync(seedsDir);
if (!haveSeeds) process.stderr.write(`seeds: ${seedsDir} is absent; the seed replay skips\n`);

const KEY = 'your-secret-api-key-here';
const seedText = (prefix: string): string => {
  const f = readdirSync(seedsDir).find((n) => n.startsWith(prefix));
  if (f === undefined) throw new Error(`no seed ${prefix}* in ${seedsDir}`);
  return readFileSync(join(seedsDir, f), 'utf8');
};

/** What each curl, in document order, must get. `check` asserts the body. */
interface Expect {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly check?: (r: Res, req: CurlRequest, sent: Sent) => void;
  /** For a 401 without a key: the status the same request gets with the key. */
  readonly withKey?: number;
}

interface Sent {
  bytes?: Uint8Array;
}

const ok = (r: Res): void => expect(r.json).toMatchObject({ status: 'ok' });
const created = (r: Res): void => {
  expect(r.json).toMatchObject({ status: 'ok', message: 'Rollout created successfully' });
  expect(typeof r.json.rollout_id).toBe('number');
};
const uploaded = (version: string) => (r: Res, _q: CurlRequest, sent: Sent): void => {
  const bytes = sent.bytes as Uint8Array;
  expect(r.json).toEqual({
    status: 'ok', message: 'Firmware uploaded successfully', version, file_size: bytes.length,
    checksum_sha256: createHash('sha256').update(bytes).digest('hex'),
  });
};

const SEED_001: Expect[] = [
  { method: 'POST', path: '/api/admin/firmware/upload', status: 200, check: uploaded('1.2.0') },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: (r) => {
    created(r);
    expect(r.json.rollout).toMatchObject({ name: 'v1.2.0-test', target_type: 'specific', target_filter: { device_ids: ['esp32_001'] } });
  } },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: (r) => {
    created(r);
    expect(r.json.rollout).toMatchObject({ name: 'v1.2.0-canary', rollout_percentage: 10, is_active: true });
  } },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: (r) => {
    created(r);
    expect(r.json.rollout).toMatchObject({ name: 'v1.2.0-prod', target_type: 'all', rollout_percentage: 100 });
  } },
  { method: 'POST', path: '/api/admin/rollout/{rollout_id}/deactivate', status: 200, check: (r) => {
    ok(r);
    expect(r.json.rollout).toMatchObject({ name: 'v1.2.0-canary', is_active: false });
  } },
  { method: 'GET', path: '/health', status: 200, check: (r) => expect(r.json).toMatchObject({ status: 'healthy' }) },
];

const SEED_002: Expect[] = [
  { method: 'POST', path: '/api/admin/firmware/upload', status: 200, check: uploaded('1.0.0') },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: (r) => {
    created(r);
    expect(r.json.rollout.target_filter).toEqual({ device_ids: ['esp32_001', 'esp32_002'] });
  } },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: created },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: created },
  { method: 'GET', path: '/api/admin/devices', status: 401, withKey: 200 },
  { method: 'GET', path: '/api/admin/update-status', status: 401, withKey: 200 },
  { method: 'GET', path: '/metrics', status: 200, check: (r) => {
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.text).toMatch(/^otasim_active_rollouts \d+$/m);
  } },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: (r) => {
    created(r);
    expect(r.json.rollout).toMatchObject({ target_type: 'group', target_filter: { groups: ['location:warehouse', 'function:sensor'] } });
  } },
  { method: 'POST', path: '/api/admin/rollout/create', status: 200, check: (r) => {
    created(r);
    expect(r.json.rollout).toMatchObject({ name: 'v1.2.0-warehouse-phase1', rollout_percentage: 25 });
  } },
  { method: 'PATCH', path: '/api/admin/rollout/v1.2.0-warehouse-phase1', status: 200, check: (r) => {
    ok(r);
    expect(r.json.rollout).toMatchObject({ name: 'v1.2.0-warehouse-phase1', rollout_percentage: 100 });
  } },
  { method: 'POST', path: '/api/admin/firmware/upload', status: 200, check: uploaded('v1.3.0') },
  { method: 'GET', path: '/api/admin/devices', status: 401, withKey: 200 },
  { method: 'GET', path: '/api/admin/firmware/releases', status: 401, withKey: 200 },
  { method: 'GET', path: '/api/firmware/check', status: 200, check: (r) => {
    // Newest active rollout targeting esp32_001 is v1.0.0-production (all, 100%): it already runs 1.0.0.
    expect(r.json).toEqual({
      update_available: false, current_version: '1.0.0', latest_version: '1.0.0', download_url: null,
      file_size: null, size: null, checksum_sha256: null, release_notes: null,
    });
  } },
  { method: 'GET', path: '/api/admin/update-status', status: 401, withKey: 200 },
  { method: 'GET', path: '/metrics', status: 200, check: (r) => expect(r.text).toMatch(/^otasim_devices 1$/m) },
];

describe.skipIf(!haveSeeds)('seed curl replay (001, 002)', () => {
  let s: TestServer;
  const env = { OTA_API_KEY: KEY, VERSION: 'v1.3.0' };
  const ids = new Map<string, number>();

  beforeAll(async () => {
    s = await startServer({ apiKey: KEY });
  }, SERVER_START_MS);
  afterAll(async () => {
    await s?.[Symbol.asyncDispose]();
  });

  async function replay(req: CurlRequest, withKey = false): Promise<{ res: Res; sent: Sent }> {
    const u = new URL(req.url.replace('{rollout_id}', String(ids.get('v1.2.0-canary') ?? 'missing')));
    const path = u.pathname + u.search;
    const headers = { ...req.headers, ...(withKey ? { 'x-api-key': KEY } : {}) };
    const sent: Sent = {};
    let body: string | FormData | undefined = req.data;
    if (req.files.length > 0) {
      const form = new FormData();
      for (const f of req.files) {
        const version = u.searchParams.get('version') ?? '';
        const model = chipForModel(u.searchParams.get('device_model') ?? '');
        sent.bytes = image(version, model.kind === 'chip' ? model.chip : 'esp32');
        form.append(f.name, new Blob([sent.bytes]), f.path.split('/').pop());
      }
      body = form;
    }
    const res = await http(s.url, req.method, path, { headers, ...(body === undefined ? {} : { body }) });
    return { res, sent };
  }

  for (const [seed, expected] of [['001', SEED_001], ['002', SEED_002]] as const) {
    it(`seed ${seed}: every curl example answers as expected`, async () => {
      const curls = extractCurls(seedText(seed));
      expect(curls.map((c) => parseCurl(c.text, env).method)).toEqual(expected.map((e) => e.method));
      for (const [i, c] of curls.entries()) {
        const want = expected[i] as Expect;
        const req = parseCurl(c.text, env);
        expect(decodeURI(new URL(req.url).pathname), `seed ${seed} line ${c.line}`).toBe(want.path);
        const { res, sent } = await replay(req);
        expect(res.status, `seed ${seed} line ${c.line}: ${c.text}\n${res.text}`).toBe(want.status);
        if (want.status >= 400) expect(res.json.error.code).toMatch(/^OTASIM_ERR_/);
        want.check?.(res, req, sent);
        if (res.json?.rollout?.name !== undefined && typeof res.json.rollout_id === 'number') ids.set(res.json.rollout.name, res.json.rollout_id);
        if (want.withKey !== undefined) {
          const again = await replay(req, true);
          expect(again.res.status, `seed ${seed} line ${c.line} with the key`).toBe(want.withKey);
        }
      }
    });
  }

  it('after both seeds, the admin lists show what the seeds did', async () => {
    const rel = await http(s.url, 'GET', '/api/admin/firmware/releases?device_model=esp32', { key: KEY });
    expect(rel.json.releases.map((r: { version: string }) => r.version)).toEqual(['v1.3.0', '1.0.0', '1.2.0']);
    expect(rel.json.releases[1]).toMatchObject({ is_signed: true, release_notes: 'Initial release' });
    const dev = await http(s.url, 'GET', '/api/admin/devices?device_model=esp32', { key: KEY });
    expect(dev.json.devices).toEqual([expect.objectContaining({ device_id: 'esp32_001', current_firmware_version: '1.0.0', groups: [] })]);
  });
});
