/**
 * Crash durability and broker outages (issue 9). Crash durability: `otasim server` runs as a child process (PGlite in a data directory,
 * or PostgreSQL in a schema of its own), with its embedded broker on TCP. Two fleets in this
 * process roll a plan out: one reports over MQTT at QoS 1 (esp-mqtt's outbox, PUBACK = stored),
 * one over HTTP update-status (200 = stored). Mid-rollout the server is killed with SIGKILL and
 * started again on the same data and ports. The run then finishes, and three promises are checked:
 *
 * - zero acknowledged records lost: every report a device saw acknowledged (the fleets' NDJSON
 *   `acked` lines) has its row (`ota_events` for MQTT acks and results, `device_update_status`
 *   for HTTP reports), counted as a multiset, so a duplicate never hides a loss;
 * - the plan resumes in the phase and status it had when it was killed;
 * - no device is harmed by a repeated offer: every device ends on the new version and boots it,
 *   and a duplicate `cmd/ota` to updated devices is refused without a download or a reboot.
 *
 * `runDurability` is what test/reliability runs with 1,000 devices; run directly
 * (`npm run bench`, or `node dist/bench/durability.js [devices]`) it rolls out to 5,000 on PGlite
 * and, when DATABASE_URL is set, on PostgreSQL, and prints the counts. `runOutage` stops the
 * broker mid-rollout (aedes, then a private Mosquitto): 5 s with 300 devices in the tests, 30 s
 * with 1,000 here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { Agent, FormData, request } from 'undici';
import { SystemClock } from '../protocol/clock.js';
import { openStore } from '../server/store/open.js';
import { buildAppImage } from '../simulator/esp32/index.js';
import { mqttUrlConnector } from '../simulator/device/transport-mqtt.js';
import { EventSink, Fleet, type FleetEvent } from '../simulator/fleet/index.js';
import { pino } from 'pino';
import { MosquittoProcess, freePort, mosquittoAvailable } from '../harness/brokers/mosquitto-process.js';
import { OtaServer } from '../server/index.js';

/** The project root: the nearest directory above this file with a package.json (source or dist/). */
function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}
const root = projectRoot();
const API_KEY = 'durability-test-key';
const MODEL = 'esp32';
const TO = '2.0.0';
const PLAN = 'durability';

/** Options of {@link runDurability}. */
export interface DurabilityOptions {
  /** Devices in all, half reporting over MQTT QoS 1, half over HTTP. */
  readonly devices: number;
  /** `pglite` (data directory) or `postgres` (needs `databaseUrl`; a fresh schema per run). */
  readonly backend: 'pglite' | 'postgres';
  readonly databaseUrl?: string;
  /** Kill when this fraction of phase 1's devices have an acknowledged success. Default 0.4. */
  readonly killAt?: number;
  /** Size of the rolled-out image, bytes. Default 64 KiB. */
  readonly imageBytes?: number;
  /** Where the fleets' NDJSON goes. Default a file in the run's temp directory. */
  readonly eventsFile?: string;
  /** The CLI entry. Default `bin/otasim.js` (needs `npm run build`). */
  readonly bin?: string;
  /** Progress lines. Default none. */
  readonly log?: (line: string) => void;
  /** Every device's firmware log lines (noisy). Default dropped. */
  readonly deviceLog?: (deviceId: string, line: string, at: number) => void;
  /** Give up after this long, ms. Default 10 minutes. */
  readonly deadlineMs?: number;
}

