/**
 * End-to-end rig: a real `otasim server` (PGlite in a temp dir, embedded aedes) and virtual devices
 * that reach its broker through the in-memory door and its HTTP API over loopback, on the system
 * clock with short firmware delays. Devices record their state changes, log and wire traffic.
 */
import { Agent } from 'undici';
import { SystemClock } from '../../protocol/clock.js';
import { DeviceRuntime, type DeviceRuntimeOptions } from '../../simulator/device/runtime.js';
import { provisionDevice } from '../../simulator/device/runtime-provision.js';
import type { TransitionNote, WireNote } from '../../simulator/device/ports.js';
import type { DeviceConfigInput } from '../../simulator/device/config.js';
import { FaultProfileSchema, type FaultProfileInput } from '../../simulator/faults/profile.js';
import { deviceFaults } from '../../simulator/faults/decide.js';
import type { ChipName, Esp32BuildConfig } from '../../simulator/esp32/index.js';
import { http, sendJson, TEST_KEY, type TestServer } from '../server/http-harness.js';
import { pool } from './runtime-kit.js';

export const agent = new Agent({ keepAliveTimeout: 100, connections: 64 });

/** Firmware delays short enough for tests, long enough to be real. */
export const FAST: Partial<DeviceConfigInput> = {
  bootMs: 10, selfTestMs: 30, rebootDelayMs: 30, powerRestoreMs: 30, watchdogMs: 50,
  downloadBackoff: { baseMs: 20, maxMs: 200, jitter: 0.5 },
  mqttBackoff: { baseMs: 20, maxMs: 200, jitter: 0.5 },
};

export interface TestDevice extends AsyncDisposable {
  readonly rt: DeviceRuntime;
  readonly transitions: TransitionNote[];
  readonly logs: string[];
  readonly wire: WireNote[];
  /** `topic-suffix payload` of each MQTT publish, e.g. `ota/result {...}` (prefix and id stripped). */
  mqttLog(): string[];
  /** Parsed payloads published on `ota/<kind>`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  published(kind: 'status' | 'progress' | 'result'): any[];
}

export interface DeviceOptions {
  readonly id: string;
  readonly version?: string;
  readonly chip?: ChipName;
  readonly config?: Partial<DeviceConfigInput>;
  readonly faults?: FaultProfileInput;
  readonly runtime?: Partial<DeviceRuntimeOptions>;
  /** Start from this app image instead of a built one (e.g. a signed factory image). */
  readonly image?: Uint8Array;
  /** The chip's build configuration (e.g. Secure Boot v2 trusted keys). */
  readonly build?: Esp32BuildConfig;
}

let macCounter = 0x10;

/** Start one device against `s` (powered on at once). */
export function startDevice(s: TestServer, o: DeviceOptions): TestDevice {
  const faults = FaultProfileSchema.parse(o.faults ?? { faults: [] });
  const mac = `AA:BB:CC:DD:EE:${(macCounter++ & 0xff).toString(16).toUpperCase().padStart(2, '0')}`;
  const config: DeviceConfigInput = { deviceId: o.id, mac, topicPrefix: s.server.config.topicPrefix, ...FAST, ...o.config };
  const slotBytes = deviceFaults(faults, 0, o.id).slotBytes();
  const chip = provisionDevice({
    chip: o.chip ?? 'esp32', version: o.version ?? '1.0.0', pool, slotBytes,
    ...(o.image === undefined ? {} : { image: o.image }), ...(o.build === undefined ? {} : { build: o.build }),
  });
  const transitions: TransitionNote[] = [];
  const logs: string[] = [];
  const wire: WireNote[] = [];
  const rt = DeviceRuntime.create({ config, faults, serverUrl: s.url, ...o.runtime }, {
    clock: new SystemClock(), http: agent, mqtt: (opts) => s.server.mqttClientFactory(opts), chip,
    observer: { transition: (n) => transitions.push(n), log: (l) => logs.push(l), wire: (n) => wire.push(n) },
  });
  rt.start();
  const strip = (topic: string): string => topic.split('/').slice(-2).join('/');
  return {
    rt, transitions, logs, wire,
    mqttLog: () => wire.filter((w) => w.kind === 'mqtt').map((w) => `${strip((w as { topic: string }).topic)} ${(w as { payload: string }).payload}`),
    published: (kind) => wire.filter((w) => w.kind === 'mqtt' && w.topic.endsWith(`/ota/${kind}`)).map((w) => JSON.parse((w as { payload: string }).payload)),
    [Symbol.asyncDispose]: () => rt.stop(),
  };
}

/** Poll `f` every 10 ms until it is truthy; fail with `what` after `ms`. */
export async function until<T>(what: string, f: () => T | Promise<T>, ms = 60_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The device row the server holds, once it has one with `version` (or any, without). */
export async function deviceRow(s: TestServer, id: string, version?: string): Promise<{ current_firmware_version: string } | undefined> {
  const r = await http(s.url, 'GET', '/api/admin/devices?limit=500', { key: TEST_KEY });
  const row = (r.json?.devices as Array<{ device_id: string; current_firmware_version: string }> | undefined)?.find((d) => d.device_id === id);
  return row !== undefined && (version === undefined || row.current_firmware_version === version) ? row : undefined;
}

/** The update-status rows the server holds for `id`, newest first. */
export async function updates(s: TestServer, id: string): Promise<Array<{ status: string; firmware_version: string; error_message: string | null; progress_percent: number | null }>> {
  const r = await http(s.url, 'GET', `/api/admin/update-status?device_id=${encodeURIComponent(id)}&limit=500`, { key: TEST_KEY });
  return r.json.updates;
}

/** Create an active `specific` rollout of `version` for `ids`. */
export async function rollout(s: TestServer, name: string, version: string, model: string, ids: string[]): Promise<void> {
  const r = await sendJson(s.url, 'POST', '/api/admin/rollout/create', {
    name, firmware_version: version, device_model: model, target_type: 'specific', target_filter: { device_ids: ids },
  });
  if (r.status !== 200) throw new Error(`rollout create: ${r.status} ${r.text}`);
}

/** Requests the server answered, by route and status code, from its /metrics. */
export async function served(s: TestServer, route: string, status: number): Promise<number> {
  const r = await http(s.url, 'GET', '/metrics');
  const esc = route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`_count\\{[^}]*route="${esc}"[^}]*status_code="${status}"[^}]*\\} (\\d+)`).exec(r.text)
    ?? new RegExp(`_count\\{[^}]*status_code="${status}"[^}]*route="${esc}"[^}]*\\} (\\d+)`).exec(r.text);
  return m ? Number(m[1]) : 0;
}
