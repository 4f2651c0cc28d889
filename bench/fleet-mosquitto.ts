/**
 * Benchmark 5 (issue 5): a fleet against a real Mosquitto (MQTT_URL, default mqtt://127.0.0.1:1883).
 *
 * 1. Connect ramp: N devices (default 20,000) in W worker processes (default 4; each socket device
 *    holds one fd and a process may hold 20,000) connect, publish their status and subscribe to
 *    `cmd/ota`; the figure is devices per second from the first worker's ramp start until every
 *    device has its SUBACK. Goal ≥ 1,500/s.
 * 2. Full OTA: the same fleet again, an embedded OTA server (HTTP on 127.0.0.1, its collector and
 *    orchestrator on the same Mosquitto), one `all` rollout of a 64 KiB image, until every device
 *    has an outcome.
 *
 * Device MQTT sockets bind to several 127.x source addresses (each gives ≈28,000 ephemeral ports to
 * one broker port: loadtest-anchors N1). Ids and the topic prefix are unique per run, so a shared
 * broker's other clients are not disturbed. Mosquitto's own open-file limit caps its connections
 * (it needs one fd per client): the bench reads it from /proc when it can and reports the devices
 * that could not connect instead of waiting for them; a phase that does not complete within its
 * bound is reported as such.
 *
 * Run: `node dist/bench/fleet-mosquitto.js [devices] [workers]` (env OTASIM_BENCH_MOSQUITTO_DEVICES,
 * MQTT_URL). Prints one line per phase.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { runFleetWorkers, type WorkersSummary } from '../simulator/fleet/workers.js';

const GOAL = 1500;
const url = process.env['MQTT_URL'] ?? 'mqtt://127.0.0.1:1883';
const devices = Number(process.argv[2] ?? process.env['OTASIM_BENCH_MOSQUITTO_DEVICES'] ?? 20_000);
const workers = Number(process.argv[3] ?? 4);
const run = `m5${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const localAddresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The broker's pid (Linux, same user), its open-file limit and fds in use now; nulls where unreadable. */
function brokerFds(known: number | null = null): { pid: number | null; limit: number | null; open: number | null } {
  const port = Number(new URL(url).port || 1883);
  const of = (pid: number): { pid: number; limit: number | null; open: number } => {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return { pid, limit: m === null ? null : Number(m[1]), open: readdirSync(`/proc/${pid}/fd`).length };
  };
  try {
    if (known !== null) return of(known);
    // The process owning the listening socket on `port`: /proc/net/tcp gives its inode, /proc/*/fd the owner.
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set(readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '0A').map((f) => f[9]));
    for (const pid of numbers('/proc')) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      if (fds.some((fd) => inodes.has(readlink(`/proc/${pid}/fd/${fd}`)?.match(/socket:\[(\d+)\]/)?.[1] ?? ''))) return of(pid);
    }
  } catch {
    // not Linux, or not ours to read
  }
  return { pid: null, limit: null, open: null };
}

const numbers = (dir: string): number[] => readdirSync(dir).filter((n) => /^\d+$/.test(n)).map(Number);
function readlink(p: string): string | null {
  try {
    return readlinkSync(p);
  } catch {
    return null;
  }
}

/** One phase: `n` devices across `workers` processes, bounded by `boundMs`. */
async function phase(n: number, rollout: boolean, boundMs: number, prefix: string): Promise<WorkersSummary> {
  const stop = new AbortController();
  const allSubscribed = (): void => {
    sample();
    stop.abort();
  };
  const sampler = setInterval(sample, 1000);
  return runFleetWorkers({
    devices: n, server: 'embedded', broker: url, prefix, topicPrefix: `${run}t`, seed: 5, rampPerSecond: 4000, downloads: 64,
    durationMs: boundMs, localAddresses, ...(rollout ? { rollout: '2.0.0', imageBytes: 64 * 1024 } : {}),
  }, { stderr: process.stderr, quiet: true, signal: stop.signal }, workers, rollout ? {} : { allSubscribed }).finally(() => clearInterval(sampler));
}

/** Keep the most fds the broker held (sampled each second and when every device has subscribed). */
function sample(): void {
  const now = brokerFds(before.pid);
  if ((now.open ?? 0) > (peak.open ?? 0)) peak = now;
}

const before = brokerFds();
process.stdout.write(`fleet-mosquitto: ${url} broker pid ${before.pid ?? '?'}: open-file limit ${before.limit ?? '?'}, fds in use ${before.open ?? '?'}; `
  + `${devices} devices in ${workers} workers from ${localAddresses.join(', ')}; load ${load()}\n`);

let peak = before;
const connect = await phase(devices, false, Math.max(60_000, devices * 3), `${run}c`);
const sub = connect.subscribed;
const rate = sub.ms === null ? 0 : Math.round((sub.devices * 1000) / sub.ms);
process.stdout.write(connect.connectMs !== null
  ? `fleet-mosquitto #5 connect: ${devices} devices connect+subscribe in ${connect.connectMs} ms (broker held at most ${peak.open ?? '?'} fds of ${peak.limit ?? '?'}): `
    + `${rate}/s (goal ≥ ${GOAL}/s) ${rate >= GOAL ? 'MET' : 'NOT MET'}; load ${load()}\n`
  : `fleet-mosquitto #5 connect: only ${sub.devices}/${devices} devices connected+subscribed within ${(connect.elapsedMs / 1000).toFixed(0)} s `
    + `(broker held at most ${peak.open ?? '?'} fds of ${peak.limit ?? '?'}; the rest refused); those ${sub.devices} in ${sub.ms ?? '–'} ms: ${rate}/s `
    + `(goal ≥ ${GOAL}/s for all ${devices}) NOT MET; load ${load()}\n`);

// The OTA runs the devices the broker can hold at once: one fd per client, under its open-file
// limit, after what it already has open and the embedded server's two clients (collector and
// orchestrator), with a few fds to spare. (The ramp above counts each device's first SUBACK, so it
// can reach every device even when they were not all connected at the same moment.)
const room = before.limit === null || before.open === null ? Infinity : before.limit - before.open - 2 - 8;
const n = Math.min(sub.devices, room);
if (n < devices) process.stdout.write(`fleet-mosquitto: the OTA runs ${n} devices: what the broker can hold at once (open-file limit ${before.limit ?? '?'})\n`);
const ota = await phase(n, true, Math.max(300_000, n * 30), `${run}o`);
const outcomes = ota.counts.success + ota.counts.failed + ota.counts['rolled back'];
process.stdout.write(`fleet-mosquitto #5 OTA: ${outcomes}/${n} outcomes (${ota.counts.success} success) ended by ${ota.ended} after ${(ota.elapsedMs / 1000).toFixed(1)} s; `
  + `connect phase ${ota.connectMs ?? '–'} ms (${ota.subscribed.devices} subscribed); update p50 ${ota.updateMs.p50 ?? '–'} ms p99 ${ota.updateMs.p99 ?? '–'} ms; `
  + `${(ota.bytes / 2 ** 20).toFixed(0)} MiB fetched; errors ${JSON.stringify(ota.errors)}; load ${load()}\n`);
process.exit(0);
