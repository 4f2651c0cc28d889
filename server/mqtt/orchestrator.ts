/**
 * The orchestrator: tells devices to update by publishing `{prefix}/…/{id}/cmd/ota` to exactly
 * the devices it is given (issue 3 "MQTT"). Topic, payload codec, QoS and retain come from the
 * wire profile (protocol/profiles.ts): in both, QoS 1 and not retained, as the paku workflow's
 * `mosquitto_pub -q 1` (paku-protocol-facts §2.8 step 6). Choosing the devices is targeting's job
 * (server/rollout); this module only delivers.
 *
 * Delivery holds until the device answers, as a job stays queued for its device in AWS IoT Jobs and
 * hawkBit (ota-server-anchors.md): a command whose device has sent no result for it is published
 * again when the device announces itself online still on another version (a live `edge/{id}/status`,
 * not a retained copy) without having acknowledged it (`ota/status`). A command can be lost without anyone knowing: a clean-session device
 * (paku-core) misses what is sent while it is offline, and a device's QoS 0 result is dropped while
 * the broker is down, so the server waits for an outcome that never comes. The repeat waits
 * `repeatAfterMs` after the announcement, because a device that rebooted reports the outcome it
 * finds right after announcing itself (a rolled-back image: the result follows the status); a
 * result in that window ends the wait. The device ignores a command while it is busy with the
 * update and takes none for a version it runs, so a repeat is safe; each command is repeated at
 * most `maxRepeats` times.
 */
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { MqttError } from '../../protocol/errors.js';
import { DeviceId } from '../../protocol/payloads.js';
import { wireProfile, type WireProfile } from '../../protocol/profiles.js';
import type { Topics } from '../../protocol/topics.js';
import { SystemClock, type Cancel, type Clock } from '../../protocol/clock.js';
import { endClient, type MqttClientFactory } from '../broker/index.js';
import { MAX_DEVICE_PACKET_BYTES, devicePacketBytes, otaCommand, type CommandRelease } from './command.js';
import type { CommandMetrics } from './ports.js';

/** Options of {@link Orchestrator.create}. */
export interface OrchestratorOptions {
  clientFactory: MqttClientFactory;
  topics: Topics;
  logger: Logger;
  /** Public base URL devices download from, e.g. `http://192.168.1.10:8080`. */
  downloadBaseUrl: string;
  metrics?: CommandMetrics;
  /** MQTT client id. Default `otasim-orchestrator-<8 random hex>` (unique per process). */
  clientId?: string;
  /** QoS 1 publishes awaiting their PUBACK at once, at most. Default 256. */
  maxInFlight?: number;
  /** Times one command is published again to a device that comes back online without a result; 0 never. Default 3. */
  maxRepeats?: number;
  /** How long after a device's announcement its result may still arrive before the command is repeated, ms. Default 5,000. */
  repeatAfterMs?: number;
  /** Clock of that wait (the rollout engine's). Default the wall clock. */
  clock?: Clock;
}

/** A command that has no outcome from its device yet. */
interface Awaiting {
  readonly topic: string;
  readonly payload: string;
  readonly version: string;
  repeats: number;
  /** A repeat waiting out `repeatAfterMs`, or null. */
  due: Cancel | null;
  /** The device acknowledged this command (`ota/status`): it has the job, announcements repeat nothing. */
  acked: boolean;
}

/** Outcome of one {@link Orchestrator.offer}, in the order the device ids were given. */
export interface OfferResult {
  /** Devices whose command the broker acknowledged. */
  published: string[];
  /** Devices whose publish failed, with why. */
  failed: Array<{ device_id: string; error: MqttError }>;
}

/** What a publish settles to when the orchestrator closes under it. */
const CLOSED = Symbol('closed');

export class Orchestrator implements AsyncDisposable {
  #closed = false;
  #markClosed: (v: typeof CLOSED) => void = () => {};
  /** Settles on close(), cutting short publishes that would otherwise wait for a reconnect. */
  readonly #whenClosed = new Promise<typeof CLOSED>((resolve) => { this.#markClosed = resolve; });

  readonly #profile: WireProfile;
  /** Commands awaiting their device's result, by device id. */
  readonly #awaiting = new Map<string, Awaiting>();
  readonly #clock: Clock;
  readonly #ownClock: SystemClock | undefined;

  private constructor(private readonly client: MqttClient, private readonly o: OrchestratorOptions) {
    this.#profile = wireProfile(o.topics.profile);
    this.#ownClock = o.clock === undefined ? new SystemClock({ unref: true }) : undefined;
    this.#clock = o.clock ?? (this.#ownClock as SystemClock);
  }

