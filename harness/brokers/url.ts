/** An external broker reached by URL: Mosquitto, EMQX, HiveMQ, a cloud broker. otasim never stops it. */
import { endClient, urlClientFactory } from '../../server/broker/index.js';
import { once, type BrokerHandle, type OpenBrokerOptions } from './handle.js';

/** Passwords stay out of labels and logs. */
function redact(url: string): string {
  return url.replace(/\/\/([^@/:]*):[^@/]*@/, '//$1:***@');
}

/**
 * A handle on the broker at `url`. With `probe` (the default) one client connects and leaves
 * first, so an unreachable broker fails here with one `MqttError` line naming the URL.
 */
export async function openUrl(url: string, options: OpenBrokerOptions = {}): Promise<BrokerHandle> {
  const connector = urlClientFactory(url, options.clientOptions ?? {});
  if (options.probe !== false) {
    const probe = await connector({ reconnectPeriod: 0, connectTimeout: options.probeTimeoutMs ?? 5_000, clean: true });
    await endClient(probe);
  }
  const close = once(async () => {});
  return {
    spec: { kind: 'url', url }, kind: 'url', url, embedded: null, connector, close,
    label: `broker at ${redact(url)}`,
    [Symbol.asyncDispose]: close,
  };
}
