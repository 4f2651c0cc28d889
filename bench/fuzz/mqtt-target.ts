/**
 * Fuzz target for what devices publish: every MQTT reply kind and the edge status, in either wire
 * profile, into the collector with the real store behind it. A message is committed, refused by
 * the collector's parser, refused by the store and isolated (a typed StoreError), or not the
 * collector's (outside its filters); a commit failing with anything untyped, or a message never
 * settled, is a crash.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { OtasimError } from '../../protocol/errors.js';
import { topics as makeTopics, type ProtocolProfile } from '../../protocol/topics.js';
import type { InterceptedPublish, PublishInterceptor } from '../../server/broker/index.js';
import { Collector, topicMatches, type Refused } from '../../server/mqtt/index.js';
import type { Store } from '../../server/store/store.js';
import { target, type FuzzTarget } from './engine.js';
import { applyMutations, jsonValue, mutationArb } from './mutate.js';

const enc = new TextEncoder();


/** One device → server message: a reply kind on its topic (or a damaged topic), and a payload. */
export interface MqttCase {
  readonly kind: 'status' | 'progress' | 'result' | 'edge';
  readonly deviceId: string;
  readonly topic: 'proper' | 'noise' | 'damaged';
  readonly noiseTopic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
}

const STAMP = '2026-01-01T00:00:00+00:00';
/** Valid payloads of each kind (paku-protocol-facts §1.4–§1.7). */
const MQTT_SEEDS: Readonly<Record<MqttCase['kind'], readonly Record<string, unknown>[]>> = {
  status: [{ timestamp: STAMP, status: 'accepted', current_version: '1.0.0', target_version: '2.0.0' }, { status: 'accepted', version: '2.0.0' }],
  progress: [{ timestamp: STAMP, state: 'Downloading', percent: 40, downloaded: 4096, total: 10240, elapsed_ms: 900 }, { state: 'verifying', percent: 100 }],
  result: [{ timestamp: STAMP, current_version: '2.0.0', target_version: '2.0.0', success: true, result_code: 0, message: 'Success' },
    { success: false, version: '2.0.0', message: 'Download failed', result_code: 2 }],
  edge: [{ online: true, device_id: 'd1', firmware_version: '1.0.0', device_model: 'esp32', mac_address: 'AA:BB:CC:DD:EE:FF', uptime_seconds: 5, signal_strength_dbm: -60 },
    { online: false }],
};

