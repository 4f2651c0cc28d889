/**
 * `/metrics` in Prometheus text (issue 3): devices by version and model, update outcomes, rollout
 * progress, HTTP latency, MQTT ingest counts. Fleet gauges are read from the store at scrape time,
 * so they are right after a restart and across several server processes sharing one PostgreSQL.
 * One registry per server: two servers in one process never share series.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UpdateStatusValue } from '../../protocol/payloads.js';
import type { Store, StoreStats } from '../store/store.js';
import { targetedDevices, type Bucketing } from '../rollout/targeting.js';

/** Most active rollouts whose progress a scrape computes (newest first). */
export const MAX_ROLLOUTS_IN_METRICS = 50;

/** The server's metrics. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Record one HTTP request; `route` is the route pattern, not the raw URL. */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void;
  /** Count one status report that was persisted. `source`: `http` or `mqtt`. */
  countStatusReport(status: UpdateStatusValue, source: 'http' | 'mqtt'): void;
  /** Count one MQTT message the collector handled: `ok`, `malformed` (bad JSON or schema) or `ignored`. */
  countMqttMessage(kind: string, outcome: 'ok' | 'malformed' | 'ignored'): void;
  /** Count one OTA command published to a device. */
  countCommand(outcome: 'published' | 'failed'): void;
  /** Count one rollout engine decision (`phase_advanced`, `threshold_tripped`, `rollback_started`, …). */
  countRolloutDecision(decision: string): void;
  /** The Prometheus exposition text, fleet gauges refreshed from the store. */
  render(): Promise<string>;
  /** The real service's JSON `/metrics` shape (paku-protocol-facts §2.4.9). */
  renderJson(): Promise<Pick<StoreStats, 'total_devices' | 'devices_by_model' | 'recent_updates_24h' | 'active_rollouts'>>;
  readonly contentType: string;
}

/** Create the metrics for one server reading `store`. */
export function createMetrics(store: Store, opts: { bucketing?: Bucketing; defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'otasim_' });
  const httpSeconds = new Histogram({
    name: 'otasim_http_request_duration_seconds', help: 'HTTP request latency in seconds, by route pattern',
    labelNames: ['method', 'route', 'status_code'] as const, registers: [registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const statusReports = new Counter({
    name: 'otasim_update_reports_total', help: 'Update-status reports persisted by this process, by status and source',
    labelNames: ['status', 'source'] as const, registers: [registry],
  });
  const mqttMessages = new Counter({
    name: 'otasim_mqtt_messages_total', help: 'MQTT messages handled by the collector, by kind and outcome (malformed = bad JSON or schema)',
    labelNames: ['kind', 'outcome'] as const, registers: [registry],
  });
  const commands = new Counter({
    name: 'otasim_ota_commands_total', help: 'cmd/ota messages published to devices, by outcome',
    labelNames: ['outcome'] as const, registers: [registry],
  });
  const decisions = new Counter({
    name: 'otasim_rollout_decisions_total', help: 'Rollout engine decisions by this process (phase advanced, threshold tripped, rollback started, operator actions, …)',
    labelNames: ['decision'] as const, registers: [registry],
  });
  const devicesTotal = new Gauge({ name: 'otasim_devices', help: 'Registered devices', registers: [registry] });
  const byVersion = new Gauge({
    name: 'otasim_devices_by_version', help: 'Registered devices by current firmware version ("" = unknown)',
    labelNames: ['version'] as const, registers: [registry],
  });
  const byModel = new Gauge({
    name: 'otasim_devices_by_model', help: 'Registered devices by device model',
    labelNames: ['device_model'] as const, registers: [registry],
  });
  const recent = new Gauge({
    name: 'otasim_update_status_24h', help: 'device_update_status rows reported in the last 24 h, by status (update outcomes)',
    labelNames: ['status'] as const, registers: [registry],
  });
  const activeRollouts = new Gauge({ name: 'otasim_active_rollouts', help: 'Active rollouts', registers: [registry] });
  const rolloutTargeted = new Gauge({
    name: 'otasim_rollout_targeted_devices', help: 'Registered devices an active rollout targets',
    labelNames: ['rollout', 'firmware_version', 'device_model'] as const, registers: [registry],
  });
  const rolloutDevices = new Gauge({
    name: 'otasim_rollout_devices', help: 'Devices whose latest status for an active rollout\'s version is <status> (rollout progress)',
    labelNames: ['rollout', 'status'] as const, registers: [registry],
  });
  const rolloutOnVersion = new Gauge({
    name: 'otasim_rollout_devices_on_version', help: 'Targeted devices already running an active rollout\'s version',
    labelNames: ['rollout'] as const, registers: [registry],
  });

  async function refresh(): Promise<void> {
    const s = await store.stats();
    devicesTotal.set(s.total_devices);
    byVersion.reset();
    for (const [v, n] of Object.entries(s.devices_by_version)) byVersion.set({ version: v }, n);
    byModel.reset();
    for (const [m, n] of Object.entries(s.devices_by_model)) byModel.set({ device_model: m }, n);
    recent.reset();
    for (const [st, n] of Object.entries(s.recent_updates_24h)) recent.set({ status: st }, n);
    activeRollouts.set(s.active_rollouts);
    rolloutTargeted.reset();
    rolloutDevices.reset();
    rolloutOnVersion.reset();
    const rollouts = await store.listRollouts({ active: true, limit: MAX_ROLLOUTS_IN_METRICS });
    for (const r of rollouts) {
      const targets = targetedDevices(r, await store.devicesOfModel(r.device_model), opts.bucketing);
      rolloutTargeted.set({ rollout: r.name, firmware_version: r.firmware_version, device_model: r.device_model }, targets.length);
      rolloutOnVersion.set({ rollout: r.name }, targets.filter((d) => d.current_firmware_version === r.firmware_version).length);
      const counts = await store.statusCounts(r.firmware_version, r.device_model);
      for (const [st, n] of Object.entries(counts)) rolloutDevices.set({ rollout: r.name, status: st }, n ?? 0);
    }
  }

  return {
    registry,
    contentType: registry.contentType,
    observeHttp: (method, route, statusCode, seconds) =>
      httpSeconds.observe({ method, route, status_code: String(statusCode) }, seconds),
    countStatusReport: (status, source) => statusReports.inc({ status, source }),
    countMqttMessage: (kind, outcome) => mqttMessages.inc({ kind, outcome }),
    countCommand: (outcome) => commands.inc({ outcome }),
    countRolloutDecision: (decision) => decisions.inc({ decision }),
    async render() {
      await refresh();
      return registry.metrics();
    },
    async renderJson() {
      const s = await store.stats();
      return { total_devices: s.total_devices, devices_by_model: s.devices_by_model,
        recent_updates_24h: s.recent_updates_24h, active_rollouts: s.active_rollouts };
    },
  };
}
