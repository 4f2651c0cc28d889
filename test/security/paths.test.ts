/**
 * Path traversal and size limits (issue 9 "Security"): every name a request carries — version,
 * device_model and min_version of an upload, the multipart filename, the download path and its
 * model, device ids, rollout and plan names — is tried with `../`, its percent-encodings, an
 * absolute path and NUL. Each is refused with a 4xx error body, except the multipart filename,
 * which is never used: the upload is stored under its SHA-256 and nothing lands outside the
 * artifact store. Requests go out raw, so no client resolves the dot segments first.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type FormData } from 'undici';
import { fileForm, image, startServer, TEST_KEY, upload, SERVER_START_MS, type TestServer } from '../server/http-harness.js';

const LIMIT = 128 * 1024;

/** Traversal in its spellings: plain, percent-encoded (both cases, double), backslashes, absolute, NUL. */
const EVIL = ['..', '../x', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%2E%2E', '.%2e', '%252e%252e%252f',
  '..%5C..%5Cboot.ini', '%2Fetc%2Fpasswd', '/etc/passwd', 'C:%5Cwindows', 'a%00b', '%00', 'x%00.bin'];

let s: TestServer;
let client: Client;

/** One request exactly as written. */
async function raw(method: string, path: string, opts: { body?: string | FormData; headers?: Record<string, string> } = {}): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const r = await client.request({ method: method as 'GET', path, headers: { 'x-api-key': TEST_KEY, ...opts.headers }, ...(opts.body === undefined ? {} : { body: opts.body }) });
  const text = await r.body.text();
  return { status: r.statusCode, json: text === '' ? {} : JSON.parse(text) };
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(s.dir, join(e.parentPath, e.name)));
  }
  return out;
}

beforeAll(async () => {
  s = await startServer({ maxUploadBytes: LIMIT });
  client = new Client(s.url);
  expect((await upload(s.url, '1.0.0', 'esp32', image('1.0.0'))).status).toBe(200);
}, SERVER_START_MS);
afterAll(async () => {
  await client?.close();
  await s?.[Symbol.asyncDispose]();
});

function safeDecode(e: string): string {
  try {
    return decodeURIComponent(e);
  } catch {
    return e;
  }
}

function expect4xx(r: { status: number; json: { error?: { code: string } } }, where: string): void {
  expect(r.status, where).toBeGreaterThanOrEqual(400);
  expect(r.status, where).toBeLessThan(500);
  if (r.status !== 404) expect(r.json.error?.code, where).toMatch(/^OTASIM_ERR_/);
}

describe('every name in a request refuses traversal', () => {
  it('upload version, device_model and min_version', async () => {
    for (const e of EVIL) {
      for (const q of [`version=${e}&device_model=esp32`, `version=2.0.0&device_model=${e}`, `version=2.0.0&device_model=esp32&min_version=${e}`]) {
        const r = await raw('POST', `/api/admin/firmware/upload?${q}`, { body: fileForm(image('2.0.0')) });
        expect(r.status, q).toBe(422);
        expect(r.json.error?.code, q).toBe('OTASIM_ERR_VALIDATION');
      }
    }
  });

  it('download path and model, check and update-status device ids, rollout, plan and device-group names', async () => {
    const json = { 'content-type': 'application/json' };
    for (const e of EVIL) {
      const tries: Array<[string, string, string?]> = [
        ['GET', `/api/firmware/download/${e}`],
        ['GET', `/api/firmware/download/1.0.0?device_model=${e}`],
        ['GET', `/api/firmware/check?device_id=d1&device_model=${e}&current_version=1`],
        ['PATCH', `/api/admin/rollout/${e}`, JSON.stringify({ rollout_percentage: 5 })],
        ['POST', `/api/admin/rollout/${e}/deactivate`],
        ['PUT', `/api/admin/devices/${e}/groups`, JSON.stringify({ groups: ['a'] })],
        ['GET', `/api/admin/plans/${e}`],
      ];
      // Device ids are opaque keys and MQTT topic levels, never file names: only `/` and NUL are refused.
      if (safeDecode(e).includes('/') || safeDecode(e).includes('\u0000')) {
        tries.push(['GET', `/api/firmware/check?device_id=${e}&device_model=esp32&current_version=1`],
          ['POST', `/api/device/${e}/update-status`, JSON.stringify({ device_id: e, firmware_version: '1', status: 'success' })]);
      }
      for (const [method, path, body] of tries) {
        const r = await raw(method, path, body === undefined ? {} : { body, headers: json });
        // A name that is a valid slug but unknown is 404; anything else is 422 (or 400 for bad encoding).
        expect4xx(r, `${method} ${path}`);
        expect(r.status, `${method} ${path}`).not.toBe(200);
      }
    }
  });

  it('the multipart filename is never used: uploads with odd names are stored under their hash, nothing lands elsewhere', async () => {
    const before = await files(s.dir);
    const names = ['../../../../tmp/otasim-pwned.bin', '/etc/passwd', '..\\..\\boot.ini', 'a\u0000b.bin', '%2e%2e%2fx.bin'];
    for (const [i, name] of names.entries()) {
      const v = `5.0.${i}`;
      const r = await raw('POST', `/api/admin/firmware/upload?version=${v}&device_model=esp32`, { body: fileForm(image(v), 'file', name) });
      expect(r.status, name).toBe(200);
    }
    const added = (await files(s.dir)).filter((f) => !before.includes(f));
    // Only content-addressed artifacts (and the database's own files) appeared.
    for (const f of added) expect(f, f).toMatch(/^(artifacts\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}|db\/.*)$/);
    expect(added.filter((f) => f.startsWith('artifacts/'))).toHaveLength(names.length);
  });
});

describe('size limits', () => {
  it('an upload one byte over --max-upload-bytes is 413 JSON and stores nothing', async () => {
    const before = await files(join(s.dir, 'artifacts'));
    const big = new Uint8Array(LIMIT + 1);
    big.set(image('6.0.0'));
    const r = await raw('POST', '/api/admin/firmware/upload?version=6.0.0&device_model=esp32', { body: fileForm(big) });
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe('OTASIM_ERR_UPLOAD_TOO_LARGE');
    expect(await files(join(s.dir, 'artifacts'))).toEqual(before);
  });

  it('a JSON body over 1 MiB is 413 JSON on device and admin routes alike', async () => {
    const body = JSON.stringify({ device_id: 'd1', firmware_version: '1', status: 'success', error_message: 'x'.repeat(1_100_000) });
    for (const path of ['/api/device/d1/update-status', '/api/admin/rollout/create']) {
      const r = await raw('POST', path, { body, headers: { 'content-type': 'application/json' } });
      expect(r.status, path).toBe(413);
      expect(r.json.error?.code, path).toBe('OTASIM_ERR_BODY_TOO_LARGE');
    }
  });
});
