/**
 * PUBACK after COMMIT without serialising the whole inbound stream.
 *
 * mqtt.js 5 hands each inbound PUBLISH to `client.handleMessage(packet, done)` and sends the
 * PUBACK when `done()` is called — but it also parses no further packet until then
 * (`handlers/publish.js`, `client.js` work()). Waiting for a commit inside `done` would make
 * every batch one message long. So the collector:
 * 1. calls `done(DEFER)`: with an error, mqtt.js skips its PUBACK and moves on to the next packet
 *    (publish.js: `if (err) return done && done(err)`; the pump's done ignores the argument);
 * 2. sends the PUBACK itself once the batch holding the message has committed.
 *
 * An ack is only sent on the very connection that delivered the message: after a reconnect the
 * broker redelivers unacknowledged QoS 1 messages itself (MQTT 3.1.1 §4.4), and an old packet id
 * could by then name a different message. The broker suite proves that redelivery on every broker.
 */
import type { Duplex } from 'node:stream';
import type { MqttClient } from 'mqtt';

/** Passed to mqtt.js's `handleMessage` callback to suppress its automatic PUBACK. */
export const DEFER: Error = Object.freeze(new Error('PUBACK deferred until the batch commits'));

/** The mqtt.js 5 internal used to write a packet; present since 4.x. */
interface PacketWriter {
  _sendPacket(packet: { cmd: 'puback'; messageId: number }, cb?: (error?: Error) => void, cbStorePut?: undefined, noStore?: boolean): void;
}

/** A QoS 1 message waiting for its PUBACK. */
export interface PendingAck {
  readonly messageId: number;
  /** The connection that delivered it. */
  readonly stream: Duplex;
}

/** Remember where a QoS 1 packet came from so it can be acknowledged later. */
export function pendingAck(client: MqttClient, messageId: number): PendingAck {
  return { messageId, stream: client.stream };
}

/**
 * Send the PUBACK for `ack` if its connection is still the live one.
 *
 * @returns true when the PUBACK was written; false when the connection has gone (the broker will
 *   redeliver the message to the next session, and the store may see it twice: at-least-once).
 */
export function sendPuback(client: MqttClient, ack: PendingAck): boolean {
  if (!client.connected || client.stream !== ack.stream || ack.stream.destroyed) return false;
  (client as unknown as PacketWriter)._sendPacket({ cmd: 'puback', messageId: ack.messageId }, undefined, undefined, true);
  return true;
}
