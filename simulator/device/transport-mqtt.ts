/**
 * MQTT transport pieces of the device runtime: a connector for a broker URL, and an mqtt.js keepalive
 * timer that runs on the Clock port, so a fleet's keepalives share the one scheduler (and run in
 * virtual time under a VirtualClock) instead of one Node interval per client.
 */
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
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

/** Wait for the first CONNACK; on failure end the client and reject with the transport's error. */
export function firstConnect(client: MqttClient): Promise<MqttClient> {
  if (client.connected) return Promise.resolve(client);
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      if (error === undefined) {
        resolve(client);
        return;
      }
      client.end(true);
      reject(error);
    };
    const onConnect = (): void => settle();
    const onError = (e: Error): void => settle(e);
    const onClose = (): void => settle(new Error('connection closed before CONNACK'));
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

/**
 * A connector for a broker URL (`mqtt://host:1883`, `mqtts://…`, `ws://…`).
 * @param defaults options under every connect's own (e.g. `username`, `password`, `connectTimeout`)
 */
export function mqttUrlConnector(url: string, defaults: IClientOptions = {}): MqttConnector {
  return (options) => firstConnect(mqtt.connect(url, { ...defaults, ...options }));
}
