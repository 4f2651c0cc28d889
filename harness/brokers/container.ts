/**
 * `container:eclipse-mosquitto|emqx/emqx|hivemq`: a broker container started with testcontainers
 * for this run and removed at close. testcontainers is loaded only here, on demand, so the other
 * providers cost nothing where Docker is absent.
 */
import { BrokerError } from '../../protocol/errors.js';
import { urlClientFactory } from '../../server/broker/index.js';
import { once, type BrokerHandle, type OpenBrokerOptions } from './handle.js';
import type { ContainerImage } from './spec.js';

/** The MQTT port inside every supported image. */
const MQTT_PORT = 1883;

/**
 * Mosquitto 2 listens only on localhost unless told otherwise (its "local only mode"), which a
 * mapped port cannot reach: give it a listener on every interface, anonymous, no persistence.
 */
const MOSQUITTO_CONF = 'listener 1883 0.0.0.0\nallow_anonymous true\npersistence false\n';

/** First line of an error message, for one-line errors. */
function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n', 1)[0]?.trim() ?? '';
}

type Testcontainers = typeof import('testcontainers');

/**
 * Null when a container runtime answers, else one line saying why not. testcontainers looks where
 * Docker can be (DOCKER_HOST, ~/.testcontainers.properties, the socket, rootless, Podman).
 */
export async function dockerUnavailable(): Promise<string | null> {
  const tc: Testcontainers = await import('testcontainers');
  try {
    await tc.getContainerRuntimeClient();
    return null;
  } catch (e) {
    return firstLine(e) || 'no container runtime found';
  }
}

/** Start `image:tag`, wait for its ready line, and hand out clients to its mapped port. */
export async function openContainer(image: ContainerImage, tag: string, options: OpenBrokerOptions = {}): Promise<BrokerHandle> {
  const ref = `${image.repository}:${tag}`;
  const why = await dockerUnavailable();
  if (why !== null) {
    throw new BrokerError('OTASIM_ERR_NO_DOCKER',
      `no Docker engine: container:${image.names[0]} needs one (start Docker or set DOCKER_HOST), or use --broker memory or a broker URL (${why})`);
  }
  const tc: Testcontainers = await import('testcontainers');
  let container = new tc.GenericContainer(ref)
    .withExposedPorts(MQTT_PORT)
    .withWaitStrategy(tc.Wait.forLogMessage(image.ready))
    .withStartupTimeout(options.startupTimeoutMs ?? image.startupMs);
  if (image.repository === 'eclipse-mosquitto') {
    container = container.withCopyContentToContainer([{ content: MOSQUITTO_CONF, target: '/mosquitto/config/mosquitto.conf' }]);
  }
  let started: Awaited<ReturnType<typeof container.start>>;
  try {
    started = await container.start();
  } catch (e) {
    throw new BrokerError('OTASIM_ERR_CONTAINER', `container ${ref} did not become ready: ${firstLine(e)}`, { cause: e });
  }
  const url = `mqtt://${started.getHost()}:${started.getMappedPort(MQTT_PORT)}`;
  const close = once(async () => {
    await started.stop();
  });
  return {
    spec: { kind: 'container', image, tag }, kind: 'container', url, embedded: null, close,
    label: `${ref} in Docker at ${url}`,
    connector: urlClientFactory(url, options.clientOptions ?? {}),
    [Symbol.asyncDispose]: close,
  };
}