/** The closing counts. */
export interface DurabilityResult {
  readonly backend: 'pglite' | 'postgres';
  readonly devices: number;
  /** Acknowledged reports, by wire. */
  readonly acked: { readonly mqtt: number; readonly http: number };
  /** Acknowledged records compared with the store (MQTT acks and results, HTTP reports). */
  readonly compared: number;
  /** Of those, how many have no row. The promise: 0. */
  readonly lost: number;
  /** The first few lost records, for the message. */
  readonly lostSample: readonly string[];
  /** Rows beyond the acknowledged count (at-least-once duplicates and unacknowledged reports that landed). */
  readonly extraRows: number;
  /** Faults injected: SIGKILLs of the server. */
  readonly faults: number;
  /** Acknowledged successes when the server was killed. */
  readonly successAtKill: number;
  /** Plan status and phase stored at the kill, and seen right after the restart. */
  readonly planAtKill: { readonly status: string; readonly phase: number };
  readonly planAfterRestart: { readonly status: string; readonly phase: number };
  /** The plan's final status (`completed`). */
  readonly planFinal: string;
  /** Devices by the version they run at the end. */
  readonly versions: Readonly<Record<string, number>>;
  /** Devices that do not boot. */
  readonly bricked: number;
  /** Devices whose running version is the one the server records for them. */
  readonly consistent: number;
  /** Updated devices sent a duplicate cmd/ota, and how many of them downloaded or rebooted because of it. */
  readonly duplicateOffers: number;
  readonly harmedByDuplicate: number;
  /** Wall time of the run, ms. */
  readonly elapsedMs: number;
}

interface ServerChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  output(): string;
}

/** Start `otasim server` and resolve once it logs that it listens. */
async function startServer(bin: string, args: readonly string[], deadlineMs = 60_000): Promise<ServerChild> {
  const proc = spawn(process.execPath, [bin, 'server', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  let out = '';
  const exited = new Promise<NodeJS.Signals | number | null>((r) => proc.once('exit', (code, signal) => r(signal ?? code)));
  const child: ServerChild = { proc, exited, output: () => out.slice(-4000) };
  await new Promise<void>((resolveUp, reject) => {
    const timer = setTimeout(() => reject(new Error(`otasim server did not listen within ${deadlineMs} ms: ${out.slice(-2000)}`)), deadlineMs);
    const onData = (d: Buffer): void => {
      if (out.length < 1 << 20) out += d.toString();
      if (out.includes('otasim server listening')) {
        clearTimeout(timer);
        resolveUp();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`otasim server exited (${String(how)}) before listening: ${out.slice(-2000)}`));
    });
  });
  return child;
}

