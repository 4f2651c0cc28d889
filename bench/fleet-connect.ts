/**
 * Benchmark 2 (issue 5): connect + subscribe ramp of `otasim fleet` in memory mode — devices reach
 * an in-process aedes through in-memory duplex streams, keepalives on the one clock — against the
 * naive raw mqtt.js script (bench/fleet-naive-mqtt.ts, run first in its own process, same size).
 * A device counts when its SUBACK for `cmd/ota` arrives. Goal: ≥ 10× the baseline.
 *
 * Run: `node dist/bench/fleet-connect.js [devices]` (default 5,000).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import type { MqttClient } from 'mqtt';
import { SystemClock } from '../protocol/clock.js';
import { EmbeddedBroker } from '../server/broker/index.js';
import { Fleet } from '../simulator/fleet/index.js';

const GOAL = 10;
const devices = Number(process.argv[2] ?? 5000);
const here = dirname(fileURLToPath(import.meta.url));

const base = spawnSync(process.execPath, [join(here, 'fleet-naive-mqtt.js'), String(devices)], { encoding: 'utf8' });
if (base.status !== 0) {
  process.stdout.write(`fleet-connect: baseline failed: ${base.stderr.trim().split('\n').slice(-3).join(' | ')}\n`);
  process.exit(1);
}
const naive = JSON.parse(base.stdout.trim().split('\n').at(-1) as string) as { perSecond: number; ms: number; rssMiB: number };

const broker = await EmbeddedBroker.create({});
const clock = new SystemClock();
const agent = new Agent();
let subacks = 0;
let done!: () => void;
const all = new Promise<void>((r) => { done = r; });
const t0 = performance.now();
const fleet = Fleet.create({
  devices, prefix: 'bench', serverUrl: 'http://127.0.0.1:9', clock, http: agent, rampPerSecond: 1e9,
  deviceConfig: { bootMs: 0 },
  mqtt: async (o) => {
    const c: MqttClient = await broker.clientFactory(o);
    c.on('packetreceive', (p) => {
      if (p.cmd === 'suback' && ++subacks === devices) done();
    });
    return c;
  },
});
await all;
const ms = performance.now() - t0;
const perSecond = Math.round((devices * 1000) / ms);
const ratio = perSecond / naive.perSecond;
process.stdout.write(`fleet-connect: ${devices} devices connect+subscribe — memory fleet ${perSecond}/s (${Math.round(ms)} ms) vs naive mqtt.js over TCP ${naive.perSecond}/s (${naive.ms} ms): ${ratio.toFixed(1)}× (goal ≥ ${GOAL}×) ${ratio >= GOAL ? 'MET' : 'NOT MET'}\n`);
await fleet.stop();
clock.close();
await agent.close();
await broker.close();
process.exit(0);
