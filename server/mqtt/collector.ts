/**
 * The collector: takes every device's OTA replies and status, validates each payload, writes
 * them to the store in batches, and acknowledges a QoS 1 message only after the batch holding it
 * has COMMITted (issue 3 "MQTT"; ARCHITECTURE.md flow step 5). Messages arrive through an
 * intake (intake.ts): an MQTT subscription on any broker, or the embedded broker's interceptor.
 *
 * Batching is group commit, with no timer: while one batch commits, the next accumulates, and it
 * goes in as soon as the commit returns. A lone message waits one event-loop turn. When more
 * than `highWater` messages wait, the collector stops its intake from reading, so a slow store
 * pushes back on the broker (or the devices) instead of growing memory.
 *
 * Failures: a store that is unreachable is retried with exponential backoff (the PUBACKs wait,
 * so nothing acknowledged is ever lost); a batch the store refuses is split in halves until the
 * message it cannot take is alone, and that message is counted as malformed, logged, and
 * acknowledged so it cannot block the stream forever.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { OtasimError } from '../../protocol/errors.js';
import type { Topics } from '../../protocol/topics.js';
import type { EmbeddedBroker, MqttClientFactory } from '../broker/index.js';
import type { IngestBatch, Store } from '../store/store.js';
import { clientIntake, embeddedIntake, type Delivery, type Intake } from './intake.js';
import { mapMessage, type Accepted, type Mapped, type Refused } from './ingest-map.js';
import { realSleep, type CollectorMetrics, type Sleep } from './ports.js';

/** Called by the collector; exceptions thrown by a hook are logged and ignored. */
export interface CollectorHooks {
  /** A batch committed and its PUBACKs were sent. */
  committed?(messages: readonly Accepted[]): void;
  /** A message was malformed (bad JSON, schema, or refused by the store) or ignored. */
  refused?(topic: string, refusal: Refused): void;
  /** A commit failed and will be retried after `retryInMs`. */
  commitFailed?(error: unknown, messages: number, retryInMs: number): void;
}

/**
 * Where messages come from: an MQTT client on any broker (`clientFactory`), or the embedded
 * broker itself (`embedded`), which holds each device's PUBACK until the COMMIT.
 */
export type CollectorSource =
  | { clientFactory: MqttClientFactory; embedded?: undefined }
  | { embedded: Pick<EmbeddedBroker, 'intercept'>; clientFactory?: undefined };

/** Options of {@link Collector.create}. */
export type CollectorOptions = CollectorSource & CollectorSettings;

/** Everything but the source. */
export interface CollectorSettings {
  /** Only `ingest` is used: one transaction per batch. */
  store: Pick<Store, 'ingest'>;
  /** Topic names (prefix and profile) to subscribe to. */
  topics: Topics;
  logger: Logger;
  metrics?: CollectorMetrics;
  hooks?: CollectorHooks;
  /**
   * MQTT client id (`clientFactory` only). Default `otasim-collector-<12 hex of sha256(prefix,
   * profile)>`: stable, so a restarted server resumes its persistent session and gets the messages
   * it had not acknowledged. Two servers on one broker need different ids.
   */
  clientId?: string;
  /** Keep the broker session (clean=false) so unacknowledged QoS 1 messages are redelivered. Default true. */
  persistentSession?: boolean;
  /** Messages per transaction at most. Default 1,000. */
  maxBatch?: number;
  /** Waiting messages above which the collector stops reading its connection. Default 4 × maxBatch. */
  highWater?: number;
  /** First retry delay after an unreachable store, in ms; doubles up to `retryMaxMs`. Default 100. */
  retryBaseMs?: number;
  /** Longest retry delay, in ms. Default 30,000. */
  retryMaxMs?: number;
  /** Largest payload parsed, in bytes. Default 64 KiB. */
  maxPayloadBytes?: number;
  /** Receipt time for rows; omit to let the store's clock stamp them at commit. */
  clock?: () => Date;
  /** How retries wait. Default real timers. */
  sleep?: Sleep;
}

/** Running totals, for tests, benches and logs. */
export interface CollectorStats {
  received: number;
  committed: number;
  malformed: number;
  ignored: number;
  batches: number;
  failedCommits: number;
}

interface Entry {
  topic: string;
  mapped: Mapped;
  ack: (() => void) | undefined;
  refuse: (() => void) | undefined;
}

/**
 * How a failed commit is handled: `fatal` (the store is closed) stops the collector; `transient`
 * (unreachable) retries the same batch forever with backoff; `data` (the database refused a row)
 * isolates the offending message at once; `unknown` retries three times, then isolates.
 */
type Failure = 'fatal' | 'transient' | 'data' | 'unknown';