async function api<T>(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await request(`${base}${path}`, {
    method, headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

interface PlanView { status: string; phase: number; totals?: Record<string, number> }
const planNow = async (base: string): Promise<PlanView> => (await api<{ plan: PlanView }>(base, 'GET', `/api/admin/plans/${PLAN}`)).plan;

/** Poll `pred`; every 10 s `say` what is awaited and `note()`; past `deadline` fail with the note. */
async function until(what: string, pred: () => boolean | Promise<boolean>, deadline: number, everyMs = 200, note?: () => Promise<string>,
  say: (line: string) => void = () => {}): Promise<void> {
  let noted = performance.now();
  while (!(await pred())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}${note === undefined ? '' : ` (${await note()})`}`);
    if (note !== undefined && performance.now() - noted > 10_000) {
      noted = performance.now();
      say(`still waiting for ${what}: ${await note()}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Count `key` in a multiset. */
function bump(m: Map<string, number>, key: string, n = 1): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

/** What an acknowledged report must have left in the store, as a multiset key; null for a progress update (it changes a row, adds none). */
export function ackedRecordKey(e: Extract<FleetEvent, { type: 'acked' }>): string | null {
  const p = JSON.parse(e.payload) as Record<string, unknown>;
  if (e.via === 'http') {
    return `status|${String(p['device_id'])}|${String(p['firmware_version'])}|${String(p['status'])}|${p['progress_percent'] === undefined || p['progress_percent'] === null ? '' : Number(p['progress_percent'])}`;
  }
  const kind = e.topic?.split('/').at(-1);
  const version = String(p['target_version'] ?? p['version'] ?? 'unknown');
  if (kind === 'status') return `event|${e.device}|update_started|${version}`;
  if (kind === 'result') return `event|${e.device}|${p['success'] === true ? 'update_completed' : 'update_failed'}|${version}`;
  return null;
}

/** Run the whole rehearsal; rejects if the run itself cannot finish (the promises are in the result). */
export async function runDurability(o: DurabilityOptions): Promise<DurabilityResult> {
  const t0 = performance.now();
  const deadline = t0 + (o.deadlineMs ?? 10 * 60_000);
  const log = o.log ?? ((): void => {});
  const bin = o.bin ?? join(root, 'bin', 'otasim.js');
  if (o.backend === 'postgres' && o.databaseUrl === undefined) throw new Error('the postgres backend needs databaseUrl');
  const dir = await mkdtemp(join(tmpdir(), 'otasim-durability-'));
  const schema = `durability_${process.pid}_${Date.now().toString(36)}`;
  const [port, mqttPort] = [await freePort(), await freePort()];
  const args = [
    '--port', String(port), '--mqtt-port', String(mqttPort), '--data', join(dir, 'data'), '--api-key', API_KEY, '--log-level', 'info',
    ...(o.backend === 'postgres' ? ['--database', o.databaseUrl as string, '--database-schema', schema] : []),
  ];
  const base = `http://127.0.0.1:${port}`;
  const eventsFile = o.eventsFile ?? join(dir, 'events.ndjson');
  const sink = new EventSink(createWriteStream(eventsFile));
  const clock = new SystemClock();
  const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });
  const fleets: Fleet[] = [];
  let server: ServerChild | undefined;
  let faults = 0;
  let successAcked = 0;
  try {
    server = await startServer(bin, args);
    log(`server up (${o.backend}) on ${base}, broker mqtt://127.0.0.1:${mqttPort}`);
    const form = new FormData();
    form.append('file', new Blob([buildAppImage({ chip: 'esp32', version: TO, size: o.imageBytes ?? 64 * 1024 })]), `${TO}.bin`);
    const up = await request(`${base}/api/admin/firmware/upload?version=${TO}&device_model=${MODEL}`, { method: 'POST', body: form, headers: { 'x-api-key': API_KEY } });
    if (up.statusCode !== 200) throw new Error(`upload answered ${up.statusCode}: ${await up.body.text()}`);
    await up.body.dump();

    const onEvent = (e: FleetEvent): void => {
      sink.push(e);
      if (e.type === 'acked') {
        const p = JSON.parse(e.payload) as Record<string, unknown>;
        if ((e.via === 'http' && p['status'] === 'success') || (e.via === 'mqtt' && e.topic?.endsWith('/result') === true && p['success'] === true)) successAcked++;
      }
    };
    const device = {
      bootMs: 50, selfTestMs: 300, rebootDelayMs: 300, downloadRetries: 50,
      mqttBackoff: { baseMs: 500, maxMs: 4000, jitter: 0.5 }, downloadBackoff: { baseMs: 500, maxMs: 4000, jitter: 0.5 },
    };
    const half = Math.ceil(o.devices / 2);
    const connector = mqttUrlConnector(`mqtt://127.0.0.1:${mqttPort}`);
    for (const [prefix, n, extra] of [['dq', half, { reportQos: 1 as const }], ['dh', o.devices - half, { reportVia: 'http' as const }]] as const) {
      if (n === 0) continue;
      fleets.push(Fleet.create({
        devices: n, prefix, serverUrl: base, mqtt: connector, clock, http: agent, rampPerSecond: 500, downloads: 64,
        deviceConfig: { ...device, ...extra }, onEvent, ...(o.deviceLog === undefined ? {} : { onLog: o.deviceLog }),
      }));
    }
    await Promise.all(fleets.map((f) => f.all('idle')));
    await until('every device registered', async () => {
      const text = await (await request(`${base}/metrics`)).body.text();
      return Number(/^otasim_devices (\d+)/m.exec(text)?.[1] ?? 0) >= o.devices;
    }, deadline);
    log(`${o.devices} devices registered`);

    // Phases by device id (every other device of each fleet first), so each phase's size is known.
    const ids = fleets.flatMap((f) => Array.from({ length: f.devices }, (_, k) => f.runtime(f.first + k)?.config.deviceId ?? ''));
    const firstIds = ids.filter((_, k) => k % 2 === 0);
    const firstPhase = firstIds.length;
    await api(base, 'POST', '/api/admin/plans', {
      name: PLAN, firmware_version: TO, device_model: MODEL, advance: 'manual',
      // The last phase waits for every one of its devices (a success, or a failure after its retries),
      // so the plan cannot complete while devices whose offer was lost with the server are due a retry.
      phases: [{ device_ids: firstIds }, { device_ids: ids, gate: { min_reports: Math.max(1, o.devices - firstPhase), min_success_percent: 90 } }],
      // Phase 1's gate needs 90% of its devices completed, so it cannot pass before the kill.
      gate: { min_success_percent: 90, min_reports: Math.max(1, Math.floor(0.9 * firstPhase)) }, device: { timeout_ms: 20_000, max_retries: 5, retry_backoff_ms: 2_000 },
    });
    const killAt = Math.max(1, Math.floor((o.killAt ?? 0.4) * firstPhase));
    await until(`${killAt} acknowledged successes`, () => successAcked >= killAt, deadline, 20);
    const planAtKillSeen = await planNow(base);
    server.proc.kill('SIGKILL');
    faults++;
    await server.exited;
    const successAtKill = successAcked;
    log(`SIGKILL at ${successAtKill} acknowledged successes (plan ${planAtKillSeen.status}, phase ${planAtKillSeen.phase})`);

    server = await startServer(bin, args);
    const planAfterRestart = await planNow(base);
    log(`restarted: plan ${planAfterRestart.status}, phase ${planAfterRestart.phase}`);

    const planNote = async (): Promise<string> => {
      const p = await planNow(base);
      return `plan ${p.status}, phase ${p.phase}, ${JSON.stringify(p.totals ?? {})}; fleets ${fleets.map((f) => JSON.stringify(f.counts())).join(' ')}`;
    };
    await until('phase 1 to pass its gate', async () => (await planNow(base)).status !== 'running', deadline, 500, planNote, log);
    const waiting = await planNow(base);
    if (waiting.status === 'awaiting_approval') await api(base, 'POST', `/api/admin/plans/${PLAN}/approve`);
    log(`phase 1 passed its gate (${waiting.status}); approved`);
    await until('the plan to complete', async () => ['completed', 'aborted', 'cancelled', 'rolled_back', 'paused'].includes((await planNow(base)).status), deadline, 500, planNote, log);
    const planFinal = (await planNow(base)).status;
    log(`plan ${planFinal}`);
    await until('every device settled', () => fleets.every((f) => f.counts().success + f.counts().failed + f.counts()['rolled back'] === f.devices), deadline, 200,
      async () => `fleets ${fleets.map((f) => JSON.stringify(f.counts())).join(' ')}`, log);
    log(`plan ${planFinal}; fleets settled`);

    // A duplicate cmd/ota to updated devices: refused (not newer): no new job (no download), same partition and version.
    const mark = (f: Fleet, i: number): string => {
      const s = f.runtime(i)?.state;
      return `${s?.nvs.jobs ?? -1}/${s?.running?.partition ?? ''}/${s?.running?.version ?? ''}`;
    };
    const victims: Array<{ f: Fleet; i: number; before: string }> = [];
    for (const f of fleets) for (let i = f.first; i < f.first + Math.min(10, f.devices); i++) victims.push({ f, i, before: mark(f, i) });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: `durability-dup-${process.pid}` });
    const url = `${base}/api/firmware/download/${TO}?device_model=${MODEL}`;
    for (const v of victims) {
      await pub.publishAsync(`paku/edge/${v.f.runtime(v.i)?.config.deviceId ?? ''}/cmd/ota`, JSON.stringify({ url, version: TO }), { qos: 1 });
    }
    await pub.endAsync();
    await new Promise((r) => setTimeout(r, 1500));
    const changed = victims.filter((v) => mark(v.f, v.i) !== v.before);
    for (const v of changed) log(`duplicate offer changed ${v.f.runtime(v.i)?.config.deviceId ?? ''}: ${v.before} → ${mark(v.f, v.i)}`);
    const harmed = changed.length;

    const versions: Record<string, number> = {};
    const chipVersion = new Map<string, string>();
    let bricked = 0;
    for (const f of fleets) {
      for (let i = f.first; i < f.first + f.devices; i++) {
        const running = f.runtime(i)?.state.running;
        if (running === null || running === undefined) bricked++;
        else {
          versions[running.version] = (versions[running.version] ?? 0) + 1;
          chipVersion.set(f.runtime(i)?.config.deviceId ?? '', running.version);
        }
      }
    }
    for (const f of fleets) await f.stop();
    fleets.length = 0;
    await sink.close();
    server.proc.kill('SIGTERM');
    await server.exited;
    server = undefined;

    // Compare what was acknowledged with what is stored.
    const acked = new Map<string, number>();
    const ackedBy = { mqtt: 0, http: 0 };
    for (const line of (await readFile(eventsFile, 'utf8')).split('\n')) {
      if (!line.startsWith('{"type":"acked"')) continue;
      const e = JSON.parse(line) as Extract<FleetEvent, { type: 'acked' }>;
      ackedBy[e.via]++;
      const key = ackedRecordKey(e);
      if (key !== null) bump(acked, key);
    }
    const store = o.backend === 'postgres'
      ? await openStore({ database: o.databaseUrl as string, schema })
      : await openStore({ data: join(dir, 'data', 'db') });
    const stored = new Map<string, number>();
    let consistent = 0;
    try {
      for (const r of await store.rawQuery('SELECT device_id, current_firmware_version FROM devices')) {
        if (chipVersion.get(String(r['device_id'])) === r['current_firmware_version']) consistent++;
      }
      for (const r of await store.rawQuery(`SELECT device_id, event_type, firmware_version, COUNT(*) AS n FROM ota_events
        WHERE device_id IS NOT NULL GROUP BY device_id, event_type, firmware_version`)) {
        bump(stored, `event|${String(r['device_id'])}|${String(r['event_type'])}|${String(r['firmware_version'])}`, Number(r['n']));
      }
      for (const r of await store.rawQuery(`SELECT device_id, firmware_version, status, progress_percent, COUNT(*) AS n FROM device_update_status
        GROUP BY device_id, firmware_version, status, progress_percent`)) {
        const pct = r['progress_percent'] === null ? '' : Number(r['progress_percent']);
        bump(stored, `status|${String(r['device_id'])}|${String(r['firmware_version'])}|${String(r['status'])}|${pct}`, Number(r['n']));
      }
    } finally {
      await store.close();
      if (o.backend === 'postgres') {
        const admin = new (await import('pg')).default.Client({ connectionString: o.databaseUrl });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => admin.end());
      }
    }
    let compared = 0;
    let lost = 0;
    let extraRows = 0;
    const lostSample: string[] = [];
    for (const [key, n] of acked) {
      compared += n;
      const have = stored.get(key) ?? 0;
      if (have < n) {
        lost += n - have;
        if (lostSample.length < 5) lostSample.push(`${key} (acked ${n}, stored ${have})`);
      } else extraRows += have - n;
    }
    return {
      backend: o.backend, devices: o.devices, acked: ackedBy, compared, lost, lostSample, extraRows, faults, successAtKill,
      planAtKill: { status: planAtKillSeen.status, phase: planAtKillSeen.phase }, planAfterRestart: { status: planAfterRestart.status, phase: planAfterRestart.phase },
      planFinal, versions, bricked, consistent, duplicateOffers: victims.length, harmedByDuplicate: harmed, elapsedMs: Math.round(performance.now() - t0),
    };
  } catch (e) {
    if (server !== undefined) log(`server output: ${server.output()}`);
    throw e;
  } finally {
    for (const f of fleets) await f.stop();
    if (server !== undefined) {
      server.proc.kill('SIGKILL');
      await server.exited;
    }
    await sink.close().catch(() => {});
    clock.close();
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Options of {@link runOutage}. */
export interface OutageOptions {
  /** `aedes`: the server's embedded broker over TCP (outage = it refuses and drops every client); `mosquitto`: a private Mosquitto process, stopped and started. */
  readonly broker: 'aedes' | 'mosquitto';
  readonly devices: number;
  /** How long the broker is down, ms. */
  readonly outageMs: number;
  /** The fleet's connect cap, attempts per second (connect-limit.ts). */
  readonly connectsPerSecond: number;
  /** Start the outage when this fraction of devices has an outcome. Default 0.3. */
  readonly at?: number;
  readonly log?: (line: string) => void;
  /** Give up after this long, ms. Default 10 minutes. */
  readonly deadlineMs?: number;
}

/** What an outage run measured. */
export interface OutageResult {
  readonly broker: 'aedes' | 'mosquitto';
  readonly devices: number;
  readonly outageMs: number;
  readonly cap: number;
  /** Devices that connected again after the broker came back (broker side, distinct client ids). */
  readonly reconnected: number;
  /** Accepted device CONNECTs after the broker came back. */
  readonly connectsAfter: number;
  /** Most accepted device CONNECTs in one second after the broker came back (broker side). */
  readonly maxPerSecond: number;
  /** Seconds from the broker's return until the last device was back. */
  readonly reconnectSpanS: number;
  readonly planFinal: string;
  /** Devices by the version they run at the end. */
  readonly versions: Readonly<Record<string, number>>;
  /** Faults injected: broker outages. */
  readonly faults: number;
  /** Failure reasons the devices reported (fleet summary). */
  readonly errors: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
}

/** Most stamps (ms) inside any window of `windowMs`, the window opening on a stamp. */
export function maxInWindow(stamps: readonly number[], windowMs: number): number {
  const t = [...stamps].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while ((t[i] as number) - (t[j] as number) >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/**
 * Broker outage mid-rollout: the broker goes down for `outageMs` while a plan rolls out, every
 * device reconnects on its jittered backoff behind the fleet's connect cap, and the rollout
 * completes. Connects are counted from the broker's side: aedes's own connect events, or
 * Mosquitto's log lines with its timestamps.
 */
export async function runOutage(o: OutageOptions): Promise<OutageResult> {
  const t0 = performance.now();
  const deadline = t0 + (o.deadlineMs ?? 10 * 60_000);
  const log = o.log ?? ((): void => {});
  const dir = await mkdtemp(join(tmpdir(), 'otasim-outage-'));
  const prefix = `out${process.pid % 100000}`;
  const topicPrefix = `outage${process.pid}`;
  const clock = new SystemClock();
  const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000 });
  let mosquitto: MosquittoProcess | undefined;
  let server: OtaServer | undefined;
  let fleet: Fleet | undefined;
  const aedesConnects: Array<{ at: number; clientId: string }> = [];
  try {
    if (o.broker === 'mosquitto') mosquitto = await MosquittoProcess.start();
    server = await OtaServer.create({
      port: 0, host: '127.0.0.1', data: dir, apiKey: API_KEY, logLevel: 'silent', topicPrefix,
      ...(mosquitto === undefined ? { mqttPort: 0 } : { broker: mosquitto.url }),
    }, { logger: pino({ level: 'silent' }), defaultMetrics: false });
    const srv = server;
    const embedded = srv.broker;
    embedded?.onConnect((clientId) => aedesConnects.push({ at: Date.now(), clientId }));
    const brokerUrl = mosquitto?.url ?? (srv.mqttUrl as string);
    const form = new FormData();
    form.append('file', new Blob([buildAppImage({ chip: 'esp32', version: TO, size: 64 * 1024 })]), `${TO}.bin`);
    const up = await request(`${srv.url}/api/admin/firmware/upload?version=${TO}&device_model=${MODEL}`, { method: 'POST', body: form, headers: { 'x-api-key': API_KEY } });
    if (up.statusCode !== 200) throw new Error(`upload answered ${up.statusCode}: ${await up.body.text()}`);
    await up.body.dump();
    fleet = Fleet.create({
      devices: o.devices, prefix, serverUrl: srv.url, mqtt: mqttUrlConnector(brokerUrl), clock, http: agent, rampPerSecond: 500,
      connectsPerSecond: o.connectsPerSecond,
      deviceConfig: {
        topicPrefix, bootMs: 50, selfTestMs: 300, rebootDelayMs: 300, downloadRetries: 50,
        mqttBackoff: { baseMs: 500, maxMs: 8000, jitter: 0.5 }, downloadBackoff: { baseMs: 500, maxMs: 4000, jitter: 0.5 },
      },
    });
    const f = fleet;
    await f.all('idle');
    await until('every device registered', async () => (await srv.store.devicesOfModel(MODEL)).length >= o.devices, deadline);
    await api(srv.url, 'POST', '/api/admin/plans', {
      name: PLAN, firmware_version: TO, device_model: MODEL, phases: [{ percent: 100 }],
      gate: { min_success_percent: 90, min_reports: o.devices }, device: { timeout_ms: 15_000, max_retries: 5, retry_backoff_ms: 2_000 },
    });
    const outcomes = (): number => f.counts().success + f.counts().failed + f.counts()['rolled back'];
    await until('the outage point', () => outcomes() >= Math.floor((o.at ?? 0.3) * o.devices), deadline, 20);
    log(`${o.broker} down at ${outcomes()} outcomes for ${o.outageMs} ms`);
    if (mosquitto !== undefined) await mosquitto.stop();
    else embedded?.setOutage(true);
    await new Promise((r) => setTimeout(r, o.outageMs));
    const back = Date.now();
    if (mosquitto !== undefined) await mosquitto.start();
    else embedded?.setOutage(false);
    // Mosquitto stamps whole seconds: count from the second the broker came back in.
    const since = mosquitto === undefined ? back : Math.floor(back / 1000) * 1000;
    log(`${o.broker} back`);
    const planNote = async (): Promise<string> => {
      const p = await planNow(srv.url);
      return `plan ${p.status}, ${JSON.stringify(p.totals ?? {})}; fleet ${JSON.stringify(f.counts())}`;
    };
    await until('the plan to complete', async () => ['completed', 'aborted', 'cancelled', 'rolled_back', 'paused'].includes((await planNow(srv.url)).status),
      deadline, 500, planNote, log);
    await until('every device settled', () => outcomes() === o.devices, deadline);
    const planFinal = (await planNow(srv.url)).status;
    const after = (mosquitto?.connects ?? aedesConnects).filter((c) => c.at >= since && c.clientId.startsWith(`${prefix}-`));
    const firstBack = new Map<string, number>();
    for (const c of after) if (!firstBack.has(c.clientId)) firstBack.set(c.clientId, c.at);
    const stamps = after.map((c) => c.at);
    // Mosquitto's stamps are whole seconds: its busiest second is a bucket; aedes's a sliding second.
    const maxPerSecond = mosquitto === undefined ? maxInWindow(stamps, 1000)
      : Math.max(0, ...[...stamps.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<number, number>()).values()]);
    const versions: Record<string, number> = {};
    for (let i = 0; i < o.devices; i++) {
      const v = f.runtime(i)?.state.running?.version ?? 'none';
      versions[v] = (versions[v] ?? 0) + 1;
    }
    return {
      broker: o.broker, devices: o.devices, outageMs: o.outageMs, cap: o.connectsPerSecond, reconnected: firstBack.size, connectsAfter: after.length,
      maxPerSecond, reconnectSpanS: firstBack.size === 0 ? 0 : Math.round((Math.max(...firstBack.values()) - since) / 100) / 10,
      planFinal, versions, faults: 1, errors: f.summary('done').errors, elapsedMs: Math.round(performance.now() - t0),
    };
  } finally {
    await fleet?.stop();
    await server?.close();
    await mosquitto?.close();
    clock.close();
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line of outage counts. */
export function outageLine(r: OutageResult): string {
  return `outage ${r.broker}: ${r.devices} devices, broker down ${r.outageMs / 1000} s; ${r.reconnected} devices reconnected within ${r.reconnectSpanS} s `
    + `(${r.connectsAfter} connects), busiest second ${r.maxPerSecond} vs cap ${r.cap}/s; plan ${r.planFinal}; versions ${JSON.stringify(r.versions)}; errors ${JSON.stringify(r.errors)}; ${r.elapsedMs} ms`;
}

/** One line of counts. */
export function durabilityLine(r: DurabilityResult): string {
  return `durability ${r.backend}: ${r.devices} devices, ${r.faults} SIGKILL at ${r.successAtKill} successes; `
    + `acked mqtt ${r.acked.mqtt} + http ${r.acked.http}; records compared ${r.compared}, lost ${r.lost}, extra rows ${r.extraRows}; `
    + `plan ${r.planAtKill.status}/phase ${r.planAtKill.phase} → after restart ${r.planAfterRestart.status}/phase ${r.planAfterRestart.phase} → ${r.planFinal}; `
    + `versions ${JSON.stringify(r.versions)}, consistent with the server ${r.consistent}, bricked ${r.bricked}; duplicate offers ${r.duplicateOffers}, harmed ${r.harmedByDuplicate}; ${r.elapsedMs} ms`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const devices = Number(process.argv[2] ?? process.env['OTASIM_BENCH_DURABILITY_DEVICES'] ?? 5000);
  let failed = false;
  const backends: Array<'pglite' | 'postgres'> = ['pglite', ...(process.env['DATABASE_URL'] ? ['postgres' as const] : [])];
  if (!process.env['DATABASE_URL']) process.stdout.write('durability postgres: DATABASE_URL is not set; skipped\n');
  for (const backend of backends) {
    try {
      const r = await runDurability({ devices, backend, ...(backend === 'postgres' ? { databaseUrl: process.env['DATABASE_URL'] as string } : {}) });
      process.stdout.write(`${durabilityLine(r)}\n`);
      if (r.lost > 0 || r.bricked > 0 || r.consistent !== r.devices || r.harmedByDuplicate > 0 || r.planFinal !== 'completed') failed = true;
    } catch (e) {
      process.stdout.write(`durability ${backend}: run failed: ${e instanceof Error ? e.message : String(e)}\n`);
      failed = true;
    }
  }
  const outageDevices = Number(process.env['OTASIM_BENCH_OUTAGE_DEVICES'] ?? 1000);
  for (const broker of ['aedes', 'mosquitto'] as const) {
    if (broker === 'mosquitto' && !(await mosquittoAvailable())) {
      process.stdout.write('outage mosquitto: no mosquitto binary; skipped\n');
      continue;
    }
    try {
      const r = await runOutage({ broker, devices: outageDevices, outageMs: 30_000, connectsPerSecond: 100 });
      process.stdout.write(`${outageLine(r)}\n`);
      if (r.reconnected !== r.devices || r.maxPerSecond > r.cap + 2 || r.planFinal !== 'completed') failed = true;
    } catch (e) {
      process.stdout.write(`outage ${broker}: run failed: ${e instanceof Error ? e.message : String(e)}\n`);
      failed = true;
    }
  }
  process.exitCode = failed ? 1 : 0;
}
