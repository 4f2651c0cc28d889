/**
 * Device tokens end to end: a server started with `deviceTokens: 'required'` and two virtual
 * devices. The one configured with its token (the admin route's answer) checks, downloads and
 * reports with `X-Device-Token` (and `X-Device-Id` on the download) and updates; the one without
 * gets 401 and reports the failure with its reason, still on its firmware.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, SERVER_START_MS, startServer, TEST_KEY, upload, type TestServer } from '../server/http-harness.js';
import { parseDeviceConfig } from '../../simulator/device/index.js';
import { ConfigError } from '../../protocol/errors.js';
import { deviceRow, rollout, served, startDevice, until, updates } from './e2e-kit.js';
import { image } from './runtime-kit.js';

const SECRET = 'device-token-test-secret-0123';
let s: TestServer;

beforeAll(async () => {
  s = await startServer({ topicPrefix: 'tok', deviceTokens: 'required', deviceTokenSecret: SECRET });
  expect((await upload(s.url, '2.0.0', 'esp32', image('2.0.0', { size: 64 * 1024 }))).status).toBe(200);
}, SERVER_START_MS);
afterAll(async () => { await s?.[Symbol.asyncDispose](); });

const tokenOf = async (id: string): Promise<string> => (await http(s.url, 'GET', `/api/admin/devices/${id}/token`, { key: TEST_KEY })).json.token as string;

describe('device tokens', () => {
  it('the device with its token updates; the one without gets 401 and reports why', async () => {
    const token = await tokenOf('tok-good');
    await using good = startDevice(s, { id: 'tok-good', config: { deviceToken: token, reportVia: 'both' } });
    await using bad = startDevice(s, { id: 'tok-bad', config: { reportVia: 'both' } });
    await until('both registered', async () => (await deviceRow(s, 'tok-good')) && deviceRow(s, 'tok-bad'));
    const refusedDownloads = await served(s, '/api/firmware/download/:version', 401);
    await rollout(s, 'tokens', '2.0.0', 'esp32', ['tok-good', 'tok-bad']);

    await until('tok-good on 2.0.0', () => deviceRow(s, 'tok-good', '2.0.0'));
    expect(good.rt.state.running?.version).toBe('2.0.0');
    // Its HTTP update-status reports were accepted (200), not refused.
    expect((await updates(s, 'tok-good')).some((u) => u.status === 'success' && u.firmware_version === '2.0.0')).toBe(true);
    expect(good.logs.some((l) => l.includes('update-status answered HTTP 401'))).toBe(false);

    const result = await until('tok-bad reports a failure', () => bad.published('result').find((r) => r.success === false));
    expect(result).toMatchObject({ reason: 'http_status', target_version: '2.0.0', current_version: '1.0.0' });
    expect(String(result.detail)).toContain('401');
    expect(bad.rt.state.running?.version).toBe('1.0.0');
    expect(await served(s, '/api/firmware/download/:version', 401)).toBeGreaterThan(refusedDownloads);
    // Its HTTP report of that failure is refused too: the server has only the MQTT one.
    await until('tok-bad update-status refused', () => bad.logs.some((l) => l.includes('update-status answered HTTP 401')));
  }, 120_000);

  it('a token is text the header can carry', () => {
    const base = { deviceId: 'd1', mac: 'AA:BB:CC:00:00:01' };
    expect(parseDeviceConfig({ ...base, deviceToken: 'abc_-XYZ' }).deviceToken).toBe('abc_-XYZ');
    for (const bad of ['', 'with space', 'line\nbreak']) expect(() => parseDeviceConfig({ ...base, deviceToken: bad })).toThrow(ConfigError);
    expect(parseDeviceConfig(base).deviceToken).toBeUndefined();
  });
});
