/**
 * Power, boot and the post-update self-test (esp-idf-ota-facts §2.4, §2.9): the app starts on the
 * slot the bootloader chose and reads its own descriptor; a PENDING_VERIFY image runs its
 * self-test and then calls esp_ota_mark_app_valid_cancel_rollback, or rolls back by
 * esp_ota_mark_app_invalid_rollback_and_reboot; a panic or a task-watchdog reset before that makes
 * the bootloader roll back. The old app reports the outcome it finds after the reset. Pure.
 */
import type { DeviceEffect, DeviceEvent, DeviceState, Step } from './types.js';
import { bootSubject, log, report, reset, rules, running, step, timer, usesMqtt, type Ctx } from './kit.js';
import { linkConnect } from './link.js';
import { pendingOutcome } from './outcome.js';

type E<T extends DeviceEvent['type']> = Extract<DeviceEvent, { type: T }>;

/** Power applied: the reset lasts `bootMs`, then the bootloader runs. */
export function powerOn(c: Ctx, s: DeviceState): Step {
  return step({ ...s, phase: 'booting', resetCause: 'power-on' }, log('power on'), timer('boot-done', c.dev.config.bootMs));
}

/** Power gone: RAM is lost; it comes back after `powerRestoreMs`. */
export function powerLost(c: Ctx, s: DeviceState): Step {
  const r = reset(c, s, 'power-on', false);
  return step({ ...r.state, phase: 'off' },
    ...r.effects.filter((e) => !(e.type === 'set-timer' || e.type === 'log')),
    log('power lost'), timer('power-restore', c.dev.config.powerRestoreMs));
}

/** The reset is over: run the bootloader. */
export function runBootloader(_c: Ctx, s: DeviceState): Step {
  return step(s, { type: 'boot', cause: s.resetCause });
}

/** The app starts on what the bootloader chose. */
export function appStart(c: Ctx, s: DeviceState, e: E<'booted'>): Step {
  const b = e.boot;
  if (!b.ok) {
    if (b.reason === 'power-lost') return powerLost(c, s);
    return step({ ...s, phase: 'bricked', running: null }, log(`boot failed: ${b.reason}; the chip resets forever`));
  }
  const p = s.nvs.pending;
  const rolledBack = p !== null && p.installed && p.slot !== b.partition;
  const booted: DeviceState = {
    ...s, running: b, boots: s.boots + 1, bootAt: c.now, updated: p?.installed ?? false, job: null,
    nvs: rolledBack ? { ...s.nvs, lastInvalid: p.to } : s.nvs,
  };
  const started = log(`boot #${booted.boots}: ${b.partition} runs ${b.version} (${b.otaState})`);
  const fate = c.dev.faults.boot(bootSubject(booted));
  if (b.otaState === 'PENDING_VERIFY') {
    // No self-test (paku-core validateCurrentFirmware() at the top of setup(), facts §4.3–§4.4): the
    // image is confirmed first; only a panic at once (before setup) can still make the bootloader roll back.
    const atBoot = !rules(c).selfTest;
    if (fate.kind === 'crash' && !fate.afterValid && (!atBoot || fate.afterMs === 0)) {
      return step({ ...booted, phase: 'crashing' }, started, log(`fault ${fate.rule}: will panic at ${fate.afterMs} ms`), timer('crash', fate.afterMs));
    }
    if (atBoot) return step({ ...booted, phase: 'marking' }, started, log('esp_ota_mark_app_valid_cancel_rollback at the top of setup()'), { type: 'ota', op: 'mark-valid' });
    if (fate.kind === 'hang') return hang(c, booted, fate, started);
    return step({ ...booted, phase: 'self-test' }, started, timer('self-test', c.dev.config.selfTestMs));
  }
  const run = appRunning(c, booted);
  if (fate.kind !== 'crash') return step(run.state, started, ...run.effects);
  return step(run.state, started, ...run.effects, log(`fault ${fate.rule}: will panic at ${fate.afterMs} ms`), timer('crash', fate.afterMs));
}

