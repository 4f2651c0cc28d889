/**
 * The embedded MQTT broker: aedes 1 in this process, reachable over TCP and over in-memory
 * duplex streams (ARCHITECTURE.md "Real components": the default when no broker URL is given).
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesOptions } from 'aedes';
import { MqttClient, type IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import { duplexPair } from './duplex-pair.js';
import { indexedMemoryPersistence } from './retained-index.js';
import { DurablePersistence, readSnapshot, snapshotCounts, writeSnapshot } from './session-store.js';
import { whenConnected, type ClientSetup, type MqttClientFactory } from './clients.js';

/** Options of {@link EmbeddedBroker.create}. */
export interface EmbeddedBrokerOptions {
  /**
   * TCP port to listen on; `0` picks a free port (read it back from `address`). Omit it for a
   * memory-only broker with no listener (no file descriptors at all).
   */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Where broker-side client and connection errors are logged (debug/warn). Default: silent. */
  logger?: Logger;
  /**
   * aedes tuning. Defaults: `drainTimeout` 60,000 ms, so one frozen subscriber cannot stall
   * delivery to everyone (loadtest-anchors N5); `concurrency` 1,000 messages in flight through
   * aedes's emitter (aedes's own default is 100, which caps each event-loop turn at 100 deliveries:
   * bench/ingest.ts measured the collector's batches at 100 and its rate at about half of what
   * 1,000 gives).
   */
  aedes?: Pick<AedesOptions, 'concurrency' | 'drainTimeout' | 'heartbeatInterval' | 'connectTimeout' | 'queueLimit'>;
  /**
   * A file that keeps the broker's state across restarts (session-store.ts): read at create, written
   * at close. It holds the sessions of clean-session-false clients with their queued QoS 1 messages,
   * and the retained messages, as Mosquitto's persistence does. Default none: all is lost at close.
   * An unreadable file is logged and the broker starts empty.
   */
  stateFile?: string;
}

/** A client's PUBLISH (or last will) as an interceptor sees it. */
export interface InterceptedPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** The publishing client, or null when aedes cannot name it. */
  clientId: string | null;
}

/**
 * Sees a client's PUBLISH before aedes acknowledges it (PUBACK) or forwards it to anyone, and
 * must call `release()` to let it go on — or `release(error)` to refuse it, which makes aedes
 * drop the client's connection (MQTT 3.1.1 has no negative PUBACK; the client sends it again
 * after reconnecting). aedes reads no further packet of that client's read chunk until then.
 */
export type PublishInterceptor = (message: InterceptedPublish, release: (refuse?: Error) => void) => void;

/** aedes: clients may not publish under `$SYS/` (its default authorizePublish). */
const SYS_PREFIX = '$SYS/';

/** Where the TCP listener is bound. */
export interface BrokerAddress {
  host: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
}

/** An aedes broker with an optional TCP listener and an in-memory door (`handle`, `connect`). */
export class EmbeddedBroker implements AsyncDisposable {
  /** The TCP listener's address, or null for a memory-only broker. */
  readonly address: BrokerAddress | null;
  private closing: Promise<void> | undefined;
  readonly #interceptors: PublishInterceptor[] = [];

