/**
 * The two policy regressions through the engine and a real PGlite store, on a VirtualClock:
 * - a success reported over MQTT before the plan existed (a paku-core device reports it before its
 *   restart; the store still records its old version) keeps the device out of the plan's offers;
 * - the last phase stays `running`, its rollout row active, until a device waiting for a retry has
 *   been offered again and finished (a durability run lost 7 of 200 devices this way).
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../protocol/clock.js';
import type { UpdateStatusValue } from '../../protocol/payloads.js';
import { RolloutEngine } from '../../server/rollout/engine.js';
import { openStore } from '../../server/store/open.js';
import type { Store } from '../../server/store/store.js';

const MIN = 60_000;
const START = Date.parse('2026-06-01T00:00:00Z');
const logger = pino({ level: 'silent' });
const IDS = ['d0', 'd1', 'd2', 'd3'];

let clock: VirtualClock;
let store: Store;
let offered: string[][];

beforeEach(async () => {
  clock = new VirtualClock({ start: START });
  store = await openStore({ memory: true }, { clock: () => new Date(clock.now()) });
  offered = [];
  for (const v of ['1.0.0', '2.0.0']) {
    await store.insertRelease({ version: v, device_model: 'esp32', file_path: `sha256/${'0'.repeat(63)}${v[0]}`, file_size: 1, checksum_sha256: 'a'.repeat(64) });
    clock.advance(1000);
  }
  for (const id of IDS) await store.checkIn({ device_id: id, device_model: 'esp32', current_firmware_version: '1.0.0' });
  clock.advance(1000);
}, 120_000);
afterEach(async () => {
  await store.close();
});

const engine = (): Promise<RolloutEngine> => RolloutEngine.create({
  store, clock, logger, pollMs: MIN, offer: async (ids) => { offered.push([...ids]); },
});
/** A report as the MQTT collector stores it: the device's recorded version does not change. */
const report = (id: string, status: UpdateStatusValue): Promise<void> =>
  store.insertStatus({ device_id: id, firmware_version: '2.0.0', status, reported_at: new Date(clock.now()) });
/** The device announces `version` (its boot status): the store records it and `last_seen`. */
const announce = (id: string, version: string): Promise<unknown> =>
  store.checkIn({ device_id: id, device_model: 'esp32', current_firmware_version: version });
const run = (e: RolloutEngine, ms: number): Promise<number> => clock.advanceAsync(ms, async () => {
  await e.idle();
  await new Promise((r) => setImmediate(r));
});

describe('rollout policy through the engine and the store', () => {
  it('a success reported before the plan, not yet announced, keeps the device out of the offers', async () => {
    await report('d0', 'success'); // restarting into 2.0.0, still recorded on 1.0.0
    await report('d1', 'success');
    clock.advance(1000);
    await announce('d1', '1.0.0'); // d1's new image was rolled back at boot: it needs the offer
    clock.advance(1000);
    await using e = await engine();
    await e.createPlan({ name: 'window', firmware_version: '2.0.0', device_model: 'esp32', phases: [{ percent: 100 }] });
    expect(offered).toEqual([['d1', 'd2', 'd3']]);
    expect((await store.getRollout('window'))?.target_filter?.device_ids).toEqual(['d1', 'd2', 'd3']);
  });

  it('the last phase completes only after a device waiting for its retry has finished', async () => {
    await using e = await engine();
    await e.createPlan({ name: 'retry', firmware_version: '2.0.0', device_model: 'esp32', phases: [{ percent: 100 }],
      gate: { min_success_percent: 75, min_reports: 3 }, device: { max_retries: 1, retry_backoff_ms: 10 * MIN, timeout_ms: 60 * MIN } });
    expect(offered).toEqual([IDS]);
    for (const id of ['d0', 'd1', 'd2']) await report(id, 'success');
    await report('d3', 'failed');
    await run(e, 2 * MIN); // the gate holds (3 of 3 completed succeeded); d3 waits for its retry
    let s = await e.status('retry');
    expect(s.status).toBe('running');
    expect(s.totals).toMatchObject({ success: 3, retry: 1 });
    expect((await store.getRollout('retry'))?.is_active).toBe(true);
    await run(e, 10 * MIN);
    expect(offered.at(-1)).toEqual(['d3']);
    expect((await e.status('retry')).status).toBe('running');
    await report('d3', 'success');
    await run(e, 2 * MIN);
    s = await e.status('retry');
    expect(s.status).toBe('completed');
    expect(s.totals).toMatchObject({ success: 4, retry: 0, offered: 0, in_progress: 0 });
    expect(s.decisions.filter((d) => (d.data as { decision: string }).decision === 'plan_completed')).toHaveLength(1);
  });
});
