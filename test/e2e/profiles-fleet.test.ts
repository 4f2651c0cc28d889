/**
 * `runFleet({ protocol })`, what `otasim fleet --protocol` drives: a fleet against a server URL
 * that speaks paku-legacy. Only devices that subscribe to the legacy command topic and answer on
 * the legacy reply topics can finish the rollout, so the run proves the option reaches them.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_FLAGS } from '../../cli/commands/fleet.js';
import { PROTOCOL_PROFILES } from '../../protocol/topics.js';
import { runFleet, type FleetSummary } from '../../simulator/fleet/index.js';
import { registered, startEmbeddedServer, uploadBuilt, type EmbeddedServer } from '../../simulator/fleet/embedded.js';
import { sendJson } from '../server/http-harness.js';

const N = 16;
let s: EmbeddedServer;

beforeAll(async () => {
  s = await startEmbeddedServer({ mqttPort: 0, over: { protocol: 'paku-legacy' } });
  await uploadBuilt(s, 'esp32', 'esp32', '2.0.0', 32 * 1024);
}, 120_000);
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
});

describe('otasim fleet --protocol', () => {
  it('offers every profile, paku-edge by default', () => {
    expect(FLEET_FLAGS.protocol).toMatchObject({ default: 'paku-edge', choices: [...PROTOCOL_PROFILES] });
  });

  it('a paku-legacy fleet against a paku-legacy server completes a rollout', async () => {
    const stop = new AbortController();
    const run: Promise<FleetSummary> = runFleet({
      devices: N, server: s.url, broker: s.server.mqttUrl as string, protocol: 'paku-legacy', prefix: 'legacyfleet', rampPerSecond: 1000,
    }, { stderr: { write: () => {}, isTTY: false }, events: new PassThrough().resume(), signal: stop.signal, quiet: true });
    try {
      await registered(s, 'esp32', N, 50);
      const r = await sendJson(s.url, 'POST', '/api/admin/rollout/create',
        { name: 'all', firmware_version: '2.0.0', device_model: 'esp32', target_type: 'all' }, s.apiKey);
      expect(r.status).toBe(200);
      const onNew = async (): Promise<number> =>
        (await s.server.store.devicesOfModel('esp32')).filter((d) => d.current_firmware_version === '2.0.0').length;
      for (let i = 0; i < 2400 && await onNew() < N; i++) await new Promise((res) => setTimeout(res, 50));
      expect(await onNew()).toBe(N);
      expect((await s.server.store.listEvents({ event_type: 'update_completed', limit: 100 })).length).toBe(N);
    } finally {
      stop.abort();
    }
    const summary = await run;
    expect(summary.counts.success).toBe(N);
  }, 180_000);
});
