/**
 * Rollout admin routes: create (seeds 001/002 `POST /api/admin/rollout/create`), PATCH by name
 * (seed 002 "Phased group rollout"), deactivate by id or name (seed 001
 * `POST /api/admin/rollout/{rollout_id}/deactivate`, which the real service lacks, facts §2.7),
 * and a list. Mounted behind the API key by app.ts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RequestError } from '../../../protocol/errors.js';
import { RolloutConfig, RolloutPatch, Slug, type TargetFilter, type TargetType } from '../../../protocol/payloads.js';
import type { RolloutRow } from '../../store/store.js';
import { filterGroups } from '../../rollout/targeting.js';
import type { HttpDeps } from '../deps.js';
import { parseInput } from '../validate.js';
import type { OfferCache } from '../offer-cache.js';
import { rolloutView } from '../views.js';

const NameParams = z.strictObject({ name: Slug });
const IdParams = z.strictObject({ rollout_id: Slug });
const ListQuery = z.strictObject({
  device_model: Slug.optional(),
  active: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/**
 * Fields the paku upload workflow sends that RolloutConfig lacks. Its `single-device` body lists the
 * devices as `target_device_ids`; the real service drops the field and stores a rollout that targets
 * nobody, and the workflow then commands those devices over MQTT itself (facts §2.8 step 5, §6.19).
 * otasim accepts the body and ignores the field the same way, so the deployed workflow runs
 * unchanged against it, and says so: a `warnings` entry in the answer (the workflow prints it) and
 * a log line. Any other unknown field is still a 422.
 */
const WORKFLOW_IGNORED_FIELDS = ['target_device_ids'] as const;

/** The body without the workflow's ignored fields, and the ones that were there. */
function dropWorkflowFields(body: unknown): { body: unknown; ignored: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { body, ignored: [] };
  const rest: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  const ignored = WORKFLOW_IGNORED_FIELDS.filter((f) => f in rest);
  for (const f of ignored) delete rest[f];
  return { body: rest, ignored };
}

/** A rollout that could never target anyone is refused rather than stored (facts §6.19). */
function checkTargets(type: TargetType, filter: TargetFilter | null | undefined): void {
  if (type === 'specific' && (filter?.device_ids ?? []).length === 0 && (filter?.mac_addresses ?? []).length === 0) {
    throw new RequestError(422, 'OTASIM_ERR_VALIDATION',
      'body.target_filter: a "specific" rollout needs device_ids or mac_addresses, e.g. {"device_ids":["esp32_001"]}');
  }
  if (type === 'group' && filterGroups(filter ?? null).length === 0) {
    throw new RequestError(422, 'OTASIM_ERR_VALIDATION',
      'body.target_filter: a "group" rollout needs groups, e.g. {"groups":["location:warehouse"]}');
  }
}

export function rolloutRoutes(app: FastifyInstance, deps: HttpDeps, cache: OfferCache): void {
  const { store, logger } = deps;
  const changed = (row: RolloutRow): void => {
    cache.invalidate();
    if (deps.onRolloutChange === undefined) return;
    Promise.resolve().then(() => deps.onRolloutChange?.(row))
      .catch((err: unknown) => logger.error({ err, rollout: row.name }, 'offering the rollout failed'));
  };

  app.post('/api/admin/rollout/create', async (req) => {
    const { body: raw, ignored } = dropWorkflowFields(req.body);
    const body = parseInput(RolloutConfig, raw, 'body');
    // The workflow's single-device body is stored as the real service stores it: targeting nobody.
    if (ignored.length === 0) checkTargets(body.target_type, body.target_filter);
    // Like the real service, a rollout may name firmware not uploaded yet (seed 002's phased group
    // rollout does); devices are offered nothing until it is, and the answer says so.
    const warnings = await store.getRelease(body.firmware_version, body.device_model) === undefined
      ? [`firmware ${body.firmware_version} for ${body.device_model} is not uploaded yet; devices are offered nothing until it is`]
      : [];
    for (const f of ignored) {
      warnings.push(`${f} is not a rollout field and was ignored, as the real service ignores it: this rollout targets ` +
        (body.target_filter == null ? 'nobody' : 'only its target_filter') + '; list devices in target_filter.device_ids');
    }
    const row = await store.insertRollout({
      name: body.name, firmware_version: body.firmware_version, device_model: body.device_model,
      target_type: body.target_type, target_filter: body.target_filter ?? null,
      rollout_percentage: body.rollout_percentage, is_active: body.is_active, created_by: 'admin',
    });
    changed(row);
    await store.insertEvent({
      event_type: 'rollout_created', firmware_version: row.firmware_version, rollout_id: row.id, created_by: 'admin',
      event_data: { name: row.name, target_type: row.target_type, rollout_percentage: row.rollout_percentage },
    });
    for (const w of warnings) logger.warn({ rollout: row.name }, w);
    return { status: 'ok', message: 'Rollout created successfully', rollout_id: row.id, rollout: rolloutView(row), warnings };
  });

  app.patch('/api/admin/rollout/:name', async (req) => {
    const { name } = parseInput(NameParams, req.params, 'path');
    const change = parseInput(RolloutPatch, req.body, 'body');
    const current = await store.getRollout(name);
    if (current === undefined) throw new RequestError(404, 'OTASIM_ERR_NOT_FOUND', `no rollout named "${name}"`);
    checkTargets(change.target_type ?? current.target_type,
      change.target_filter === undefined ? current.target_filter : change.target_filter);
    const row = await store.updateRollout(current.id, change);
    changed(row);
    await store.insertEvent({
      event_type: 'rollout_updated', firmware_version: row.firmware_version, rollout_id: row.id, created_by: 'admin',
      event_data: { name: row.name, change },
    });
    return { status: 'ok', message: 'Rollout updated successfully', rollout: rolloutView(row) };
  });

  app.post('/api/admin/rollout/:rollout_id/deactivate', async (req) => {
    const { rollout_id } = parseInput(IdParams, req.params, 'path');
    // Digits name an id first (the seed's `{rollout_id}`), else a name; names may be digits too.
    const byId = /^\d{1,15}$/.test(rollout_id) ? await store.getRollout(Number(rollout_id)) : undefined;
    const current = byId ?? await store.getRollout(rollout_id);
    if (current === undefined) throw new RequestError(404, 'OTASIM_ERR_NOT_FOUND', `no rollout with id or name "${rollout_id}"`);
    const row = await store.updateRollout(current.id, { is_active: false });
    changed(row);
    await store.insertEvent({
      event_type: 'rollout_updated', firmware_version: row.firmware_version, rollout_id: row.id, created_by: 'admin',
      event_data: { name: row.name, change: { is_active: false } },
    });
    return { status: 'ok', message: 'Rollout deactivated', rollout: rolloutView(row) };
  });

  app.get('/api/admin/rollouts', async (req) => {
    const q = parseInput(ListQuery, req.query, 'query');
    const rows = await store.listRollouts({
      limit: q.limit,
      ...(q.device_model === undefined ? {} : { device_model: q.device_model }),
      ...(q.active === undefined ? {} : { active: q.active === 'true' }),
    });
    return { rollouts: rows.map(rolloutView) };
  });
}
