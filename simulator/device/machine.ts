/**
 * The virtual ESP32's firmware as one transition table (STYLE.md §1; models: mender's
 * `AddTransition`, h11's state rules). Read it top to bottom: power and boot, the post-update
 * self-test, the MQTT link, offers (MQTT push or HTTP poll), the download, verify, activate,
 * restart. An event a phase does not list is stale (a timer that lost a race, a message for a
 * session that is gone) and changes nothing.
 *
 * `transition(context, state, event, now)` is pure: no I/O, no timers, no clock, no Math.random —
 * the runtime carries out the effects and feeds their outcomes back as events.
 */
import * as app from './app.js';
import * as dl from './download.js';
import * as link from './link.js';
import { failJob, log, report, rules, running, step, timer, usesMqtt, type Ctx } from './kit.js';
import { isAlreadyRunning, isRefusal, offerFromCheck, offerFromCommand, type AlreadyRunning, type Offer, type Refusal } from './offer.js';
import { deviceTopics, edgeStatus } from './report.js';
import type { DeviceContext, DeviceEffect, DeviceEvent, DeviceState, Phase, Step, TimerName } from './types.js';

type EventKey = Exclude<DeviceEvent['type'], 'timer'> | `timer:${TimerName}`;
type Handler = (c: Ctx, s: DeviceState, e: never) => Step;

/** Phases in which the app runs normally (network up or coming up). */
const RUNNING: readonly Phase[] = ['idle', 'checking', 'downloading', 'retry-wait', 'verifying', 'activating', 'rebooting'];
/** Phases in which an app runs at all (a crash timer can fire). */
const APP: readonly Phase[] = [...RUNNING, 'self-test', 'crashing', 'hung', 'marking'];
const BUSY: readonly Phase[] = ['checking', 'downloading', 'retry-wait', 'verifying', 'activating', 'rebooting'];
const POWERED: readonly Phase[] = ['booting', 'bricked', ...APP];

// ------------------------------------------------------------------------------------------------
// Offers

function takeOffer(c: Ctx, s: DeviceState, o: Offer | Refusal | AlreadyRunning, source: 'mqtt' | 'poll'): Step {
  if (isAlreadyRunning(o)) return alreadyDone(c, s, o);
  if (!isRefusal(o)) return dl.startJob(c, s, o, source);
  return failJob(c, { ...s, job: null }, o.refused, o.detail, undefined, o.target);
}

/**
 * The offer names the version this device runs, confirmed: nothing is flashed. The device announces
 * its version again (retained status) and reports the job as done, a success result naming that
 * version (docs/protocol.md "An offer of the running version"), rather than a `not_newer` failure.
 */
function alreadyDone(c: Ctx, s: DeviceState, o: AlreadyRunning): Step {
  const r = running(s);
  const t = deviceTopics(c.dev.config);
  const id = c.dev.config.deviceId;
  const wallMs = c.now + c.dev.faults.clockSkewMs(r.version);
  const announce: DeviceEffect[] = usesMqtt(c) ? [{
    type: 'mqtt-publish', topic: t.edgeStatus(id), qos: 0, retain: true,
    payload: edgeStatus({ config: c.dev.config, running: r, wallMs, uptimeS: Math.floor((c.now - s.bootAt) / 1000) }, 'running'),
  }] : [];
  return step(s, log(`offer of ${o.target} needs no update: ${o.detail}`), ...announce, ...report(c, s, { kind: 'success', target: o.target }));
}

function offerMessage(c: Ctx, s: DeviceState, e: Extract<DeviceEvent, { type: 'mqtt-message' }>): Step {
  if (e.topic !== deviceTopics(c.dev.config).cmdOta(c.dev.config.deviceId)) return step(s);
  const o = offerFromCommand(c.dev.config, running(s).version, e.payload, s.nvs.lastInvalid, rules(c).vetsImage);
  // paku-core handleMqttMessage(): a command it cannot read is logged and dropped, no ack, no result (facts §1.3).
  if (isRefusal(o) && o.refused === 'offer_malformed' && !rules(c).reportsBadCommands) return step(s, log(`cmd/ota ignored: ${o.detail}`));
  return takeOffer(c, s, o, 'mqtt');
}

function offerWhileBusy(_c: Ctx, s: DeviceState, e: Extract<DeviceEvent, { type: 'mqtt-message' }>): Step {
  return step(s, log(`offer on ${e.topic} ignored: an update is already ${s.phase}`));
}

function pollCheck(c: Ctx, s: DeviceState): Step {
  const cfg = c.dev.config;
  return step({ ...s, phase: 'checking' },
    { type: 'http-check', query: { device_id: cfg.deviceId, device_model: cfg.deviceModel, current_version: running(s).version } });
}

