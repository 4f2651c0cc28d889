/**
 * The seeds' own SQL (Grafana panels and admin snippets in seeds 001 and 002) runs UNCHANGED
 * against both stores. The statements are read from the seed documents at test time — not
 * retyped — so an edit on either side shows up here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../fixtures.js';
import { openPgHarness, openPgliteHarness, postgresReachable, type StoreHarness } from './store-harness.js';

const seedsDir = process.env.OTASIM_SEEDS ?? resolve(projectRoot, '..', 'shared', 'seeds');
const haveSeeds = existsSync(seedsDir);
if (!haveSeeds) process.stderr.write(`store-grafana: seeds folder ${seedsDir} is absent; skipping\n`);

/** Statements of every ```sql block, plus psql -c "…" one-liners, of the seed whose name starts with `n`. */
function seedSql(n: string): string[] {
  const file = readdirSync(seedsDir).find((f) => f.startsWith(`${n}_`));
  if (file === undefined) throw new Error(`no seed ${n} in ${seedsDir}`);
  const text = readFileSync(join(seedsDir, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/```sql\n([\s\S]*?)```/g)) {
    for (const stmt of m[1]!.split(/;\s*$/m)) {
      if (stmt.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('--'))) out.push(stmt.trim());
    }
  }
  for (const m of text.matchAll(/psql [^\n]*-c \\\n\s*"([^"]+);"/g)) out.push(m[1]!);
  return out;
}

const sql001 = haveSeeds ? seedSql('001') : [];
const sql002 = haveSeeds ? seedSql('002') : [];
const find = (list: string[], needle: string): string => {
  const s = list.find((q) => q.includes(needle));
  if (s === undefined) throw new Error(`no seed statement containing ${JSON.stringify(needle)}`);
  return s;
};

const HOUR = 3_600_000;

/** A small fleet whose answers to every seed query are known. Times are relative to real now, since the seed SQL says NOW(). */
async function seedFleet(h: StoreHarness): Promise<void> {
  const base = Date.now();
  const at = (msAgo: number) => { h.clock.ms = base - msAgo; };
  at(30 * HOUR);
  await h.store.insertRelease({ version: '1.0.0', device_model: 'esp32', file_path: 'sha256/x', file_size: 1, checksum_sha256: 'x' });
  at(20 * HOUR);
  await h.store.insertRelease({ version: '1.2.0', device_model: 'esp32', file_path: 'sha256/y', file_size: 1, checksum_sha256: 'y' });
  await h.store.insertRelease({ version: '2.0.0', device_model: 'esp32-s3', file_path: 'sha256/z', file_size: 1, checksum_sha256: 'z' });
  for (const [i, [id, model, v]] of ([['esp32_001', 'esp32', '1.0.0'], ['esp32_002', 'esp32', '1.0.0'], ['esp32_003', 'esp32', '1.2.0'],
    ['s3_001', 'esp32-s3', '2.0.0']] as const).entries()) {
    at((10 - i) * HOUR); // esp32_002 seen after esp32_001
    await h.store.checkIn({ device_id: id, device_model: model, current_firmware_version: v });
  }
  const report = async (hoursAgo: number, device_id: string, status: 'success' | 'failed' | 'downloading') => {
    at(hoursAgo * HOUR);
    await h.store.insertStatus({ device_id, firmware_version: '1.2.0', status });
  };
  await report(1, 'esp32_003', 'success');
  await report(2, 'esp32_001', 'failed');
  await report(2.5, 'esp32_001', 'downloading');
  await report(3, 's3_001', 'success');
  await report(4, 'esp32_002', 'success');
  await report(48, 'esp32_002', 'success'); // in the 7-day window, not the 24 h one
  await report(24 * 9, 'esp32_002', 'failed'); // outside both
}

function grafanaSuite(label: string, open: () => Promise<StoreHarness>): void {
  describe(`seed SQL runs unchanged: ${label}`, () => {
    let h: StoreHarness;
    beforeAll(async () => {
      h = await open();
      await seedFleet(h);
    });
    afterAll(async () => { await h?.close(); });
    const q = (sql: string) => h.store.rawQuery(sql);

    it('finds every seed statement (001: 3 panels; 002: groups UPDATE/SELECT, 4 panels, psql snippet)', () => {
      expect(sql001.length).toBe(4); // 3 panels + the psql one-liner
      expect(sql002.length).toBe(7);
    });

    it('devices by firmware version (001, 002)', async () => {
      for (const sql of [find(sql001, 'Devices by firmware version'), find(sql002, 'Total devices by firmware version')]) {
        const rows = await q(sql);
        const counts = Object.fromEntries(rows.map((r) => [r['current_firmware_version'], Number(r['count'] ?? r['device_count'])]));
        expect(counts).toEqual({ '1.0.0': 2, '1.2.0': 1, '2.0.0': 1 });
        expect(Number(Object.values(rows[0]!)[1])).toBe(2); // ORDER BY count DESC
      }
    });

    it('update success rate, last 24 h (001; 002 with percentages)', async () => {
      const a = await q(find(sql001, 'Update success rate'));
      expect(Object.fromEntries(a.map((r) => [r['status'], Number(r['count'])]))).toEqual({ success: 3, failed: 1 });
      const b = await q(find(sql002, 'percentage'));
      expect(Object.fromEntries(b.map((r) => [r['status'], Number(r['percentage'])]))).toEqual({ success: 75, failed: 25 });
    });

    it('recent activity by hour, last 7 days (001, 002)', async () => {
      for (const sql of [find(sql001, 'Recent activity'), find(sql002, 'Recent update activity')]) {
        const rows = await q(sql);
        expect(rows.reduce((n, r) => n + Number(r['count']), 0)).toBe(6);
        const hours = rows.map((r) => (r['hour'] as Date).getTime());
        expect(hours).toEqual([...hours].sort((x, y) => y - x));
        expect(hours.every((t) => t % HOUR === 0)).toBe(true);
      }
    });

    it('devices needing updates (002)', async () => {
      const rows = await q(find(sql002, 'Devices needing updates'));
      expect(rows.map((r) => [r['device_id'], r['current_firmware_version'], r['latest_version']])).toEqual([
        ['esp32_002', '1.0.0', '1.2.0'], ['esp32_001', '1.0.0', '1.2.0']]);
    });

    it('device history one-liner (001, 002 debug commands)', async () => {
      const rows = await q(find(sql001, "device_id='esp32_001'"));
      expect(rows.map((r) => r['status'])).toEqual(['failed', 'downloading']);
    });

    it('groups in metadata: the seed UPDATE, then the seed SELECT', async () => {
      await h.exec(find(sql002, 'jsonb_set'));
      const rows = await q(find(sql002, "metadata->'groups' ? 'location:warehouse'"));
      expect(rows).toEqual([{ device_id: 'esp32_001', device_model: 'esp32',
        groups: ['location:warehouse', 'function:sensor', 'env:production'] }]);
      expect((await h.store.getDevice('esp32_001'))?.groups).toEqual(['location:warehouse', 'function:sensor', 'env:production']);
    });
  });
}

const pgUp = haveSeeds ? await postgresReachable('store-grafana') : false;
describe.skipIf(!haveSeeds)('seed SQL', () => {
  grafanaSuite('PGlite', () => openPgliteHarness(false));
  if (pgUp) grafanaSuite('PostgreSQL', openPgHarness);
});
