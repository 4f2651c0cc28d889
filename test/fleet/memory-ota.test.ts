/**
 * The memory transport at scale (issue 5 "Done when"): 2,000 devices reach an embedded server's
 * aedes through in-memory duplex streams (no MQTT sockets), register, are offered 2.0.0 by one
 * `all` rollout, download it through the fleet's one dispatcher, verify, reboot, self-test and
 * confirm. Every device must end on 2.0.0 in its chip, report success, and the server must hold it.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../protocol/clock.js';
import { Fleet, type FleetEvent } from '../../simulator/fleet/index.js';
import { registered, rolloutAll, startEmbeddedServer, uploadBuilt, type EmbeddedServer } from '../../simulator/fleet/embedded.js';

const N = 2000;
const IMAGE = 64 * 1024;
let s: EmbeddedServer;

beforeAll(async () => {
  s = await startEmbeddedServer({ topicPrefix: 'fleet' });
  await uploadBuilt(s, 'esp32', 'esp32', '2.0.0', IMAGE);
}, 180_000);
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
});

describe('fleet over the memory transport', () => {
  it(`${N} devices do a full OTA against an embedded server`, async () => {
    const clock = new SystemClock();
    const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });
    const events: FleetEvent[] = [];
    let connects = 0;
    const fleet = Fleet.create({
      devices: N, prefix: 'mem', seed: 5, serverUrl: s.url, clock, http: agent, downloads: 32, rampPerSecond: 4000,
      mqtt: (o) => {
        connects++;
        return s.server.mqttClientFactory(o);
      },
      deviceConfig: { topicPrefix: 'fleet', bootMs: 10, selfTestMs: 20, rebootDelayMs: 20 },
      onEvent: (e) => events.push(e),
    });
    try {
      await fleet.all('idle');
      await registered(s, 'esp32', N, 50);
      expect(s.server.broker?.connectedClients).toBeGreaterThanOrEqual(N);
      await rolloutAll(s, 'esp32', '2.0.0');
      await fleet.settled();
      const sum = fleet.summary('done');
      expect(sum.counts.success).toBe(N);
      expect(sum.started).toBe(N);
      expect(sum.updateMs.count).toBe(N);
      expect(sum.updateMs.p50).not.toBeNull();
      expect(sum.updateMs.p50!).toBeLessThanOrEqual(sum.updateMs.p95!);
      expect(sum.updateMs.p95!).toBeLessThanOrEqual(sum.updateMs.p99!);
      expect(sum.errors).toEqual({});
      expect(sum.bytes).toBeGreaterThanOrEqual(N * IMAGE);
      expect(connects).toBeGreaterThanOrEqual(2 * N); // once at power-on, once after the update's reboot
      // Every chip runs the new image from the other slot, confirmed.
      for (let i = 0; i < N; i++) {
        expect(fleet.runtime(i)?.state.running).toMatchObject({ version: '2.0.0', partition: 'app1', otaState: 'VALID' });
      }
      // The raw events: each device walked idle → downloading → installing → rebooting → verifying → success.
      const chain = events.filter((e) => e.type === 'state' && e.device === 'mem-000123').map((e) => (e as { to: string }).to);
      expect(chain).toEqual(['idle', 'downloading', 'installing', 'rebooting', 'verifying', 'success']);
      expect(events.filter((e) => e.type === 'state' && (e as { to: string }).to === 'success')).toHaveLength(N);
      // The server saw it too (its collector commits a device's report after the device sent it).
      const onV2 = async (): Promise<number> => (await s.server.store.devicesOfModel('esp32')).filter((r) => r.current_firmware_version === '2.0.0').length;
      for (let tries = 0; tries < 200 && await onV2() < N; tries++) await new Promise((r) => setTimeout(r, 50));
      expect(await onV2()).toBe(N);
    } finally {
      await fleet.stop();
      clock.close();
      await agent.close();
    }
  }, 600_000);
});
