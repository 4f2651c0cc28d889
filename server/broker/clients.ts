/**
 * The MQTT client port: how the orchestrator, the collector and the tests obtain a connected
 * mqtt.js client without knowing whether the broker is aedes in memory, aedes over TCP or an
 * external broker such as Mosquitto (STYLE.md §2, ports are passed in).
 */
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { MqttError } from '../../protocol/errors.js';

/**
 * Runs synchronously on the new client before any packet is handled: the place to attach
 * `message` listeners or override `handleMessage`, because a persistent session's queued
 * messages arrive right after the CONNACK, before the factory's promise resolves.
 */
export type ClientSetup = (client: MqttClient) => void;

/**
 * Gives a **connected** mqtt.js client (CONNACK received), or rejects with a `MqttError`
 * (`OTASIM_ERR_MQTT_CONNECT`) whose cause is the transport or CONNACK error. Options are
 * mqtt.js's own; the factory supplies the transport.
 */
export type MqttClientFactory = (options?: IClientOptions, setup?: ClientSetup) => Promise<MqttClient>;

/**
 * Resolve once `client` has its first CONNACK; reject with `MqttError` (and end the client) when
 * the first attempt fails: a transport error such as ECONNREFUSED, a CONNACK refusal, or the
 * connection closing before any CONNACK. Later reconnects are mqtt.js's business.
 */
export function whenConnected(client: MqttClient, where: string): Promise<MqttClient> {
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
      reject(new MqttError('OTASIM_ERR_MQTT_CONNECT',
        `could not connect to the MQTT broker at ${where}: ${error.message}; check that it runs and accepts this client`,
        { cause: error }));
    };
    const onConnect = (): void => settle();
    const onError = (error: Error): void => settle(error);
    const onClose = (): void => settle(new Error('the connection closed before the CONNACK'));
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

/**
 * A factory for a broker reached by URL (`mqtt://host:port`, `mqtts://…`, `ws://…`).
 *
 * @param url broker URL, e.g. `mqtt://127.0.0.1:1883` (prefer IP literals: loadtest-anchors N11)
 * @param defaults options applied under every call's own options
 */
export function urlClientFactory(url: string, defaults: IClientOptions = {}): MqttClientFactory {
  return (options = {}, setup) => {
    const client = mqtt.connect(url, { ...defaults, ...options });
    setup?.(client);
    return whenConnected(client, url);
  };
}

/** End `client` and wait until it is closed; `force` skips the graceful DISCONNECT. */
export function endClient(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => {
    client.end(force, {}, () => resolve());
  });
}
