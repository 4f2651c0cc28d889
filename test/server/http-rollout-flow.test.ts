/**
 * The device side of the API, end to end over HTTP: devices register on check, rollouts decide
 * what they are offered (specific by id or MAC, canary %, all, groups OR'd with a %), raising a
 * canary by PATCH keeps its first devices, deactivation stops offers, status reports move the
 * device's version, and /metrics shows fleet, outcomes and rollout progress.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetedDevices } from '../../server/rollout/targeting.js';
import { http, image, sendJson, startServer, TEST_KEY, upload, type TestServer, SERVER_START_MS } from './http-harness.js';

const check = (s: TestServer, id: string, version: string, model = 'esp32') =>
  http(s.url, 'GET', `/api/firmware/check?device_id=${id}&device_model=${model}&current_version=${version}`);
const offered = async (s: TestServer, ids: string[], version: string): Promise<string[]> => {
  const out: string[] = [];
  for (const id of ids) if ((await check(s, id, version)).json.update_available) out.push(id);
  return out;
};
const fleet = Array.from({ length: 200 }, (_, i) => `ESP32-${(0x20e95500 + i).toString(16).toUpperCase()}`);
const metric = (text: string, line: string): number | undefined => {
  const m = new RegExp(`^${line.replace(/[{}"\\[\]().*+?^$|]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
};

describe('rollouts decide offers; devices report back', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
    expect((await upload(s.url, '1.1.0', 'esp32', image('1.1.0'), '&release_notes=first&min_version=1.0.0')).status).toBe(200);
    expect((await upload(s.url, '1.2.0', 'esp32', image('1.2.0'), '&release_notes=second')).status).toBe(200);
    for (const id of fleet) expect((await check(s, id, '1.0.0')).status).toBe(200);
  }, SERVER_START_MS);
  afterAll(async () => {
    await s?.[Symbol.asyncDispose]();
  });

  it('check registers devices and offers nothing without a rollout', async () => {
    const r = await check(s, fleet[0] as string, '1.0.0');
    expect(r.json).toMatchObject({ update_available: false, latest_version: '1.2.0', download_url: null });
    const devs = await http(s.url, 'GET', '/api/admin/devices?limit=1000', { key: TEST_KEY });
    expect(devs.json.devices).toHaveLength(fleet.length);
    expect(devs.json.devices[0]).toMatchObject({ device_model: 'esp32', current_firmware_version: '1.0.0', groups: [] });
  });

  it('a canary offers its version to its bucket; raising it by PATCH keeps the first devices', async () => {
    const c = await sendJson(s.url, 'POST', '/api/admin/rollout/create',
      { name: 'c', firmware_version: '1.1.0', device_model: 'esp32', target_type: 'canary', rollout_percentage: 10 });
    expect(c.status).toBe(200);
    const ten = await offered(s, fleet, '1.0.0');
    const expected10 = targetedDevices({ ...c.json.rollout }, fleet.map((id) => ({ device_id: id, device_model: 'esp32' })), s.server.config.bucketing).map((d) => d.device_id);
    expect(ten).toEqual(expected10);
    expect(ten.length).toBeGreaterThan(5);
    expect(ten.length).toBeLessThan(40);
    const offer = await check(s, ten[0] as string, '1.0.0');
    expect(offer.json).toMatchObject({
      update_available: true, latest_version: '1.1.0', download_url: '/api/firmware/download/1.1.0?device_model=esp32',
      release_notes: 'first', checksum_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(offer.json.size).toBe(offer.json.file_size);
    const dl = await http(s.url, 'GET', offer.json.download_url);
    expect(dl.headers['x-checksum-sha256']).toBe(offer.json.checksum_sha256);
    expect(dl.bytes.length).toBe(offer.json.file_size);

    expect((await sendJson(s.url, 'PATCH', '/api/admin/rollout/c', { rollout_percentage: 25 })).status).toBe(200);
    const twentyFive = await offered(s, fleet, '1.0.0');
    expect(twentyFive.length).toBeGreaterThan(ten.length);
    for (const id of ten) expect(twentyFive).toContain(id);
  });

  it('min_version: a device below it is not offered the release', async () => {
    const id = (await offered(s, fleet, '1.0.0'))[0] as string;
    expect((await check(s, id, '0.9.0')).json).toMatchObject({ update_available: false, latest_version: '1.1.0' });
    expect((await check(s, id, 'unknown')).json.update_available).toBe(false);
    expect((await check(s, id, '1.0.0')).json.update_available).toBe(true);
  });

  it('a device already on the rollout\'s version is not offered it again', async () => {
    const id = (await offered(s, fleet, '1.0.0'))[0] as string;
    expect((await check(s, id, '1.1.0')).json).toMatchObject({ update_available: false, latest_version: '1.1.0' });
    await check(s, id, '1.0.0');
  });

  it('specific: a MAC-only rollout skips devices whose MAC is unknown; by device id it reaches the device', async () => {
    const r = await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'mac', firmware_version: '1.2.0', device_model: 'esp32',
      target_type: 'specific', target_filter: { mac_addresses: ['AA:BB:CC:DD:EE:FF'] } });
    expect(r.status).toBe(200);
    const canary = new Set(await offered(s, fleet, '1.0.0'));
    const other = fleet.find((id) => !canary.has(id)) as string;
    expect((await check(s, other, '1.0.0')).json.update_available).toBe(false);
    const byId = await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'lab', firmware_version: '1.2.0', device_model: 'esp32',
      target_type: 'specific', target_filter: { device_ids: [other] } });
    expect(byId.status).toBe(200);
    expect((await check(s, other, '1.0.0')).json).toMatchObject({ update_available: true, latest_version: '1.2.0' });
  });

  it('groups set through the API target with OR, then the percentage', async () => {
    const [a, b, c] = fleet.slice(150, 153) as [string, string, string];
    for (const [id, groups] of [[a, ['location:warehouse']], [b, ['function:sensor', 'env:prod']], [c, ['env:prod']]] as const) {
      const r = await sendJson(s.url, 'PUT', `/api/admin/devices/${id}/groups`, { groups });
      expect(r.status).toBe(200);
      expect(r.json.device.groups).toEqual(groups);
    }
    const g = await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'g', firmware_version: '1.2.0', device_model: 'esp32',
      target_type: 'group', target_filter: { groups: ['location:warehouse', 'function:sensor'] }, rollout_percentage: 100 });
    expect(g.status).toBe(200);
    expect((await check(s, a, '1.0.0')).json).toMatchObject({ update_available: true, latest_version: '1.2.0' });
    expect((await check(s, b, '1.0.0')).json).toMatchObject({ update_available: true, latest_version: '1.2.0' });
    const cOffer = (await check(s, c, '1.0.0')).json;
    expect(cOffer.update_available && cOffer.latest_version === '1.2.0').toBe(false);
    expect((await sendJson(s.url, 'PATCH', '/api/admin/rollout/g', { rollout_percentage: 0 })).status).toBe(200);
    const after = (await check(s, a, '1.0.0')).json;
    expect(after.update_available && after.latest_version === '1.2.0').toBe(false);
  });

  it('deactivating by id or by name stops the offers', async () => {
    const list = await http(s.url, 'GET', '/api/admin/rollouts?active=true', { key: TEST_KEY });
    const c = list.json.rollouts.find((r: { name: string }) => r.name === 'c');
    const some = (await offered(s, fleet.slice(0, 100), '1.0.0'));
    expect(some.length).toBeGreaterThan(0);
    expect((await http(s.url, 'POST', `/api/admin/rollout/${c.id}/deactivate`, { key: TEST_KEY })).json.rollout.is_active).toBe(false);
    expect((await http(s.url, 'POST', '/api/admin/rollout/lab/deactivate', { key: TEST_KEY })).json.rollout).toMatchObject({ name: 'lab', is_active: false });
    expect(await offered(s, fleet.slice(0, 100), '1.0.0')).toEqual([]);
    const inactive = await http(s.url, 'GET', '/api/admin/rollouts?active=false', { key: TEST_KEY });
    expect(inactive.json.rollouts.map((r: { name: string }) => r.name).sort()).toEqual(['c', 'lab']);
  });

  it('status reports are stored, filtered, and success moves the device version', async () => {
    const id = fleet[3] as string;
    const report = (status: string, extra: object = {}) => sendJson(s.url, 'POST', `/api/device/${id}/update-status`,
      { device_id: id, firmware_version: '1.1.0', status, ...extra }, null);
    for (const [st, p] of [['downloading', 0], ['downloading', 50], ['installing', 100]] as const) {
      const r = await report(st, { progress_percent: p });
      expect(r.json).toEqual({ status: 'ok', message: 'Status reported successfully' });
    }
    expect((await report('success', { progress_percent: 100 })).status).toBe(200);
    const other = fleet[4] as string;
    expect((await sendJson(s.url, 'POST', `/api/device/${other}/update-status`,
      { device_id: other, firmware_version: '1.1.0', status: 'failed', error_message: 'Verification failed' }, null)).status).toBe(200);

    const mine = await http(s.url, 'GET', `/api/admin/update-status?device_id=${id}`, { key: TEST_KEY });
    expect(mine.json.updates.map((u: { status: string }) => u.status)).toEqual(['success', 'installing', 'downloading', 'downloading']);
    expect(mine.json.updates[0].completed_at).not.toBeNull();
    expect(mine.json.updates[3].started_at).not.toBeNull();
    const failed = await http(s.url, 'GET', '/api/admin/update-status?firmware_version=1.1.0&limit=1', { key: TEST_KEY });
    expect(failed.json.updates).toEqual([expect.objectContaining({ device_id: other, status: 'failed', error_message: 'Verification failed' })]);
    const devs = await http(s.url, 'GET', '/api/admin/devices?limit=1000', { key: TEST_KEY });
    expect(devs.json.devices.find((d: { device_id: string }) => d.device_id === id).current_firmware_version).toBe('1.1.0');
  });

  it('/metrics: devices by version, outcomes, rollout progress, HTTP latency; JSON on request', async () => {
    const m = await http(s.url, 'GET', '/metrics');
    expect(metric(m.text, 'otasim_devices')).toBe(fleet.length);
    expect(metric(m.text, 'otasim_devices_by_version{version="1.1.0"}')).toBe(1);
    expect(metric(m.text, 'otasim_devices_by_version{version="1.0.0"}')).toBeGreaterThan(100);
    expect(metric(m.text, 'otasim_update_status_24h{status="success"}')).toBe(1);
    expect(metric(m.text, 'otasim_update_status_24h{status="failed"}')).toBe(1);
    expect(metric(m.text, 'otasim_update_reports_total{status="downloading",source="http"}')).toBe(2);
    expect(metric(m.text, 'otasim_active_rollouts')).toBe(2); // mac, g
    expect(metric(m.text, 'otasim_rollout_targeted_devices{rollout="g",firmware_version="1.2.0",device_model="esp32"}')).toBe(0);
    expect(m.text).toMatch(/^otasim_http_request_duration_seconds_count\{method="GET",route="\/api\/firmware\/check",status_code="200"\} \d+$/m);
    const j = await http(s.url, 'GET', '/metrics', { headers: { accept: 'application/json' } });
    expect(j.json).toMatchObject({ total_devices: fleet.length, devices_by_model: { esp32: fleet.length }, active_rollouts: 2 });
    expect(j.json.recent_updates_24h).toMatchObject({ success: 1, failed: 1 });
  });
});
