/**
 * Benchmarks 1 and 4 (issue 5), each run in fresh processes (bench/fleet-ota-run.ts, bench/ota-floor.ts):
 *
 * 1. Full OTA of N devices × 1 MiB (embedded server, memory broker), from rollout creation until
 *    every device has an outcome, against the floor for the same bytes (SHA-256 of N MiB plus a raw
 *    loopback transfer of N MiB, same run). Goal ≤ 2.0× the floor.
 * 4. Peak RSS of N updated devices with a 1.5 MiB image against the same with a 64 KiB image: the
 *    image must cost once per fleet, not once per device. Goal: within 10%.
 *
 * N defaults to 1,000 so `npm run bench` stays within minutes; the size is 10,000:
 * `OTASIM_BENCH_OTA_DEVICES=10000 node dist/bench/fleet-ota.js`.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const devices = Number(process.argv[2] ?? process.env['OTASIM_BENCH_OTA_DEVICES'] ?? 1000);
const MIB = 1024 * 1024;

interface Run { otaMs: number; success: number; bytes: number; peakRssMiB: number; errors: Record<string, number> }
interface Floor { shaMs: number; transferMs: number; floorMs: number }

function child<T>(file: string, ...args: number[]): T {
  const r = spawnSync(process.execPath, [join(here, file), ...args.map(String)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    process.stdout.write(`fleet-ota: ${file} ${args.join(' ')} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}\n`);
    process.exit(1);
  }
  return JSON.parse(last) as T;
}

const floor = child<Floor>('ota-floor.js', devices, MIB);
const full = child<Run>('fleet-ota-run.js', devices, MIB);
const r1 = full.otaMs / floor.floorMs;
process.stdout.write(
  `fleet-ota #1: ${devices} devices × 1 MiB full OTA in ${full.otaMs} ms (${full.success} success, ${(full.bytes / MIB).toFixed(0)} MiB fetched) `
  + `vs floor ${floor.floorMs} ms (SHA-256 ${floor.shaMs} + loopback ${floor.transferMs}): ${r1.toFixed(1)}× the floor (goal ≤ 2.0×) ${r1 <= 2 ? 'MET' : 'NOT MET'}\n`,
);

const big = child<Run>('fleet-ota-run.js', devices, 1.5 * MIB);
const small = child<Run>('fleet-ota-run.js', devices, 64 * 1024);
const r4 = big.peakRssMiB / small.peakRssMiB;
process.stdout.write(
  `fleet-ota #4: ${devices} updated devices peak RSS 1.5 MiB image ${big.peakRssMiB} MiB (${big.success} success) vs 64 KiB image `
  + `${small.peakRssMiB} MiB (${small.success} success): ${r4.toFixed(2)}× (goal within 10%) ${Math.abs(r4 - 1) <= 0.1 ? 'MET' : 'NOT MET'}\n`,
);
