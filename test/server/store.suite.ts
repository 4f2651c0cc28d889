/**
 * The abstract Store suite (STYLE.md §4): written once, run against every implementation by
 * store-pglite.test.ts and store-pg.test.ts. It pins the paku schema (paku-protocol-facts §3.1),
 * the real service's semantics (§2.4, §1.9) and the store's own promises (typed errors, batches
 * that are all-or-nothing and visible once they resolve).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OtasimError } from '../../protocol/errors.js';
import { migrate, MIGRATIONS } from '../../server/store/migrate.js';
import type { StatusRecord } from '../../server/store/store.js';
import type { StoreHarness } from './store-harness.js';

/** Column facts of §3.1: name → information_schema data_type, nullability. */
const SCHEMA: Record<string, Record<string, [string, 'NO' | 'YES']>> = {
  firmware_releases: {
    id: ['bigint', 'NO'], version: ['text', 'NO'], device_model: ['text', 'NO'], min_version: ['text', 'YES'],
    file_path: ['text', 'NO'], file_size: ['bigint', 'NO'], checksum_sha256: ['text', 'NO'], changelog: ['text', 'YES'],
    release_notes: ['text', 'YES'], is_signed: ['boolean', 'YES'], created_at: ['timestamp with time zone', 'NO'],
    created_by: ['text', 'YES'], metadata: ['jsonb', 'YES'],
  },
  devices: {
    id: ['bigint', 'NO'], device_id: ['text', 'NO'], mac_address: ['text', 'YES'], device_model: ['text', 'NO'],
    current_firmware_version: ['text', 'YES'], last_seen: ['timestamp with time zone', 'YES'],
    created_at: ['timestamp with time zone', 'NO'], metadata: ['jsonb', 'YES'],
  },
  device_update_status: {
    id: ['bigint', 'NO'], device_id: ['text', 'NO'], firmware_version: ['text', 'NO'], status: ['text', 'NO'],
    error_message: ['text', 'YES'], progress_percent: ['integer', 'YES'], started_at: ['timestamp with time zone', 'YES'],
    completed_at: ['timestamp with time zone', 'YES'], reported_at: ['timestamp with time zone', 'NO'], metadata: ['jsonb', 'YES'],
  },
  rollout_configurations: {
    id: ['bigint', 'NO'], name: ['text', 'NO'], firmware_version: ['text', 'NO'], device_model: ['text', 'NO'],
    target_type: ['text', 'NO'], target_filter: ['jsonb', 'YES'], rollout_percentage: ['integer', 'YES'],
    is_active: ['boolean', 'YES'], created_at: ['timestamp with time zone', 'NO'], updated_at: ['timestamp with time zone', 'NO'],
    created_by: ['text', 'YES'], metadata: ['jsonb', 'YES'],
  },
  ota_events: {
    id: ['bigint', 'NO'], event_type: ['text', 'NO'], device_id: ['text', 'YES'], firmware_version: ['text', 'YES'],
    rollout_id: ['bigint', 'YES'], event_data: ['jsonb', 'YES'], created_at: ['timestamp with time zone', 'NO'],
    created_by: ['text', 'YES'],
  },
};

function codeOf(e: unknown): string | undefined {
  return e instanceof OtasimError ? e.code : undefined;
}
async function rejectsWith(p: Promise<unknown>, code: string): Promise<OtasimError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(codeOf(e), `expected ${code}, got ${String(e)}`).toBe(code);
  return e as OtasimError;
}

const release = (version: string, device_model = 'esp32', sha = 'a'.repeat(64)) => ({
  version, device_model, file_path: `sha256/${sha}`, file_size: 1234, checksum_sha256: sha,
});

