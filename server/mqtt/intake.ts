/**
 * Where the collector's messages come from, and how each is acknowledged once committed.
 *
 * - `clientIntake`: an mqtt.js client subscribed to the reply filters on any broker (Mosquitto,
 *   aedes over TCP or memory). The PUBACK *to the broker* is deferred until COMMIT
 *   (deferred-ack.ts); the broker keeps an unacknowledged message for the next session.
 * - `embeddedIntake`: the in-process aedes, whose own PUBACK *to the device* is held until
 *   COMMIT (EmbeddedBroker.intercept). This is the only way the guarantee reaches the device when
 *   the broker lives and dies with the server: aedes acknowledges a QoS 1 PUBLISH before it
 *   forwards it (aedes lib/handlers/publish.js), so a subscriber's PUBACK would protect nothing.
 */
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { MqttError } from '../../protocol/errors.js';
import type { Topics } from '../../protocol/topics.js';
import { endClient, type EmbeddedBroker, type MqttClientFactory } from '../broker/index.js';
import { DEFER, pendingAck, sendPuback } from './deferred-ack.js';

/** One message handed to the collector. */
export interface Delivery {
  topic: string;
  payload: Uint8Array;
  /** Acknowledge it: call after COMMIT. Absent when nothing is owed (QoS 0). */
  ack?: () => void;
  /** It will never be committed here: tell the sender to send it again, if the intake can. */
  refuse?: () => void;
  /** Let the intake go on reading; the collector holds this back while it is full. */
  next: () => void;
}

/** The collector's side: false when it is closing, and the message must stay unacknowledged. */
export type Take = (delivery: Delivery) => boolean;

export interface Intake {
  /** Start handing messages to `take`. */
  open(take: Take): Promise<void>;
  /** Stop; called after the collector has committed what it took. */
  close(): Promise<void>;
  /** PUBACKs that could not be sent because their connection had gone (the broker redelivers). */
  readonly acksDropped: number;
}

/** MQTT topic-filter match (`+` one level, `#` the rest), MQTT 3.1.1 §4.7. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Options of {@link clientIntake}. */
export interface ClientIntakeOptions {
  clientFactory: MqttClientFactory;
  topics: Topics;
  logger: Logger;
  clientId: string;
  /** clean=false, so the broker keeps what was not acknowledged. */
  persistentSession: boolean;
}

/** Subscribe an mqtt.js client; defer each QoS 1 PUBACK until the collector acks. */
export function clientIntake(o: ClientIntakeOptions): Intake {
  let client: MqttClient | undefined;
  let acksDropped = 0;
  const onPublish = (take: Take, c: MqttClient, packet: IPublishPacket, done: (error?: Error) => void): void => {
    const qos1 = packet.qos === 1 && packet.messageId !== undefined;
    const pending = qos1 ? pendingAck(c, packet.messageId as number) : undefined;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    // DEFER: mqtt.js must not PUBACK; it goes on to the next packet.
    const next = (): void => done(pending ? DEFER : undefined);
    const ack = pending && ((): void => { if (!sendPuback(c, pending)) acksDropped++; });
    if (!take({ topic: packet.topic, payload, ...(ack ? { ack } : {}), next })) next();
  };
  return {
    get acksDropped() { return acksDropped; },
    async open(take) {
      const { topics, logger } = o;
      // reconnectOnConnackError: a broker that refuses the reconnect while it is coming back (CONNACK
      // "server unavailable") must not end the collector for good, which mqtt.js does by default.
      const c = await o.clientFactory({ clientId: o.clientId, clean: !o.persistentSession, reconnectPeriod: 1000, resubscribe: true, reconnectOnConnackError: true },
        // Installed before the first packet: a resumed session's queued messages follow the CONNACK.
        (fresh) => { fresh.handleMessage = (packet, done) => onPublish(take, fresh, packet, done); });
      client = c;
      c.on('error', (err) => logger.warn({ err }, 'collector MQTT error'));
      c.on('offline', () => logger.warn('collector MQTT connection lost; reconnecting'));
      const filters = [topics.otaReplyFilter, topics.edgeStatusFilter];
      try {
        const granted = await c.subscribeAsync(filters, { qos: 1 });
        const refused = granted.filter((g) => g.qos === 128);
        if (refused.length > 0) throw new Error(`broker refused ${refused.map((g) => g.topic).join(', ')}`);
      } catch (error) {
        await endClient(c, true);
        throw new MqttError('OTASIM_ERR_MQTT_SUBSCRIBE', `collector could not subscribe to ${filters.join(' and ')}: ${(error as Error).message}`,
          { cause: error });
      }
      logger.info({ clientId: o.clientId, filters }, 'collector subscribed');
    },
    async close() {
      if (client) await endClient(client);
    },
  };
}

/** Intercept the embedded broker's PUBLISHes on the reply filters; release each once committed. */
export function embeddedIntake(broker: Pick<EmbeddedBroker, 'intercept'>, topics: Topics, logger: Logger): Intake {
  let remove: (() => void) | undefined;
  const filters = [topics.otaReplyFilter, topics.edgeStatusFilter];
  return {
    acksDropped: 0,
    async open(take) {
      remove = broker.intercept((m, release) => {
        if (!filters.some((f) => topicMatches(f, m.topic))) {
          release();
          return;
        }
        // QoS 0 owes nothing: it goes on at once (unless the collector is full). QoS 1/2 go on —
        // PUBACK/PUBREC to the device — only when committed.
        const owed = m.qos > 0;
        const refuse = (): void => release(new Error('the OTA server cannot store this now; publish again after reconnecting'));
        const taken = take({
          topic: m.topic, payload: m.payload, next: owed ? () => {} : () => release(),
          ...(owed ? { ack: () => release(), refuse } : {}),
        });
        if (!taken) {
          if (owed) refuse();
          else release();
        }
      });
      logger.info({ filters }, 'collector intercepting the embedded broker');
    },
    async close() {
      remove?.();
    },
  };
}
