/**
 * `OtaServer.create(config)`: the OTA server assembled from its parts — metadata store (PGlite in
 * the data directory, or PostgreSQL), content-addressed artifact store, MQTT broker (embedded
 * aedes or an external URL), collector, orchestrator and the HTTP app. Each part is created in
 * order and closed in reverse; a failure half-way closes what was already open.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../protocol/errors.js';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { topics as makeTopics } from '../protocol/topics.js';
import { EmbeddedBroker, urlClientFactory, type MqttClientFactory } from './broker/index.js';
import { resolveServerConfig, type ServerConfig, type ServerConfigInput } from './config.js';
import { createHttpApp, type RouteInfo } from './http/app.js';
import { createMetrics, type ServerMetrics } from './http/metrics.js';
import { openStore } from './store/open.js';
import { builtinTemplateDir } from './store/pglite-template.js';
import { ArtifactStore } from './store/artifacts.js';
import type { Store } from './store/store.js';
import { Collector, Orchestrator } from './mqtt/index.js';
import { devicesToOffer, unanswered } from './rollout/offer.js';
import { meetsMinVersion } from '../protocol/versions.js';
import type { ReleaseRow, RolloutRow } from './store/store.js';
import { SystemClock, type Clock } from '../protocol/clock.js';
import { RolloutEngine } from './rollout/engine.js';

/** How long `close()` lets in-flight HTTP requests finish before cutting their connections, ms. */
const HTTP_CLOSE_GRACE_MS = 5_000;

export { resolveServerConfig, type ServerConfig, type ServerConfigInput } from './config.js';

/** Options that are ports rather than config (STYLE.md §2). */
export interface OtaServerPorts {
  /** Logger; default pino to stdout at `config.logLevel`. */
  readonly logger?: Logger;
  /** Clock for store timestamps; default the wall clock. */
  readonly clock?: () => Date;
  /** Register Node's default process metrics in /metrics. Default true. */
  readonly defaultMetrics?: boolean;
  /** Monotonic milliseconds for HTTP caches (rollouts, releases, check-in resolution); default `performance.now`. */
  readonly now?: () => number;
  /**
   * Clock of the rollout engine's timers and times (timeouts, retries, soak). Default a SystemClock.
   * Given without `clock`, the store stamps its rows with it too, so a VirtualClock rehearses a
   * whole rollout in virtual time.
   */
  readonly scheduler?: Clock;
  /** How often the rollout engine re-reads reports of a live plan, ms. Default 1,000. */
  readonly rolloutPollMs?: number;
}

type Closer = () => Promise<void>;

/** The parts a running server is made of. */
export interface OtaServerParts {
  /** The resolved, frozen config. */
  readonly config: ServerConfig;
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:8080` (the real port when 0 was asked). */
  readonly url: string;
  /** `mqtt://host:port` of the broker devices use: the embedded listener, or the external URL. */
  readonly mqttUrl: string | null;
  readonly store: Store;
  readonly artifacts: ArtifactStore;
  /** The embedded broker, or null with an external one. */
  readonly broker: EmbeddedBroker | null;
  /** Connects MQTT clients to the broker the server uses (in memory when embedded). */
  readonly mqttClientFactory: MqttClientFactory;
  readonly collector: Collector;
  readonly orchestrator: Orchestrator;
  readonly http: FastifyInstance;
  /** Every HTTP route, with whether it needs the API key. */
  readonly routes: readonly RouteInfo[];
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** The rollout engine (plans, gates, failure policy). */
  readonly rollouts: RolloutEngine;
}

/** A running OTA server. Close it with `close()` or `await using`. */
export class OtaServer implements AsyncDisposable, OtaServerParts {
  readonly config!: ServerConfig;
  readonly url!: string;
  readonly mqttUrl!: string | null;
  readonly store!: Store;
  readonly artifacts!: ArtifactStore;
  readonly broker!: EmbeddedBroker | null;
  readonly mqttClientFactory!: MqttClientFactory;
  readonly collector!: Collector;
  readonly orchestrator!: Orchestrator;
  readonly http!: FastifyInstance;
  readonly routes!: readonly RouteInfo[];
  readonly metrics!: ServerMetrics;
  readonly logger!: Logger;
  readonly rollouts!: RolloutEngine;
  #closers: Closer[];
  #closing: Promise<void> | undefined;

  private constructor(parts: OtaServerParts, closers: Closer[]) {
    Object.assign(this, parts);
    this.#closers = closers;
  }

