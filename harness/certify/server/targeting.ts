/**
 * Targeting, measured on virtual fleets that register by checking in (seed 002 "Rollout
 * Strategies"; paku-protocol-facts §2.6): `specific` device ids, `group` (ANY of the groups),
 * canary percentages by deterministic, sticky buckets — the seeds' progressive canary creates
 * 10%, then 25%, then 50% rollouts of one release, and each step may only add devices.
 */
import { ensure, RequirementSkipped, type SuiteRecorder } from '../common/index.js';
import { CertifyRun } from './context.js';
import { describe } from './http.js';
import { SRV } from './requirements.js';

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));
const list = (ids: readonly string[]): string => (ids.length <= 8 ? ids.join(', ') : `${ids.slice(0, 8).join(', ')} … (${ids.length})`);

/**
 * Whether `k` of `n` devices is a plausible count for p%: within 4.5 standard deviations of the
 * binomial mean, plus one. Device ids are random per run, so the count varies from run to run;
 * a false alarm is about one run in 150,000.
 */
export function plausibleCount(k: number, n: number, percent: number): boolean {
  const p = percent / 100;
  const mean = n * p;
  return Math.abs(k - mean) <= 4.5 * Math.sqrt(n * p * (1 - p)) + 1;
}

export async function targeting(rec: SuiteRecorder, run: CertifyRun, fleet: number): Promise<void> {
  await rec.check(SRV.specific, async () => {
    const model = run.model('s');
    const ids = run.devices('s', 12);
    const chosen = [ids[2], ids[5], ids[9]] as string[];
    await run.upload(model, run.v2);
    await run.createRollout({ name: run.rolloutName('s'), firmware_version: run.v2, device_model: model, target_type: 'specific', target_filter: { device_ids: chosen } });
    const offered = CertifyRun.offered(await run.checkAll(ids, model, run.v1));
    ensure(sameSet(offered, chosen), 'the specific rollout offered other devices than its list', { expected: list(chosen), actual: list(offered) });
  });

  await rec.check(SRV.group, async () => {
    const model = run.model('g');
    const ids = run.devices('g', 16);
    await run.checkAll(ids, model, run.v1);
    const groupsOf = (i: number): string[] => (i < 4 ? ['ctf:a'] : i < 8 ? ['ctf:b', 'ctf:x'] : i < 12 ? ['ctf:c'] : []);
    for (const [i, id] of ids.entries()) {
      const r = await run.http.send('PUT', `/api/admin/devices/${encodeURIComponent(id)}/groups`, { key: true, json: { groups: groupsOf(i) } });
      if (i === 0 && (r.status === 404 || r.status === 405)) {
        throw new RequirementSkipped(`the server has no API to set device groups (PUT /api/admin/devices/{id}/groups → ${r.status}); the seeds set them in SQL`);
      }
      ensure(r.status === 200, `setting the groups of ${id} failed`, { actual: describe(r) });
    }
    await run.upload(model, run.v2);
    await run.createRollout({ name: run.rolloutName('g'), firmware_version: run.v2, device_model: model, target_type: 'group',
      target_filter: { groups: ['ctf:a', 'ctf:b'] }, rollout_percentage: 100 });
    const offered = CertifyRun.offered(await run.checkAll(ids, model, run.v1));
    const want = ids.slice(0, 8);
    ensure(sameSet(offered, want), 'the group rollout did not offer exactly the devices in ctf:a or ctf:b', { expected: list(want), actual: list(offered) });
  });

  // Canary: one fleet, three rollouts of the same release, plus a fleet of another model.
  const model = run.model('c');
  const ids = run.devices('c', fleet);
  const others = run.devices('x', 20);
  const sets = new Map<number, string[]>();
  let again: string[] | undefined;
  let othersOffered: string[] = [];
  let setup: unknown;
  try {
    await run.upload(model, run.v2);
    for (const p of [10, 25, 50]) {
      await run.createRollout({ name: run.rolloutName(`c-${p}`), firmware_version: run.v2, device_model: model, target_type: 'canary', rollout_percentage: p });
      sets.set(p, CertifyRun.offered(await run.checkAll(ids, model, run.v1)));
      if (p === 10) again = CertifyRun.offered(await run.checkAll(ids, model, run.v1));
    }
    othersOffered = CertifyRun.offered(await run.checkAll(others, run.model('x'), run.v1));
  } catch (e) {
    setup = e;
  }
  const measured = (): void => {
    if (setup !== undefined) throw setup;
  };
  await rec.check(SRV.percent, () => {
    measured();
    const counts = [...sets].map(([p, s]) => `${p}%: ${s.length}/${fleet}`).join(', ');
    const off = [...sets].filter(([p, s]) => !plausibleCount(s.length, fleet, p));
    ensure(off.length === 0, 'an offered share is far from its percentage', { expected: 'about p% of the fleet', actual: counts });
    ensure(othersOffered.length === 0, 'devices of another model were offered the release', { expected: 'none', actual: list(othersOffered) });
    return counts;
  });
  await rec.check(SRV.sticky, () => {
    measured();
    const [s10, s25, s50] = [sets.get(10) ?? [], sets.get(25) ?? [], sets.get(50) ?? []];
    const lost10 = s10.filter((id) => !s25.includes(id));
    const lost25 = s25.filter((id) => !s50.includes(id));
    ensure(lost10.length === 0 && lost25.length === 0, 'growing the percentage dropped devices that were offered before',
      { expected: '10% ⊆ 25% ⊆ 50%', actual: `dropped at 25%: ${list(lost10)}; dropped at 50%: ${list(lost25)}` });
    return `${s10.length} ⊆ ${s25.length} ⊆ ${s50.length}`;
  });
  await rec.check(SRV.stable, () => {
    measured();
    const first = sets.get(10) ?? [];
    const second = again ?? [];
    const changed = [...first.filter((id) => !second.includes(id)), ...second.filter((id) => !first.includes(id))];
    ensure(changed.length === 0, 'a second sweep at 10% gave other answers', { expected: 'the same devices', actual: `${changed.length} changed: ${list(changed)}` });
  });
}
