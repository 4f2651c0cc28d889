/**
 * `memory` and `aedes-tcp`: aedes in this process (server/broker EmbeddedBroker), reached over
 * in-memory duplex streams, or over TCP on 127.0.0.1 with a free port.
 */
import { EmbeddedBroker, urlClientFactory } from '../../server/broker/index.js';
import { once, type BrokerHandle, type OpenBrokerOptions } from './handle.js';

/** Start an embedded aedes, in memory only or with a TCP listener on a free port. */
export async function openEmbedded(kind: 'memory' | 'aedes-tcp', options: OpenBrokerOptions = {}): Promise<BrokerHandle> {
  const defaults = options.clientOptions ?? {};
  const broker = await EmbeddedBroker.create({
    ...(kind === 'aedes-tcp' ? { port: 0 } : {}), ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const url = broker.url;
  const close = once(() => broker.close());
  return {
    spec: { kind }, kind, url, embedded: broker, close,
    label: url === null ? 'aedes in memory' : `aedes over TCP at ${url}`,
    connector: url === null
      ? (o, setup) => broker.connect({ ...defaults, ...o }, setup)
      : urlClientFactory(url, defaults),
    [Symbol.asyncDispose]: close,
  };
}
