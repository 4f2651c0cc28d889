/**
 * A scenario's environment: the OTA server (embedded in this process, on a data directory the run
 * owns so it can be restarted, with the rollout engine on the run's clock; or an external URL) and
 * the broker devices use (the embedded server's aedes in memory or over TCP, a URL, or a container
 * from harness/brokers). It is also where the server and broker faults act: an outage of the
 * embedded aedes, and a restart of the embedded server on the same data and ports.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../protocol/clock.js';
import { ScenarioError } from '../../protocol/errors.js';
import { PROFILES } from '../../protocol/profiles.js';
import type { Bucketing } from '../../server/rollout/targeting.js';
import type { MqttConnector } from '../../simulator/device/ports.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../simulator/fleet/embedded.js';
import { connectorFor } from '../../simulator/fleet/run.js';
import { dockerUnavailable, openBroker, parseBrokerSpec, type BrokerHandle } from '../brokers/index.js';
import type { Scenario } from '../scenario/loader.js';
import { AdminClient } from './admin.js';

/** A running environment; `close()` stops what it started. */
export class Environment {
  #embedded: EmbeddedServer | null;
  readonly #external: string | null;
  readonly #broker: BrokerHandle | null;
  readonly #dir: string | null;
  readonly #restart: (() => Promise<EmbeddedServer>) | null;
  readonly admin: AdminClient;
  /** The connector every device uses. */
  readonly connector: MqttConnector;
  readonly bucketing: Bucketing;

  private constructor(o: {
    embedded: EmbeddedServer | null; external: string | null; broker: BrokerHandle | null; dir: string | null; apiKey: string;
    restart: (() => Promise<EmbeddedServer>) | null; connector: (env: Environment) => MqttConnector;
    /** Canary bucketing of an external server: its wire profile's rule (an embedded server says its own). */
    bucketing: Bucketing;
  }) {
    this.#embedded = o.embedded;
    this.#external = o.external;
    this.#broker = o.broker;
    this.#dir = o.dir;
    this.#restart = o.restart;
    this.admin = new AdminClient(() => this.url, o.apiKey);
    this.connector = o.connector(this);
    this.bucketing = o.embedded?.server.config.bucketing ?? o.bucketing;
  }

  /** Base URL of the OTA server. */
  get url(): string {
    return this.#external ?? (this.#embedded as EmbeddedServer).url;
  }

  /** The embedded server now (it changes at a restart), or null. */
  get embedded(): EmbeddedServer | null {
    return this.#embedded;
  }

  /** Start the environment `s` names, its server's engine on `clock`. */
  static async start(s: Scenario, clock: Clock): Promise<Environment> {
    const env = s.data.environment;
    const spec = env.broker;
    const own = spec === 'memory' || spec === 'tcp';
    const broker = own ? null : await openBroker(spec);
    try {
      if (env.server !== 'embedded') {
        const url = env.server.url.replace(/\/+$/, '');
        return new Environment({
          embedded: null, external: url, broker, dir: null, apiKey: s.apiKey ?? '', restart: null, bucketing: PROFILES[env.protocol].bucketing,
          connector: () => (broker as BrokerHandle).connector,
        });
      }
      const dir = await mkdtemp(join(tmpdir(), 'otasim-scenario-'));
      const base = {
        data: dir, topicPrefix: env.topic_prefix, ports: { scheduler: clock },
        over: { protocol: env.protocol, ...(broker === null ? {} : { broker: broker.url ?? '' }) },
      };
      let first: EmbeddedServer;
      try {
        first = await startEmbeddedServer(base);
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
      const ports = { port: Number(new URL(first.url).port), mqttPort: first.server.broker?.address?.port ?? 0 };
      const restart = (): Promise<EmbeddedServer> => startEmbeddedServer({ ...base, over: { ...base.over, ...ports } });
      return new Environment({
        embedded: first, external: null, broker, dir, apiKey: first.apiKey, restart, bucketing: first.server.config.bucketing,
        // The memory door reads the current server at each connect, so devices find the restarted one.
        connector: (self) => (broker === null
          ? connectorFor(spec, { get server() { return (self.#embedded as EmbeddedServer).server; }, url: first.url, apiKey: first.apiKey } as EmbeddedServer)
          : broker.connector),
      });
    } catch (e) {
      await broker?.close();
      throw e;
    }
  }

  /**
   * The version the server has recorded for each registered device of `model`: the embedded
   * server's store, or the admin device list of an external one (which shows at most 500).
   */
  async serverVersions(model: string): Promise<Map<string, string | null>> {
    const rows = this.#embedded !== null
      ? await this.#embedded.server.store.devicesOfModel(model)
      : (await this.admin.call<{ devices: Array<{ device_id: string; current_firmware_version: string | null }> }>('GET',
        `/api/admin/devices?device_model=${encodeURIComponent(model)}&limit=500`)).devices;
    return new Map(rows.map((d) => [d.device_id, d.current_firmware_version]));
  }

  /** Embedded aedes: refuse everyone (`true`; returns the clients dropped) or let them back in. */
  setBrokerOutage(down: boolean): number {
    const b = this.#embedded?.server.broker;
    if (b === null || b === undefined) throw new ScenarioError({ file: 'environment' }, 'a broker outage needs the embedded broker');
    return b.setOutage(down);
  }

  /** Close the embedded server, wait `downMs` wall ms, and start it again on the same data and ports. */
  async restartServer(downMs: number): Promise<void> {
    const current = this.#embedded;
    if (current === null || this.#restart === null) throw new ScenarioError({ file: 'environment' }, 'a server restart needs the embedded server');
    await current.server.close();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    this.#embedded = await this.#restart();
  }

  /** Stop the server and the broker this run started, and remove its data. */
  async close(): Promise<void> {
    await this.#embedded?.server.close();
    await this.#broker?.close();
    if (this.#dir !== null) await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * What can be checked before any run starts (the CLI validates every file first): an external
 * server answers `/health` and accepts the key, a broker spec parses, and a container broker has a
 * Docker engine. Throws ScenarioError (exit 2) naming the scenario's environment.
 */
export async function preflight(s: Scenario): Promise<void> {
  const env = s.data.environment;
  try {
    parseBrokerSpec(env.broker);
  } catch (e) {
    throw new ScenarioError({ file: s.file, path: 'environment.broker' }, (e as Error).message, { cause: e });
  }
  if (env.broker.startsWith('container:')) {
    const why = await dockerUnavailable();
    if (why !== null) throw new ScenarioError({ file: s.file, path: 'environment.broker' }, `no Docker engine: ${why}`);
  }
  if (env.server !== 'embedded') {
    const url = env.server.url.replace(/\/+$/, '');
    const admin = new AdminClient(() => url, s.apiKey ?? '', 5_000);
    try {
      await admin.call('GET', '/api/admin/rollouts?limit=1');
    } catch (e) {
      throw new ScenarioError({ file: s.file, path: 'environment.server' }, `the OTA server is not usable: ${(e as Error).message}`, { cause: e });
    }
  }
}
