/**
 * Shared pieces for the MQTT tests: the brokers to run against, loggers that record, a store
 * whose commits a test can hold, fail or count (passed through the port: no module mocking).
 */
import { Writable } from 'node:stream';
import type { MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { StoreError } from '../../protocol/errors.js';
import { EmbeddedBroker, urlClientFactory, type MqttClientFactory } from '../../server/broker/index.js';
import type { IngestBatch, Store } from '../../server/store/store.js';
import { mosquitto } from './mqtt-env.js';

/** A broker to run a suite against. */
export interface BrokerTarget {
  name: string;
  /** Skip (with the env module's one-line notice) when the broker is not there. */
  available: boolean;
  open(): Promise<{ factory: MqttClientFactory; close(): Promise<void>; embedded?: EmbeddedBroker }>;
}

/** aedes in memory, aedes over TCP on port 0, and Mosquitto (MQTT_URL). */
export const brokerTargets: BrokerTarget[] = [
  {
    name: 'aedes in memory', available: true,
    open: async () => {
      const b = await EmbeddedBroker.create();
      return { factory: b.clientFactory, close: () => b.close() };
    },
  },
  {
    name: 'aedes over TCP', available: true,
    open: async () => {
      const b = await EmbeddedBroker.create({ port: 0 });
      return { factory: urlClientFactory(b.url ?? ''), close: () => b.close() };
    },
  },
  {
    name: `Mosquitto at ${mosquitto.url}`, available: mosquitto.reachable,
    open: async () => ({ factory: urlClientFactory(mosquitto.url), close: async () => {} }),
  },
];

/** Resolve once `pred()` holds, re-checking every event-loop turn (bounded by the test timeout). */
export async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setImmediate(r));
}

/** Let `n` event-loop turns pass (in-memory streams move one hop per turn or so). */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** A pino logger that keeps every record for assertions. */
export function recordingLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), records };
}

/** Capture the client a factory hands out, so a test can cut its connection like a crash would. */
export function capturing(factory: MqttClientFactory): { factory: MqttClientFactory; clients: MqttClient[] } {
  const clients: MqttClient[] = [];
  return {
    clients,
    factory: async (options, setup) => {
      const c = await factory(options, setup);
      clients.push(c);
      return c;
    },
  };
}

/**
 * A store whose `ingest` a test controls. Open by default: batches go to `inner`. `hold()` makes
 * the next commits wait until `release()`; `failWith(e)` makes them throw `e` (e.g. a
 * StoreError as the real store would) until `failWith(undefined)`.
 */
export class ControlledStore implements Pick<Store, 'ingest'> {
  /** Every batch `ingest` was called with, in order (including failed attempts). */
  readonly calls: IngestBatch[] = [];
  /** Batches that committed. */
  readonly committed: IngestBatch[] = [];
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #failure: ((batch: IngestBatch) => unknown) | undefined;

  constructor(private readonly inner: Pick<Store, 'ingest'> | undefined) {}

  hold(): void {
    this.#gate ??= new Promise((resolve) => { this.#open = resolve; });
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  /** Throw what `f` returns for a batch (undefined: let that batch through); `undefined` to stop failing. */
  failWith(f: ((batch: IngestBatch) => unknown) | undefined): void {
    this.#failure = f;
  }

  async ingest(batch: IngestBatch): Promise<void> {
    this.calls.push(batch);
    if (this.#gate) await this.#gate;
    const error = this.#failure?.(batch);
    if (error !== undefined) throw error;
    await this.inner?.ingest(batch);
    this.committed.push(batch);
  }
}

/** The store's own "closed" error, as SqlStore throws it. */
export const storeClosed = (): StoreError => new StoreError('store is closed', { code: 'OTASIM_ERR_STORE_CLOSED' });
/** The store's own "unreachable" error. */
export const storeUnreachable = (): StoreError => new StoreError('database unreachable', { code: 'OTASIM_ERR_STORE_UNREACHABLE' });
/** The store's own "refused the data" error. */
export const storeInvalid = (): StoreError => new StoreError('the database refused the data', { code: 'OTASIM_ERR_STORE_INVALID' });
