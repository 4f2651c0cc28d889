/**
 * Regressions found by fuzzing (test/fuzz, bench/fuzz.ts), each named after its case. PostgreSQL
 * text cannot hold U+0000 (SQLSTATE 22P05), so a NUL that reached the store made it refuse the
 * statement and the API answer 503 "store unavailable"; the HTTP layer now refuses any NUL in a
 * query value or JSON body with 422, as the collector does for MQTT payloads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, image, sendJson, startServer, TEST_KEY, upload, SERVER_START_MS, type Res, type TestServer } from '../server/http-harness.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
  expect((await upload(s.url, '1.0.0', 'esp32', image('1.0.0'))).status).toBe(200);
}, SERVER_START_MS);
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
});

function expectNulRefused(r: Res, where: string): void {
  expect(r.status, `${where}: ${r.text}`).toBe(422);
  expect(r.json.error.code, where).toBe('OTASIM_ERR_VALIDATION');
  expect(r.json.error.message, where).toMatch(/U\+0000/);
}

describe('NUL in a query value or JSON body is 422, never a 503 from the store', () => {
  it('GET /api/admin/update-status?device_id=%00 (fuzz http-routes, seed 1226670298)', async () => {
    expectNulRefused(await http(s.url, 'GET', '/api/admin/update-status?device_id=%00&limit=5', { key: TEST_KEY }), 'update-status list');
  });

  it('every other text a request can store', async () => {
    const st = (b: object) => sendJson(s.url, 'POST', '/api/device/d1/update-status', { device_id: 'd1', firmware_version: '1.0.0', status: 'failed', ...b }, null);
    const cases: Array<[string, Promise<Res>]> = [
      ['check current_version', http(s.url, 'GET', '/api/firmware/check?device_id=d1&device_model=esp32&current_version=1%00')],
      ['update-status list firmware_version', http(s.url, 'GET', '/api/admin/update-status?firmware_version=a%00', { key: TEST_KEY })],
      ['status firmware_version', st({ firmware_version: '1\u0000' })],
      ['status error_message', st({ error_message: 'boom\u0000' })],
      ['device groups', sendJson(s.url, 'PUT', '/api/admin/devices/d1/groups', { groups: ['a\u0000'] })],
      ['rollout target_filter', sendJson(s.url, 'POST', '/api/admin/rollout/create', {
        name: 'nul', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'specific', target_filter: { device_ids: ['x\u0000'] } })],
      ['a NUL in a key', sendJson(s.url, 'PUT', '/api/admin/devices/d1/groups', { 'groups\u0000': [] })],
    ];
    for (const [what, r] of cases) expectNulRefused(await r, what);
    const up = await http(s.url, 'POST', '/api/admin/firmware/upload?version=1.0.1&device_model=esp32&release_notes=a%00b', { key: TEST_KEY });
    expectNulRefused(up, 'upload release_notes');
  });

  it('text that merely mentions \\u0000 (escaped) is still accepted', async () => {
    const r = await sendJson(s.url, 'POST', '/api/device/d1/update-status', { device_id: 'd1', firmware_version: '1.0.0', status: 'failed', error_message: 'saw \\u0000 in a log' }, null);
    expect(r.status, r.text).toBe(200);
  });
});
