/**
 * A download waiting for one of the fleet's download slots is not a stalled transfer. The slots
 * bound the simulation's load; a real device has no such queue, so its stall clock must not run
 * while it waits. Regression: with 10,000 devices offered an image at once and 64 slots, every
 * queued device gave up with `timeout` before its request was even sent.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SystemClock } from '../../protocol/clock.js';
import { composition, Fleet } from '../../simulator/fleet/index.js';
import { registered, rolloutAll, startEmbeddedServer, uploadBuilt, type EmbeddedServer } from '../../simulator/fleet/embedded.js';

const N = 6;
const IMAGE = 256 * 1024;
let s: EmbeddedServer;

beforeAll(async () => {
  s = await startEmbeddedServer({ topicPrefix: 'queue' });
  await uploadBuilt(s, 'esp32', 'esp32', '2.0.0', IMAGE);
}, 180_000);
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
});

it('devices queued behind one download slot for longer than the stall timeout still update', async () => {
  const clock = new SystemClock();
  const agent = new Agent({ connections: 8 });
  // Each body streams at 512 KiB/s (≈ 0.5 s per image); with one slot, the last device waits ≈ 2.5 s,
  // ten times the 250 ms stall timeout, while every transfer itself keeps flowing.
  const fleet = Fleet.create({
    devices: N, prefix: 'q', seed: 1, serverUrl: s.url, clock, http: agent, downloads: 1, rampPerSecond: 1000,
    mqtt: (o) => s.server.mqttClientFactory(o),
    composition: composition({ faults: [{ name: 'slow', weight: 1, profile: { faults: [{ kind: 'bandwidth', bytes_per_second: 512 * 1024 }] } }] }),
    deviceConfig: { topicPrefix: 'queue', bootMs: 10, selfTestMs: 20, rebootDelayMs: 20, downloadRetries: 0 },
    runtime: { stallTimeoutMs: 250 },
  });
  try {
    await fleet.all('idle');
    await registered(s, 'esp32', N, 50);
    await rolloutAll(s, 'esp32', '2.0.0');
    await fleet.settled();
    const sum = fleet.summary('done');
    expect(sum.errors).toEqual({});
    expect(sum.counts.success).toBe(N);
  } finally {
    await fleet.stop();
    clock.close();
    await agent.close();
  }
}, 300_000);
