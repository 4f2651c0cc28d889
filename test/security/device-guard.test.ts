/**
 * Device routes under the two optional guards (issue 9 "Security"): per-device tokens and the
 * per-device rate limit. Time is the server's `now` port, moved by hand: no sleeps.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { resolveServerConfig } from '../../server/config.js';
import { deviceToken, DEVICE_ROUTES } from '../../server/http/auth.js';
import { RateLimiter } from '../../server/http/rate-limit.js';
import { http, image, sendJson, startServer, SERVER_START_MS, TEST_KEY, upload, type Res } from '../server/http-harness.js';

const SECRET = 'device-token-secret-0123456789';
const check = (id: string) => `/api/firmware/check?device_id=${encodeURIComponent(id)}&device_model=esp32&current_version=1.0.0`;
const status = (id: string) => ({ device_id: id, firmware_version: '1.0.0', status: 'downloading' });

function expectError(r: Res, status: number, code: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.json).toEqual({ error: { code, message: expect.any(String) } });
}

describe('RateLimiter', () => {
  it('allows a burst of `limit`, then one per 60 000/limit ms, and says how long to wait', () => {
    let t = 0;
    const l = new RateLimiter(6, () => t);
    for (let i = 0; i < 6; i++) expect(l.take('d')).toEqual({ ok: true });
    expect(l.take('d')).toEqual({ ok: false, retryAfterMs: 10_000 });
    t = 4_000;
    expect(l.take('d')).toEqual({ ok: false, retryAfterMs: 6_000 });
    t = 10_000;
    expect(l.take('d')).toEqual({ ok: true });
    expect(l.take('other')).toEqual({ ok: true });
  });

  it('keeps at most maxKeys buckets, forgetting the least recently used', () => {
    const l = new RateLimiter(1, () => 0, 3);
    for (const k of ['a', 'b', 'c']) l.take(k);
    l.take('a'); // refused, but now the most recent
    l.take('d');
    expect(l.size).toBe(3);
    expect(l.take('b')).toEqual({ ok: true }); // b was forgotten: a fresh bucket
    expect(l.take('a').ok).toBe(false); // a was kept
  });

  it('refuses a limit below 1', () => {
    expect(() => new RateLimiter(0, () => 0)).toThrow(RangeError);
  });
});

describe('server config for device guards', () => {
  it('is off by default and validated once', () => {
    const c = resolveServerConfig({});
    expect([c.deviceTokens, c.deviceTokenSecret, c.deviceRateLimit]).toEqual(['off', null, 0]);
    expect(() => resolveServerConfig({ deviceTokens: 'required' })).toThrow(ConfigError);
    expect(() => resolveServerConfig({ deviceTokens: 'required', deviceTokenSecret: 'short' })).toThrow(/16 characters/);
    expect(() => resolveServerConfig({ deviceTokens: 'maybe' as 'off' })).toThrow(ConfigError);
    expect(() => resolveServerConfig({ deviceRateLimit: -1 })).toThrow(ConfigError);
  });
});

describe('per-device rate limit on device routes', () => {
  it('429 JSON with Retry-After past the limit, per device, refilled by the clock', async () => {
    let t = 0;
    await using s = await startServer({ deviceRateLimit: 3 }, { now: () => t });
    for (let i = 0; i < 3; i++) expect((await http(s.url, 'GET', check('d1'))).status).toBe(200);
    const over = await http(s.url, 'GET', check('d1'));
    expectError(over, 429, 'OTASIM_ERR_RATE_LIMITED');
    expect(over.headers['retry-after']).toBe('20'); // 3 per minute: one token every 20 s
    // update-status of the same device spends the same budget; other devices have their own.
    expectError(await sendJson(s.url, 'POST', '/api/device/d1/update-status', status('d1'), null), 429, 'OTASIM_ERR_RATE_LIMITED');
    expect((await http(s.url, 'GET', check('d2'))).status).toBe(200);
    t += 19_000;
    expect((await http(s.url, 'GET', check('d1'))).status).toBe(429);
    t += 1_000;
    expect((await http(s.url, 'GET', check('d1'))).status).toBe(200);
    // Admin routes, /health and /metrics are not limited.
    for (let i = 0; i < 5; i++) expect((await http(s.url, 'GET', '/api/admin/devices', { key: TEST_KEY })).status).toBe(200);
    // A download names no device: it is limited per client address.
    expect((await upload(s.url, '1.0.0', 'esp32', image('1.0.0'))).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await http(s.url, 'GET', '/api/firmware/download/1.0.0')).status).toBe(200);
    const dl = await http(s.url, 'GET', '/api/firmware/download/1.0.0');
    expectError(dl, 429, 'OTASIM_ERR_RATE_LIMITED');
    expect(dl.json.error.message).toMatch(/address/);
    // …unless it names its device.
    expect((await http(s.url, 'GET', '/api/firmware/download/1.0.0', { headers: { 'x-device-id': 'd3' } })).status).toBe(200);
  }, SERVER_START_MS);

  it('is off by default: a fast-polling device is never refused', async () => {
    await using s = await startServer({});
    for (let i = 0; i < 40; i++) expect((await http(s.url, 'GET', check('d1'))).status).toBe(200);
  }, SERVER_START_MS);
});

describe('per-device tokens (deviceTokens: required)', () => {
  it('every device route in the route table needs the device\'s own token', async () => {
    await using s = await startServer({ deviceTokens: 'required', deviceTokenSecret: SECRET });
    // Every open /api route is a device route, so a new one cannot slip past the guard unlisted.
    for (const r of s.server.routes.filter((x) => x.url.startsWith('/api/') && !x.admin)) {
      expect(r.device, `${r.method} ${r.url} is open but not in DEVICE_ROUTES`).toBe(true);
    }
    expect(new Set(s.server.routes.filter((r) => r.device).map((r) => r.url))).toEqual(new Set(Object.keys(DEVICE_ROUTES)));
    expect((await upload(s.url, '1.0.0', 'esp32', image('1.0.0'))).status).toBe(200);

    const d1 = deviceToken(SECRET, 'd1');
    const d2 = deviceToken(SECRET, 'd2');
    expect(d1).toHaveLength(d2.length); // a same-length wrong token
    const requests = (token: string | undefined, id = 'd1') => {
      const h: Record<string, string> = token === undefined ? {} : { 'x-device-token': token };
      return [
        () => http(s.url, 'GET', check(id), { headers: h }),
        () => http(s.url, 'GET', '/api/firmware/download/1.0.0', { headers: { ...h, 'x-device-id': id } }),
        () => http(s.url, 'POST', `/api/device/${id}/update-status`, { headers: { ...h, 'content-type': 'application/json' }, body: JSON.stringify(status(id)) }),
      ];
    };
    for (const [what, token] of [['no token', undefined], ['another device\'s token', d2], ['a shorter token', d1.slice(0, 10)],
      ['a longer token', `${d1}A`], ['the API key', TEST_KEY]] as const) {
      for (const send of requests(token)) {
        const r = await send();
        expect(r.status, what).toBe(401);
        expect(r.json.error.code, what).toBe('OTASIM_ERR_UNAUTHORIZED');
      }
    }
    for (const send of requests(d1)) expect((await send()).status).toBe(200);
    // A download that does not name its device cannot be checked.
    expectError(await http(s.url, 'GET', '/api/firmware/download/1.0.0', { headers: { 'x-device-token': d1 } }), 401, 'OTASIM_ERR_UNAUTHORIZED');
    // The admin route hands out the token, behind the API key.
    expect((await http(s.url, 'GET', '/api/admin/devices/d1/token')).status).toBe(401);
    expect((await http(s.url, 'GET', '/api/admin/devices/d1/token', { key: TEST_KEY })).json).toEqual({ device_id: 'd1', token: d1 });
    expectError(await http(s.url, 'GET', '/api/admin/devices/a%2Fb/token', { key: TEST_KEY }), 422, 'OTASIM_ERR_VALIDATION');
  }, SERVER_START_MS);

  it('a token is bound to its secret and its device id', () => {
    expect(deviceToken(SECRET, 'd1')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(deviceToken(SECRET, 'd1')).toBe(deviceToken(SECRET, 'd1'));
    expect(deviceToken(SECRET, 'd1')).not.toBe(deviceToken(`${SECRET}x`, 'd1'));
    expect(deviceToken(SECRET, 'd1')).not.toBe(deviceToken(SECRET, 'd1 '));
  });

  it('tokens are not asked for by default, and there is no token route', async () => {
    await using s = await startServer({});
    expect((await http(s.url, 'GET', check('d1'))).status).toBe(200);
    expect(s.server.routes.some((r) => r.url.endsWith('/token'))).toBe(false);
  }, SERVER_START_MS);
});
