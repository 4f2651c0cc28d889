/**
 * Issue 4 "Bad input": every bad offer or download makes the device report a failure with a reason
 * code; it stays on its running firmware, and nothing throws.
 */
import { describe, expect, it } from 'vitest';
import { FAILURE_REASONS, failureInfo } from '../../simulator/device/index.js';
import { Loopback, fileServer, image, sha256, type LoopbackOptions, type Server } from './loopback.js';

const IMG = image('1.1.0');
const files = {
  '/fw/1.1.0': IMG,
  '/fw/big': image('1.1.0', { size: 300_000 }),
  '/fw/c3': image('1.1.0', { chip: 'esp32c3' }),
  '/fw/1.2.0': image('1.2.0'),
  '/fw/sv1': image('1.1.0', { secureVersion: 1 }),
  '/fw/sv2': image('1.1.0', { secureVersion: 2 }),
};
const html = new TextEncoder().encode(`<!doctype html><html><body>${'<p>Login required</p>'.repeat(200)}</body></html>`);
const shortImage = IMG.slice(0, 700);
const noDesc = (() => {
  const b = IMG.slice(0, 4000);
  b[0x20] = 0; // breaks the esp_app_desc_t magic word
  return b;
})();

const serve = (extra: Record<string, { status: number; body?: Uint8Array; contentLength?: number | null; contentType?: string }>): Server => {
  const base = fileServer(files);
  return (req) => extra[req.url] ?? base(req);
};
const server = serve({
  '/html': { status: 200, body: html, contentType: 'text/html' },
  '/short': { status: 200, body: shortImage },
  '/nodesc': { status: 200, body: noDesc },
  '/chunked': { status: 200, body: IMG, contentLength: null },
  '/empty': { status: 200, body: new Uint8Array(0) },
  '/lying': { status: 200, body: IMG, contentLength: IMG.length + 10_000 },
  '/500': { status: 500, body: new TextEncoder().encode('oops') },
});

interface Case {
  readonly name: string;
  readonly offer: object | string;
  readonly reason: keyof typeof FAILURE_REASONS;
  readonly target?: string;
  readonly options?: LoopbackOptions;
  /** A download started (then a `Failed` progress precedes the result). */
  readonly downloaded?: boolean;
  /** A good offer for this device, to show it still updates afterwards. Default: /fw/1.1.0. */
  readonly recovery?: object;
}

const ok = { version: '1.1.0', checksum: sha256(IMG) };