/** The self-test is over: confirm the image, or mark it invalid and roll back. */
export function selfTestDone(c: Ctx, s: DeviceState): Step {
  const fate = c.dev.faults.boot(bootSubject(s));
  if (fate.kind === 'self-test-fail') {
    const pending = s.nvs.pending === null ? null : { ...s.nvs.pending, failure: 'self_test_failed' as const };
    return step({ ...s, phase: 'marking', resetCause: 'rollback', nvs: { ...s.nvs, pending } },
      log(`fault ${fate.rule}: self-test failed; esp_ota_mark_app_invalid_rollback_and_reboot`), { type: 'ota', op: 'mark-invalid' });
  }
  return step({ ...s, phase: 'marking' }, log('self-test passed; esp_ota_mark_app_valid_cancel_rollback'), { type: 'ota', op: 'mark-valid' });
}

/** esp_ota_mark_app_valid_cancel_rollback (or a refused mark-invalid) returned. */
export function marked(c: Ctx, s: DeviceState, e: E<'ota-done'>): Step {
  const r = running(s);
  if (e.error !== undefined) {
    // mark-invalid with no app to fall back to (ESP_ERR_OTA_ROLLBACK_FAILED): the image keeps running.
    const run = appRunning(c, s);
    return step(run.state, log(`esp_ota_${e.op === 'mark-valid' ? 'mark_app_valid_cancel_rollback' : 'mark_app_invalid_rollback_and_reboot'} failed: ${e.error.code}`), ...run.effects);
  }
  const valid: DeviceState = { ...s, running: { ...r, otaState: 'VALID' } };
  const fate = c.dev.faults.boot(bootSubject(s));
  // Confirmed at boot (no self-test): a hanging image hangs now, confirmed, and is kept.
  if (fate.kind === 'hang') return hang(c, valid, fate, log('image confirmed before it hangs'));
  const run = appRunning(c, valid);
  if (fate.kind !== 'crash') return run;
  const at = Math.max(0, fate.afterMs - (c.now - s.bootAt));
  return step(run.state, ...run.effects, log(`fault ${fate.rule}: will panic at ${fate.afterMs} ms`), timer('crash', at));
}

/** The app hangs (hang fault); the task watchdog resets it when the fault says so. */
function hang(c: Ctx, s: DeviceState, fate: { readonly watchdog: boolean; readonly rule: string }, first: DeviceEffect): Step {
  return step({ ...s, phase: 'hung' }, first, log(`fault ${fate.rule}: hangs in ${running(s).otaState}`),
    ...(fate.watchdog ? [timer('watchdog', c.dev.config.watchdogMs)] : []));
}

/** The app panics (boot-crash fault). */
export function panic(c: Ctx, s: DeviceState): Step {
  return reset(c, s, 'panic', false);
}

/** The task watchdog fires on the hung app. */
export function watchdogReset(c: Ctx, s: DeviceState): Step {
  return reset(c, s, 'task-wdt', false);
}

/**
 * The app is up and confirmed: go idle, connect MQTT if used, poll if in poll mode. An update
 * outcome left in NVS is reported now over HTTP-only, or once MQTT is up.
 */
export function appRunning(c: Ctx, s: DeviceState): Step {
  const effects: DeviceEffect[] = [];
  let next: DeviceState = { ...s, phase: 'idle' };
  const outcome = pendingOutcome(next);
  if (outcome !== null) {
    effects.push(log(outcome.kind === 'success' ? `update to ${outcome.target} confirmed` : `update to ${outcome.target} failed: ${outcome.reason}`));
  }
  if (outcome !== null && c.dev.config.reportVia === 'http') {
    effects.push(...report(c, next, outcome));
    next = { ...next, nvs: { ...next.nvs, pending: null } };
  }
  if (usesMqtt(c)) {
    const l = linkConnect(c, next);
    next = l.state;
    effects.push(...l.effects);
  }
  if (c.dev.config.mode === 'poll') {
    next = { ...next, phase: 'checking' };
    effects.push({ type: 'http-check', query: { device_id: c.dev.config.deviceId, device_model: c.dev.config.deviceModel, current_version: running(s).version } });
  }
  return step(next, ...effects);
}
