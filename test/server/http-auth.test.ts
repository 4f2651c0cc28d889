/**
 * Every admin route refuses a request without the key, with a wrong key of the same length, a
 * wrong key of another length, and a repeated header — enumerated from the app's own route table,
 * so a route added later is covered without editing this test (issue 3 "Bad input").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { apiKeyCheck } from '../../server/http/auth.js';
import { RequestError } from '../../protocol/errors.js';
import { http, startServer, TEST_KEY, type TestServer, SERVER_START_MS } from './http-harness.js';
import type { FastifyRequest } from 'fastify';

const concrete = (url: string): string => url.replace(/:([a-z_]+)/g, (_m, p: string) => `x-${p}`);

describe('admin routes need X-API-Key', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  }, SERVER_START_MS);
  afterAll(async () => {
    await s?.[Symbol.asyncDispose]();
  });

  it('the route table has the seeds\' admin routes, all marked admin', () => {
    const admin = s.server.routes.filter((r) => r.admin).map((r) => `${r.method} ${r.url}`);
    for (const r of ['POST /api/admin/firmware/upload', 'GET /api/admin/firmware/releases', 'POST /api/admin/rollout/create',
      'PATCH /api/admin/rollout/:name', 'POST /api/admin/rollout/:rollout_id/deactivate', 'GET /api/admin/devices',
      'PUT /api/admin/devices/:device_id/groups', 'GET /api/admin/update-status', 'GET /api/admin/rollouts']) {
      expect(admin).toContain(r);
    }
    // Every /api/admin route is admin, and nothing else is (update-status is open by default).
    for (const r of s.server.routes) expect(r.admin).toBe(r.url.startsWith('/api/admin/'));
  });

  const wrong = {
    'no key': undefined,
    'a wrong key of the same length': TEST_KEY.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x')),
    'a wrong key of another length': 'short-key',
    'the key with a suffix': `${TEST_KEY}x`,
    'an empty key': '',
  };
  for (const [what, key] of Object.entries(wrong)) {
    it(`every admin route answers 401 {error} to ${what}`, async () => {
      const admin = s.server.routes.filter((r) => r.admin);
      expect(admin.length).toBeGreaterThanOrEqual(9);
      for (const r of admin) {
        const res = await http(s.url, r.method, concrete(r.url), {
          ...(key === undefined ? {} : { key }),
          ...(r.method === 'GET' || r.method === 'HEAD' ? {} : { headers: { 'content-type': 'application/json' }, body: '{"x":1}' }),
        });
        expect(res.status, `${r.method} ${r.url}`).toBe(401);
        if (r.method !== 'HEAD') expect(res.json, `${r.method} ${r.url}`).toEqual({ error: { code: 'OTASIM_ERR_UNAUTHORIZED', message: expect.any(String) } });
      }
    });
  }

  it('401 comes before body parsing: malformed JSON without a key is 401, not 400', async () => {
    const res = await http(s.url, 'POST', '/api/admin/rollout/create', { headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(res.status).toBe(401);
  });

  it('a repeated X-API-Key header is refused even when one copy is right', async () => {
    const r = await request(`${s.url}/api/admin/devices`, { headers: { 'x-api-key': [TEST_KEY, TEST_KEY] } });
    await r.body.dump();
    expect(r.statusCode).toBe(401);
  });

  it('the right key passes on every admin route (no 401)', async () => {
    for (const r of s.server.routes.filter((x) => x.admin)) {
      const res = await http(s.url, r.method, concrete(r.url), { key: TEST_KEY });
      expect(res.status, `${r.method} ${r.url}`).not.toBe(401);
    }
  });

  it('the header name is case-insensitive', async () => {
    const res = await http(s.url, 'GET', '/api/admin/devices', { headers: { 'X-Api-KEY': TEST_KEY } });
    expect(res.status).toBe(200);
  });

  it('device routes, /health and /metrics are open', async () => {
    expect((await http(s.url, 'GET', '/health')).status).toBe(200);
    expect((await http(s.url, 'GET', '/metrics')).status).toBe(200);
    expect((await http(s.url, 'GET', '/api/firmware/check?device_id=a&device_model=esp32&current_version=1')).status).toBe(200);
  });
});

describe('update-status with statusRequiresKey (the real service since ad9c9a4)', () => {
  it('needs the key and is listed as admin', async () => {
    await using s = await startServer({ statusRequiresKey: true });
    expect(s.server.routes.find((r) => r.url === '/api/device/:device_id/update-status')?.admin).toBe(true);
    const body = JSON.stringify({ device_id: 'd1', firmware_version: '1.0.0', status: 'downloading' });
    const h = { 'content-type': 'application/json' };
    expect((await http(s.url, 'POST', '/api/device/d1/update-status', { headers: h, body })).status).toBe(401);
    expect((await http(s.url, 'POST', '/api/device/d1/update-status', { headers: h, body, key: TEST_KEY })).status).toBe(200);
  }, SERVER_START_MS);
});

describe('apiKeyCheck', () => {
  const req = (h: Record<string, string | string[]>) => ({ headers: h }) as unknown as FastifyRequest;
  it('accepts exactly the key and throws a 401 RequestError otherwise', () => {
    const check = apiKeyCheck('the-right-key');
    expect(() => check(req({ 'x-api-key': 'the-right-key' }))).not.toThrow();
    for (const h of [{}, { 'x-api-key': 'the-wrong-key' }, { 'x-api-key': ['the-right-key'] }] as Record<string, string | string[]>[]) {
      try {
        check(req(h));
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(RequestError);
        expect((e as RequestError).status).toBe(401);
      }
    }
  });
  it('a key whose SHA-256 prefix matches is still refused (digests are compared whole)', () => {
    // Any two distinct keys differ somewhere in their 32-byte digests; this guards against a
    // comparison of a truncated digest.
    const k = 'k1-aaaaaaaa';
    const d = createHash('sha256').update(k).digest();
    expect(d.length).toBe(32);
    expect(() => apiKeyCheck(k)(req({ 'x-api-key': 'k1-aaaaaaab' }))).toThrow(RequestError);
  });
});