/** Run the whole suite against `open()`; `label` names the implementation. */
export function storeSuite(label: string, open: () => Promise<StoreHarness>): void {
  describe(`Store: ${label}`, () => {
    let h: StoreHarness;
    beforeAll(async () => { h = await open(); });
    afterAll(async () => { await h?.close(); });
    beforeEach(async () => { await h.reset(); });

    describe('schema and migrations', () => {
      it('has the paku tables with the real column names, types and nullability', async () => {
        const rows = await h.store.rawQuery(`SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`, [Object.keys(SCHEMA)]);
        const got: Record<string, Record<string, [string, string]>> = {};
        for (const r of rows) (got[String(r['table_name'])] ??= {})[String(r['column_name'])] = [String(r['data_type']), String(r['is_nullable'])];
        expect(got).toEqual(SCHEMA);
      });

      it('has the upstream index and constraint names', async () => {
        const idx = await h.store.rawQuery(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()`);
        const names = idx.map((r) => r['indexname']);
        for (const n of ['firmware_releases_version_model_key', 'idx_firmware_releases_model_version', 'idx_devices_model',
          'idx_device_update_status_device', 'idx_rollout_configurations_active', 'idx_ota_events_device', 'devices_device_id_key',
          'devices_mac_address_key', 'rollout_configurations_name_key']) expect(names).toContain(n);
      });

      it('records every migration once, and a second migrate applies nothing', async () => {
        const rows = await h.store.rawQuery('SELECT version, name FROM schema_migrations ORDER BY version');
        expect(rows.map((r) => Number(r['version']))).toEqual(MIGRATIONS.map((m) => m.version));
        expect(await migrate(h.port)).toEqual([]);
      });

      it('refuses a database whose applied migration text differs from this build', async () => {
        await h.exec(`UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1`);
        try {
          await rejectsWith(migrate(h.port), 'OTASIM_ERR_STORE_MIGRATION');
        } finally {
          const { createHash } = await import('node:crypto');
          const sum = createHash('sha256').update(MIGRATIONS[0]!.sql).digest('hex');
          await h.exec(`UPDATE schema_migrations SET checksum = '${sum}' WHERE version = 1`);
        }
      });

      it('refuses a database migrated by a newer otasim', async () => {
        await h.exec(`INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'from-the-future', 'x')`);
        try {
          const e = await rejectsWith(migrate(h.port), 'OTASIM_ERR_STORE_MIGRATION');
          expect(e.message).toMatch(/999/);
        } finally {
          await h.exec('DELETE FROM schema_migrations WHERE version = 999');
        }
      });

      it('rawQuery is read-only', async () => {
        await rejectsWith(h.store.rawQuery(`DELETE FROM devices`), 'OTASIM_ERR_STORE');
      });
    });

    describe('devices', () => {
      it('checkIn registers, then updates only version and last_seen (the real /check upsert)', async () => {
        const a = await h.store.checkIn({ device_id: 'ESP32-20E955A0', device_model: 'esp32', current_firmware_version: '1.0.0' });
        expect(a).toMatchObject({ device_id: 'ESP32-20E955A0', device_model: 'esp32', current_firmware_version: '1.0.0', groups: [] });
        expect(a.last_seen?.toISOString()).toBe('2026-05-05T10:00:00.000Z');
        h.clock.advance(60_000);
        const b = await h.store.checkIn({ device_id: 'ESP32-20E955A0', device_model: 'other', current_firmware_version: '1.1.0' });
        expect(b).toMatchObject({ id: a.id, device_model: 'esp32', current_firmware_version: '1.1.0' });
        expect(b.last_seen?.toISOString()).toBe('2026-05-05T10:01:00.000Z');
        expect(b.created_at.toISOString()).toBe('2026-05-05T10:00:00.000Z');
      });

      it('lists by last_seen DESC with the model filter and limit', async () => {
        for (const [i, id] of ['d1', 'd2', 'd3'].entries()) {
          await h.store.checkIn({ device_id: id, device_model: i === 1 ? 'esp32s3' : 'esp32', current_firmware_version: '1' });
          h.clock.advance(1000);
        }
        expect((await h.store.listDevices()).map((d) => d.device_id)).toEqual(['d3', 'd2', 'd1']);
        expect((await h.store.listDevices({ device_model: 'esp32' })).map((d) => d.device_id)).toEqual(['d3', 'd1']);
        expect((await h.store.listDevices({ limit: 1 })).map((d) => d.device_id)).toEqual(['d3']);
        expect((await h.store.devicesOfModel('esp32')).map((d) => d.device_id)).toEqual(['d1', 'd3']);
        expect(await h.store.getDevice('nope')).toBeUndefined();
      });

      it('sets groups in metadata.groups, de-duplicated, queryable with the seed operator', async () => {
        await h.store.checkIn({ device_id: 'esp32_001', device_model: 'esp32', current_firmware_version: '1' });
        const d = await h.store.setDeviceGroups('esp32_001', ['location:warehouse', 'env:production', 'location:warehouse']);
        expect(d.groups).toEqual(['location:warehouse', 'env:production']);
        expect(d.metadata).toEqual({ groups: ['location:warehouse', 'env:production'] });
        const hit = await h.store.rawQuery(`SELECT device_id FROM devices WHERE metadata->'groups' ? 'location:warehouse'`);
        expect(hit).toEqual([{ device_id: 'esp32_001' }]);
        expect((await h.store.setDeviceGroups('esp32_001', [])).groups).toEqual([]);
        await rejectsWith(h.store.setDeviceGroups('ghost', ['a']), 'OTASIM_ERR_NOT_FOUND');
      });

      it('setDeviceVersion moves the version and last_seen', async () => {
        await h.store.checkIn({ device_id: 'd', device_model: 'esp32', current_firmware_version: '1' });
        h.clock.advance(5000);
        await h.store.setDeviceVersion('d', '2');
        const d = await h.store.getDevice('d');
        expect(d?.current_firmware_version).toBe('2');
        expect(d?.last_seen?.toISOString()).toBe('2026-05-05T10:00:05.000Z');
      });
    });

    describe('releases', () => {
      it('a duplicate (version, device_model) is a typed conflict; another model is fine', async () => {
        const r = await h.store.insertRelease({ ...release('1.2.0'), release_notes: 'notes', is_signed: true });
        expect(r).toMatchObject({ version: '1.2.0', device_model: 'esp32', file_size: 1234, is_signed: true, created_by: 'admin',
          release_notes: 'notes', min_version: null });
        const e = await rejectsWith(h.store.insertRelease(release('1.2.0')), 'OTASIM_ERR_DUPLICATE_RELEASE');
        expect(e.message).toMatch(/new version/);
        await h.store.insertRelease(release('1.2.0', 'esp32s3'));
        expect((await h.store.listReleases()).length).toBe(2);
      });

      it('latest means most recently uploaded, not highest version (the real /check)', async () => {
        await h.store.insertRelease(release('2.0.0'));
        h.clock.advance(1000);
        await h.store.insertRelease(release('1.5.0'));
        expect((await h.store.latestRelease('esp32'))?.version).toBe('1.5.0');
        expect(await h.store.latestRelease('esp8266')).toBeUndefined();
      });

      it('gets by version with or without model; lists newest first with filter and limit', async () => {
        await h.store.insertRelease(release('1.0.0', 'esp32'));
        h.clock.advance(1000);
        await h.store.insertRelease(release('1.0.0', 'esp32s3'));
        h.clock.advance(1000);
        await h.store.insertRelease(release('1.1.0', 'esp32'));
        expect((await h.store.getRelease('1.0.0', 'esp32'))?.device_model).toBe('esp32');
        expect((await h.store.getRelease('1.0.0'))?.device_model).toBe('esp32s3');
        expect(await h.store.getRelease('9.9.9')).toBeUndefined();
        expect((await h.store.listReleases()).map((r) => `${r.version}/${r.device_model}`)).toEqual(['1.1.0/esp32', '1.0.0/esp32s3', '1.0.0/esp32']);
        expect((await h.store.listReleases({ device_model: 'esp32', limit: 1 })).map((r) => r.version)).toEqual(['1.1.0']);
        expect(await h.store.artifactInUse(`sha256/${'a'.repeat(64)}`)).toBe(true);
        expect(await h.store.artifactInUse(`sha256/${'b'.repeat(64)}`)).toBe(false);
      });
    });

    describe('rollouts', () => {
      const canary = { name: 'v1.2.0-canary', firmware_version: '1.2.0', device_model: 'esp32', target_type: 'canary' as const, rollout_percentage: 10 };

      it('creates with the seeds defaults; a duplicate name is a typed conflict', async () => {
        const r = await h.store.insertRollout({ name: 'v1.2.0-test', firmware_version: '1.2.0', device_model: 'esp32',
          target_type: 'specific', target_filter: { device_ids: ['esp32_001'] } });
        expect(r).toMatchObject({ rollout_percentage: 100, is_active: true, target_filter: { device_ids: ['esp32_001'] }, created_by: 'admin' });
        await rejectsWith(h.store.insertRollout({ ...canary, name: 'v1.2.0-test' }), 'OTASIM_ERR_DUPLICATE_ROLLOUT');
      });

      it('PATCH by name or id sets updated_at; unknown is NotFound; deactivated rollouts are not active', async () => {
        const r = await h.store.insertRollout(canary);
        h.clock.advance(3_600_000);
        const p = await h.store.updateRollout('v1.2.0-canary', { rollout_percentage: 25, target_filter: { groups: ['a'] } });
        expect(p).toMatchObject({ id: r.id, rollout_percentage: 25, is_active: true, target_filter: { groups: ['a'] } });
        expect(p.updated_at.getTime() - p.created_at.getTime()).toBe(3_600_000);
        expect((await h.store.activeRollout('1.2.0', 'esp32'))?.id).toBe(r.id);
        await h.store.updateRollout(r.id, { is_active: false });
        expect(await h.store.activeRollout('1.2.0', 'esp32')).toBeUndefined();
        expect((await h.store.getRollout(r.id))?.is_active).toBe(false);
        await rejectsWith(h.store.updateRollout('nope', { is_active: false }), 'OTASIM_ERR_NOT_FOUND');
      });

      it('the newest active rollout for (version, model) wins; list filters', async () => {
        await h.store.insertRollout(canary);
        h.clock.advance(1000);
        await h.store.insertRollout({ ...canary, name: 'v1.2.0-prod', target_type: 'all', rollout_percentage: 100 });
        await h.store.insertRollout({ ...canary, name: 'other-model', device_model: 'esp32s3' });
        expect((await h.store.activeRollout('1.2.0', 'esp32'))?.name).toBe('v1.2.0-prod');
        await h.store.updateRollout('v1.2.0-prod', { is_active: false });
        expect((await h.store.activeRollout('1.2.0', 'esp32'))?.name).toBe('v1.2.0-canary');
        expect((await h.store.listRollouts({ active: false })).map((r) => r.name)).toEqual(['v1.2.0-prod']);
        expect((await h.store.listRollouts({ device_model: 'esp32' })).map((r) => r.name)).toEqual(['v1.2.0-prod', 'v1.2.0-canary']);
      });
    });

    describe('update status', () => {
      const rows = () => h.store.listStatus({ limit: 500 });

      it('insert mode appends rows; list is reported_at DESC with filters and limit', async () => {
        await h.store.insertStatus({ device_id: 'a', firmware_version: '1.2.0', status: 'downloading', progress_percent: 0, started: true });
        h.clock.advance(1000);
        await h.store.insertStatus({ device_id: 'a', firmware_version: '1.2.0', status: 'success', completed: true });
        h.clock.advance(1000);
        await h.store.insertStatus({ device_id: 'b', firmware_version: '1.1.0', status: 'failed', error_message: 'Download failed' });
        const all = await rows();
        expect(all.map((r) => `${r.device_id}:${r.status}`)).toEqual(['b:failed', 'a:success', 'a:downloading']);
        expect(all[2]?.started_at?.toISOString()).toBe('2026-05-05T10:00:00.000Z');
        expect(all[1]?.completed_at?.toISOString()).toBe('2026-05-05T10:00:01.000Z');
        expect(all[0]).toMatchObject({ error_message: 'Download failed', started_at: null, completed_at: null });
        expect((await h.store.listStatus({ device_id: 'a' })).length).toBe(2);
        expect((await h.store.listStatus({ firmware_version: '1.1.0' })).map((r) => r.device_id)).toEqual(['b']);
        expect((await h.store.listStatus({ limit: 1 })).length).toBe(1);
      });

      it('latest mode updates the device\'s newest row (ack → progress → result, as the collector does)', async () => {
        await h.store.insertStatusBatch([{ device_id: 'a', firmware_version: '1.2.0', status: 'pending', started: true }]);
        h.clock.advance(1000);
        await h.store.insertStatusBatch([{ device_id: 'a', status: 'downloading', progress_percent: 40, mode: 'latest' }]);
        h.clock.advance(1000);
        await h.store.insertStatusBatch([{ device_id: 'a', firmware_version: '1.2.0', status: 'failed', error_message: 'Timeout',
          completed: true, mode: 'latest' }]);
        const all = await rows();
        expect(all).toHaveLength(1);
        expect(all[0]).toMatchObject({ firmware_version: '1.2.0', status: 'failed', progress_percent: 40, error_message: 'Timeout' });
        expect(all[0]?.started_at?.toISOString()).toBe('2026-05-05T10:00:00.000Z');
        expect(all[0]?.completed_at?.toISOString()).toBe('2026-05-05T10:00:02.000Z');
        expect(all[0]?.reported_at.toISOString()).toBe('2026-05-05T10:00:02.000Z');
      });

      it('latest mode with no earlier row inserts one, so a report whose ack was lost still lands', async () => {
        await h.store.insertStatusBatch([{ device_id: 'lost-ack', status: 'downloading', progress_percent: 10, mode: 'latest' }]);
        expect(await rows()).toMatchObject([{ device_id: 'lost-ack', firmware_version: 'unknown', progress_percent: 10 }]);
        // A later result that knows the version fills in 'unknown'.
        await h.store.insertStatusBatch([{ device_id: 'lost-ack', firmware_version: '2.0', status: 'success', progress_percent: 100, mode: 'latest' }]);
        expect(await rows()).toMatchObject([{ firmware_version: '2.0', status: 'success', progress_percent: 100 }]);
      });

      it('keeps array order inside one batch, across attempts of the same device', async () => {
        await h.store.insertStatusBatch([
          { device_id: 'a', firmware_version: '1', status: 'pending' },
          { device_id: 'a', status: 'downloading', progress_percent: 50, mode: 'latest' },
          { device_id: 'b', firmware_version: '1', status: 'pending' },
          { device_id: 'a', firmware_version: '2', status: 'pending' },
          { device_id: 'a', status: 'downloading', progress_percent: 10, mode: 'latest' },
          { device_id: 'a', status: 'downloading', progress_percent: 20, mode: 'latest' },
        ]);
        const byVersion = (await h.store.listStatus({ device_id: 'a' })).map((r) => `${r.firmware_version}:${r.status}:${r.progress_percent}`).sort();
        expect(byVersion).toEqual(['1:downloading:50', '2:downloading:20']);
        expect((await h.store.listStatus({ device_id: 'b' }))).toMatchObject([{ status: 'pending', progress_percent: null }]);
      });

      it('a batch is all-or-nothing: one bad record rolls back the rest, with a typed error', async () => {
        const batch: StatusRecord[] = [
          { device_id: 'ok', firmware_version: '1', status: 'pending' },
          { device_id: 'bad', firmware_version: '1', status: 'pending', progress_percent: 101 },
        ];
        await rejectsWith(h.store.insertStatusBatch(batch), 'OTASIM_ERR_STORE_INVALID');
        expect(await rows()).toEqual([]);
      });

      it('a resolved batch is committed: another connection sees every row', async () => {
        const n = 2500;
        const batch: StatusRecord[] = Array.from({ length: n }, (_, i) => ({ device_id: `dev-${i}`, firmware_version: '1', status: 'pending' }));
        await h.store.insertStatusBatch(batch);
        const view = h.otherConnection ?? ((sql: string) => h.store.rawQuery(sql));
        const got = await view('SELECT COUNT(*) AS n FROM device_update_status');
        expect(Number(got[0]?.['n'])).toBe(n);
      });

      it('statusCounts counts each device once, by its latest row for the version', async () => {
        await h.store.checkIn({ device_id: 'a', device_model: 'esp32', current_firmware_version: '1' });
        await h.store.checkIn({ device_id: 'b', device_model: 'esp32', current_firmware_version: '1' });
        await h.store.checkIn({ device_id: 'c', device_model: 'esp32s3', current_firmware_version: '1' });
        await h.store.insertStatusBatch([
          { device_id: 'a', firmware_version: '2', status: 'pending' },
          { device_id: 'b', firmware_version: '2', status: 'pending' },
          { device_id: 'c', firmware_version: '2', status: 'pending' },
        ]);
        h.clock.advance(1000);
        await h.store.insertStatusBatch([
          { device_id: 'a', firmware_version: '2', status: 'success' },
          { device_id: 'b', firmware_version: '2', status: 'failed' },
        ]);
        expect(await h.store.statusCounts('2')).toEqual({ success: 1, failed: 1, pending: 1 });
        expect(await h.store.statusCounts('2', 'esp32')).toEqual({ success: 1, failed: 1 });
        expect(await h.store.statusCounts('3')).toEqual({});
      });
    });

    describe('events, ingest, stats', () => {
      it('records and lists events with filters', async () => {
        await h.store.insertEvent({ event_type: 'firmware_uploaded', firmware_version: '1.2.0', event_data: { device_model: 'esp32', file_size: 10 } });
        h.clock.advance(1000);
        const e = await h.store.insertEvent({ event_type: 'update_started', device_id: 'a', firmware_version: '1.2.0', event_data: { from_version: '1.1.0' } });
        expect(e).toMatchObject({ event_type: 'update_started', event_data: { from_version: '1.1.0' }, rollout_id: null });
        expect((await h.store.listEvents()).map((x) => x.event_type)).toEqual(['update_started', 'firmware_uploaded']);
        expect((await h.store.listEvents({ device_id: 'a' }))).toHaveLength(1);
        expect((await h.store.listEvents({ event_type: 'firmware_uploaded' }))[0]?.event_data).toEqual({ device_model: 'esp32', file_size: 10 });
      });

      it('ingest applies devices, raw edge statuses, status and events in one transaction', async () => {
        await h.store.checkIn({ device_id: 'old-owner', device_model: 'esp32', current_firmware_version: '1' });
        await h.store.ingest({ devices: [{ device_id: 'old-owner', device_model: 'esp32', current_firmware_version: '1', mac_address: 'AA:BB:CC:DD:EE:FF' }] });
        await h.store.ingest({
          devices: [
            { device_id: 'ESP32-20E955A0', device_model: 'lilygo-t-display-s3', current_firmware_version: '1.4.2', mac_address: 'AA:BB:CC:DD:EE:FF' },
            { device_id: 'ESP32-20E955A0', device_model: 'lilygo-t-display-s3', current_firmware_version: '1.4.3', mac_address: 'AA:BB:CC:DD:EE:FF' },
          ],
          edgeStatuses: [{ site_id: 'paku', device_id: 'ESP32-20E955A0', status: { online: true, firmware_version: '1.4.3' } },
            { site_id: 'paku', device_id: 'ESP32-20E955A0', status: { online: false } }],
          statuses: [{ device_id: 'ESP32-20E955A0', firmware_version: '1.4.3', status: 'pending' }],
          events: [{ event_type: 'update_started', device_id: 'ESP32-20E955A0', firmware_version: '1.4.3', event_data: { status: 'accepted' } }],
        });
        const d = await h.store.getDevice('ESP32-20E955A0');
        expect(d).toMatchObject({ device_model: 'lilygo-t-display-s3', current_firmware_version: '1.4.3', mac_address: 'AA:BB:CC:DD:EE:FF' });
        expect((await h.store.getDevice('old-owner'))?.mac_address).toBeNull(); // the MAC moved
        const edge = await h.store.rawQuery(`SELECT status FROM edge_device_status ORDER BY id`);
        expect(edge.map((r) => r['status'])).toEqual([{ online: true, firmware_version: '1.4.3' }, { online: false }]);
        expect(await h.store.listStatus()).toHaveLength(1);
        expect(await h.store.listEvents()).toHaveLength(1);
      });

      it('NUL in device-sent text cannot fail a batch: it is stored as U+FFFD; a literal backslash-u0000 stays as typed', async () => {
        await h.store.ingest({
          statuses: [{ device_id: 'n', firmware_version: '1', status: 'failed', error_message: 'bad\u0000byte' }],
          events: [{ event_type: 'update_failed', device_id: 'n', event_data: { 'k\u0000ey': 'v\u0000', literal: '\\u0000', nested: [null, { a: null }] } }],
          edgeStatuses: [{ site_id: 'paku', device_id: 'n', status: { online: true, friendly_name: '\u0000' } }],
        });
        expect((await h.store.listStatus())[0]?.error_message).toBe('bad\ufffdbyte');
        expect((await h.store.listEvents())[0]?.event_data).toEqual({ 'k\ufffdey': 'v\ufffd', literal: '\\u0000', nested: [null, { a: null }] });
        const edge = await h.store.rawQuery('SELECT status FROM edge_device_status');
        expect(edge[0]?.['status']).toEqual({ online: true, friendly_name: '\ufffd' });
      });

      it('a failing ingest leaves nothing behind', async () => {
        await rejectsWith(h.store.ingest({
          devices: [{ device_id: 'x', device_model: 'esp32', current_firmware_version: '1' }],
          events: [{ event_type: 'not_a_type' as never }],
        }), 'OTASIM_ERR_STORE_INVALID');
        expect(await h.store.getDevice('x')).toBeUndefined();
      });

      it('stats count devices by model and version, 24 h outcomes on the store clock, active rollouts', async () => {
        await h.store.checkIn({ device_id: 'a', device_model: 'esp32', current_firmware_version: '1.0' });
        await h.store.checkIn({ device_id: 'b', device_model: 'esp32', current_firmware_version: '1.1' });
        await h.store.ingest({ devices: [{ device_id: 'c', device_model: 'esp32s3', current_firmware_version: null }] });
        await h.store.insertStatus({ device_id: 'a', firmware_version: '1.1', status: 'failed' });
        h.clock.advance(25 * 3_600_000);
        await h.store.insertStatus({ device_id: 'a', firmware_version: '1.1', status: 'success' });
        await h.store.insertRollout({ name: 'r1', firmware_version: '1.1', device_model: 'esp32', target_type: 'all' });
        await h.store.insertRollout({ name: 'r2', firmware_version: '1.1', device_model: 'esp32', target_type: 'all', is_active: false });
        expect(await h.store.stats()).toEqual({
          total_devices: 3,
          devices_by_model: { esp32: 2, esp32s3: 1 },
          devices_by_version: { '1.0': 1, '1.1': 1, '': 1 },
          recent_updates_24h: { success: 1 },
          active_rollouts: 1,
        });
      });

      it('ping answers', async () => {
        await h.store.ping();
      });
    });
  });
}
