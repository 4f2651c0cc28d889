/**
 * The fleet's view of a device (issue 5 "Live progress"): eight states the operator counts, plus
 * `starting` for a device that has not yet reached its app. The firmware's fourteen phases fold into
 * them; the outcome of an update comes from the device's own result report, so `success`, `failed`
 * and `rolled back` mean what the device told the server. Pure.
 */
import { FAILURE_REASONS, type FailureReason } from '../device/reasons.js';
import type { Phase } from '../device/types.js';
import type { WireNote } from '../device/ports.js';

export const FLEET_STATES = [
  'starting', 'idle', 'downloading', 'installing', 'rebooting', 'verifying', 'success', 'failed', 'rolled back',
] as const;
export type FleetState = (typeof FLEET_STATES)[number];

/** Index of each state in {@link FLEET_STATES} (counts are kept in a typed array by it). */
export const STATE_INDEX: Readonly<Record<FleetState, number>> = Object.freeze(
  Object.fromEntries(FLEET_STATES.map((s, i) => [s, i])) as Record<FleetState, number>,
);

/** States in which an update is under way. */
const IN_UPDATE: ReadonlySet<FleetState> = new Set(['downloading', 'installing', 'rebooting', 'verifying']);

export const isUpdating = (s: FleetState): boolean => IN_UPDATE.has(s);
export const isOutcome = (s: FleetState): boolean => s === 'success' || s === 'failed' || s === 'rolled back';

/**
 * The fleet state after the firmware enters `phase`, given the fleet state before. Entering
 * `idle` in the middle of an update keeps the update's state: the result report that follows in the
 * same step decides success or failure. Outcomes stay until the next update starts.
 */
export function stateForPhase(phase: Phase, before: FleetState): FleetState {
  switch (phase) {
    case 'off':
      return before === 'starting' ? 'starting' : before;
    case 'booting':
      return isUpdating(before) ? 'rebooting' : before === 'idle' || isOutcome(before) ? before : 'starting';
    case 'bricked':
      return 'failed';
    case 'idle':
    case 'checking':
      return isUpdating(before) || isOutcome(before) ? before : 'idle';
    case 'downloading':
    case 'retry-wait':
      return 'downloading';
    case 'verifying':
    case 'activating':
      return 'installing';
    case 'rebooting':
      return 'rebooting';
    case 'self-test':
    case 'crashing':
    case 'hung':
    case 'marking':
      return isUpdating(before) ? 'verifying' : before === 'starting' ? 'idle' : before;
  }
}

/** An update's outcome as a device reported it. `code` is the failure reason (`boot_crash`, …). */
export type Outcome =
  | { readonly state: 'success' }
  | { readonly state: 'failed' | 'rolled back'; readonly code: string };

function failure(code: string): Outcome {
  const info = (FAILURE_REASONS as Record<string, { rolledBack: boolean } | undefined>)[code];
  return { state: info?.rolledBack === true ? 'rolled back' : 'failed', code };
}

/** The first `word` of `text` before a colon, as legacy messages and HTTP error_message carry the reason. */
const lead = (text: unknown): string => (typeof text === 'string' ? (text.split(':')[0] ?? '').trim() : '') || 'unknown';

/**
 * The outcome a wire note reports, or null when it reports none: `ota/result` on MQTT (either
 * profile) or `update-status` with `success`, `failed` or `rolled_back` on HTTP.
 */
export function outcomeOf(note: WireNote): Outcome | null {
  try {
    if (note.kind === 'mqtt') {
      if (!note.topic.endsWith('/ota/result')) return null;
      const p = JSON.parse(note.payload) as { success?: unknown; reason?: unknown; message?: unknown };
      if (p.success === true) return { state: 'success' };
      return failure(typeof p.reason === 'string' ? p.reason as FailureReason : lead(p.message));
    }
    if (note.method !== 'POST' || note.body === undefined) return null;
    const b = JSON.parse(note.body) as { status?: unknown; error_message?: unknown };
    if (b.status === 'success') return { state: 'success' };
    if (b.status === 'failed' || b.status === 'rolled_back') return failure(lead(b.error_message));
    return null;
  } catch {
    return null; // a device's own payload is JSON; anything else reports nothing
  }
}