const CASES: readonly Case[] = [
  { name: 'payload that is not JSON', offer: '{"url": "/fw/1.1.0", ', reason: 'offer_malformed', target: 'unknown' },
  { name: 'JSON that is not an object', offer: '[1, 2]', reason: 'offer_malformed', target: 'unknown' },
  { name: 'no url', offer: { version: '1.1.0' }, reason: 'offer_malformed' },
  { name: 'an empty url', offer: { url: '', version: '1.1.0' }, reason: 'offer_malformed' },
  { name: 'a url that is a number', offer: { url: 42, version: '1.1.0' }, reason: 'offer_malformed' },
  { name: 'a checksum that is not 64 hex', offer: { url: '/fw/1.1.0', version: '1.1.0', checksum: 'abc' }, reason: 'offer_malformed' },
  { name: 'a 300-character version', offer: { url: '/fw/1.1.0', version: 'v'.repeat(300) }, reason: 'offer_malformed', target: 'unknown' },
  { name: 'an offer naming another model', offer: { url: '/fw/1.1.0', ...ok, device_model: 'esp32s3' }, reason: 'model_mismatch' },
  { name: 'a download url for another model', offer: { url: '/fw/1.1.0?device_model=esp32-c3-mini', ...ok }, reason: 'model_mismatch' },
  // The running version itself is a job already done, not a failure: test/device/offer-running.test.ts.
  { name: 'an older version', offer: { url: '/fw/1.1.0', version: '0.9.9' }, reason: 'not_newer', target: '0.9.9' },
  { name: 'a 404', offer: { url: '/fw/missing', ...ok }, reason: 'http_status', downloaded: true },
  { name: 'a 500', offer: { url: '/500', ...ok }, reason: 'http_status', downloaded: true },
  { name: 'a download_url returning HTML', offer: { url: '/html', ...ok }, reason: 'not_an_image', downloaded: true },
  { name: 'no Content-Length (chunked)', offer: { url: '/chunked', ...ok }, reason: 'content_length', downloaded: true },
  { name: 'an empty body', offer: { url: '/empty', ...ok }, reason: 'content_length', downloaded: true },
  { name: 'a Content-Length larger than the body', offer: { url: '/lying', ...ok }, reason: 'content_length', downloaded: true },
  { name: 'a body shorter than the image header', offer: { url: '/short', version: '1.1.0' }, reason: 'image_truncated', downloaded: true },
  { name: 'an image without an app descriptor', offer: { url: '/nodesc', version: '1.1.0' }, reason: 'no_app_desc', downloaded: true },
  { name: 'an image too big for the slot', offer: { url: '/fw/big', version: '1.1.0' }, reason: 'image_too_big', downloaded: true },
  { name: 'an image for another chip', offer: { url: '/fw/c3', version: '1.1.0' }, reason: 'chip_mismatch', downloaded: true },
  { name: 'an image whose version is not the one offered', offer: { url: '/fw/1.2.0', version: '1.1.0' }, reason: 'version_mismatch', downloaded: true },
  { name: 'an image with a wrong checksum', offer: { url: '/fw/1.1.0', version: '1.1.0', checksum: sha256(files['/fw/1.2.0']) }, reason: 'checksum_mismatch', downloaded: true },
  {
    name: 'an image whose secure_version is below the eFuse', offer: { url: '/fw/sv1', version: '1.1.0' }, reason: 'secure_version', downloaded: true,
    options: { antiRollback: true, secureVersion: 2, efuseRaw: 0b11 }, recovery: { url: '/fw/sv2', version: '1.1.0' },
  },
];

describe('bad input: a failure with a reason code, and the device stays on its firmware', () => {
  it.each(CASES)('$name → $reason', (c) => {
    const d = new Loopback({ server, ...c.options }).start();
    const before = d.statusLog.length;
    expect(() => d.offer(c.offer)).not.toThrow();
    const said = d.statusLog.slice(before);
    const result = d.published.filter((p) => p.topic.endsWith('/ota/result')).map((p) => JSON.parse(p.payload) as Record<string, unknown>);
    expect(result).toHaveLength(1);
    const info = failureInfo(c.reason);
    expect(result[0]).toMatchObject({
      success: false, reason: c.reason, result_code: info.result, message: info.message, current_version: '1.0.0', target_version: c.target ?? '1.1.0',
    });
    if (info.esp !== null) expect(result[0]?.esp_err).toBeDefined();
    expect(said.at(-1)).toBe(`ota/result fail ${c.reason}`);
    expect(said.includes('ota/progress Downloading 0')).toBe(c.downloaded === true);
    expect(d.state.phase).toBe('idle');
    expect(d.state.nvs.pending).toBeNull();
    expect(d.running).toBe('ota_0:1.0.0');
    // Nothing was activated: a cold restart boots the old image, and the next good offer still works.
    d.pullPlug();
    d.run(10_000);
    expect(d.running).toBe('ota_0:1.0.0');
    d.offer(c.recovery ?? { url: '/fw/1.1.0', ...ok }, 60_000);
    expect(d.running).toBe('ota_1:1.1.0');
  });

  it('an offer arriving during an update is ignored, not queued, and the update completes', () => {
    const d = new Loopback({ server, profile: { faults: [{ kind: 'drop', at_byte: 10_000 }] } }).start();
    d.offer({ url: '/fw/1.1.0', ...ok }, 0); // cut at 10 kB → retry-wait
    expect(d.state.phase).toBe('retry-wait');
    d.offer({ url: '/fw/1.2.0', version: '1.2.0' }, 60_000);
    expect(d.lines.some((l) => l.includes('ignored: an update is already retry-wait'))).toBe(true);
    expect(d.running).toBe('ota_1:1.1.0');
  });
});
