/**
 * The device's MQTT session: carries out the machine's `mqtt-*` effects on an mqtt.js client and
 * feeds `mqtt-up`, `mqtt-failed`, `mqtt-down` and `mqtt-message` back. mqtt.js never reconnects on
 * its own here (`reconnectPeriod: 0`): the firmware's backoff with jitter decides when to try again
 * (issue 4 "MQTT: clean reconnect with exponential backoff and jitter"). Keepalive pings run on the
 * Clock port. A session that ends after it is replaced or closed reports nothing.
 *
 * QoS 1 publishes go through an outbox, as esp-mqtt's (`mqtt_outbox.c`): each stays there until
 * its PUBACK, is sent again on the next session, is queued while offline, and is dropped after
 * {@link OUTBOX_EXPIRY_MS} or when the chip resets (the outbox is RAM). So a report the broker
 * never acknowledged is sent again: at-least-once, duplicates possible.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Clock } from '../../protocol/clock.js';
import type { MqttConnector } from './ports.js';
import { clockTimer } from './transport-mqtt.js';
import type { DeviceEffect, DeviceEvent } from './types.js';

type ConnectEffect = Extract<DeviceEffect, { type: 'mqtt-connect' }>;

/** How long a QoS 1 message may wait in the outbox, ms (esp-mqtt `CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS`, default 30 s). */
export const OUTBOX_EXPIRY_MS = 30_000;

/** A QoS 1 message waiting for its PUBACK. */
interface OutboxEntry {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
  /** Clock time it was first queued, ms. */
  readonly at: number;
}

/** What the session needs from the runtime. */
export interface LinkDeps {
  readonly clock: Clock;
  readonly connector: MqttConnector | undefined;
  /** CONNACK wait, ms (mqtt.js `connectTimeout`). */
  readonly connectTimeoutMs: number;
  readonly emit: (event: DeviceEvent) => void;
  readonly log: (line: string) => void;
  /** A QoS 1 publish got its PUBACK. */
  readonly acked?: (topic: string, payload: string) => void;
}

function why(e: unknown): string {
  if (e instanceof Error) {
    const code = 'code' in e && (typeof e.code === 'string' || typeof e.code === 'number') ? `${e.code}: ` : '';
    const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
    return `${code}${e.message}${cause}`;
  }
  return String(e);
}

/** One device's MQTT session (at most one client at a time). */
export class MqttLink {
  readonly #d: LinkDeps;
  #client: MqttClient | null = null;
  /** Bumped by every connect and close: callbacks of an older session are ignored. */
  #generation = 0;
  /** QoS 1 messages not yet acknowledged, oldest first. */
  readonly #outbox = new Set<OutboxEntry>();
  /** Events held while the session is not serviced (a blocking download), or null while it is. */
  #held: DeviceEvent[] | null = null;

  constructor(deps: LinkDeps) {
    this.#d = deps;
  }

  /** True while a session is up. */
  get up(): boolean {
    return this.#client !== null;
  }

