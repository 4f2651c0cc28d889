/**
 * 1 MiB firmware downloads/s with 200 concurrent clients: `GET /api/firmware/download/{version}`
 * of a full OtaServer (release lookup, headers, body streamed from the content-addressed
 * artifact file) against a bare node:http handler sending the same 1 MiB from memory, measured in
 * the same run by the same load client (a worker thread, undici, 200 connections, each body read
 * whole). Rounds alternate which goes first; the median round is reported.
 *
 * Run: `node dist/bench/download-rate.js [--seconds S] [--rounds R]`. Prints one line; exits 0.
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

const MiB = 1024 * 1024;
const CLIENTS = 200;
const seconds = arg('--seconds', 2);
const ROUNDS = arg('--rounds', 3);
const KEY = 'bench-api-key-123';

const rate = (r: LoadResult): number => r.requests / r.seconds;

const dir = await mkdtemp(join(tmpdir(), 'otasim-bench-dl-'));
const server = await OtaServer.create({ port: 0, mqttPort: 0, data: dir, apiKey: KEY, logLevel: 'silent' },
  { logger: pino({ level: 'silent' }), defaultMetrics: false });
let bare: Server | undefined;
try {
  const image = buildAppImage({ chip: 'esp32', version: '2.0.0', size: MiB });
  const form = new FormData();
  form.append('file', new Blob([image]), 'fw.bin');
  const up = await request(`${server.url}/api/admin/firmware/upload?version=2.0.0&device_model=esp32`,
    { method: 'POST', body: form, headers: { 'x-api-key': KEY } });
  const upText = await up.body.text();
  if (up.statusCode !== 200) throw new Error(`upload: ${up.statusCode} ${upText}`);
  const path = '/api/firmware/download/2.0.0?device_model=esp32';

  const body = Buffer.from(image);
  bare = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => bare?.listen(0, '127.0.0.1', r));
  const addr = bare.address();
  const bareUrl = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;

  const spec = { paths: [path], concurrency: CLIENTS, connections: CLIENTS, warmupMs: 300, durationMs: seconds * 1000 };
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
  for (const r of rounds) {
    if (r.o.requests > 0 && r.o.bytes !== r.o.requests * image.length) throw new Error('a download was not the whole image');
  }
  rounds.sort((x, y) => rate(x.o) / rate(x.b) - rate(y.o) / rate(y.b));
  const mid = rounds[Math.floor(rounds.length / 2)] as { o: LoadResult; b: LoadResult };
  const errors = rounds.reduce((n, r) => n + r.o.errors + Object.values(r.o.badStatus).reduce((x, y) => x + y, 0), 0);
  const gbps = (r: LoadResult): string => (r.bytes / r.seconds / 1e9).toFixed(2);
  process.stdout.write(`download-rate: ${rate(mid.o).toFixed(0)} × 1 MiB downloads/s (${gbps(mid.o)} GB/s) with ${CLIENTS} concurrent clients`
    + ` vs bare node:http from memory ${rate(mid.b).toFixed(0)}/s (${gbps(mid.b)} GB/s) = ${(rate(mid.o) / rate(mid.b)).toFixed(2)}×`
    + ` (median of ${ROUNDS} rounds [${rounds.map((r) => (rate(r.o) / rate(r.b)).toFixed(2)).join(' ')}]${errors > 0 ? `; ${errors} errors` : ''})\n`);
} finally {
  await new Promise<void>((r) => (bare ? bare.close(() => r()) : r()));
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
