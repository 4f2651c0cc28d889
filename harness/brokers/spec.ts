/**
 * What `--broker SPEC` (and a scenario's `broker:`) may name, parsed once and purely:
 * `memory`, `aedes-tcp` (alias `tcp`), a broker URL, or `container:IMAGE[:TAG]`.
 */
import { UsageError } from '../../protocol/errors.js';

/** The container brokers otasim knows how to start and wait for. */
export interface ContainerImage {
  /** Names accepted after `container:`; the first is the one messages use. */
  readonly names: readonly string[];
  /** Docker repository. */
  readonly repository: string;
  /** Tag used when the spec names none: pinned, so a run today and a run next month start the same broker. */
  readonly tag: string;
  /** A log line the broker prints once its MQTT listener accepts clients. */
  readonly ready: RegExp;
  /** How long the image may take to start, ms (EMQX and HiveMQ boot a JVM/BEAM node). */
  readonly startupMs: number;
}

/**
 * The supported images. Ready lines: Mosquitto 2 `mosquitto version 2.0.x running`; EMQX 5
 * `EMQX 5.x.y is running now!`; HiveMQ CE `Started HiveMQ in N ms`.
 */
export const CONTAINER_IMAGES: readonly ContainerImage[] = Object.freeze([
  { names: ['eclipse-mosquitto'], repository: 'eclipse-mosquitto', tag: '2.0.20', ready: /mosquitto version \S+ running/, startupMs: 60_000 },
  { names: ['emqx/emqx', 'emqx'], repository: 'emqx/emqx', tag: '5.8.6', ready: /EMQX \S+ is running now/, startupMs: 180_000 },
  { names: ['hivemq', 'hivemq/hivemq-ce'], repository: 'hivemq/hivemq-ce', tag: '2024.3', ready: /Started HiveMQ in/, startupMs: 180_000 },
]);

/** A parsed broker spec. */
export type BrokerSpec =
  /** Embedded aedes reached over in-memory duplex streams: no socket, no file descriptor per client. */
  | { readonly kind: 'memory' }
  /** Embedded aedes with a TCP listener on 127.0.0.1 and a free port. */
  | { readonly kind: 'aedes-tcp' }
  /** A broker somebody else runs: `mqtt://`, `mqtts://`, `ws://`, `wss://` (mqtt.js also reads `tcp://`, `tls://`). */
  | { readonly kind: 'url'; readonly url: string }
  /** A broker container started for this run (testcontainers) and removed at close. */
  | { readonly kind: 'container'; readonly image: ContainerImage; readonly tag: string };

export type BrokerKind = BrokerSpec['kind'];

const URL_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'tls:'];
const CONTAINER = 'container:';
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const known = (): string => CONTAINER_IMAGES.map((i) => i.names[0]).join(', ');

function parseContainer(spec: string): BrokerSpec {
  const rest = spec.slice(CONTAINER.length);
  // The tag is what follows the last ':' (image names here never hold one).
  const colon = rest.lastIndexOf(':');
  const name = colon < 0 ? rest : rest.slice(0, colon);
  const image = CONTAINER_IMAGES.find((i) => i.names.includes(name));
  if (image === undefined) throw new UsageError(`--broker ${spec}: unknown container image "${name}"; use one of ${known()}`);
  const tag = colon < 0 ? image.tag : rest.slice(colon + 1);
  if (!TAG.test(tag)) throw new UsageError(`--broker ${spec}: "${tag}" is not a Docker tag`);
  return { kind: 'container', image, tag };
}

function parseUrl(spec: string): BrokerSpec {
  let u: URL;
  try {
    u = new URL(spec);
  } catch (e) {
    throw new UsageError(`--broker ${spec}: not a URL`, { cause: e });
  }
  if (!URL_SCHEMES.includes(u.protocol)) {
    throw new UsageError(`--broker ${spec}: scheme ${u.protocol} is not an MQTT transport; use mqtt://, mqtts://, ws:// or wss://`);
  }
  if (u.hostname === '') throw new UsageError(`--broker ${spec}: the URL names no host`);
  return { kind: 'url', url: spec };
}

/**
 * Parse a broker spec. Throws `UsageError` naming what is wrong and what is accepted.
 * @example parseBrokerSpec('container:emqx/emqx:5.8.6') // { kind: 'container', image: emqx, tag: '5.8.6' }
 */
export function parseBrokerSpec(spec: string): BrokerSpec {
  const s = spec.trim();
  if (s === 'memory') return { kind: 'memory' };
  if (s === 'aedes-tcp' || s === 'tcp') return { kind: 'aedes-tcp' };
  if (s.startsWith(CONTAINER)) return parseContainer(s);
  if (s.includes('://')) return parseUrl(s);
  throw new UsageError(`--broker ${spec}: expected memory, aedes-tcp, an mqtt://, mqtts://, ws:// URL, or container:NAME (${known()})`);
}
