/**
 * The plan admin API over HTTP on a real server: create, status with per-phase counts and
 * decisions, the operator actions, PATCH of the percentage, the seeds' endpoints on a plan's
 * rollout, and every bad input of issue 6 refused with a 4xx naming the problem.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_START_MS, TEST_KEY, http, image, sendJson, startServer, upload, type TestServer } from './http-harness.js';

let s: TestServer;

beforeAll(async () => {
  s = await startServer();
  for (const v of ['1.0.0', '2.0.0']) expect((await upload(s.url, v, 'esp32', image(v))).status).toBe(200);
  for (let i = 0; i < 30; i++) {
    const r = await http(s.url, 'GET', `/api/firmware/check?device_id=h${i}&current_version=1.0.0&device_model=esp32`);
    expect(r.status).toBe(200);
  }
}, SERVER_START_MS);
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
});

const base = { firmware_version: '2.0.0', device_model: 'esp32' };
const create = (body: unknown) => sendJson(s.url, 'POST', '/api/admin/plans', body);

describe('plan API', () => {
  it.each([
    ['phases that do not grow', { ...base, name: 'x1', phases: [{ percent: 20 }, { percent: 10 }] }, 422, 'OTASIM_ERR_VALIDATION', /phases\.1.*does not grow/],
    ['a threshold out of range', { ...base, name: 'x2', phases: [{ percent: 10 }], failure: { max_failed_percent: 150 } }, 422, 'OTASIM_ERR_VALIDATION', /failure\.max_failed_percent/],
    ['a gate out of range', { ...base, name: 'x3', phases: [{ percent: 10 }], gate: { min_success_percent: -5 } }, 422, 'OTASIM_ERR_VALIDATION', /gate\.min_success_percent/],
    ['a release that does not exist', { ...base, name: 'x4', firmware_version: '9.9.9', phases: [{ percent: 10 }] }, 422, 'OTASIM_ERR_UNKNOWN_RELEASE', /no release 9\.9\.9/],
    ['a rollback target that does not exist', { ...base, name: 'x5', phases: [{ percent: 10 }], failure: { max_failed_count: 1, action: 'rollback', rollback_to: '0.1.0' } },
      422, 'OTASIM_ERR_UNKNOWN_ROLLBACK_TARGET', /rollback_to: no release 0\.1\.0/],
    ['an unknown field', { ...base, name: 'x6', phases: [{ percent: 10 }], speed: 'fast' }, 422, 'OTASIM_ERR_VALIDATION', /speed/],
  ])('refuses %s', async (_what, body, status, code, message) => {
    const r = await create(body);
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.message).toMatch(message);
  });

  it('needs the API key', async () => {
    expect((await sendJson(s.url, 'POST', '/api/admin/plans', { ...base, name: 'k', phases: [{ percent: 10 }] }, null)).status).toBe(401);
  });

  it('creates a plan, shows per-phase counts, refuses a conflicting plan, and takes the operator actions', async () => {
    const r = await create({ ...base, name: 'canary', phases: [{ percent: 10 }, { percent: 50 }, { percent: 100 }], advance: 'manual',
      failure: { max_failed_percent: 20, min_completed: 5, action: 'rollback' } });
    expect(r.status).toBe(200);
    expect(r.json.plan).toMatchObject({ name: 'canary', status: 'running', phase: 0, spec: { failure: { rollback_to: '1.0.0' } } });
    const offered = r.json.plan.phases[0].counts.offered as number;
    expect(offered).toBeGreaterThan(0);
    expect(offered).toBeLessThan(15);

    const conflict = await create({ ...base, name: 'other', phases: [{ groups: ['eu'] }] });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error).toMatchObject({ code: 'OTASIM_ERR_PLAN_CONFLICT' });
    expect(conflict.json.error.message).toMatch(/plan "canary"/);

    // The plan's offered devices get the update on /check; the others don't.
    const status = await http(s.url, 'GET', '/api/admin/plans/canary', { key: TEST_KEY });
    expect(status.json.plan.totals.offered).toBe(offered);
    const rollout = (await http(s.url, 'GET', '/api/admin/rollouts', { key: TEST_KEY })).json.rollouts.find((x: { name: string }) => x.name === 'canary');
    const first = rollout.target_filter.device_ids[0] as string;
    const check = await http(s.url, 'GET', `/api/firmware/check?device_id=${first}&current_version=1.0.0&device_model=esp32`);
    expect(check.json.update_available).toBe(true);

    const patched = await sendJson(s.url, 'PATCH', '/api/admin/plans/canary', { percent: 30 });
    expect(patched.status).toBe(200);
    expect(patched.json.plan.phases[0].counts.offered).toBeGreaterThan(offered);
    expect((await sendJson(s.url, 'PATCH', '/api/admin/plans/canary', { percent: 60 })).json.error.message).toMatch(/does not grow/);
    expect((await sendJson(s.url, 'PATCH', '/api/admin/plans/canary', { percent: 0 })).status).toBe(422);

    expect((await sendJson(s.url, 'POST', '/api/admin/plans/canary/approve', {})).status).toBe(409);
    const paused = await sendJson(s.url, 'POST', '/api/admin/plans/canary/pause', {});
    expect(paused.json.plan.status).toBe('paused');
    const check2 = await http(s.url, 'GET', `/api/firmware/check?device_id=${first}&current_version=1.0.0&device_model=esp32`);
    expect(check2.json.update_available).toBe(false); // a paused plan's rollout is inactive
    expect((await sendJson(s.url, 'POST', '/api/admin/plans/canary/resume', {})).json.plan.status).toBe('running');
    const cancelled = await sendJson(s.url, 'POST', '/api/admin/plans/canary/deactivate', {});
    expect(cancelled.json.plan.status).toBe('cancelled');
    const ops = cancelled.json.plan.decisions.map((d: { data: { action?: string } }) => d.data.action).filter(Boolean);
    expect(ops).toEqual(['set_percent', 'pause', 'resume', 'cancel']);
    expect((await sendJson(s.url, 'POST', '/api/admin/plans/canary/cancel', {})).status).toBe(409);
    expect((await http(s.url, 'GET', '/api/admin/plans/nope', { key: TEST_KEY })).status).toBe(404);
    expect((await sendJson(s.url, 'POST', '/api/admin/plans/canary/explode', {})).status).toBe(422);

    // Once cancelled, another plan for the same devices is accepted.
    expect((await create({ ...base, name: 'after', phases: [{ device_ids: ['h1'] }] })).status).toBe(200);
    const list = await http(s.url, 'GET', '/api/admin/plans?status=running', { key: TEST_KEY });
    expect(list.json.plans.map((p: { name: string }) => p.name)).toEqual(['after']);
    const metrics = await http(s.url, 'GET', '/metrics');
    expect(metrics.text).toMatch(/otasim_rollout_decisions_total\{decision="operator_pause"\} 1/);
  });

  it('the seeds\' simple rollout keeps working beside plans', async () => {
    const r = await sendJson(s.url, 'POST', '/api/admin/rollout/create', { name: 'seed-simple', ...base, target_type: 'canary', rollout_percentage: 10 });
    expect(r.status).toBe(200);
  });
});
