/**
 * The ports the orchestrator and collector take (STYLE.md §2): metrics, hooks and a sleep.
 * Structural, so the server's prom-client metrics (server/http/metrics.ts) plug in as they are
 * and tests pass plain objects.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { sleep, type Clock } from '../../protocol/clock.js';
import type { UpdateStatusValue } from '../../protocol/payloads.js';

/** What the collector counts. */
export interface CollectorMetrics {
  /** One MQTT message handled: `ok` (committed), `malformed` (bad JSON, schema or refused by the store), `ignored`. */
  countMqttMessage(kind: string, outcome: 'ok' | 'malformed' | 'ignored'): void;
  /** One status report persisted from MQTT. */
  countStatusReport(status: UpdateStatusValue, source: 'mqtt'): void;
}

/** What the orchestrator counts. */
export interface CommandMetrics {
  /** One `cmd/ota` publish, acknowledged by the broker (`published`) or not (`failed`). */
  countCommand(outcome: 'published' | 'failed'): void;
}

/** Waits `ms` milliseconds, or rejects when `signal` aborts. The collector's only use of time. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The real sleep (node:timers/promises). Tests pass their own. */
export const realSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, { signal });
};

/** The Sleep port on the shared Clock (protocol/clock.ts): a VirtualClock makes retries virtual time. */
export function sleepOn(clock: Clock): Sleep {
  return (ms, signal) => sleep(clock, ms, signal);
}
