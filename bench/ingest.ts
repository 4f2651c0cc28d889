/**
 * Status ingest through MQTT into the store: messages/s from device publishers, through the
 * embedded aedes broker, through the collector (validation, group commit, PUBACK after COMMIT),
 * into PGlite in a data directory. Goal (issue 3): ≥ 20,000 messages/s, batched.
 *
 * The devices are not the server: they publish from a worker thread over TCP to the broker's
 * listener, so the main thread carries what `otasim server` carries (aedes, collector, PGlite).
 * The collector takes messages as `otasim server` does on its embedded broker: intercepted, each
 * device's PUBACK held until the COMMIT (`--source subscription`: as an MQTT subscriber instead,
 * the path used with an external broker).
 *
 * Its floor, measured in the same run with the same publishers, broker and messages: the raw
 * publish → receive rate to a subscriber that only counts (no parsing, no store). The ratio says
 * how much of the broker's own rate the collector keeps.
 *
 * The messages are a real OTA conversation per device (paku-protocol-facts §1.4–§1.6): one
 * `ota/status` ack (an INSERT), twelve `ota/progress` (updates of the latest row) and one
 * `ota/result` (an update plus an event), published at QoS 1 by default, so every message takes
 * the deferred-PUBACK path.
 *
 * Run: `node dist/bench/ingest.js [--devices N] [--reps N] [--qos 0|1] [--source embedded|subscription]`. Prints one line; exits 0
 * (figures, not a gate).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { topics as makeTopics } from '../protocol/topics.js';
import { EmbeddedBroker, endClient } from '../server/broker/index.js';
import { Collector } from '../server/mqtt/index.js';
import { openStore, type Store } from '../server/store/index.js';

const GOAL = 20_000;
const PUBLISHERS = 50;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : def;
  return Number.isFinite(v) && v >= 0 ? v : def;
}
const devices = Math.max(1, arg('devices', 3000));
const reps = Math.max(1, arg('reps', 3));
const qos: 0 | 1 = arg('qos', 1) === 0 ? 0 : 1;
const viaSubscription = process.argv.includes('subscription');

/** One device's OTA conversation: [reply kind, payload]. */
function conversation(): Array<['status' | 'progress' | 'result', string]> {
  const t = '2026-05-05T10:00:00+00:00';
  const msgs: Array<['status' | 'progress' | 'result', string]> = [
    ['status', JSON.stringify({ timestamp: t, status: 'accepted', current_version: '1.4.2', target_version: '1.4.3' })],
    ['progress', JSON.stringify({ timestamp: t, state: 'Checking', percent: 0, downloaded: 0, total: 0, elapsed_ms: 3 })],
  ];
  for (let p = 0; p <= 90; p += 10) {
    msgs.push(['progress', JSON.stringify({ timestamp: t, state: 'Downloading', percent: p, downloaded: p * 10_000, total: 1_000_000, elapsed_ms: 100 * p })]);
  }
  msgs.push(['progress', JSON.stringify({ timestamp: t, state: 'Complete', percent: 100, downloaded: 1_000_000, total: 1_000_000, elapsed_ms: 9_800 })]);
  msgs.push(['result', JSON.stringify({ timestamp: t, current_version: '1.4.2', target_version: '1.4.3', success: true, result_code: 0, message: 'Success' })]);
  return msgs;
}
const CONVERSATION = conversation();
const total = devices * CONVERSATION.length;

/** What the main thread asks the publisher worker to do. */
interface PublishJob {
  url: string;
  prefix: string;
  tag: string;
}

/** Worker side: PUBLISHERS TCP clients publish every device's conversation, then report. */
async function publisherWorker(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const { url } = workerData as { url: string };
  const pubs = await Promise.all(Array.from({ length: PUBLISHERS }, () => mqtt.connectAsync(url, { reconnectPeriod: 0 })));
  port.on('message', (job: PublishJob | 'stop') => {
    if (job === 'stop') {
      void Promise.all(pubs.map((p) => p.endAsync())).then(() => port.close());
      return;
    }
    const topics = makeTopics({ prefix: job.prefix });
    void Promise.all(pubs.map(async (pub, p) => {
      const sent: Array<Promise<unknown>> = [];
      for (let d = p; d < devices; d += pubs.length) {
        const id = `ESP32-${job.tag}-${d.toString(16).padStart(6, '0')}`;
        for (const [kind, payload] of CONVERSATION) sent.push(pub.publishAsync(topics.otaReply(id, kind), payload, { qos }));
        if (pub.stream.writableNeedDrain) await new Promise((r) => pub.stream.once('drain', r));
      }
      await Promise.all(sent);
    })).then(() => port.postMessage('published'));
  });
  port.postMessage('ready');
}

