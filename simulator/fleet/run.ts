/**
 * One fleet run from start to summary, as `otasim fleet` and the benches drive it: the embedded
 * server or a URL, the transport (memory door, or an MQTT URL: tcp, tls, ws), the fleet, live
 * progress, the raw NDJSON events first and the summary last. A stop signal (SIGINT) ends the run
 * gracefully and the summary is still produced.
 */
import { Agent } from 'undici';
import type { Writable } from 'node:stream';
import { SystemClock } from '../../protocol/clock.js';
import { UsageError } from '../../protocol/errors.js';
import { DEFAULT_PROFILE, type ProtocolProfile } from '../../protocol/topics.js';
import type { MqttConnector } from '../device/ports.js';
import { mqttUrlConnector } from '../device/transport-mqtt.js';
import { checkTrust } from './tls.js';
import { DEFAULT_COMPOSITION, type Composition } from './composition.js';
import { registered, rolloutAll, startEmbeddedServer, uploadBuilt, type EmbeddedServer } from './embedded.js';
import { EventSink } from './events.js';
import { startProgress, type ProgressOut } from './progress.js';
import { Fleet } from './runner.js';
import { WHOLE, type Shard } from './shard.js';
import type { FleetSummary } from './stats.js';

/** What a run is asked to do. Durations in ms. */
export interface RunOptions {
  readonly devices: number;
  /** OTA server base URL, or `embedded`. */
  readonly server: string;
  /**
   * `memory` (embedded server only: in-memory duplex, no sockets), `tcp` (embedded server only: its
   * aedes TCP listener on 127.0.0.1), or an MQTT URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`).
   */
  readonly broker: string;
  readonly composition?: Composition;
  readonly prefix?: string;
  readonly seed?: number;
  readonly shard?: Shard;
  /** An explicit index range of the whole fleet instead of `shard` (worker processes, workers.ts). */
  readonly range?: { readonly start: number; readonly end: number };
  /** Devices started per second. Default 2,000. */
  readonly rampPerSecond?: number;
  /** Concurrent downloads. Default 64. */
  readonly downloads?: number;
  /** End after this long; default: when every device has an outcome (with `rollout`), else at the signal. */
  readonly durationMs?: number;
  /** Embedded server only: upload this version and roll it out to every model once all devices registered. */
  readonly rollout?: string;
  /** Size of the rolled-out image, bytes. Default 1 MiB. */
  readonly imageBytes?: number;
  /** MQTT topic prefix of devices (and of the embedded server). Default `paku`. */
  readonly topicPrefix?: string;
  /** Wire profile of devices (and of the embedded server), protocol/profiles.ts. Default `paku-edge`. */
  readonly protocol?: ProtocolProfile;
  /** Non-TTY progress line period. Default 5,000. */
  readonly progressEveryMs?: number;
  /** Source addresses devices' MQTT sockets bind to in turn (mqtt:// only; transport-mqtt.ts). Default none. */
  readonly localAddresses?: readonly string[];
  /** PEM of the CA(s) devices trust for https:// and mqtts:// (`--ca FILE`), instead of Node's bundle. Default none. */
  readonly ca?: string;
}

/** Where a run writes, and how it is stopped. */
export interface RunIo {
  readonly stderr: ProgressOut;
  /** NDJSON events destination, or none. */
  readonly events?: Writable;
  /** Aborting stops the run gracefully (the summary is still produced). */
  readonly signal?: AbortSignal;
  /** Progress off (benches). */
  readonly quiet?: boolean;
  /** Called with the fleet once it is created (a worker process reports its counts through it). */
  readonly onFleet?: (fleet: Fleet) => void;
  /** Wraps the devices' MQTT connector, e.g. to watch their packets (a worker counts SUBACKs). */
  readonly observeMqtt?: (connector: MqttConnector) => MqttConnector;
}

const MEMORY = 'memory';

