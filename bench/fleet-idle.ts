/**
 * Benchmark 3 (issue 5): idle hold. N devices of `otasim fleet` in memory mode (in-process aedes over
 * in-memory duplex streams, no sockets) connect, publish their retained status and subscribe to
 * `cmd/ota`, then sit idle. The figure is the process's RSS growth per device once all are
 * subscribed, after a full GC, against the RSS of the same process with the broker up and no
 * device (measured first, same run). Goal: ≤ 12 KiB per device.
 *
 * Run: `node --expose-gc dist/bench/fleet-idle.js [devices]` (default 50,000; env
 * `OTASIM_BENCH_IDLE_DEVICES` overrides the default).
 */
import { Agent } from 'undici';
import { SystemClock } from '../protocol/clock.js';
import { EmbeddedBroker } from '../server/broker/index.js';
import { Fleet } from '../simulator/fleet/index.js';

const GOAL_KIB = 12;
const devices = Number(process.argv[2] ?? process.env['OTASIM_BENCH_IDLE_DEVICES'] ?? 50_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const settledRss = (): number => {
  gc();
  gc();
  return process.memoryUsage().rss;
};

const broker = await EmbeddedBroker.create({});
const clock = new SystemClock();
const agent = new Agent();
const before = settledRss();
let subacks = 0;
let done!: () => void;
const all = new Promise<void>((r) => { done = r; });
const t0 = performance.now();
const fleet = Fleet.create({
  devices, prefix: 'idle', serverUrl: 'http://127.0.0.1:9', clock, http: agent, rampPerSecond: 1e9, deviceConfig: { bootMs: 0 },
  mqtt: async (o) => {
    const c = await broker.clientFactory(o);
    c.once('packetreceive', function onPacket(p) {
      if (p.cmd !== 'suback') {
        c.once('packetreceive', onPacket);
        return;
      }
      if (++subacks === devices) done();
    });
    return c;
  },
});
await all;
const ms = performance.now() - t0;
// Let the last publishes and retained stores finish before measuring.
await new Promise((r) => setTimeout(r, 500));
const after = settledRss();
const heap = process.memoryUsage();
const perKiB = (after - before) / devices / 1024;
const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
process.stdout.write(
  `fleet-idle: ${devices} devices idle in memory mode (connected in ${Math.round(ms)} ms; ${broker.connectedClients} broker clients; `
  + `${fleet.counts().idle} idle): RSS ${mib(before)} → ${mib(after)} MiB (heap used ${mib(heap.heapUsed)}, heap total ${mib(heap.heapTotal)}, external ${mib(heap.external)} MiB): `
  + `${perKiB.toFixed(1)} KiB/device (goal ≤ ${GOAL_KIB} KiB) ${perKiB <= GOAL_KIB ? 'MET' : 'NOT MET'}\n`,
);
await fleet.stop();
clock.close();
await agent.close();
await broker.close();
process.exit(0);
