/**
 * aedes' memory persistence with an exact-topic index for retained messages. The stock one tests
 * every retained topic against each new subscription (aedes-persistence asyncPersistence.js
 * `retainedMessagesByPattern`), so N devices that each publish a retained `edge/{id}/status` and
 * subscribe to their own `cmd/ota` cost O(N²) topic matches: at 5,000 devices this dominated the
 * connect ramp. A subscription without `+` or `#` is now one map lookup; wildcards still scan.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);
const AsyncPersistence = require('aedes-persistence/asyncPersistence.js') as new (opts?: object) => MemoryPersistence;

/** A subscription as aedes persists it (aedes-persistence `addSubscriptions`). */
export interface StoredSubscription {
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
}

/** The part of aedes-persistence's memory persistence (asyncPersistence.js) used here. */
export interface MemoryPersistence {
  storeRetained(pkt: { topic: string; payload: { length: number } }): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): Readable;
  createRetainedStream(pattern: string): Readable;
  addSubscriptions(client: { id: string }, subs: StoredSubscription[]): Promise<void>;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<void>;
  cleanSubscriptions(client: { id: string }): Promise<void>;
  subscriptionsByClient(client: { id: string }): Promise<StoredSubscription[]>;
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>;
  outgoingStream(client: { id: string }): Readable;
}
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: new (factory: (opts?: object) => unknown, opts?: object) => unknown;
};

const exact = (p: string): boolean => !p.includes('+') && !p.includes('#');

export class IndexedRetained extends AsyncPersistence {
  readonly #byTopic = new Map<string, unknown>();

  override async storeRetained(pkt: { topic: string; payload: { length: number } }): Promise<void> {
    await super.storeRetained(pkt);
    if (pkt.payload.length === 0) this.#byTopic.delete(pkt.topic);
    else this.#byTopic.set(pkt.topic, { ...pkt });
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    if (!patterns.every(exact)) return super.createRetainedStreamCombi(patterns);
    return Readable.from(patterns.map((p) => this.#byTopic.get(p)).filter((x) => x !== undefined));
  }

  override createRetainedStream(pattern: string): Readable {
    if (!exact(pattern)) return super.createRetainedStream(pattern);
    const hit = this.#byTopic.get(pattern);
    return Readable.from(hit === undefined ? [] : [hit]);
  }
}

/**
 * A memory persistence for aedes (`persistence` option) with indexed exact-topic retained lookups;
 * `make` builds the async layer (default {@link IndexedRetained}), which aedes-persistence's
 * callback wrapper exposes as `asyncPersistence`.
 */
export function indexedMemoryPersistence(make: (opts?: object) => IndexedRetained = (opts) => new IndexedRetained(opts)): unknown {
  return new CallBackPersistence(make);
}