function mqttCaseArb(): fc.Arbitrary<MqttCase> {
  const kind = fc.constantFrom<MqttCase['kind']>('status', 'progress', 'result', 'edge');
  const payload = (k: MqttCase['kind']): fc.Arbitrary<Uint8Array> => {
    const seeds = MQTT_SEEDS[k];
    const override = fc.record({
      seed: fc.constantFrom(...seeds),
      key: fc.oneof(fc.constantFrom(...new Set(seeds.flatMap((s) => Object.keys(s)))), fc.string({ maxLength: 8 })),
      value: jsonValue,
    }).map(({ seed, key, value }) => enc.encode(JSON.stringify({ ...seed, [key]: value })));
    return fc.oneof(
      { weight: 4, arbitrary: override },
      { weight: 1, arbitrary: fc.constantFrom(...seeds).map((s) => enc.encode(JSON.stringify(s))) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.array(mutationArb(), { minLength: 1, maxLength: 3 }))
        .map(([s, m]) => applyMutations(enc.encode(JSON.stringify(s)), m)) },
      { weight: 1, arbitrary: jsonValue.map((v) => enc.encode(JSON.stringify(v))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
      { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(0), new Uint8Array(70 * 1024).fill(0x20)) },
    );
  };
  return kind.chain((k) => fc.record({
    kind: fc.constant(k),
    deviceId: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('d1', 'dev-00042', 'AA:BB:CC:DD:EE:FF') },
      { weight: 1, arbitrary: fc.constantFrom('..', 'a b', 'x'.repeat(129), 'x'.repeat(128), '\u0000', 'é', '$SYS') },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((s) => s.replace(/[/+#]/g, '_')) }),
    topic: fc.constantFrom<MqttCase['topic']>('proper', 'proper', 'proper', 'proper', 'noise', 'damaged'),
    noiseTopic: fc.string({ maxLength: 40 }),
    payload: payload(k),
    qos: fc.constantFrom<0 | 1>(0, 1, 1),
  }));
}

/** A broker that is only the interception door: the target hands each PUBLISH straight to the collector. */
class DoorBroker {
  #interceptor: PublishInterceptor | undefined;
  intercept(i: PublishInterceptor): () => void {
    this.#interceptor = i;
    return () => { this.#interceptor = undefined; };
  }

  /** Deliver one PUBLISH; resolves with the refusal, if any, once released. */
  publish(m: InterceptedPublish): Promise<Error | undefined> {
    const i = this.#interceptor;
    if (i === undefined) return Promise.reject(new Error('no collector is intercepting'));
    return new Promise((resolve) => i(m, (refuse) => resolve(refuse)));
  }
}

/** A collector on `store` for `profile`, and the target that feeds it. `close` stops the collector. */
export async function mqttTarget(store: Pick<Store, 'ingest'>, profile: ProtocolProfile): Promise<{ target: FuzzTarget<MqttCase>; close: () => Promise<void> }> {
  const topics = makeTopics({ prefix: `fuzz-${profile}`, profile });
  const door = new DoorBroker();
  /** What the collector said about the message in flight. */
  interface Seen { refusal?: Refused; committed: boolean; untyped?: unknown }
  const seen: Seen = { committed: false };
  const collector = await Collector.create({
    embedded: door, store, topics, logger: pino({ level: 'silent' }),
    // Retries of an unknown failure wait nothing: the fuzz is about what is retried, not when.
    sleep: async () => {},
    hooks: {
      refused: (_t, r) => { seen.refusal = r; },
      committed: () => { seen.committed = true; },
      commitFailed: (e) => { if (!(e instanceof OtasimError) || e.code !== 'OTASIM_ERR_STORE_INVALID') seen.untyped = e; },
    },
  });
  const topicOf = (c: MqttCase): string => {
    // The topic builders refuse ids no device should have; a fuzzed device sends them anyway.
    const slot = '\u0001id\u0001';
    const proper = (c.kind === 'edge' ? topics.edgeStatus(slot) : topics.otaReply(slot, c.kind)).replace(slot, c.deviceId);
    if (c.topic === 'proper') return proper;
    if (c.topic === 'noise') return c.noiseTopic;
    return `${proper}${c.noiseTopic.slice(0, 3)}`;
  };
  const t = target(`mqtt-${profile}`, mqttCaseArb(), async (c) => {
    delete seen.refusal;
    delete seen.untyped;
    seen.committed = false;
    const topic = topicOf(c);
    const refused = await door.publish({ topic, payload: Buffer.from(c.payload), qos: c.qos, retain: c.kind === 'edge', clientId: 'fuzz' });
    await collector.drained();
    const { refusal, committed, untyped } = seen as Seen; // set by the hooks while awaiting
    if (untyped !== undefined) return `crash:commit failed with an untyped error: ${String(untyped)}`;
    if (refused !== undefined) return `crash:the collector refused a message it should settle: ${refused.message}`;
    if (refusal !== undefined) {
      const byStore = refusal.reason.startsWith('the store refused it');
      return `refused:${byStore ? 'store' : refusal.outcome}:${refusal.kind}`;
    }
    if (committed) return `ok:${c.kind}`;
    // Outside the reply and edge-status filters: not the collector's, passed on untouched.
    if (![topics.otaReplyFilter, topics.edgeStatusFilter].some((f) => topicMatches(f, topic))) return 'ok:not-collected';
    return 'crash:neither committed nor refused';
  });
  return { target: t, close: () => collector.close() };
}
