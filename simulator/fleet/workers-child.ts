/**
 * A fleet worker process (forked by workers.ts): runs `runFleet` on the range it is given and
 * reports to its parent over IPC (workers-protocol.ts). It ignores SIGINT — a terminal's Ctrl-C
 * reaches the whole process group, and the parent decides when the fleet stops, so the worker
 * still sends its summary — and stops when the parent says so or goes away.
 */
import { Writable } from 'node:stream';
import { OtasimError } from '../../protocol/errors.js';
import { runFleet } from './run.js';
import type { MqttConnector } from '../device/ports.js';
import type { Fleet } from './runner.js';
import { FLEET_STATES } from './states.js';
import type { ChildMessage, ParentMessage } from './workers-protocol.js';

/** Counts are sent this often while the run lasts, ms. */
const COUNTS_EVERY_MS = 250;

const send = (m: ChildMessage): Promise<void> => new Promise((resolve) => {
  if (process.send === undefined || !process.connected) resolve();
  else process.send(m, undefined, {}, () => resolve());
});

/** A Writable that forwards NDJSON chunks to the parent, dropping the worker's own summary line. */
function ipcEvents(): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      let text = String(chunk);
      if (text.includes('"type":"summary"')) text = text.split('\n').filter((l) => !l.startsWith('{"type":"summary"')).join('\n');
      if (text.trim() === '') done();
      else void send({ type: 'events', text: text.endsWith('\n') ? text : `${text}\n` }).then(() => done());
    },
  });
}

async function run(start: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  const stop = new AbortController();
  process.on('message', (m: ParentMessage) => { if (m.type === 'stop') stop.abort(); });
  process.once('disconnect', () => stop.abort());
  let fleet: Fleet | undefined;
  const counts = (): ChildMessage => {
    const c = fleet?.counts();
    return { type: 'counts', started: fleet?.started ?? 0, counts: FLEET_STATES.map((s) => (c === undefined ? 0 : c[s])) };
  };
  const timer = setInterval(() => void send(counts()), COUNTS_EVERY_MS);
  // Devices whose first SUBACK arrived: connected and subscribed (the bench's connect figure).
  let since = Date.now();
  const subscribed = new Set<string>();
  let last: number | null = null;
  const expected = start.options.range === undefined ? Infinity : start.options.range.end - start.options.range.start;
  const observeMqtt = (connector: MqttConnector): MqttConnector => async (options) => {
    const client = await connector(options);
    const id = options.clientId ?? '';
    if (!subscribed.has(id)) {
      client.on('packetreceive', function onPacket(p) {
        if (p.cmd !== 'suback') return;
        client.off('packetreceive', onPacket);
        if (subscribed.has(id)) return;
        subscribed.add(id);
        last = Date.now();
        if (subscribed.size === expected) void send({ type: 'subscribed' });
      });
    }
    return client;
  };
  try {
    const summary = await runFleet(start.options, {
      stderr: { write: () => true }, quiet: true, signal: stop.signal, observeMqtt, ...(start.events ? { events: ipcEvents() } : {}),
      onFleet: (f) => {
        fleet = f;
        since = Date.now(); // the ramp started as the fleet was created, just now
        void f.all('idle').then(async () => { if (!stop.signal.aborted) { await send(counts()); await send({ type: 'idle' }); } });
        void f.settled().then(async () => { if (!stop.signal.aborted) { await send(counts()); await send({ type: 'settled' }); } });
      },
    });
    await send(counts());
    await send({ type: 'summary', summary, durations: [...(fleet?.updateDurations() ?? [])], subscribed: { devices: subscribed.size, since, last } });
  } finally {
    clearInterval(timer);
  }
}

/** Leave: the parent has what it needs; a handle still open (a socket closing) must not keep the worker. */
function leave(code: number): void {
  process.exitCode = code;
  if (process.connected) process.disconnect();
  setTimeout(() => process.exit(code), 2000).unref();
}

process.on('SIGINT', () => {}); // the parent stops the fleet (see above)
process.once('message', (m: ParentMessage) => {
  if (m.type !== 'start') return;
  run(m).then(() => leave(0), async (e: unknown) => {
    const code = e instanceof OtasimError ? e.code : 'OTASIM_ERR_FLEET_WORKER';
    await send({ type: 'error', code, message: (e as Error).message });
    leave(1);
  });
});