  /**
   * Start a server. `input` is validated by `resolveServerConfig` (throws `ConfigError`); store,
   * broker and listener failures reject with their own typed errors.
   */
  static async create(input: ServerConfigInput | ServerConfig = {}, ports: OtaServerPorts = {}): Promise<OtaServer> {
    const config = 'apiKeyDefaulted' in input ? input : resolveServerConfig(input);
    const logger = ports.logger ?? pino({ level: config.logLevel, base: { name: 'otasim-server' } });
    const closers: Closer[] = [];
    const closeAll = async (): Promise<void> => {
      for (const c of closers.splice(0).reverse()) {
        await c().catch((err: unknown) => logger.error({ err }, 'error while closing'));
      }
    };
    try {
      if (config.apiKeyDefaulted) {
        logger.warn(`no --api-key given: using the built-in default "${config.apiKey}"; anyone who knows it can upload firmware`);
      }
      const scheduler = ports.scheduler ?? new SystemClock({ unref: true });
      if (ports.scheduler === undefined) closers.push(async () => (scheduler as SystemClock).close());
      const storeClock = ports.clock ?? (ports.scheduler === undefined ? undefined : () => new Date(scheduler.now()));
      const storeOpts = { pgliteTemplateDir: builtinTemplateDir(), ...(storeClock === undefined ? {} : { clock: storeClock }) };
      const store = config.database === null
        ? await openStore({ data: join(config.data, 'db') }, storeOpts)
        : await openStore({ database: config.database, ...(config.databaseSchema === null ? {} : { schema: config.databaseSchema }) }, storeOpts);
      closers.push(() => store.close());
      const artifacts = await ArtifactStore.create({ dir: join(config.data, 'artifacts'), maxBytes: config.maxUploadBytes });

      let broker: EmbeddedBroker | null = null;
      let clientFactory: MqttClientFactory;
      let mqttUrl: string | null;
      if (config.broker === 'embedded') {
        // Sessions and queued commands outlive a restart, as with a real broker (server/broker/session-store.ts).
        const b = await EmbeddedBroker.create({ port: config.mqttPort, host: config.host, logger, stateFile: join(config.data, 'broker', 'state.json') });
        broker = b;
        closers.push(() => b.close());
        clientFactory = b.clientFactory;
        mqttUrl = b.url?.replace('//0.0.0.0:', '//127.0.0.1:') ?? null;
      } else {
        clientFactory = urlClientFactory(config.broker);
        mqttUrl = config.broker;
      }

      const metrics = createMetrics(store, { bucketing: config.bucketing, defaultMetrics: ports.defaultMetrics ?? true });
      const topics = makeTopics({ prefix: config.topicPrefix, profile: config.protocol });
      // Embedded: the collector intercepts aedes so the device's own PUBACK waits for the commit
      // (aedes acks a publisher before it forwards to subscribers, so a subscriber's ack protects nothing).
      const collector = await Collector.create({ ...(broker ? { embedded: broker } : { clientFactory }), store, topics, logger, metrics });
      closers.push(() => collector.close());
      // Closing, the embedded broker drops every client and refuses new ones BEFORE the collector stops
      // intercepting: a report it acknowledged after that would reach no store.
      if (broker) closers.push(async () => { broker?.setOutage(true); });

      // The orchestrator needs the listening URL; rollout changes that arrive first wait for it.
      let orchestratorReady!: (o: Orchestrator) => void;
      const orchestrator = new Promise<Orchestrator>((resolve) => { orchestratorReady = resolve; });
      const offerRollout = async (rollout: RolloutRow): Promise<void> => {
        if (!config.pushOnRollout) return;
        const { release, deviceIds } = await pushTargets(store, rollout, config);
        if (release === undefined || deviceIds.length === 0) {
          logger.info({ rollout: rollout.name, devices: 0 }, 'rollout change: no device to command');
          return;
        }
        const result = await (await orchestrator).offer(deviceIds, release, { rollout: rollout.name });
        if (result.failed.length > 0) {
          logger.warn({ rollout: rollout.name, failed: result.failed.length, first: result.failed[0]?.error.message }, 'some cmd/ota publishes failed');
        }
      };

      const rollouts = await RolloutEngine.create({
        store, clock: scheduler, logger, metrics, bucketing: config.bucketing,
        ...(ports.rolloutPollMs === undefined ? {} : { pollMs: ports.rolloutPollMs }),
        offer: async (ids, release, ctx) => {
          const result = await (await orchestrator).offer(ids, release, ctx);
          if (result.failed.length > 0) logger.warn({ rollout: ctx.rollout, failed: result.failed.length }, 'some plan cmd/ota publishes failed');
        },
      });
      closers.push(() => rollouts.close());

      const tls = await readTls(config);
      const { app, routes } = await createHttpApp({
        store, artifacts, config, logger, metrics, onRolloutChange: offerRollout, plans: async () => rollouts, ...(ports.now === undefined ? {} : { now: ports.now }),
        ...(tls === undefined ? {} : { tls }),
      });
      closers.push(async () => {
        // In-flight requests get a grace period; then a stalled client (a device that stopped
        // reading a download without closing its socket) must not hold shutdown forever.
        const grace = setTimeout(() => app.server.closeAllConnections(), HTTP_CLOSE_GRACE_MS);
        try {
          await app.close();
        } finally {
          clearTimeout(grace);
        }
      });
      await app.listen({ port: config.port, host: config.host });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const url = `${tls === undefined ? 'http' : 'https'}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
      const orch = await Orchestrator.create({ clientFactory, topics, logger, metrics, downloadBaseUrl: config.publicUrl ?? url, clock: scheduler });
      closers.push(() => orch.close());
      // Plans resumed from the store whose rollout is still active: devices commanded before the restart and
      // not yet answered get the command again when they come back online (a result lost with the broker never comes).
      for (const p of await store.listPlans({ statuses: ['running', 'awaiting_approval', 'completed'] })) {
        const release = await store.getRelease(p.firmware_version, p.device_model);
        if (release !== undefined) orch.expect(unanswered(p.state as Parameters<typeof unanswered>[0]), release);
      }
      orchestratorReady(orch);
      logger.info({ url, mqtt: mqttUrl, store: store.kind, data: config.data }, `otasim server listening on ${url}`);
      return new OtaServer({
        config, url, mqttUrl, store, artifacts, broker, mqttClientFactory: clientFactory, collector, orchestrator: orch,
        http: app, routes, metrics, logger, rollouts,
      }, closers);
    } catch (e) {
      await closeAll();
      throw e;
    }
  }

  /** The base URL devices should use for downloads: `publicUrl`, else `url`. */
  get publicUrl(): string {
    return this.config.publicUrl ?? this.url;
  }

  /** Stop listening, then close MQTT, broker and store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const c of this.#closers.splice(0).reverse()) {
        await c().catch((err: unknown) => this.logger.error({ err }, 'error while closing'));
      }
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Read the TLS key and certificate files named by the config; `ConfigError` naming the file when one cannot be read. */
async function readTls(config: ServerConfig): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if (config.tlsCert === null || config.tlsKey === null) return undefined;
  const read = async (flag: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (e) {
      throw new ConfigError(`${flag} ${path}: ${(e as Error).message}`, { cause: e });
    }
  };
  const pair = { key: await read('tls-key', config.tlsKey), cert: await read('tls-cert', config.tlsCert) };
  try {
    createSecureContext(pair);
  } catch (e) {
    throw new ConfigError(`tls-cert ${config.tlsCert} / tls-key ${config.tlsKey}: not a usable PEM certificate and key: ${(e as Error).message}`, { cause: e });
  }
  return pair;
}

/**
 * Who gets a `cmd/ota` when `rollout` is created or changed: the registered devices for which it
 * is the deciding rollout (the rule `/api/firmware/check` applies), that neither run its version nor
 * reported success for it since they last announced themselves, and that meet its release's `min_version`.
 */
export async function pushTargets(store: Store, rollout: RolloutRow, config: Pick<ServerConfig, 'bucketing'>):
Promise<{ release: ReleaseRow | undefined; deviceIds: string[] }> {
  const release = await store.getRelease(rollout.firmware_version, rollout.device_model);
  if (release === undefined || !rollout.is_active) return { release, deviceIds: [] };
  const active = await store.listRollouts({ device_model: rollout.device_model, active: true, limit: 100 });
  const devices = await store.devicesOfModel(rollout.device_model);
  // A device whose latest report for the version is a success already has it (rollout/offer.ts hasVersion).
  const succeeded = new Map((await store.latestReports(release.version, new Date(0))).filter((r) => r.status === 'success').map((r) => [r.device_id, r.reported_at]));
  const deviceIds = devicesToOffer(rollout, release, devices, active, meetsMinVersion, config.bucketing, succeeded).map((d) => d.device_id);
  return { release, deviceIds };
}