  private constructor(
    private readonly aedes: Aedes,
    private readonly server: Server | undefined,
    /** Saves the durable state after aedes closed, when there is a state file. */
    private readonly save: (() => Promise<void>) | undefined,
  ) {
    const a = server?.address() as AddressInfo | null | undefined;
    this.address = a ? { host: a.address, port: a.port } : null;
    aedes.authorizePublish = (client, packet, callback) => {
      if (packet.topic.startsWith(SYS_PREFIX)) {
        callback(new Error(`${SYS_PREFIX} topics are reserved`));
        return;
      }
      this.#afterRetained(client, () => {
        const done = client && packet.retain ? this.#holdRetained(client) : undefined;
        this.#intercept(0, {
          topic: packet.topic,
          payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
          qos: packet.qos,
          retain: packet.retain,
          clientId: client?.id ?? null,
        }, (error) => {
          if (error) done?.();
          callback(error);
        });
      });
    };
    // A retained publish has been stored and forwarded: the client's next publish may go on.
    aedes.on('publish', (packet, client) => {
      if (client && packet.retain) this.#retained.get(client)?.release();
    });
    aedes.on('clientDisconnect', (client) => this.#retained.get(client)?.release());
    // A rehearsed outage refuses every CONNECT with CONNACK 3 "server unavailable" (MQTT 3.1.1 §3.2.2.3).
    aedes.authenticate = (_client, _user, _pass, callback) => {
      if (!this.#refusing) callback(null, true);
      else callback(Object.assign(new Error('broker outage'), { returnCode: 3 as const }), false);
    };
  }

  #refusing = false;

  /**
   * Rehearse a broker outage: while `down`, every connected client (devices and the server's own
   * collector and orchestrator alike) is disconnected and every new CONNECT is refused, over TCP
   * and in memory. `setOutage(false)` lets clients back in; they reconnect on their own schedule.
   * Returns the number of clients disconnected.
   */
  setOutage(down: boolean): number {
    this.#refusing = down;
    if (!down) return 0;
    // aedes keeps its connected clients in `clients` (by id); its typings do not declare it.
    const clients = Object.values((this.aedes as unknown as { clients: Record<string, { close(): void }> }).clients);
    for (const c of clients) c.close();
    return clients.length;
  }

  /**
   * Call `listener` with the client id of every CONNECT the broker accepts (a reconnect storm is
   * counted from the broker's side). Returns the unsubscribe.
   */
  onConnect(listener: (clientId: string) => void): () => void {
    const on = (client: { id: string }): void => listener(client.id);
    this.aedes.on('client', on);
    return () => { this.aedes.off('client', on); };
  }

  /**
   * aedes stores a retained message (asynchronously) before it forwards it, while a plain
   * publish is forwarded at once; so a client's non-retained publish sent right behind a
   * retained one overtook it, and subscribers saw the two out of order (a device's retained
   * boot status arrived after its ota/result). Each client's publishes behind a retained one
   * therefore wait until that one has been forwarded. Plain publishes are not held otherwise.
   */
  readonly #retained = new Map<object, { readonly cleared: Promise<void>; readonly release: () => void }>();

  /** Run `go` once no retained publish of `client` is between authorisation and forwarding. */
  #afterRetained(client: object | null | undefined, go: () => void): void {
    const gate = client ? this.#retained.get(client) : undefined;
    if (gate === undefined) go();
    else void gate.cleared.then(() => this.#afterRetained(client, go));
  }

  /** Mark a retained publish of `client` in flight; returns its release. */
  #holdRetained(client: object): () => void {
    let release!: () => void;
    const cleared = new Promise<void>((resolve) => {
      release = () => {
        if (this.#retained.get(client)?.cleared === cleared) this.#retained.delete(client);
        resolve();
      };
    });
    this.#retained.set(client, { cleared, release });
    return release;
  }

  /** Run interceptors from `i` on; the message goes on once the last one releases it. */
  #intercept(i: number, message: InterceptedPublish, callback: (error?: Error | null) => void): void {
    const interceptor = this.#interceptors[i];
    if (interceptor === undefined) {
      callback(null);
      return;
    }
    let released = false;
    interceptor(message, (refuse) => {
      if (released) return;
      released = true;
      if (refuse) callback(refuse);
      else this.#intercept(i + 1, message, callback);
    });
  }

  /**
   * Add an interceptor that sees every client PUBLISH and last will before it is acknowledged or
   * forwarded (in the order interceptors were added). The collector uses this in embedded mode so
   * a device's PUBACK waits for the COMMIT. Returns the function that removes it.
   */
  intercept(interceptor: PublishInterceptor): () => void {
    this.#interceptors.push(interceptor);
    return () => {
      const i = this.#interceptors.indexOf(interceptor);
      if (i >= 0) this.#interceptors.splice(i, 1);
    };
  }

  /** Start aedes and, if `port` is given, its TCP listener. */
  static async create(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
    // Retained lookups by exact topic: the stock memory persistence scans every retained topic per subscribe (O(N²) for a fleet).
    const log = options.logger;
    const durable = options.stateFile === undefined ? undefined : await restored(options.stateFile, log);
    const aedes = await Aedes.createBroker({
      drainTimeout: 60_000, concurrency: 1000, ...options.aedes,
      persistence: indexedMemoryPersistence(durable === undefined ? undefined : () => durable) as AedesOptions['persistence'],
    });
    const file = options.stateFile;
    const save = durable === undefined || file === undefined ? undefined : async (): Promise<void> => {
      try {
        const s = await durable.snapshot(new Date());
        await writeSnapshot(file, s);
        log?.info({ file, ...snapshotCounts(s) }, 'mqtt broker state saved');
      } catch (err) {
        log?.warn({ err, file }, 'saving the mqtt broker state failed; the next start begins without sessions');
      }
    };
    if (log) {
      aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error }, 'mqtt client error'));
      aedes.on('connectionError', (client, error) => log.debug({ clientId: client.id, err: error }, 'mqtt connection error'));
    }
    if (options.port === undefined) return new EmbeddedBroker(aedes, undefined, save);
    const server = createServer((socket) => aedes.handle(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw error;
    }
    server.on('error', (error) => log?.warn({ err: error }, 'mqtt listener error'));
    return new EmbeddedBroker(aedes, server, save);
  }

  /** `mqtt://host:port` of the TCP listener, or null for a memory-only broker. */
  get url(): string | null {
    if (!this.address) return null;
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    return `mqtt://${host}:${this.address.port}`;
  }

  /** Number of MQTT clients currently connected, over any transport. */
  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  /** Serve one MQTT connection arriving on `stream` (a socket or an in-memory duplex). */
  handle(stream: Duplex): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    this.aedes.handle(stream);
  }

  /**
   * Connect an mqtt.js client over an in-memory duplex (no socket). Reconnects, if the options
   * allow them, build a fresh duplex each time.
   */
  connect(options: IClientOptions = {}, setup?: ClientSetup): Promise<MqttClient> {
    const client = new MqttClient(() => {
      const [clientSide, brokerSide] = duplexPair();
      this.handle(brokerSide);
      return clientSide;
    }, { ...options });
    setup?.(client);
    return whenConnected(client, 'the embedded broker (in memory)');
  }

  /** The in-memory {@link connect} as a client-factory port. */
  readonly clientFactory: MqttClientFactory = (options, setup) => this.connect(options, setup);

  /** Stop listening, disconnect every client and close aedes. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    const listenerClosed = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await listenerClosed;
    await this.save?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A durable persistence loaded from `file` (empty when there is none or it cannot be read). */
async function restored(file: string, log: Logger | undefined): Promise<DurablePersistence> {
  const p = new DurablePersistence();
  try {
    const s = await readSnapshot(file);
    if (s !== null) {
      await p.restore(s);
      log?.info({ file, ...snapshotCounts(s) }, 'mqtt broker state restored');
    }
    return p;
  } catch (err) {
    log?.warn({ err, file }, 'the mqtt broker state file is unreadable; starting without sessions');
    return new DurablePersistence();
  }
}