function checkResponse(c: Ctx, s: DeviceState, e: Extract<DeviceEvent, { type: 'check-response' }>): Step {
  const o = offerFromCheck(c.dev.config, running(s).version, e.status, e.body, s.nvs.lastInvalid, rules(c).vetsImage);
  if ('none' in o || 'unusable' in o) return checkDone(c, s, 'none' in o ? 'no update available' : o.unusable);
  if (isAlreadyRunning(o)) return checkDone(c, s, o.detail);
  // Polling asks again every interval: a version it already runs or rolled back is "nothing new", not a failure to report each time.
  if (isRefusal(o) && (o.refused === 'not_newer' || o.refused === 'known_bad')) return checkDone(c, s, `${o.refused}: ${o.detail}`);
  return takeOffer(c, { ...s, phase: 'idle' }, o, 'poll');
}

function checkDone(c: Ctx, s: DeviceState, why: string): Step {
  return step({ ...s, phase: 'idle' }, log(`check: ${why}`), timer('poll', c.dev.config.pollIntervalMs));
}

function checkFailed(c: Ctx, s: DeviceState, e: Extract<DeviceEvent, { type: 'check-failed' }>): Step {
  return checkDone(c, s, `failed: ${e.reason}`);
}

// ------------------------------------------------------------------------------------------------
// The table

type Row = readonly [phases: readonly Phase[], on: EventKey, handler: Handler];

const TABLE: readonly Row[] = [
  // Power and boot.
  [['off'], 'power-on', app.powerOn],
  [['off'], 'timer:power-restore', app.powerOn],
  [POWERED, 'power-lost', app.powerLost],
  [['booting'], 'timer:boot-done', app.runBootloader],
  [['booting'], 'booted', app.appStart],
  // A new image (PENDING_VERIFY): self-test, then confirm or roll back; a panic or a hang resets it.
  [['self-test'], 'timer:self-test', app.selfTestDone],
  [['marking'], 'ota-done', app.marked],
  [['marking'], 'booted', app.appStart],
  [APP, 'timer:crash', app.panic],
  [['hung'], 'timer:watchdog', app.watchdogReset],
  // The MQTT link (any running phase; a download does not stop the session).
  [RUNNING, 'mqtt-up', link.linkUp],
  [RUNNING, 'mqtt-failed', link.linkFailed],
  [RUNNING, 'mqtt-down', link.linkFailed],
  [RUNNING, 'timer:mqtt-retry', link.linkRetry],
  // Offers: MQTT push, or HTTP poll.
  [['idle'], 'mqtt-message', offerMessage],
  [BUSY, 'mqtt-message', offerWhileBusy],
  [['idle'], 'timer:poll', pollCheck],
  [['checking'], 'check-response', checkResponse],
  [['checking'], 'check-failed', checkFailed],
  // The download, streaming into esp_ota_write; cuts resume with Range.
  [['downloading'], 'download-response', dl.downloadResponse],
  [['downloading'], 'download-header', dl.downloadHeader],
  [['downloading'], 'download-progress', dl.downloadProgress],
  [['downloading'], 'download-end', dl.downloadEnd],
  [['downloading'], 'download-error', dl.downloadCut],
  [['downloading'], 'ota-done', dl.writeFailed],
  [['retry-wait'], 'timer:download-retry', dl.downloadResume],
  // Verify, activate, restart.
  [['verifying'], 'ota-done', dl.verified],
  [['activating'], 'ota-done', dl.activated],
  [['rebooting'], 'timer:reboot', dl.restart],
];

/** Rows indexed by event, in table order. */
const BY_EVENT = new Map<EventKey, Row[]>();
for (const row of TABLE) BY_EVENT.set(row[1], [...(BY_EVENT.get(row[1]) ?? []), row]);

function keyOf(e: DeviceEvent): EventKey {
  return e.type === 'timer' ? `timer:${e.name}` : e.type;
}

/** The handler that owns (phase, event), or undefined when the event is stale in that phase. */
export function handlerFor(phase: Phase, e: DeviceEvent): Handler | undefined {
  return BY_EVENT.get(keyOf(e))?.find((row) => row[0].includes(phase))?.[2];
}

/** Every (phase, event) pair the table handles, for tests and docs. */
export function transitions(): readonly { readonly phases: readonly Phase[]; readonly on: string }[] {
  return TABLE.map(([phases, on]) => ({ phases, on }));
}

/** A device that has never been powered: everything erased from RAM, NVS empty. */
export function initialState(): DeviceState {
  return {
    phase: 'off', link: 'down', linkFailures: 0, running: null, boots: 0, bootAt: 0, updated: false, job: null,
    nvs: { pending: null, jobs: 0, lastInstalled: null, lastInvalid: null }, resetCause: 'power-on', draws: 0,
  };
}

/**
 * One step of the firmware: the next state and the effects to carry out, in order. A phase change
 * is logged as `phase a → b`. Pure.
 * @param now runtime time in ms since the Unix epoch (the device adds its clock-skew fault itself).
 */
export function transition(dev: DeviceContext, s: DeviceState, e: DeviceEvent, now: number): Step {
  const handler = handlerFor(s.phase, e);
  if (handler === undefined) return { state: s, effects: [] };
  const out = (handler as (c: Ctx, s: DeviceState, e: DeviceEvent) => Step)({ dev, now }, s, e);
  if (out.state.phase === s.phase) return out;
  return { state: out.state, effects: [log(`phase ${s.phase} → ${out.state.phase}`), ...out.effects] };
}
