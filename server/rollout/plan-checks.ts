/**
 * What a new plan must satisfy beyond its schema (issue 6 "Bad input"): the release exists, the
 * rollback target exists, and no live plan already targets the same devices. Each refusal is a
 * 4xx `RequestError` that says what to do.
 */
import { RequestError } from '../../protocol/errors.js';
import type { ReleaseRow, Store } from '../store/store.js';
import { describeIssues } from '../http/validate.js';
import { PlanSpec } from './plan.js';
import type { PlanState } from './policy.js';

/** Device ids a plan names explicitly, or null when it also reaches devices by percentage or group. */
function explicitIds(spec: PlanSpec): Set<string> | null {
  const ids = new Set<string>();
  for (const ph of spec.phases) {
    if (!('device_ids' in ph)) return null;
    for (const d of ph.device_ids) ids.add(d);
  }
  return ids;
}

/** Whether two plans of one model may reach the same device. */
export function overlaps(a: PlanSpec, b: PlanSpec): boolean {
  const x = explicitIds(a);
  const y = explicitIds(b);
  if (x === null || y === null) return true;
  for (const d of x) if (y.has(d)) return true;
  return false;
}

/** Validate `input` into a spec, with its release and a fixed rollback target. */
export async function checkNewPlan(store: Store, input: unknown): Promise<{ spec: PlanSpec; release: ReleaseRow }> {
  const parsed = PlanSpec.safeParse(input ?? {});
  if (!parsed.success) throw new RequestError(422, 'OTASIM_ERR_VALIDATION', describeIssues('body', parsed.error), { cause: parsed.error });
  let spec = parsed.data;
  const release = await store.getRelease(spec.firmware_version, spec.device_model);
  if (release === undefined) {
    throw new RequestError(422, 'OTASIM_ERR_UNKNOWN_RELEASE',
      `body.firmware_version: no release ${spec.firmware_version} for ${spec.device_model}; upload it first (POST /api/admin/firmware/upload)`);
  }
  if (spec.failure?.action === 'rollback') {
    const to = spec.failure.rollback_to;
    const target = to === undefined ? await previousOf(store, release) : await store.getRelease(to, spec.device_model);
    if (target === undefined || target.version === release.version) {
      throw new RequestError(422, 'OTASIM_ERR_UNKNOWN_ROLLBACK_TARGET', to === undefined
        ? `body.failure: ${spec.device_model} has no release before ${release.version} to roll back to; upload one or name failure.rollback_to`
        : `body.failure.rollback_to: no release ${to} for ${spec.device_model} (and it must differ from the plan's own release)`);
    }
    spec = { ...spec, failure: { ...spec.failure, rollback_to: target.version } };
  }
  for (const other of await store.listPlans({ device_model: spec.device_model })) {
    if (!['running', 'awaiting_approval', 'paused'].includes((other.state as PlanState).status)) continue;
    const os = PlanSpec.safeParse(other.spec);
    if (!os.success || overlaps(spec, os.data)) {
      throw new RequestError(409, 'OTASIM_ERR_PLAN_CONFLICT', `plan "${other.name}" (${(other.state as PlanState).status}) already targets ` +
        `these ${spec.device_model} devices; cancel it (POST /api/admin/plans/${other.name}/cancel) or let it finish first`);
    }
  }
  return { spec, release };
}

/** The model's release uploaded just before `release`. */
async function previousOf(store: Store, release: ReleaseRow): Promise<ReleaseRow | undefined> {
  const all = await store.listReleases({ device_model: release.device_model, limit: 1000 });
  const i = all.findIndex((r) => r.id === release.id);
  return i < 0 ? undefined : all[i + 1];
}
