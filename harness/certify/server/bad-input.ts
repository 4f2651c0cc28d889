/**
 * Bad input gets a 4xx with a JSON body, never a 500 or an HTML page (paku-protocol-facts §2.3:
 * the real service answers schema errors with 422 JSON, but a bad slug on upload with a plain-text
 * 500, §2.4.4; that is what this catches).
 */
import { ensure, type SuiteRecorder } from '../common/index.js';
import type { CertifyRun } from './context.js';
import { describe, fileForm, isJsonObject, type Send } from './http.js';
import { SRV } from './requirements.js';

interface BadRequest {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly send: Send;
}

const is4xxJson = (status: number, json: boolean): boolean => status >= 400 && status < 500 && json;

async function probe(run: CertifyRun, cases: readonly BadRequest[]): Promise<string[]> {
  const bad: string[] = [];
  for (const c of cases) {
    const r = await run.http.send(c.method, c.path, c.send);
    if (!is4xxJson(r.status, isJsonObject(r))) bad.push(`${c.what} → ${describe(r)}`);
  }
  return bad;
}

export async function badInput(rec: SuiteRecorder, run: CertifyRun): Promise<void> {
  const model = run.model('a');
  const device = run.device('bad', 0);
  const status = `/api/device/${device}/update-status`;
  const json = { 'content-type': 'application/json' };
  await rec.check(SRV.errDevice, async () => {
    const bad = await probe(run, [
      { what: 'check without parameters', method: 'GET', path: '/api/firmware/check', send: {} },
      { what: 'check without device_model and current_version', method: 'GET', path: `/api/firmware/check?device_id=${device}`, send: {} },
      { what: 'update-status with status "bogus"', method: 'POST', path: status, send: { key: true, json: { device_id: device, firmware_version: run.v1, status: 'bogus' } } },
      { what: 'update-status with progress_percent 150', method: 'POST', path: status, send: { key: true, json: { device_id: device, firmware_version: run.v1, status: 'downloading', progress_percent: 150 } } },
      { what: 'update-status with malformed JSON', method: 'POST', path: status, send: { key: true, body: '{"device_id": ', headers: json } },
      { what: 'an unknown device route', method: 'GET', path: `/api/firmware/ctf-${run.id}-nothing-here`, send: {} },
    ]);
    ensure(bad.length === 0, `${bad.length} bad device request(s) not answered with 4xx JSON`, { expected: '4xx with a JSON body', actual: bad.join(' | ') });
  });

  await rec.check(SRV.errAdmin, async () => {
    const rollout = (slug: string, what: string, over: Record<string, unknown>): BadRequest => {
      const name = run.rolloutName(`bad-${slug}`);
      run.rollouts.add(name);
      return {
        what: `rollout/create with ${what}`, method: 'POST', path: '/api/admin/rollout/create',
        send: { key: true, json: { name, firmware_version: run.v1, device_model: model, target_type: 'all', rollout_percentage: 10, is_active: true, ...over } },
      };
    };
    const bad = await probe(run, [
      { what: 'rollout/create with malformed JSON', method: 'POST', path: '/api/admin/rollout/create', send: { key: true, body: '{"name": ', headers: json } },
      rollout('target-type', 'target_type everyone', { target_type: 'everyone' }),
      rollout('percentage', 'rollout_percentage 150', { rollout_percentage: 150 }),
      { what: 'rollout/create without a name', method: 'POST', path: '/api/admin/rollout/create',
        send: { key: true, json: { firmware_version: run.v1, device_model: model, target_type: 'all' } } },
      { what: 'upload without a file', method: 'POST', path: run.uploadPath(model, `3.0.0-ctf${run.id}`), send: { key: true, body: '', headers: json } },
      { what: 'upload with version "../x"', method: 'POST', path: run.uploadPath(model, '../x'), send: { key: true, body: fileForm(run.image('3.0.0')) } },
      { what: 'devices with limit "many"', method: 'GET', path: '/api/admin/devices?limit=many', send: { key: true } },
    ]);
    ensure(bad.length === 0, `${bad.length} bad admin request(s) not answered with 4xx JSON`, { expected: '4xx with a JSON body', actual: bad.join(' | ') });
  });
}