function classify(error: unknown): Failure {
  if (!(error instanceof OtasimError)) return 'unknown';
  switch (error.code) {
    case 'OTASIM_ERR_STORE_CLOSED': return 'fatal';
    case 'OTASIM_ERR_STORE_UNREACHABLE': return 'transient';
    case 'OTASIM_ERR_STORE_INVALID': return 'data';
    default: return 'unknown';
  }
}

/** Malformed messages logged one by one before the log starts sampling. */
const MALFORMED_LOGGED_IN_FULL = 100;
/** Past that, one log line per this many malformed messages. */
const MALFORMED_LOG_EVERY = 1000;

/** Attempts of an `unknown` failure before the batch is split. */
const UNKNOWN_ATTEMPTS = 3;

function toBatch(entries: readonly Entry[]): { batch: IngestBatch; accepted: Accepted[] } {
  const batch: Required<IngestBatch> = { devices: [], edgeStatuses: [], statuses: [], events: [] };
  const accepted: Accepted[] = [];
  for (const e of entries) {
    if (e.mapped.outcome !== 'ok') continue;
    accepted.push(e.mapped);
    batch.devices.push(...e.mapped.rows.devices);
    batch.edgeStatuses.push(...e.mapped.rows.edgeStatuses);
    batch.statuses.push(...e.mapped.rows.statuses);
    batch.events.push(...e.mapped.rows.events);
  }
  return { batch, accepted };
}

/** Default client id: stable per (prefix, profile). */
export function collectorClientId(topics: Topics): string {
  return `otasim-collector-${createHash('sha256').update(`${topics.prefix}\n${topics.profile}`).digest('hex').slice(0, 12)}`;
}

export class Collector implements AsyncDisposable {
  readonly stats: CollectorStats = { received: 0, committed: 0, malformed: 0, ignored: 0, batches: 0, failedCommits: 0 };
  readonly #o: Required<Pick<CollectorOptions, 'maxBatch' | 'highWater' | 'retryBaseMs' | 'retryMaxMs' | 'sleep'>> & CollectorOptions;
  readonly #intake: Intake;
  #pending: Entry[] = [];
  /** Intakes waiting to read on (one per connection at most). */
  #held: Array<() => void> = [];
  #flushScheduled = false;
  #committing = false;
  #idle: (() => void)[] = [];
  #closing: Promise<void> | undefined;
  /** Set when the store is closed for good: nothing more is committed. */
  #dead = false;
  /** Aborted on close: failed commits stop retrying. */
  readonly #stopRetrying = new AbortController();

