/** What every broker provider hands back (harness/brokers/index.ts `openBroker`). */
import type { IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import type { EmbeddedBroker, MqttClientFactory } from '../../server/broker/index.js';
import type { BrokerKind, BrokerSpec } from './spec.js';

/** A broker ready for clients. `await using` (or `close()`) stops what the provider started. */
export interface BrokerHandle extends AsyncDisposable {
  readonly spec: BrokerSpec;
  readonly kind: BrokerKind;
  /** One line for logs and reports, e.g. `aedes over TCP at mqtt://127.0.0.1:40123`. */
  readonly label: string;
  /**
   * Where clients outside this process (or a device on the bench) connect: `mqtt://host:port`, or
   * the external URL as given. Null for `memory`, which has no listener.
   */
  readonly url: string | null;
  /**
   * Gives a connected mqtt.js client (CONNACK received) or rejects with `MqttError`
   * (`OTASIM_ERR_MQTT_CONNECT`). It is a `MqttConnector` (simulator/device/ports.ts) for device
   * runtimes and fleets, and a `MqttClientFactory` (with the `setup` hook) for servers and tests.
   */
  readonly connector: MqttClientFactory;
  /** The aedes broker when this process runs it (`memory`, `aedes-tcp`), so faults can act on it; else null. */
  readonly embedded: EmbeddedBroker | null;
  /** Stop what the provider started (broker, container); an external broker is left running. Idempotent. */
  close(): Promise<void>;
}

/** Options of `openBroker`. */
export interface OpenBrokerOptions {
  /** mqtt.js options under every client's own (e.g. `username`, `password`, `ca` for mqtts). Default none. */
  readonly clientOptions?: IClientOptions;
  /**
   * For a URL: connect one client and disconnect it before resolving, so an unreachable or
   * refusing broker fails here, once, with a one-line `MqttError`. Default true.
   */
  readonly probe?: boolean;
  /** CONNACK deadline of the probe, ms. Default 5,000. */
  readonly probeTimeoutMs?: number;
  /** Broker-side errors of an embedded aedes go here (debug/warn). Default silent. */
  readonly logger?: Logger;
  /** Container start deadline, ms. Default the image's own (60 s for Mosquitto, 180 s for EMQX and HiveMQ). */
  readonly startupTimeoutMs?: number;
}

/** `close` once, and the same promise after that. */
export function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= close();
    return closing;
  };
}
