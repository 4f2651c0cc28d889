/**
 * `GET /api/firmware/check` requests/s of a full OtaServer (embedded PGlite, a 10% canary, 10,000
 * registered devices polling round-robin, so each polls about once a second at the rates reached
 * and most checks are real check-in writes) against a bare node:http handler that answers the same JSON from
 * memory, measured in the same run by the same load client (a worker thread, undici, 64 requests
 * in flight). Rounds alternate which goes first; the median round's ratio is reported. Goal ≥ 0.5×.
 *
 * Run: `node dist/bench/check-rps.js [--seconds S] [--rounds R]`. Prints one line; exits 0 (figures, not a gate).
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FormData, request } from 'undici';
import { OtaServer } from '../server/index.js';
import { buildAppImage } from '../simulator/esp32/image-builder.js';
import { numberArg as arg, runLoad, type LoadResult } from './load-worker.js';

const GOAL = 0.5;
const DEVICES = 10_000;
const seconds = arg('--seconds', 2);
const ROUNDS = arg('--rounds', 3);
const KEY = 'bench-api-key-123';

const paths = Array.from({ length: DEVICES }, (_, i) =>
  `/api/firmware/check?device_id=ESP32-${i.toString(16).padStart(8, '0').toUpperCase()}&device_model=esp32&current_version=1.0.0`);

async function admin(base: string, method: string, path: string, body: string | FormData, json = false): Promise<void> {
  const r = await request(base + path, { method: method as 'POST', body, headers: { 'x-api-key': KEY, ...(json ? { 'content-type': 'application/json' } : {}) } });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`${method} ${path}: ${r.statusCode} ${text}`);
}

const rate = (r: LoadResult): number => r.requests / r.seconds;

/** One server configuration measured against the baseline; returns the report line. */
async function measure(label: string, checkInResolutionMs: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'otasim-bench-check-'));
  const server = await OtaServer.create({ port: 0, mqttPort: 0, data: dir, apiKey: KEY, logLevel: 'silent', checkInResolutionMs },
    { logger: pino({ level: 'silent' }), defaultMetrics: false });
  let bare: Server | undefined;
  try {
    const form = new FormData();
    form.append('file', new Blob([buildAppImage({ chip: 'esp32', version: '1.1.0', size: 64 * 1024 })]), 'fw.bin');
    await admin(server.url, 'POST', '/api/admin/firmware/upload?version=1.1.0&device_model=esp32', form);
    await admin(server.url, 'POST', '/api/admin/rollout/create', JSON.stringify({
      name: 'bench-canary', firmware_version: '1.1.0', device_model: 'esp32', target_type: 'canary', rollout_percentage: 10,
    }), true);
    for (let i = 0; i < paths.length; i += 64) {
      await Promise.all(paths.slice(i, i + 64).map(async (p) => (await request(server.url + p)).body.dump()));
    }

    // The baseline answers what a no-update check answers, from memory.
    const sample = await (await request(server.url + (paths[1] as string))).body.text();
    bare = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(sample) });
      res.end(sample);
    });
    await new Promise<void>((r) => bare?.listen(0, '127.0.0.1', r));
    const addr = bare.address();
    const bareUrl = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;

    const spec = { paths, concurrency: 64, warmupMs: 300, durationMs: seconds * 1000 };
    // Rounds alternate which goes first; each round's ratio compares runs seconds apart, so load
    // from other processes on the machine hits both alike. The median round is reported.
    const rounds: Array<{ o: LoadResult; b: LoadResult }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        const o = await runLoad({ ...spec, origin: server.url });
        rounds.push({ o, b: await runLoad({ ...spec, origin: bareUrl }) });
      } else {
        const b = await runLoad({ ...spec, origin: bareUrl });
        rounds.push({ o: await runLoad({ ...spec, origin: server.url }), b });
      }
    }
    rounds.sort((x, y) => rate(x.o) / rate(x.b) - rate(y.o) / rate(y.b));
    const mid = rounds[Math.floor(rounds.length / 2)] as { o: LoadResult; b: LoadResult };
    const errors = rounds.reduce((n, r) => n + r.o.errors + Object.values(r.o.badStatus).reduce((x, y) => x + y, 0), 0);
    const spread = rounds.map((r) => (rate(r.o) / rate(r.b)).toFixed(2)).join(' ');
    return `check-rps (${label}): GET /api/firmware/check ${rate(mid.o).toFixed(0)} req/s vs bare node:http ${rate(mid.b).toFixed(0)} req/s`
      + ` = ${(rate(mid.o) / rate(mid.b)).toFixed(2)}× (goal ≥ ${GOAL}×; median of ${ROUNDS} rounds [${spread}]${errors > 0 ? `; ${errors} errors` : ''})`;
  } finally {
    await new Promise<void>((r) => (bare ? bare.close(() => r()) : r()));
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`check-rps: ${DEVICES} devices polling round-robin (≈1 poll/device/s), 10% canary, PGlite, 64 requests in flight\n`);
process.stdout.write(`${await measure('default: a device\'s unchanged check-in rewritten at most every 10 s', 10_000)}\n`);
process.stdout.write(`${await measure('every check written: --check-in-resolution-ms 0', 0)}\n`);
