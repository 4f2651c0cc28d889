/**
 * The server does not command a version a device already has: one it announces, or one it reported
 * `success` for since it last announced itself. Regression: a paku-core device reports success
 * before its restart and announces the new version only after it; a rollout created in that window
 * commanded it again, and it flashed the same image a second time (after a broker outage or a
 * server restart the same repeat came back as a `not_newer` failure from esp-idf devices).
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endClient } from '../../server/broker/index.js';
import { hasVersion } from '../../server/rollout/offer.js';
import { pushTargets } from '../../server/index.js';
import { http, image, SERVER_START_MS, sendJson, startServer, upload, type TestServer } from './http-harness.js';

let s: TestServer;
const clients: MqttClient[] = [];
beforeAll(async () => {
  s = await startServer({ topicPrefix: 'push' });
  expect((await upload(s.url, '2.0.0', 'esp32', image('2.0.0'))).status).toBe(200);
}, SERVER_START_MS);
afterAll(async () => {
  for (const c of clients) await endClient(c, true);
  await s?.[Symbol.asyncDispose]();
});

/** Poll an async condition every 10 ms (bounded by the test timeout). */
async function until(pred: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await pred())) await new Promise((r) => setTimeout(r, 10));
}

/** A device on MQTT: announces itself, counts the commands it gets, can publish a result. */
async function device(id: string): Promise<{ commands: string[]; announce(v: string): Promise<void>; succeed(v: string): Promise<void> }> {
  const commands: string[] = [];
  const t = (leaf: string): string => `push/edge/${id}/${leaf}`;
  const c = await s.server.mqttClientFactory({ clientId: id, clean: true, reconnectPeriod: 0 }, (fresh) => fresh.on('message', (topic, p) => {
    if (topic === t('cmd/ota')) commands.push(p.toString());
  }));
  clients.push(c);
  await c.subscribeAsync(t('cmd/ota'), { qos: 0 });
  return {
    commands,
    announce: async (v) => { await c.publishAsync(t('status'), JSON.stringify({ online: true, device_id: id, device_model: 'esp32', firmware_version: v }), { qos: 1, retain: true }); },
    succeed: async (v) => {
      await c.publishAsync(t('ota/status'), JSON.stringify({ timestamp: '', status: 'accepted', current_version: '1.0.0', target_version: v }), { qos: 1 });
      await c.publishAsync(t('ota/result'), JSON.stringify({ timestamp: '', current_version: '1.0.0', target_version: v, success: true, result_code: 0, message: 'Success' }), { qos: 1 });
    },
  };
}

describe('push targets', () => {
  it('hasVersion: the announced version, or a success newer than the last announcement', () => {
    const seen = new Date(Date.UTC(2026, 0, 1, 0, 0, 10));
    const d = { device_id: 'd', device_model: 'esp32', current_firmware_version: '1.0.0', last_seen: seen };
    expect(hasVersion({ ...d, current_firmware_version: '2.0.0' }, '2.0.0', undefined)).toBe(true);
    expect(hasVersion(d, '2.0.0', undefined)).toBe(false);
    expect(hasVersion(d, '2.0.0', new Date(seen.getTime() + 1))).toBe(true);
    // Announced 1.0.0 after its success: the bootloader rolled it back, or it was downgraded since.
    expect(hasVersion(d, '2.0.0', new Date(seen.getTime() - 1))).toBe(false);
    expect(hasVersion({ ...d, last_seen: null }, '2.0.0', seen)).toBe(true);
  });

  it('a device that reported success but has not announced the version yet gets no command; the others do', async () => {
    const done = await device('push-done');
    const todo = await device('push-todo');
    const back = await device('push-back');
    for (const d of [done, todo, back]) await d.announce('1.0.0');
    await until(async () => (await s.server.store.devicesOfModel('esp32')).length === 3);
    await done.succeed('2.0.0');
    await back.succeed('2.0.0');
    await new Promise((r) => setTimeout(r, 20));
    await back.announce('1.0.0'); // after its success: it runs 1.0.0 again
    await until(async () => (await s.server.store.latestReports('2.0.0', new Date(0))).filter((r) => r.status === 'success').length === 2);
    await until(async () => {
      const row = (await s.server.store.devicesOfModel('esp32')).find((d) => d.device_id === 'push-back');
      const report = (await s.server.store.latestReports('2.0.0', new Date(0))).find((r) => r.device_id === 'push-back');
      return row?.last_seen !== null && row !== undefined && report !== undefined && row.last_seen.getTime() > report.reported_at.getTime();
    });

    const r = await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'push-all', firmware_version: '2.0.0', device_model: 'esp32', target_type: 'all' });
    expect(r.status).toBe(200);
    const rollout = await s.server.store.getRollout('push-all');
    expect((await pushTargets(s.server.store, rollout!, s.server.config)).deviceIds.sort()).toEqual(['push-back', 'push-todo']);
    await until(() => todo.commands.length === 1 && back.commands.length === 1);
    await new Promise((res) => setTimeout(res, 50));
    expect(done.commands).toHaveLength(0);
    expect((await http(s.url, 'GET', '/health')).status).toBe(200);
  }, 60_000);
});
