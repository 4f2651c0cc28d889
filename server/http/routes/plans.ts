/**
 * Rollout plan admin routes (issue 6): create, list, status (per-phase counts and decisions),
 * the operator actions and PATCH of the current phase's percentage. Mounted behind the API key
 * by app.ts. The engine (server/rollout/engine.ts) does the work; bad input is a 4xx from it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Slug } from '../../../protocol/payloads.js';
import { PLAN_ACTIONS } from '../../rollout/actions.js';
import type { RolloutEngine } from '../../rollout/engine.js';
import { parseInput } from '../validate.js';
import type { OfferCache } from '../offer-cache.js';

const NameParams = z.strictObject({ name: Slug });
const ActionParams = z.strictObject({ name: Slug, action: z.enum([...PLAN_ACTIONS, 'deactivate']) });
const PercentPatch = z.strictObject({ percent: z.number().int().min(1).max(100) });
const ListQuery = z.strictObject({ status: z.string().max(200).optional() });

/**
 * Mount the plan routes. An action through them invalidates the `/check` cache at once; the
 * engine's own steps (new phases, timeouts) show there within `cacheTtlMs`.
 */
export function planRoutes(app: FastifyInstance, engine: () => Promise<RolloutEngine>, cache: OfferCache): void {
  app.addHook('onSend', async (req, _reply, payload) => {
    if (req.method !== 'GET' && req.routeOptions.url?.startsWith('/api/admin/plans') === true) cache.invalidate();
    return payload;
  });
  app.post('/api/admin/plans', async (req) => {
    const e = await engine();
    const plan = await e.createPlan(req.body);
    return { status: 'ok', message: 'Rollout plan created', plan: await e.status(plan.id) };
  });

  app.get('/api/admin/plans', async (req) => {
    const q = parseInput(ListQuery, req.query, 'query');
    const e = await engine();
    const rows = await e.list(q.status?.split(',').filter((s) => s.length > 0));
    return { plans: rows };
  });

  app.get('/api/admin/plans/:name', async (req) => {
    const { name } = parseInput(NameParams, req.params, 'path');
    return { plan: await (await engine()).status(name) };
  });

  app.post('/api/admin/plans/:name/:action', async (req) => {
    const { name, action } = parseInput(ActionParams, req.params, 'path');
    const plan = await (await engine()).act(name, action === 'deactivate' ? 'cancel' : action);
    return { status: 'ok', message: `Rollout plan ${plan.status}`, plan };
  });

  app.patch('/api/admin/plans/:name', async (req) => {
    const { name } = parseInput(NameParams, req.params, 'path');
    const { percent } = parseInput(PercentPatch, req.body, 'body');
    return { status: 'ok', message: 'Rollout plan updated', plan: await (await engine()).setPercent(name, percent) };
  });
}
