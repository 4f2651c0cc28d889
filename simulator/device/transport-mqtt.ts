/**
 * MQTT transport pieces of the device runtime: a connector for a broker URL (the server's own
 * URL client factory, so both wait for the first CONNACK the same way), and an mqtt.js keepalive
 * timer that runs on the Clock port, so a fleet's keepalives share the one scheduler (and run in
 * virtual time under a VirtualClock) instead of one Node interval per client.
 */
import type { IClientOptions } from 'mqtt';
import { urlClientFactory } from '../../server/broker/clients.js';
import type { Cancel, Clock } from '../../protocol/clock.js';
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
 */
export function mqttUrlConnector(url: string, defaults: IClientOptions = {}): MqttConnector {
  const factory = urlClientFactory(url, defaults);
  return (options) => factory(options);
}
