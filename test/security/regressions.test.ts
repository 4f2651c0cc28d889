/**
 * Regressions found by fuzzing (test/fuzz, bench/fuzz.ts), each named after its case. PostgreSQL
 * text cannot hold U+0000 (SQLSTATE 22P05), so a NUL that reached the store made it refuse the
 * statement and the API answer 503 "store unavailable"; the HTTP layer now refuses any NUL in a
 * query value or JSON body with 422, as the collector does for MQTT payloads. And requests Node's
 * own HTTP parser refuses got Node's bare 400 (no body, or fastify's other shape) instead of the
 * error body every other refusal has.
 */
import { connect } from 'node:net';
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

/** Send raw bytes on a fresh connection; the whole answer, read until the server closes. */
function rawExchange(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = connect({ host: hostname, port: Number(port) }, () => c.end(text));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function expectWireError(raw: string, status: string, code: string): void {
  expect(raw.startsWith(`HTTP/1.1 ${status}`), raw).toBe(true);
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  expect(JSON.parse(body)).toEqual({ error: { code, message: expect.any(String) } });
}

describe('requests the HTTP parser refuses get the error body', () => {
  it('a header line that is not a header (fuzz http-wire: a JSON line grafted into the headers)', async () => {
    const raw = await rawExchange(s.url, 'GET /health HTTP/1.1\r\n{"a":1}\r\nHost: x\r\n\r\n');
    expectWireError(raw, '400', 'OTASIM_ERR_BAD_REQUEST');
  });

  it('HTTP/1.1 without Host (fuzz http-wire: a blank line grafted after the request line)', async () => {
    const raw = await rawExchange(s.url, 'GET /health HTTP/1.1\r\n\r\n');
    expectWireError(raw, '400', 'OTASIM_ERR_BAD_REQUEST');
    expect(raw).toMatch(/Host header/);
    // HTTP/1.0 needs no Host.
    expect(await rawExchange(s.url, 'GET /health HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
  });

  it('headers past the limit are 431 with the error body', async () => {
    const raw = await rawExchange(s.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
    expectWireError(raw, '431', 'OTASIM_ERR_HEADERS_TOO_LARGE');
  });
});
