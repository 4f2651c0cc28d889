/**
 * Broker providers: one door, `openBroker(spec)`, for every MQTT broker otasim runs against —
 * embedded aedes in memory or over TCP, an external URL, or a container (eclipse-mosquitto,
 * emqx/emqx, hivemq) where a Docker engine runs. The harness, the certify suites and the tests
 * all take their broker from here; the abstract broker suite (test/brokers) runs against each.
 */
import { openContainer } from './container.js';
import { openEmbedded } from './embedded.js';
import type { BrokerHandle, OpenBrokerOptions } from './handle.js';
import { parseBrokerSpec, type BrokerSpec } from './spec.js';
import { openUrl } from './url.js';

export { type BrokerHandle, type OpenBrokerOptions } from './handle.js';
export { CONTAINER_IMAGES, parseBrokerSpec, type BrokerKind, type BrokerSpec, type ContainerImage } from './spec.js';
export { dockerUnavailable } from './container.js';

/**
 * Open the broker `spec` names (`memory`, `aedes-tcp` or `tcp`, `mqtt://…`/`mqtts://…`/`ws://…`,
 * `container:NAME[:TAG]`). Rejects with `UsageError` for a bad spec, `MqttError`
 * (`OTASIM_ERR_MQTT_CONNECT`) for an unreachable URL, `BrokerError` (`OTASIM_ERR_NO_DOCKER`, one
 * line starting "no Docker engine:") for a container where Docker is absent, or
 * `OTASIM_ERR_CONTAINER` when the container never became ready.
 *
 * @example await using broker = await openBroker('memory'); const client = await broker.connector({});
 */
export async function openBroker(spec: string | BrokerSpec, options: OpenBrokerOptions = {}): Promise<BrokerHandle> {
  const s = typeof spec === 'string' ? parseBrokerSpec(spec) : spec;
  switch (s.kind) {
    case 'memory':
    case 'aedes-tcp':
      return openEmbedded(s.kind, options);
    case 'url':
      return openUrl(s.url, options);
    case 'container':
      return openContainer(s.image, s.tag, options);
  }
}