  /** Open a session with the effect's client id, clean flag, keepalive and last will. */
  connect(effect: ConnectEffect, delayMs = 0): void {
    this.close(false);
    const generation = ++this.#generation;
    const d = this.#d;
    const timer = clockTimer(d.clock);
    const connector = d.connector;
    if (connector === undefined) {
      d.emit({ type: 'mqtt-failed', reason: 'no MQTT connector was given to this device' });
      return;
    }
    const options: IClientOptions = {
      clientId: effect.clientId,
      clean: effect.clean,
      keepalive: effect.keepaliveS,
      reconnectPeriod: 0,
      connectTimeout: d.connectTimeoutMs,
      protocolVersion: 4,
      will: { topic: effect.will.topic, payload: Buffer.from(effect.will.payload), qos: effect.will.qos, retain: effect.will.retain },
      // Keepalive ticks are skipped while the session is not serviced: no PINGREQ goes out.
      timerVariant: {
        set: (fn: () => void, ms: number) => timer.set(() => {
          if (this.#held === null) fn();
        }, ms),
        clear: (id: number) => timer.clear(id),
      } as unknown as IClientOptions['timerVariant'],
    };
    const open = (): void => {
      if (generation !== this.#generation) return;
      connector(options).then((client) => this.#attach(client, generation), (e: unknown) => {
        if (generation === this.#generation) d.emit({ type: 'mqtt-failed', reason: why(e) });
      });
    };
    if (delayMs > 0) d.clock.setTimer({ delay: delayMs }, open);
    else open();
  }

  #attach(client: MqttClient, generation: number): void {
    if (generation !== this.#generation) {
      client.end(true);
      return;
    }
    this.#client = client;
    client.on('message', (topic, payload) => {
      if (generation === this.#generation) this.#deliver({ type: 'mqtt-message', topic, payload: payload.toString('utf8') });
    });
    client.on('error', (e) => this.#d.log(`mqtt: ${why(e)}`));
    client.on('close', () => {
      if (generation !== this.#generation) return;
      this.#generation++;
      this.#client = null;
      client.end(true);
      this.#deliver({ type: 'mqtt-down', reason: 'connection lost' });
    });
    this.#resend();
    this.#d.emit({ type: 'mqtt-up' });
  }

  #deliver(e: DeviceEvent): void {
    if (this.#held === null) this.#d.emit(e);
    else this.#held.push(e);
  }

  /**
   * Stop or restart servicing the session (PubSubClient's `client.loop()`): while stopped no
   * keepalive ping goes out, and incoming messages and a lost connection are held until servicing
   * restarts, then delivered in order. Publishes go out regardless.
   */
  service(serviced: boolean): void {
    if (!serviced) {
      this.#held ??= [];
      return;
    }
    const held = this.#held;
    this.#held = null;
    for (const e of held ?? []) this.#d.emit(e);
  }

  subscribe(topic: string, qos: 0 | 1): void {
    this.#client?.subscribe(topic, { qos }, (e) => {
      if (e) this.#d.log(`mqtt: subscribe ${topic} failed: ${why(e)}`);
    });
  }

  /**
   * Publish. QoS 0 offline is dropped (PubSubClient's publish just returns false); QoS 1 goes to
   * the outbox and leaves now or on the next session. Returns whether it was sent or queued.
   */
  publish(topic: string, payload: string, qos: 0 | 1, retain: boolean): boolean {
    if (qos === 1) {
      const entry: OutboxEntry = { topic, payload, retain, at: this.#d.clock.now() };
      this.#outbox.add(entry);
      this.#send(entry);
      return true;
    }
    const c = this.#client;
    if (c === null) return false;
    c.publish(topic, payload, { qos, retain }, (e) => {
      if (e) this.#d.log(`mqtt: publish ${topic} failed: ${why(e)}`);
    });
    return true;
  }

  /** QoS 1 messages waiting for a PUBACK. */
  get outboxSize(): number {
    return this.#outbox.size;
  }

  /** The chip reset: the outbox was in RAM, and so was a stopped `client.loop()` (held events are dropped). */
  clearOutbox(): void {
    this.#outbox.clear();
    this.#held = null;
  }

  #send(entry: OutboxEntry): void {
    const c = this.#client;
    if (c === null) return;
    c.publish(entry.topic, entry.payload, { qos: 1, retain: entry.retain }, (e) => {
      // A failed send (the connection went) stays queued for the next session.
      if (e) this.#d.log(`mqtt: publish ${entry.topic} not acknowledged: ${why(e)}`);
      else if (this.#outbox.delete(entry)) this.#d.acked?.(entry.topic, entry.payload);
    });
  }

  /** A new session: expire old messages, send the rest again in order. */
  #resend(): void {
    const now = this.#d.clock.now();
    for (const entry of this.#outbox) {
      if (now - entry.at > OUTBOX_EXPIRY_MS) {
        this.#outbox.delete(entry);
        this.#d.log(`mqtt: outbox message to ${entry.topic} expired unacknowledged`);
      } else this.#send(entry);
    }
  }

  /**
   * End the session. `graceful` sends DISCONNECT (the broker drops the last will); otherwise the
   * connection just dies and the broker publishes the will, as when the radio goes.
   */
  close(graceful: boolean): void {
    this.#generation++;
    const c = this.#client;
    this.#client = null;
    c?.end(!graceful);
  }
}