/** The MQTT connector devices use for `broker` (memory, tcp or a URL); UsageError for a broker the server setup cannot serve. */
export function connectorFor(broker: string, embedded: EmbeddedServer | null, localAddresses: readonly string[] = [], ca?: string): MqttConnector {
  if (broker === MEMORY) {
    if (embedded === null) throw new UsageError('--broker memory needs --server embedded (the in-memory door is the embedded broker\'s)');
    return (o) => embedded.server.mqttClientFactory(o);
  }
  if (broker === 'tcp') {
    const url = embedded?.server.mqttUrl ?? null;
    if (url === null) throw new UsageError('--broker tcp needs --server embedded (it connects to the embedded broker\'s TCP listener)');
    return mqttUrlConnector(url, {}, localAddresses);
  }
  if (!/^(mqtts?|wss?|tcp|tls):\/\//.test(broker)) throw new UsageError(`--broker ${broker}: expected memory, mqtt://, mqtts://, ws:// or wss://`);
  return mqttUrlConnector(broker, ca === undefined ? {} : { ca }, localAddresses);
}

/** Resolves when `signal` aborts (never without one). */
const aborted = (signal: AbortSignal | undefined): Promise<void> => new Promise((resolve) => {
  if (signal === undefined) return;
  if (signal.aborted) resolve();
  else signal.addEventListener('abort', () => resolve(), { once: true });
});

/** Run a fleet to its end; returns the summary (also written as the last NDJSON line). */
export async function runFleet(o: RunOptions, io: RunIo): Promise<FleetSummary> {
  const comp = o.composition ?? DEFAULT_COMPOSITION;
  if (o.rollout !== undefined && o.server !== 'embedded') throw new UsageError('--rollout needs --server embedded (with a URL, create the rollout on that server)');
  const external = o.server === 'embedded' ? null : o.server;
  if (external !== null && !/^https?:\/\//.test(external)) throw new UsageError(`--server ${external}: expected embedded or an http(s):// URL`);
  const topicPrefix = o.topicPrefix ?? 'paku';
  const protocol = o.protocol ?? DEFAULT_PROFILE;
  const embedded = external === null
    ? await startEmbeddedServer({ topicPrefix, over: { protocol, ...(o.broker === MEMORY || o.broker === 'tcp' ? {} : { broker: o.broker }) } })
    : null;
  const clock = new SystemClock();
  const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1, ...(o.ca === undefined ? {} : { connect: { ca: o.ca } }) });
  const sink = io.events === undefined ? null : new EventSink(io.events);
  let fleet: Fleet | undefined;
  let progress: { stop(): void } | undefined;
  try {
    const direct = connectorFor(o.broker, embedded, o.localAddresses, o.ca);
    const mqtt = io.observeMqtt?.(direct) ?? direct;
    await checkTrust({ serverUrl: external ?? '', http: agent, brokerUrl: /^[a-z]+:\/\//.test(o.broker) ? o.broker : null, connector: direct, ca: o.ca !== undefined });
    if (embedded !== null && o.rollout !== undefined) {
      for (const m of comp.models) await uploadBuilt(embedded, m.name, m.chip, o.rollout, o.imageBytes ?? 1024 * 1024);
    }
    fleet = Fleet.create({
      devices: o.devices, serverUrl: external ?? (embedded as EmbeddedServer).url, mqtt, clock, http: agent, composition: comp,
      shard: o.shard ?? WHOLE, ...(o.range === undefined ? {} : { range: o.range }), deviceConfig: { topicPrefix, protocol },
      ...(o.prefix === undefined ? {} : { prefix: o.prefix }), ...(o.seed === undefined ? {} : { seed: o.seed }),
      ...(o.rampPerSecond === undefined ? {} : { rampPerSecond: o.rampPerSecond }),
      ...(o.downloads === undefined ? {} : { downloads: o.downloads }),
      ...(sink === null ? {} : { onEvent: (e) => sink.push(e) }),
    });
    const f = fleet;
    io.onFleet?.(f);
    if (io.quiet !== true) progress = startProgress(f, io.stderr, clock, o.progressEveryMs ?? 5000);
    const ends: Array<Promise<FleetSummary['ended']>> = [aborted(io.signal).then(() => 'signal' as const)];
    if (o.durationMs !== undefined) ends.push(new Promise((r) => clock.setTimer({ delay: o.durationMs as number }, () => r('duration'))));
    if (embedded !== null && o.rollout !== undefined) {
      const version = o.rollout;
      ends.push((async () => {
        await Promise.race([f.all('idle'), aborted(io.signal)]);
        if (io.signal?.aborted) return 'signal' as const;
        const perModel = new Map<string, number>();
        for (let i = f.first; i < f.first + f.devices; i++) {
          const m = f.runtime(i)?.config.deviceModel ?? '';
          perModel.set(m, (perModel.get(m) ?? 0) + 1);
        }
        for (const [m, n] of perModel) await registered(embedded, m, n, 50);
        for (const m of perModel.keys()) await rolloutAll(embedded, m, version);
        await f.settled();
        return 'done' as const;
      })());
    }
    const ended = await Promise.race(ends);
    await f.stop();
    progress?.stop();
    progress = undefined;
    const summary = f.summary(ended);
    sink?.push({ type: 'summary', t: clock.now(), ...summary });
    return summary;
  } finally {
    progress?.stop();
    await fleet?.stop();
    await sink?.close();
    clock.close();
    await agent.close();
    await embedded?.[Symbol.asyncDispose]();
  }
}
