/**
 * `npm run bench`: runs each benchmark in a fresh Node process (so RSS figures are not polluted
 * by the others) and prints its figures. Every figure is a ratio against a baseline or floor
 * measured in the same run; nothing here is a pass/fail timing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Benchmark scripts, in the order they run. Each prints its own lines. */
const benches: ReadonlyArray<{ file: string; nodeArgs?: string[] }> = [
  { file: 'verify-throughput.js' },
  { file: 'device-rss.js', nodeArgs: ['--expose-gc'] },
  { file: 'ingest.js' },
  { file: 'check-rps.js' },
  { file: 'download-rate.js' },
  { file: 'fleet-connect.js' },
  { file: 'fleet-idle.js', nodeArgs: ['--expose-gc'] },
  { file: 'fleet-ota.js' },
  { file: 'durability.js' },
  { file: 'fuzz.js' },
  { file: 'fleet-mosquitto.js' },
];

let failed = 0;
for (const b of benches) {
  const path = join(here, b.file);
  if (!existsSync(path)) {
    process.stdout.write(`bench ${b.file}: missing\n`);
    failed++;
    continue;
  }
  const r = spawnSync(process.execPath, [...(b.nodeArgs ?? []), path, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