  private constructor(options: CollectorOptions) {
    const maxBatch = options.maxBatch ?? 1000;
    this.#o = {
      ...options, maxBatch, highWater: options.highWater ?? 4 * maxBatch,
      retryBaseMs: options.retryBaseMs ?? 100, retryMaxMs: options.retryMaxMs ?? 30_000, sleep: options.sleep ?? realSleep,
    };
    this.#intake = options.embedded
      ? embeddedIntake(options.embedded, options.topics, options.logger)
      : clientIntake({
        clientFactory: options.clientFactory, topics: options.topics, logger: options.logger,
        clientId: options.clientId ?? collectorClientId(options.topics), persistentSession: options.persistentSession ?? true,
      });
  }

  /** PUBACKs that could not be sent because their connection had gone (the broker redelivers). */
  get acksDropped(): number {
    return this.#intake.acksDropped;
  }

  /**
   * Start collecting: subscribe to `{prefix}/…/+/ota/#` and `{prefix}/edge/+/status` (client
   * source) or intercept the embedded broker's publishes on them.
   */
  static async create(options: CollectorOptions): Promise<Collector> {
    const c = new Collector(options);
    await c.#intake.open((d) => c.#take(d));
    return c;
  }

  #take(d: Delivery): boolean {
    if (this.#closing || this.#dead) return false;
    this.stats.received++;
    const mapped = mapMessage(this.#o.topics, d.topic, d.payload, {
      ...(this.#o.clock ? { receivedAt: this.#o.clock() } : {}),
      ...(this.#o.maxPayloadBytes !== undefined ? { maxPayloadBytes: this.#o.maxPayloadBytes } : {}),
    });
    if (mapped.outcome !== 'ok') this.#refused(d.topic, mapped);
    if (mapped.outcome !== 'ok' && d.ack === undefined) {
      d.next();
      return true;
    }
    // Refused QoS 1 messages queue too, so acknowledgements leave in the order the PUBLISHes came (MQTT 3.1.1 §4.6).
    this.#pending.push({ topic: d.topic, mapped, ack: d.ack, refuse: d.refuse });
    this.#schedule();
    if (this.#pending.length >= this.#o.highWater) this.#held.push(d.next);
    else d.next();
    return true;
  }

  #refused(topic: string, refusal: Refused): void {
    if (refusal.outcome === 'malformed') {
      const n = ++this.stats.malformed;
      // Every one is counted; the log samples a flood (first 100, then every 1,000th) so a broken
      // device cannot drown the server's log.
      if (n <= MALFORMED_LOGGED_IN_FULL || n % MALFORMED_LOG_EVERY === 0) {
        this.#o.logger.warn({ topic, kind: refusal.kind, reason: refusal.reason, malformedTotal: n }, 'malformed MQTT message dropped');
      }
    } else {
      this.stats.ignored++;
      this.#o.logger.debug({ topic, reason: refusal.reason }, 'MQTT message ignored');
    }
    this.#o.metrics?.countMqttMessage(refusal.kind, refusal.outcome);
    this.#hook(() => this.#o.hooks?.refused?.(topic, refusal));
  }

  #schedule(): void {
    if (this.#committing || this.#flushScheduled || this.#pending.length === 0) return;
    this.#flushScheduled = true;
    // One turn of the event loop lets the messages already read join this batch.
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#committing) return;
    this.#committing = true;
    try {
      while (this.#pending.length > 0 && !this.#dead) {
        const entries = this.#pending.splice(0, this.#o.maxBatch);
        this.#readOn();
        await this.#commit(entries);
      }
    } catch (error) {
      this.#o.logger.error({ err: error }, 'collector flush failed');
    } finally {
      this.#committing = false;
      if (this.#dead) {
        // Never acknowledged: a broker session redelivers them; an embedded broker's devices are told to resend.
        for (const e of this.#pending.splice(0)) e.refuse?.();
        this.#readOn();
      }
      if (this.#pending.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
      else this.#schedule();
    }
  }

  /** Commit `entries` in one transaction, then acknowledge them. Returns once settled one way or another. */
  async #commit(entries: Entry[]): Promise<void> {
    const { batch, accepted } = toBatch(entries);
    for (let attempt = 1; accepted.length > 0; attempt++) {
      try {
        await this.#o.store.ingest(batch);
        break;
      } catch (error) {
        this.stats.failedCommits++;
        const failure = classify(error);
        if (failure === 'fatal') {
          this.#o.logger.error({ err: error, messages: entries.length }, 'store closed; messages left unacknowledged for redelivery');
          this.#dead = true;
          for (const e of entries) e.refuse?.();
          return;
        }
        if (failure === 'data' || (failure === 'unknown' && attempt >= UNKNOWN_ATTEMPTS)) {
          if (entries.length === 1) {
            this.#poison(entries[0] as Entry, error);
            return;
          }
          const half = Math.ceil(entries.length / 2);
          await this.#commit(entries.slice(0, half));
          await this.#commit(entries.slice(half));
          return;
        }
        if (this.#stopRetrying.signal.aborted) { // closing: leave them unacknowledged
          for (const e of entries) e.refuse?.();
          return;
        }
        const retryInMs = Math.min(this.#o.retryBaseMs * 2 ** (attempt - 1), this.#o.retryMaxMs);
        this.#o.logger.warn({ err: error, messages: entries.length, retryInMs }, 'batch commit failed; retrying');
        this.#hook(() => this.#o.hooks?.commitFailed?.(error, entries.length, retryInMs));
        try {
          await this.#o.sleep(retryInMs, this.#stopRetrying.signal);
        } catch { // closing: leave them unacknowledged
          for (const e of entries) e.refuse?.();
          return;
        }
      }
    }
    this.stats.batches++;
    this.stats.committed += accepted.length;
    this.#ackAll(entries);
    for (const m of accepted) {
      this.#o.metrics?.countMqttMessage(m.kind, 'ok');
      for (const s of m.rows.statuses) this.#o.metrics?.countStatusReport(s.status, 'mqtt');
    }
    if (accepted.length > 0) this.#hook(() => this.#o.hooks?.committed?.(accepted));
  }

  /** A single message the store refuses for what it contains: count it, log it, ack it, move on. */
  #poison(entry: Entry, error: unknown): void {
    const kind = entry.mapped.kind;
    const reason = `the store refused it: ${error instanceof Error ? error.message : String(error)}`;
    this.#refused(entry.topic, { outcome: 'malformed', kind, reason });
    this.#ackAll([entry]);
  }

  #ackAll(entries: readonly Entry[]): void {
    for (const e of entries) e.ack?.();
  }

  /** Let every held intake read on. */
  #readOn(): void {
    for (const next of this.#held.splice(0)) next();
  }

  #hook(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#o.logger.error({ err: error }, 'collector hook threw');
    }
  }

  /** Resolves when every message received so far has been committed (or settled). */
  drained(): Promise<void> {
    if (!this.#committing && !this.#flushScheduled && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Stop taking messages, commit and acknowledge what was already received, and disconnect.
   * A batch whose commit is failing is not retried any more: it stays unacknowledged, so a
   * persistent session gets it again. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopRetrying.abort();
      this.#readOn();
      await this.drained();
      await this.#intake.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
