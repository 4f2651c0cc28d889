/**
 * One full-OTA fleet run for benchmarks 1 and 4 (issue 5), in its own process so its RSS is its own:
 * an embedded OTA server (PGlite, aedes), N devices over the memory transport, one `all` rollout of
 * an image of `imageBytes`, until every device has an outcome. Each device streams the whole image
 * through the fleet's one dispatcher (64 downloads at once), SHA-256s it in its emulated chip,
 * reboots into it and confirms it. The firmware's own waits are cut to tens of ms (boot 10, self
 * test 20, reboot delay 20) so the figure is the harness's work, not the emulated sleeps.
 *
 * Prints one JSON line: `{ devices, imageBytes, connectMs, otaMs, success, bytes, peakRssMiB, rssMiB }`.
 * Run: `node dist/bench/fleet-ota-run.js <devices> <imageBytes>`.
 */
import { Agent } from 'undici';
import { SystemClock } from '../protocol/clock.js';
import { Fleet } from '../simulator/fleet/index.js';
import { registered, rolloutAll, startEmbeddedServer, uploadBuilt } from '../simulator/fleet/embedded.js';

const devices = Number(process.argv[2] ?? 2000);
const imageBytes = Number(process.argv[3] ?? 1024 * 1024);

let peak = 0;
const sample = (): void => {
  peak = Math.max(peak, process.memoryUsage.rss());
};
const sampler = setInterval(sample, 100);

await using s = await startEmbeddedServer({ topicPrefix: 'bench' });
await uploadBuilt(s, 'esp32', 'esp32', '2.0.0', imageBytes);
const clock = new SystemClock();
const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });
const t0 = performance.now();
const fleet = Fleet.create({
  devices, prefix: 'ota', seed: 1, serverUrl: s.url, clock, http: agent, downloads: 64, rampPerSecond: 1e9,
  mqtt: (o) => s.server.mqttClientFactory(o),
  deviceConfig: { topicPrefix: 'bench', bootMs: 10, selfTestMs: 20, rebootDelayMs: 20 },
});
await fleet.all('idle');
await registered(s, 'esp32', devices, 50);
const t1 = performance.now();
await rolloutAll(s, 'esp32', '2.0.0');
await fleet.settled();
const t2 = performance.now();
sample();
clearInterval(sampler);
const sum = fleet.summary('done');
const mib = (b: number): number => Math.round(b / 2 ** 20);
process.stdout.write(`${JSON.stringify({
  devices, imageBytes, connectMs: Math.round(t1 - t0), otaMs: Math.round(t2 - t1), success: sum.counts.success, bytes: sum.bytes,
  errors: sum.errors, peakRssMiB: mib(peak), rssMiB: mib(process.memoryUsage.rss()),
})}\n`);
await fleet.stop();
clock.close();
await agent.close();
