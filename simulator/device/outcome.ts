/**
 * What an update left in NVS comes to, judged by the app that runs after the reset: the slot it
 * was written to runs (success), or the bootloader rolled back — why is read from NVS and
 * `esp_reset_reason()` — or the reset hit before the update was installed. Pure.
 */
import { running } from './kit.js';
import type { FailureReason } from './reasons.js';
import type { Report } from './report.js';
import type { DeviceState } from './types.js';

/** The rollback reason the old app infers from NVS and `esp_reset_reason()`. */
function rollbackReason(s: DeviceState): FailureReason {
  if (s.nvs.pending?.failure) return s.nvs.pending.failure;
  switch (s.resetCause) {
    case 'panic': return 'boot_crash';
    case 'task-wdt': return 'watchdog';
    case 'sw-restart': return 'not_booted';
    default: return 'reset_before_valid';
  }
}

/** The report an unfinished update in NVS calls for, now that an app runs. */
export function pendingOutcome(s: DeviceState): Extract<Report, { kind: 'success' | 'failure' }> | null {
  const p = s.nvs.pending;
  if (p === null) return null;
  const r = running(s);
  if (!p.installed) {
    return { kind: 'failure', target: p.to, reason: 'interrupted', detail: `reset (${s.resetCause}) during the update`, percent: null };
  }
  if (r.partition === p.slot) return { kind: 'success', target: p.to };
  const reason = rollbackReason(s);
  return { kind: 'failure', target: p.to, reason, detail: `${p.slot ?? '?'} → ${r.partition}, running ${r.version}`, percent: null };
}