/** Main side: the worker, and a way to run one job on it. */
async function startPublishers(url: string): Promise<{ run(job: PublishJob): Promise<void>; stop(): Promise<void> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { url }, argv: process.argv.slice(2) });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => resolve());
  });
  return {
    run: (job) => new Promise((resolve) => {
      worker.once('message', () => resolve());
      worker.postMessage(job);
    }),
    stop: async () => {
      worker.postMessage('stop');
      await new Promise((r) => worker.once('exit', r));
    },
  };
}

type Publishers = Awaited<ReturnType<typeof startPublishers>>;

/** Wait until `done()` holds; checked whenever `tick` fires. */
function whenDone(done: () => boolean, subscribe: (tick: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    if (done()) resolve();
    else subscribe(() => { if (done()) resolve(); });
  });
}

async function floorRun(broker: EmbeddedBroker, pubs: Publishers, rep: number): Promise<number> {
  const topics = makeTopics({ prefix: `bench/floor${rep}` });
  let received = 0;
  let tick = (): void => {};
  const sub = await broker.connect({ reconnectPeriod: 0 }, (c) => c.on('message', () => { received++; tick(); }));
  await sub.subscribeAsync(topics.otaReplyFilter, { qos: 1 });
  const t0 = performance.now();
  const done = whenDone(() => received >= total, (f) => { tick = f; });
  await pubs.run({ url: '', prefix: topics.prefix, tag: `f${rep}` });
  await done;
  const rate = total / ((performance.now() - t0) / 1000);
  await endClient(sub);
  return rate;
}

async function ingestRun(broker: EmbeddedBroker, pubs: Publishers, store: Store, rep: number): Promise<{ rate: number; batches: number }> {
  const topics = makeTopics({ prefix: `bench/ingest${rep}` });
  let tick = (): void => {};
  const collector = await Collector.create({
    ...(viaSubscription ? { clientFactory: broker.clientFactory } : { embedded: broker }),
    store, topics, logger: pino({ level: 'silent' }), persistentSession: false,
    hooks: { committed: () => tick() },
  });
  const t0 = performance.now();
  const done = whenDone(() => collector.stats.committed >= total, (f) => { tick = f; });
  await pubs.run({ url: '', prefix: topics.prefix, tag: `i${rep}` });
  await done;
  const rate = total / ((performance.now() - t0) / 1000);
  const { batches, malformed } = collector.stats;
  await collector.close();
  if (malformed > 0) throw new Error(`bench messages were refused as malformed (${malformed}); the bench is broken`);
  return { rate, batches };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otasim-bench-ingest-'));
  try {
    const store = await openStore({ data: dir });
    const broker = await EmbeddedBroker.create({ port: 0 });
    const pubs = await startPublishers(broker.url ?? '');
    // Warm up both paths (JIT, PGlite's caches), then alternate so drift hits both alike.
    await floorRun(broker, pubs, -1);
    await ingestRun(broker, pubs, store, -1);
    const floors: number[] = [];
    const ingests: number[] = [];
    let batches = 0;
    for (let r = 0; r < reps; r++) {
      floors.push(await floorRun(broker, pubs, r));
      const run = await ingestRun(broker, pubs, store, r);
      ingests.push(run.rate);
      batches += run.batches;
    }
    await pubs.stop();
    await broker.close();
    await store.close();
    const ingest = median(ingests);
    const floor = median(floors);
    const meanBatch = (total * reps) / batches;
    const path = viaSubscription ? 'collector subscribed to aedes' : 'embedded aedes → collector';
    process.stdout.write(`status ingest: ${ingest.toFixed(0)} msg/s MQTT QoS ${qos} → ${path} → PGlite (data dir) `
      + `= ${(ingest / floor).toFixed(2)}x the raw publish→receive floor (${floor.toFixed(0)} msg/s) through the same aedes; `
      + `${total} messages (${devices} devices × ${CONVERSATION.length}) from ${PUBLISHERS} TCP publishers in a worker, `
      + `mean batch ${meanBatch.toFixed(0)} [goal >= ${GOAL} msg/s]${ingest >= GOAL ? '' : ' BELOW GOAL'}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else await publisherWorker();
