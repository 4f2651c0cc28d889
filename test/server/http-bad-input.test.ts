/**
 * Bad input gets a 4xx with `{error: {code, message}}` naming the problem, never a 500 or a
 * crash (issue 3 "Bad input"): malformed JSON, unknown fields, bad versions, path traversal,
 * oversized uploads, bytes that are not an ESP32 app image, the wrong chip, duplicates.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { fixture, haveFixtures } from '../fixtures.js';
import { fileForm, http, image, sendJson, startServer, TEST_KEY, upload, type Res, type TestServer, SERVER_START_MS } from './http-harness.js';

const LIMIT = 256 * 1024;

/** GET a path exactly as written (no dot-segment resolution on the client side). */
async function rawGet(origin: string, path: string): Promise<Res> {
  const client = new Client(origin);
  try {
    const r = await client.request({ method: 'GET', path });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, text, bytes: Buffer.from(text), json: JSON.parse(text) };
  } finally {
    await client.close();
  }
}

function expectError(r: Res, status: number, code: string, message?: RegExp): void {
  expect(r.status, r.text).toBe(status);
  expect(r.json).toEqual({ error: { code, message: expect.any(String) } });
  if (message !== undefined) expect(r.json.error.message).toMatch(message);
}

describe('bad input → 4xx {error: {code, message}}', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ maxUploadBytes: LIMIT });
    expect((await upload(s.url, '1.0.0', 'esp32', image('1.0.0'))).status).toBe(200);
  }, SERVER_START_MS);
  afterAll(async () => {
    await s?.[Symbol.asyncDispose]();
  });
  const url = () => s.url;

  describe('JSON bodies', () => {
    it('malformed JSON is 400 OTASIM_ERR_INVALID_JSON on every JSON route', async () => {
      for (const [method, path] of [['POST', '/api/admin/rollout/create'], ['PATCH', '/api/admin/rollout/x'],
        ['PUT', '/api/admin/devices/d1/groups'], ['POST', '/api/device/d1/update-status']] as const) {
        for (const body of ['{"name": ', '{name: 1}', 'nul', '[1,]']) {
          const r = await http(url(), method, path, { headers: { 'content-type': 'application/json' }, body, key: TEST_KEY });
          expectError(r, 400, 'OTASIM_ERR_INVALID_JSON', /not valid JSON/);
        }
      }
    });

    it('unknown fields are refused and named (the workflow\'s target_device_ids alone is accepted and ignored: workflow-replay.test.ts)', async () => {
      const r = await sendJson(url(), 'POST', '/api/admin/rollout/create', {
        name: 'wf', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'specific', target_devices: ['a'],
      });
      expectError(r, 422, 'OTASIM_ERR_VALIDATION', /target_devices/);
      const st = await sendJson(url(), 'POST', '/api/device/d1/update-status',
        { device_id: 'd1', firmware_version: '1', status: 'success', colour: 'red' }, null);
      expectError(st, 422, 'OTASIM_ERR_VALIDATION', /colour/);
      const f = await sendJson(url(), 'POST', '/api/admin/rollout/create', {
        name: 'wf2', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'specific', target_filter: { device_id: ['a'] },
      });
      expectError(f, 422, 'OTASIM_ERR_VALIDATION', /device_id/);
    });

    it('wrong types, ranges and enums are 422 naming the field', async () => {
      const base = { name: 'r', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'canary' };
      expectError(await sendJson(url(), 'POST', '/api/admin/rollout/create', { ...base, rollout_percentage: 150 }), 422, 'OTASIM_ERR_VALIDATION', /rollout_percentage/);
      expectError(await sendJson(url(), 'POST', '/api/admin/rollout/create', { ...base, rollout_percentage: '10' }), 422, 'OTASIM_ERR_VALIDATION', /rollout_percentage/);
      expectError(await sendJson(url(), 'POST', '/api/admin/rollout/create', { ...base, target_type: 'everyone' }), 422, 'OTASIM_ERR_VALIDATION', /target_type/);
      expectError(await sendJson(url(), 'POST', '/api/admin/rollout/create', [base]), 422, 'OTASIM_ERR_VALIDATION');
      expectError(await sendJson(url(), 'POST', '/api/admin/rollout/create', { ...base, target_type: 'specific' }), 422, 'OTASIM_ERR_VALIDATION', /device_ids or mac_addresses/);
      expectError(await sendJson(url(), 'POST', '/api/admin/rollout/create', { ...base, target_type: 'group', target_filter: { groups: [] } }), 422, 'OTASIM_ERR_VALIDATION', /groups/);
      const st = (b: object) => sendJson(url(), 'POST', '/api/device/d1/update-status', { device_id: 'd1', firmware_version: '1', status: 'success', ...b }, null);
      expectError(await st({ status: 'bogus' }), 422, 'OTASIM_ERR_VALIDATION', /status/);
      expectError(await st({ progress_percent: 101 }), 422, 'OTASIM_ERR_VALIDATION', /progress_percent/);
      expectError(await st({ progress_percent: 5.5 }), 422, 'OTASIM_ERR_VALIDATION', /progress_percent/);
      expectError(await st({ device_id: 'd2' }), 422, 'OTASIM_ERR_VALIDATION', /does not match/);
      expectError(await sendJson(url(), 'PATCH', '/api/admin/rollout/r', {}), 422, 'OTASIM_ERR_VALIDATION', /at least one field/);
      expectError(await sendJson(url(), 'PUT', '/api/admin/devices/d1/groups', { groups: 'a' }), 422, 'OTASIM_ERR_VALIDATION', /groups/);
    });

    it('an empty body where one is required is 422, a non-JSON content type is refused', async () => {
      expectError(await http(url(), 'POST', '/api/admin/rollout/create', { key: TEST_KEY }), 422, 'OTASIM_ERR_VALIDATION');
      const t = await http(url(), 'POST', '/api/admin/rollout/create', { headers: { 'content-type': 'text/plain' }, body: 'name=x', key: TEST_KEY });
      expect(t.status).toBeGreaterThanOrEqual(400);
      expect(t.status).toBeLessThan(500);
      expect(t.json.error.code).toMatch(/^OTASIM_ERR_/);
      const x = await http(url(), 'POST', '/api/admin/rollout/create', { headers: { 'content-type': 'application/xml' }, body: '<a/>', key: TEST_KEY });
      expectError(x, 415, 'OTASIM_ERR_UNSUPPORTED_MEDIA_TYPE');
    });

    it('a JSON body over 1 MiB is 413', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(1_100_000) });
      const r = await http(url(), 'POST', '/api/admin/rollout/create', { headers: { 'content-type': 'application/json' }, body: big, key: TEST_KEY });
      expectError(r, 413, 'OTASIM_ERR_BODY_TOO_LARGE');
    });
  });

  describe('versions, names and path traversal', () => {
    it('upload: traversal and bad slugs in version or device_model are 422 and write nothing', async () => {
      for (const q of ['version=../../etc/passwd&device_model=esp32', 'version=1.0.0&device_model=../esp32',
        'version=..&device_model=esp32', 'version=1.0%2F0&device_model=esp32', 'version=1 0&device_model=esp32',
        'version=&device_model=esp32', `version=${'9'.repeat(129)}&device_model=esp32`, 'device_model=esp32',
        'version=1.0.0', 'version=1.0.0&device_model=esp32&is_signed=maybe', 'version=1.0.0&device_model=esp32&extra=1']) {
        const r = await http(url(), 'POST', `/api/admin/firmware/upload?${q}`, { body: fileForm(image('1.0.0')), key: TEST_KEY });
        expectError(r, 422, 'OTASIM_ERR_VALIDATION');
      }
      const rel = await http(url(), 'GET', '/api/admin/firmware/releases', { key: TEST_KEY });
      expect(rel.json.releases).toHaveLength(1);
    });

    it('download: traversal and bad versions are 422; an unknown version is 404', async () => {
      for (const p of ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e', '.%2E', 'a%00b', 'x'.repeat(129)]) {
        // A raw path: a URL parser would resolve the dot segments before the server saw them.
        expectError(await rawGet(url(), `/api/firmware/download/${p}`), 422, 'OTASIM_ERR_VALIDATION');
      }
      expectError(await rawGet(url(), `/api/firmware/download/${'x'.repeat(300)}`), 414, 'OTASIM_ERR_URI_TOO_LONG');
      expectError(await rawGet(url(), '/api/firmware/download/%E0%A4%A'), 400, 'OTASIM_ERR_BAD_REQUEST');
      expectError(await http(url(), 'GET', '/api/firmware/download/1.0.0?device_model=../x'), 422, 'OTASIM_ERR_VALIDATION');
      expectError(await http(url(), 'GET', '/api/firmware/download/9.9.9'), 404, 'OTASIM_ERR_NOT_FOUND', /9\.9\.9/);
      expectError(await http(url(), 'GET', '/api/firmware/download/1.0.0?device_model=esp32s3'), 404, 'OTASIM_ERR_NOT_FOUND');
      // `/../` is normalised away by nobody: it is simply not a route.
      expect((await http(url(), 'GET', '/api/firmware/download/../../etc/passwd')).status).toBe(404);
    });

    it('check: missing or bad parameters are 422', async () => {
      for (const q of ['', 'device_id=a&device_model=esp32', 'device_id=a&current_version=1', 'device_id=a/b&device_model=esp32&current_version=1',
        'device_id=a&device_model=../x&current_version=1', 'device_id=a&device_model=esp32&current_version=1&x=y',
        'device_id=a&device_id=b&device_model=esp32&current_version=1']) {
        expectError(await http(url(), 'GET', `/api/firmware/check?${q}`), 422, 'OTASIM_ERR_VALIDATION');
      }
    });

    it('rollout names and firmware versions must be slugs', async () => {
      for (const b of [{ name: 'a/b' }, { name: '..' }, { firmware_version: '../1' }, { device_model: 'esp 32' }]) {
        const r = await sendJson(url(), 'POST', '/api/admin/rollout/create', { name: 'ok', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'all', ...b });
        expectError(r, 422, 'OTASIM_ERR_VALIDATION');
      }
    });

    it('list limits out of range are 422', async () => {
      for (const p of ['/api/admin/devices?limit=0', '/api/admin/devices?limit=abc', '/api/admin/devices?limit=10001',
        '/api/admin/update-status?limit=-1', '/api/admin/firmware/releases?limit=101', '/api/admin/rollouts?active=maybe']) {
        expectError(await http(url(), 'GET', p, { key: TEST_KEY }), 422, 'OTASIM_ERR_VALIDATION');
      }
    });
  });

  describe('uploads', () => {
    it('an upload over the size limit is 413 and stores nothing', async () => {
      const r = await upload(url(), '2.0.0', 'esp32', image('2.0.0', 'esp32', LIMIT + 64 * 1024));
      expectError(r, 413, 'OTASIM_ERR_UPLOAD_TOO_LARGE');
      expect((await http(url(), 'GET', '/api/firmware/download/2.0.0')).status).toBe(404);
    });

    it('bytes that are not an ESP32 app image are 422 OTASIM_ERR_INVALID_FIRMWARE naming the ESP-IDF error', async () => {
      const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(4000)]);
      for (const bytes of [randomBytes(4096), png, Buffer.from('hello'), image('2.0.1').slice(0, 1000)]) {
        const r = await upload(url(), '2.0.1', 'esp32', bytes);
        expectError(r, 422, 'OTASIM_ERR_INVALID_FIRMWARE', /not an app image for esp32.*ESP_/);
      }
      const corrupted = image('2.0.1');
      corrupted[5000] = (corrupted[5000] ?? 0) ^ 0xff;
      expectError(await upload(url(), '2.0.1', 'esp32', corrupted), 422, 'OTASIM_ERR_INVALID_FIRMWARE');
    });

    it('an image for another chip is 422, both ways', async () => {
      expectError(await upload(url(), '2.0.2', 'esp32', image('2.0.2', 'esp32s3')), 422, 'OTASIM_ERR_INVALID_FIRMWARE', /esp32/);
      expectError(await upload(url(), '2.0.2', 'esp32-s3', image('2.0.2', 'esp32')), 422, 'OTASIM_ERR_INVALID_FIRMWARE', /esp32s3/);
      expectError(await upload(url(), '2.0.2', 'esp32-c3', image('2.0.2', 'esp32s3')), 422, 'OTASIM_ERR_INVALID_FIRMWARE', /esp32c3/);
      expect((await upload(url(), '2.0.2', 'lilygo-t-display-s3', image('2.0.2', 'esp32s3'))).status).toBe(200);
    });

    it('the app-desc version must equal the upload\'s version', async () => {
      expectError(await upload(url(), '2.0.3', 'esp32', image('2.0.4')), 422, 'OTASIM_ERR_INVALID_FIRMWARE', /"2\.0\.4".*version="2\.0\.3"/);
    });

    it('an ESP8266 model is refused as unsupported', async () => {
      expectError(await upload(url(), '2.0.5', 'esp8266-wired-sensors', image('2.0.5')), 422, 'OTASIM_ERR_UNSUPPORTED_MODEL', /esp8266/);
    });

    it('a duplicate (version, device_model) is 409 and the first release\'s bytes are untouched', async () => {
      const first = await http(url(), 'GET', '/api/firmware/download/1.0.0?device_model=esp32');
      const again = image('1.0.0', 'esp32', 96 * 1024); // same version, different bytes
      expectError(await upload(url(), '1.0.0', 'esp32', again), 409, 'OTASIM_ERR_DUPLICATE_RELEASE', /already exists/);
      const after = await http(url(), 'GET', '/api/firmware/download/1.0.0?device_model=esp32');
      expect(after.bytes.equals(first.bytes)).toBe(true);
      expect(after.headers['x-checksum-sha256']).toBe(first.headers['x-checksum-sha256']);
      // The same version for another model is a different release.
      expect((await upload(url(), '1.0.0', 'esp32-s3', image('1.0.0', 'esp32s3'))).status).toBe(200);
    });

    it('not multipart is 415; a missing, renamed or empty file part is 422', async () => {
      const q = '/api/admin/firmware/upload?version=2.0.6&device_model=esp32';
      expectError(await http(url(), 'POST', q, { headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(image('2.0.6')), key: TEST_KEY }), 415, 'OTASIM_ERR_UNSUPPORTED_MEDIA_TYPE');
      expectError(await http(url(), 'POST', q, { key: TEST_KEY }), 415, 'OTASIM_ERR_UNSUPPORTED_MEDIA_TYPE');
      expectError(await http(url(), 'POST', q, { body: fileForm(image('2.0.6'), 'firmware'), key: TEST_KEY }), 422, 'OTASIM_ERR_VALIDATION', /"file"/);
      expectError(await http(url(), 'POST', q, { body: fileForm(new Uint8Array(0)), key: TEST_KEY }), 422, 'OTASIM_ERR_INVALID_FIRMWARE', /empty/);
    });

    it.skipIf(!haveFixtures)('real Espressif binaries: the ESP-IDF hello_world uploads under its own version; no app desc is refused', async () => {
      const hello = fixture('app/idf-v5.2.2_esp32_hello_world.bin');
      expectError(await upload(url(), '1.0.9', 'esp32', hello), 422, 'OTASIM_ERR_INVALID_FIRMWARE', /v1\.4\.1-2-g0296947-dirty/);
      expect((await upload(url(), 'v1.4.1-2-g0296947-dirty', 'esp32', hello)).status).toBe(200);
      const s3 = fixture('app/idf-v5.2.2_esp32s3_hello_world.bin');
      expectError(await upload(url(), 'v1.4.1-2-g0296947-dirty', 'esp32', s3), 409, 'OTASIM_ERR_DUPLICATE_RELEASE');
      expectError(await upload(url(), 'v1.4.1-2-g0296947-dirty', 'esp32-c3', s3), 422, 'OTASIM_ERR_INVALID_FIRMWARE');
      expect((await upload(url(), 'v1.4.1-2-g0296947-dirty', 'esp32s3', s3)).status).toBe(200);
      const noDesc = fixture('app/espflash_esp32_esp-hal-blinky_no-app-desc.bin');
      expectError(await upload(url(), '3.0.0', 'esp32', noDesc), 422, 'OTASIM_ERR_INVALID_FIRMWARE', /esp_app_desc_t/);
    });
  });

  describe('unknown things', () => {
    it('duplicate rollout names are 409; unknown rollouts and devices are 404', async () => {
      const r = { name: 'dup', firmware_version: '1.0.0', device_model: 'esp32', target_type: 'all' };
      expect((await sendJson(url(), 'POST', '/api/admin/rollout/create', r)).status).toBe(200);
      expectError(await sendJson(url(), 'POST', '/api/admin/rollout/create', r), 409, 'OTASIM_ERR_DUPLICATE_ROLLOUT');
      expectError(await sendJson(url(), 'PATCH', '/api/admin/rollout/nope', { rollout_percentage: 5 }), 404, 'OTASIM_ERR_NOT_FOUND', /nope/);
      expectError(await http(url(), 'POST', '/api/admin/rollout/999999/deactivate', { key: TEST_KEY }), 404, 'OTASIM_ERR_NOT_FOUND');
      expectError(await sendJson(url(), 'PUT', '/api/admin/devices/ghost/groups', { groups: ['a'] }), 404, 'OTASIM_ERR_NOT_FOUND');
    });

    it('unknown routes and methods are 404 with the error body', async () => {
      expectError(await http(url(), 'GET', '/api/nothing'), 404, 'OTASIM_ERR_NOT_FOUND');
      expectError(await http(url(), 'DELETE', '/health'), 404, 'OTASIM_ERR_NOT_FOUND');
    });
  });
});
