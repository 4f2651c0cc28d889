/**
 * Health and the admin key (seed 001 "All admin endpoints require X-API-Key header";
 * paku-protocol-facts §2.2: a missing or wrong key is 401). Every admin route is probed without a
 * key and with a wrong one; 403 is accepted too. A route the server does not have (404/405 even
 * with the right key) is left out and named in the result.
 */
import { ensure, type SuiteRecorder } from '../common/index.js';
import type { CertifyRun } from './context.js';
import { describe, fileForm, isJsonObject, type Send } from './http.js';
import { SRV } from './requirements.js';

interface Probe {
  readonly method: string;
  readonly path: string;
  readonly send: Omit<Send, 'key'>;
}

/** The admin routes of the seeds (001/002) and otasim's extensions, with bodies a server would accept. */
function adminProbes(run: CertifyRun): Probe[] {
  const model = run.model('auth');
  const rollout = run.rolloutName('auth');
  const device = run.device('auth', 0);
  return [
    { method: 'GET', path: '/api/admin/firmware/releases?limit=1', send: {} },
    { method: 'GET', path: '/api/admin/devices?limit=1', send: {} },
    { method: 'GET', path: '/api/admin/update-status?limit=1', send: {} },
    { method: 'POST', path: run.uploadPath(model, `9.9.9-ctf${run.id}`), send: { body: fileForm(run.image(`9.9.9-ctf${run.id}`)) } },
    {
      method: 'POST', path: '/api/admin/rollout/create',
      send: { json: { name: rollout, firmware_version: run.v2, device_model: model, target_type: 'specific', target_filter: { device_ids: [device] }, is_active: true } },
    },
    { method: 'PATCH', path: `/api/admin/rollout/${rollout}`, send: { json: { rollout_percentage: 5 } } },
    { method: 'POST', path: `/api/admin/rollout/${rollout}/deactivate`, send: {} },
    { method: 'GET', path: '/api/admin/rollouts?limit=1', send: {} },
    { method: 'PUT', path: `/api/admin/devices/${device}/groups`, send: { json: { groups: ['ctf:auth'] } } },
    { method: 'GET', path: '/api/admin/plans', send: {} },
  ];
}

const refused = (status: number): boolean => status === 401 || status === 403;
const absent = (status: number): boolean => status === 404 || status === 405;

async function probeAll(rec: SuiteRecorder, run: CertifyRun, key: string | undefined, req: typeof SRV.authMissing): Promise<void> {
  await rec.check(req, async () => {
    run.rollouts.add(run.rolloutName('auth'));
    const bad: string[] = [];
    const missing: string[] = [];
    let checked = 0;
    for (const p of adminProbes(run)) {
      const send = key === undefined ? p.send : { ...p.send, key };
      const r = await run.http.send(p.method, p.path, send);
      const label = `${p.method} ${p.path.split('?')[0] ?? p.path}`;
      if (absent(r.status)) {
        // Hidden or absent? Ask again with the right key.
        const again = await run.http.send(p.method, p.path, { ...p.send, key: true });
        if (absent(again.status)) {
          missing.push(label);
          continue;
        }
      }
      checked++;
      if (!refused(r.status) || !isJsonObject(r)) bad.push(`${label} → ${describe(r)}`);
    }
    ensure(bad.length === 0, `${bad.length} admin route(s) did not refuse ${key === undefined ? 'a request without a key' : 'a wrong key'}`,
      { expected: '401 or 403 with a JSON body', actual: bad.join(' | ') });
    return `${checked} admin routes refused${missing.length === 0 ? '' : `; not served: ${missing.join(', ')}`}`;
  });
}

export async function healthAndAuth(rec: SuiteRecorder, run: CertifyRun): Promise<void> {
  await rec.check(SRV.health, async () => {
    const r = await run.http.get('/health');
    ensure(r.status === 200 && isJsonObject(r), 'GET /health is not 200 with a JSON object', { expected: '200 JSON', actual: describe(r) });
  });
  await probeAll(rec, run, undefined, SRV.authMissing);
  await probeAll(rec, run, `wrong-${run.id}-key`, SRV.authWrong);
}
