/**
 * MQTT transport pieces of the device runtime: a connector for a broker URL (the server's own
 * URL client factory, so both wait for the first CONNACK the same way), and an mqtt.js keepalive
 * timer that runs on the Clock port, so a fleet's keepalives share the one scheduler (and run in
 * virtual time under a VirtualClock) instead of one Node interval per client.
 */
import { createConnection } from 'node:net';
import { MqttClient, type IClientOptions } from 'mqtt';
import { urlClientFactory, whenConnected } from '../../server/broker/clients.js';
import type { Cancel, Clock } from '../../protocol/clock.js';
import { ConfigError } from '../../protocol/errors.js';
import type { MqttConnector } from './ports.js';

/** mqtt.js's `timerVariant` object: interval semantics (`set` repeats until `clear`). */
export interface MqttTimer {
  set(fn: () => void, ms: number): number;
  clear(id: number): void;
}

/** An mqtt.js keepalive timer on `clock`: each `set` is a repeating timer in the clock's heap. */
export function clockTimer(clock: Clock): MqttTimer {
  const live = new Map<number, Cancel>();
  let next = 0;
  return {
    set(fn, ms) {
      const id = ++next;
      const arm = (): void => {
        live.set(id, clock.setTimer({ delay: ms }, () => {
          arm(); // re-arm first: fn may clear this id
          fn();
        }));
      };
      arm();
      return id;
    },
    clear(id) {
      live.get(id)?.();
      live.delete(id);
    },
  };
}

/**
 * A connector for a broker URL (`mqtt://host:1883`, `mqtts://…`, `ws://…`).
 * @param defaults options under every connect's own (e.g. `username`, `password`, `connectTimeout`)
 * @param localAddresses source addresses the clients' sockets bind to in turn (plain TCP only); default none
 */
export function mqttUrlConnector(url: string, defaults: IClientOptions = {}, localAddresses: readonly string[] = []): MqttConnector {
  if (localAddresses.length > 0) return boundConnector(url, defaults, localAddresses);
  const factory = urlClientFactory(url, defaults);
  return (options) => factory(options);
}

/**
 * A plain-TCP connector whose sockets bind to `localAddresses` in turn, one per client (its
 * reconnects keep it). Why: a source address gives ≈28,000 ephemeral ports towards one broker
 * port (loadtest-anchors N1), and mqtt.js's own TCP builder cannot bind one; 127.0.0.2, 127.0.0.3 …
 * answer on Linux without configuration.
 */
function boundConnector(url: string, defaults: IClientOptions, localAddresses: readonly string[]): MqttConnector {
  const u = new URL(url);
  if (u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') {
    throw new ConfigError(`source addresses need a plain TCP broker URL (mqtt://), not ${u.protocol}//`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port === '' ? 1883 : Number(u.port);
  const auth = u.username === '' ? {} : { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  let next = 0;
  return (options) => {
    const localAddress = localAddresses[next++ % localAddresses.length] as string;
    const client = new MqttClient(() => createConnection({ host, port, localAddress }), { ...auth, ...defaults, ...options });
    return whenConnected(client, `${url} from ${localAddress}`);
  };
}
