/**
 * Shared pieces of the machine's handlers: the per-step context, reports, random draws, resets and
 * failing a job. Pure: no I/O.
 */
import type { BootSubject } from '../faults/decide.js';
import { unit } from '../faults/rng.js';
import { reportEffects, type Report } from './report.js';
import { BEHAVIOUR_RULES, type BehaviourRules } from './behaviour.js';
import type { FailureReason } from './reasons.js';
import type { DeviceContext, DeviceEffect, DeviceState, ResetCause, Step, TimerName } from './types.js';

/** What every handler sees besides the state and the event. */
export interface Ctx {
  readonly dev: DeviceContext;
  /** Runtime time, ms since the Unix epoch. */
  readonly now: number;
}

export type Running = NonNullable<DeviceState['running']>;

/** The firmware's behaviour rules: the context's own row, else the configured behaviour's. */
export function rules(c: Ctx): BehaviourRules {
  return c.dev.rules ?? BEHAVIOUR_RULES[c.dev.config.behaviour];
}

/** Every timer name, for cancelling them all at a reset. */
export const TIMER_NAMES: readonly TimerName[] = [
  'boot-done', 'self-test', 'crash', 'watchdog', 'mqtt-retry', 'poll', 'download-retry', 'reboot', 'power-restore',
];

export const step = (state: DeviceState, ...effects: DeviceEffect[]): Step => ({ state, effects });

export const log = (message: string): DeviceEffect => ({ type: 'log', message });

export const timer = (name: TimerName, delayMs: number): DeviceEffect => ({ type: 'set-timer', name, delayMs: Math.max(0, Math.floor(delayMs)) });

/** The running app; handlers only run it in phases where the app runs. */
export function running(s: DeviceState): Running {
  if (s.running === null) throw new Error(`internal: phase ${s.phase} has no running app`);
  return s.running;
}

/** The boot as the fault decisions see it. */
export function bootSubject(s: DeviceState): BootSubject {
  const r = running(s);
  return {
    version: r.version,
    pendingVerify: r.otaState === 'PENDING_VERIFY',
    lastInstalled: s.nvs.lastInstalled,
    afterUpdate: s.updated,
    boot: s.boots,
  };
}

/** The effects that send `r` (MQTT and/or HTTP, per the config), stamped with the device's clock. */
export function report(c: Ctx, s: DeviceState, r: Report): DeviceEffect[] {
  const run = running(s);
  const wallMs = c.now + c.dev.faults.clockSkewMs(run.version);
  return reportEffects({ config: c.dev.config, running: run, wallMs, uptimeS: Math.floor((c.now - s.bootAt) / 1000) }, r);
}

/** A uniform draw in [0, 1) from the device's seeded stream, and the state that counted it. */
export function draw(c: Ctx, s: DeviceState, stream: string): [number, DeviceState] {
  const u = unit(c.dev.config.seed, c.dev.config.deviceId, stream, s.draws);
  return [u, { ...s, draws: s.draws + 1 }];
}

/** Whether this device keeps an MQTT session (offers by MQTT, or reports over it). */
export function usesMqtt(c: Ctx): boolean {
  return c.dev.config.mode === 'mqtt' || c.dev.config.reportVia !== 'http';
}

/**
 * Reset the chip: RAM is lost (job, link), NVS and the reset reason survive; the bootloader runs
 * after `bootMs`. `graceful`: the app closed its MQTT session first (esp_restart after
 * esp_mqtt_client_stop); otherwise the broker sees the socket die and publishes the LWT.
 */
export function reset(c: Ctx, s: DeviceState, cause: ResetCause, graceful: boolean): Step {
  return step(
    { ...s, phase: 'booting', running: null, job: null, link: 'down', linkFailures: 0, resetCause: cause },
    ...TIMER_NAMES.map((name): DeviceEffect => ({ type: 'cancel-timer', name })),
    { type: 'download-cancel' },
    ...(s.link === 'down' ? [] : [{ type: 'mqtt-close', graceful } as const]),
    log(`reset (${cause})`),
    timer('boot-done', c.dev.config.bootMs),
  );
}

/**
 * Fail the current job: close the request, abort the OTA handle, report `reason`, forget the job
 * (NVS too) and go idle; in poll mode the next check is scheduled. `offered`: the version a refused
 * offer named, when no job was started.
 */
export function failJob(c: Ctx, s: DeviceState, reason: FailureReason, detail: string, esp?: string, offered?: string): Step {
  const job = s.job;
  const target = offered ?? job?.target ?? 'unknown';
  const percent = job?.size ? Math.floor((job.written * 100) / job.size) : job === null ? null : 0;
  const next: DeviceState = { ...s, phase: 'idle', job: null, nvs: { ...s.nvs, pending: null } };
  return step(
    next,
    { type: 'cancel-timer', name: 'download-retry' },
    { type: 'download-cancel' },
    ...(job?.begun ? [{ type: 'ota', op: 'abort' } as const] : []),
    log(`update to ${target} failed: ${reason}: ${detail}${esp === undefined ? '' : ` (${esp})`}`),
    ...report(c, s, { kind: 'failure', target, reason, detail, percent, ...(esp === undefined ? {} : { esp }) }),
    ...(job === null || rules(c).mqttDuringDownload ? [] : [{ type: 'mqtt-service', serviced: true } as const]),
    ...(c.dev.config.mode === 'poll' ? [timer('poll', c.dev.config.pollIntervalMs)] : []),
  );
}
