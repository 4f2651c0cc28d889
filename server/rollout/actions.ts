/**
 * Operator actions on a plan (issue 6 "Operator actions"): approve, pause, resume, cancel and a new
 * percentage for the current phase. Pure: each returns the new spec/state or throws a 409/422
 * `RequestError` saying why the action does not apply now.
 */
import { RequestError } from '../../protocol/errors.js';
import { countTracks, type PlanState, type PlanStatus } from './policy.js';
import { growthProblem, type PlanSpec } from './plan.js';

export const PLAN_ACTIONS = ['approve', 'pause', 'resume', 'cancel'] as const;
export type PlanAction = (typeof PLAN_ACTIONS)[number];

/** An operator action, as recorded. */
export interface ActionRecord {
  readonly kind: 'operator';
  readonly action: PlanAction | 'set_percent';
  readonly from: PlanStatus;
  readonly to: PlanStatus;
  readonly phase: number;
  readonly percent?: number;
}

function refuse(action: string, status: PlanStatus, why: string): never {
  throw new RequestError(409, 'OTASIM_ERR_PLAN_STATE', `cannot ${action} a plan that is ${status}: ${why}`);
}

/** Apply `action` at `now`. */
export function applyAction(spec: PlanSpec, state: PlanState, action: PlanAction, now: number): { state: PlanState; record: ActionRecord } {
  const s: PlanState = structuredClone(state);
  const from = s.status;
  switch (action) {
    case 'approve':
      if (from !== 'awaiting_approval') refuse(action, from, 'only a plan whose gate passed waits for approval');
      s.phase += 1;
      s.phase_started_at = now;
      s.gate_met_at = null;
      s.status = 'running';
      break;
    case 'pause':
      if (from !== 'running' && from !== 'awaiting_approval') refuse(action, from, 'it is not offering');
      s.status = 'paused';
      break;
    case 'resume':
      if (from !== 'paused') refuse(action, from, 'only a paused plan resumes');
      // The failures seen so far are acknowledged: the policy trips again only on new ones.
      s.ack_failed = countTracks(s.devices).failures;
      s.status = 'running';
      s.gate_met_at = null;
      break;
    case 'cancel':
      if (from === 'cancelled' || from === 'completed') refuse(action, from, 'it has already ended');
      s.status = 'cancelled';
      break;
  }
  return { state: s, record: { kind: 'operator', action, from, to: s.status, phase: s.phase } };
}

/**
 * A new percentage for the current phase (PATCH). The phase must be a `percent` phase and the
 * plan must keep growing: above the previous phases, below the next percent phase.
 */
export function setPhasePercent(spec: PlanSpec, state: PlanState, percent: number): { spec: PlanSpec; record: ActionRecord } {
  const phase = spec.phases[state.phase];
  if (phase === undefined || !('percent' in phase)) {
    throw new RequestError(409, 'OTASIM_ERR_PLAN_STATE', `phase ${state.phase} targets device ids or groups, not a percentage`);
  }
  if (!['running', 'awaiting_approval', 'paused'].includes(state.status)) {
    refuse('change the percentage of', state.status, 'it has stopped');
  }
  const phases = spec.phases.map((p, i) => (i === state.phase ? { ...p, percent } : p));
  const problem = growthProblem(phases);
  if (problem !== null) throw new RequestError(422, 'OTASIM_ERR_VALIDATION', `body.percent: phase ${problem.index}: ${problem.message}`);
  return {
    spec: { ...spec, phases },
    record: { kind: 'operator', action: 'set_percent', from: state.status, to: state.status, phase: state.phase, percent },
  };
}