  /** Start awaiting `entry`'s result from `id` (a newer command replaces an older one). */
  #await(id: string, entry: Omit<Awaiting, 'repeats' | 'due' | 'acked'>): void {
    this.#forget(id);
    this.#awaiting.set(id, { ...entry, repeats: 0, due: null, acked: false });
  }

  #forget(id: string): void {
    this.#awaiting.get(id)?.due?.();
    this.#awaiting.delete(id);
  }

  /** Commands published (or {@link expect}ed) that have no result from their device yet. */
  get awaiting(): number {
    return this.#awaiting.size;
  }

  /** Connect the orchestrator's MQTT client. */
  static async create(options: OrchestratorOptions): Promise<Orchestrator> {
    const clientId = options.clientId ?? `otasim-orchestrator-${randomBytes(4).toString('hex')}`;
    // Messages may arrive before the constructor has run; until then there is nothing awaiting.
    const route: { to?: (topic: string, payload: Buffer, retained: boolean) => void } = {};
    // reconnectOnConnackError: a broker still refusing connects as it comes back (CONNACK 3) must not
    // end the orchestrator for good, which mqtt.js does by default; offers would stop after an outage.
    const client = await options.clientFactory({ clientId, clean: true, reconnectPeriod: 1000, resubscribe: true, reconnectOnConnackError: true },
      (c) => c.on('message', (topic, payload, packet) => route.to?.(topic, payload, packet.retain)));
    client.on('error', (err) => options.logger.warn({ err }, 'orchestrator MQTT error'));
    client.on('offline', () => options.logger.warn('orchestrator MQTT connection lost; reconnecting'));
    const self = new Orchestrator(client, options);
    route.to = (topic, payload, retained) => self.#heard(topic, payload, retained);
    if ((options.maxRepeats ?? 3) > 0) {
      // Acknowledgements, results and live announcements only (progress, the bulk of the traffic, is
      // not needed); QoS 0 suffices.
      const filters = [options.topics.otaReplyFilter.replace(/#$/, 'status'), options.topics.otaReplyFilter.replace(/#$/, 'result'), options.topics.edgeStatusFilter];
      try {
        await client.subscribeAsync(filters, { qos: 0 });
      } catch (error) {
        await endClient(client, true);
        throw new MqttError('OTASIM_ERR_MQTT_SUBSCRIBE', `orchestrator could not subscribe to ${filters.join(' and ')}: ${(error as Error).message}`, { cause: error });
      }
    }
    return self;
  }

  /**
   * Record that `deviceIds` were commanded `release` before this orchestrator existed (a restarted
   * server resuming its plans), so they get it again when they come back online without a result.
   */
  expect(deviceIds: readonly string[], release: CommandRelease): void {
    const payload = JSON.stringify(this.#profile.codecs.command.encode(otaCommand(release, this.o.downloadBaseUrl)));
    for (const id of new Set(deviceIds)) {
      if (DeviceId.safeParse(id).success) this.#await(id, { topic: this.o.topics.cmdOta(id), payload, version: release.version });
    }
  }

  /**
   * A result ends the wait; an acknowledgement means the device has the command; a live
   * announcement on another version from a device that never acknowledged it repeats the command.
   * (A device that has the job announces itself too, e.g. `rebooting` into the new image; its
   * outcome then comes as a result, or the rollout engine's timeout and retries deal with it.)
   */
  #heard(topic: string, raw: Buffer, retained: boolean): void {
    const where = this.o.topics.parse(topic);
    if (where === undefined || where.kind === 'ota' && where.reply === 'progress') return;
    const waiting = this.#awaiting.get(where.deviceId);
    if (waiting === undefined) return;
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (parsed === null || typeof parsed !== 'object') return;
      body = parsed as Record<string, unknown>;
    } catch {
      return;
    }
    if (where.kind === 'ota') {
      // paku-edge names the version in target_version, paku-legacy in version (docs/protocol.md §1.2).
      const version = body['target_version'] ?? body['version'];
      const ours = version === waiting.version || version === undefined || version === 'unknown';
      if (ours && where.reply === 'result') this.#forget(where.deviceId);
      else if (ours && version === waiting.version) {
        waiting.acked = true;
        waiting.due?.();
        waiting.due = null;
      }
      return;
    }
    if (retained || body['online'] !== true || waiting.acked) return;
    if (body['firmware_version'] === waiting.version) {
      this.#forget(where.deviceId);
      return;
    }
    if (this.#closed || waiting.due !== null || waiting.repeats >= (this.o.maxRepeats ?? 3)) return;
    const id = where.deviceId;
    waiting.due = this.#clock.setTimer({ delay: this.o.repeatAfterMs ?? 5_000 }, () => {
      waiting.due = null;
      if (this.#closed || this.#awaiting.get(id) !== waiting) return;
      waiting.repeats++;
      this.o.logger.info({ device_id: id, version: waiting.version, repeat: waiting.repeats },
        'device back online without a result for its command: cmd/ota published again');
      void this.#publish(waiting.topic, waiting.payload);
    });
  }

  /**
   * Publish the `cmd/ota` for `release` to each device in `deviceIds` (duplicates once), with the
   * profile's QoS (1) and retain flag (false).
   * Resolves when the broker has acknowledged every publish or refused it.
   *
   * @throws MqttError `OTASIM_ERR_MQTT_TOPIC` if an id cannot be a topic level, or
   *   `OTASIM_ERR_MQTT_PAYLOAD_TOO_LARGE` if a command would not fit the device's 1 KiB buffer;
   *   both before anything is published. `OTASIM_ERR_MQTT_CLOSED` after close().
   */
  async offer(deviceIds: readonly string[], release: CommandRelease, context: { rollout?: string } = {}): Promise<OfferResult> {
    if (this.#closed) throw new MqttError('OTASIM_ERR_MQTT_CLOSED', 'the orchestrator is closed; create a new one');
    const payload = JSON.stringify(this.#profile.codecs.command.encode(otaCommand(release, this.o.downloadBaseUrl)));
    const ids = [...new Set(deviceIds)];
    const topics = ids.map((id) => this.#topicFor(id, payload));
    const outcomes: Array<MqttError | undefined> = new Array(ids.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const i = next++;
        outcomes[i] = await this.#publish(topics[i] as string, payload);
      }
    };
    const workers = Math.min(this.o.maxInFlight ?? 256, ids.length);
    await Promise.all(Array.from({ length: workers }, worker));
    const result: OfferResult = { published: [], failed: [] };
    ids.forEach((id, i) => {
      const error = outcomes[i];
      if (error === undefined) result.published.push(id);
      else result.failed.push({ device_id: id, error });
      // A failed publish awaits too: the device gets the command when it next comes online.
      this.#await(id, { topic: topics[i] as string, payload, version: release.version });
    });
    this.o.logger.info({ rollout: context.rollout, version: release.version, device_model: release.device_model,
      published: result.published.length, failed: result.failed.length }, 'cmd/ota published');
    return result;
  }

  #topicFor(id: string, payload: string): string {
    const ok = DeviceId.safeParse(id);
    let topic: string;
    try {
      if (!ok.success) throw new Error(ok.error.issues[0]?.message ?? 'invalid');
      topic = this.o.topics.cmdOta(id);
    } catch (e) {
      throw new MqttError('OTASIM_ERR_MQTT_TOPIC', `device id ${JSON.stringify(id)} cannot be an MQTT topic level: ${(e as Error).message}`,
        { cause: e });
    }
    const bytes = devicePacketBytes(topic, payload);
    if (bytes > MAX_DEVICE_PACKET_BYTES) {
      throw new MqttError('OTASIM_ERR_MQTT_PAYLOAD_TOO_LARGE', `the cmd/ota for ${id} is ${bytes} bytes; the device's ` +
        `PubSubClient buffer holds ${MAX_DEVICE_PACKET_BYTES} and would drop it: shorten the download base URL or the version`);
    }
    return topic;
  }

  /**
   * One publish. Fails at once when the client is not connected (a command queued for a
   * reconnect that may never come would hold the whole offer); a publish already sent waits for
   * its PUBACK, which mqtt.js re-sends for after a reconnect, or for close().
   */
  async #publish(topic: string, payload: string): Promise<MqttError | undefined> {
    try {
      if (this.#closed) throw new Error('the orchestrator closed');
      if (!this.client.connected) throw new Error('not connected to the broker');
      const { qos, retain } = this.#profile.delivery.command;
      const sent = this.client.publishAsync(topic, payload, { qos, retain });
      sent.catch(() => {}); // may settle after close() has already answered for it
      if ((await Promise.race([sent, this.#whenClosed])) === CLOSED) throw new Error('the orchestrator closed before the PUBACK');
      this.o.metrics?.countCommand('published');
      return undefined;
    } catch (e) {
      this.o.metrics?.countCommand('failed');
      this.o.logger.warn({ err: e, topic }, 'cmd/ota publish failed');
      return new MqttError('OTASIM_ERR_MQTT_PUBLISH', `publishing ${topic} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Disconnect. Connected, it first waits for the PUBACKs of publishes in flight; offline, it
   * fails them (their devices are reported in the offer's `failed`). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#awaiting.values()) w.due?.();
    this.#ownClock?.close();
    if (!this.client.connected) this.#markClosed(CLOSED);
    await endClient(this.client, !this.client.connected);
    this.#markClosed(CLOSED);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
