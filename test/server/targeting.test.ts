import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bucketOf, inPercentage, isTargeted, normalizeMac, rolloutIdentity, targetedDevices,
  type TargetDevice, type TargetRule,
} from '../../server/rollout/targeting.js';

const rule = (over: Partial<TargetRule> = {}): TargetRule => ({
  device_model: 'esp32', firmware_version: '1.2.0', target_type: 'canary', target_filter: null,
  rollout_percentage: 10, ...over,
});
const dev = (id: string, over: Partial<TargetDevice> = {}): TargetDevice => ({ device_id: id, device_model: 'esp32', ...over });
const fleet = (n: number): TargetDevice[] => Array.from({ length: n }, (_, i) => dev(`ESP32-${i.toString(16).padStart(8, '0')}`));

describe('device bucketing matches the real paku service (facts §2.6 test vectors)', () => {
  it.each([
    ['ESP32-20E955A0', 25], ['ESP32-27C136B8', 71], ['ESP8266-9608CF16', 35],
    ['device1', 60], ['device123', 16], ['test_device', 72],
  ])('%s → bucket %i', (id, bucket) => {
    expect(bucketOf(id, null)).toBe(bucket);
    expect(bucketOf(id, rolloutIdentity(rule(), 'device'))).toBe(bucket);
  });
  it('a device in bucket 25 is in a 26% canary and out of a 25% one', () => {
    expect(isTargeted(rule({ rollout_percentage: 26 }), dev('ESP32-20E955A0'), 'device')).toBe(true);
    expect(isTargeted(rule({ rollout_percentage: 25 }), dev('ESP32-20E955A0'), 'device')).toBe(false);
  });
});

describe('percentages', () => {
  it('0% targets nobody, 100% and null target everybody', () => {
    const devices = fleet(300);
    expect(targetedDevices(rule({ rollout_percentage: 0 }), devices)).toHaveLength(0);
    expect(targetedDevices(rule({ rollout_percentage: 100 }), devices)).toHaveLength(300);
    expect(targetedDevices(rule({ target_type: 'all', rollout_percentage: null }), devices)).toHaveLength(300);
    expect(inPercentage(99, 100)).toBe(true);
    expect(inPercentage(0, -5)).toBe(false);
  });

  it('raising a canary keeps every device it already had (sticky), for both bucketings', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }),
      fc.constantFrom('release' as const, 'device' as const), fc.string({ maxLength: 12 }),
      (ids, a, b, bucketing, version) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const devices = ids.map((id) => dev(id));
        const small = new Set(targetedDevices(rule({ rollout_percentage: lo, firmware_version: version }), devices, bucketing));
        const big = new Set(targetedDevices(rule({ rollout_percentage: hi, firmware_version: version }), devices, bucketing));
        for (const d of small) expect(big.has(d)).toBe(true);
      }));
  });

  it('the bucket depends only on (release, device id): a new rollout of the same release keeps the canary', () => {
    fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string(), fc.integer({ min: 0, max: 100 }),
      fc.constantFrom('canary' as const, 'all' as const), (id, version, p, kind) => {
        const a = isTargeted(rule({ firmware_version: version, rollout_percentage: p, target_type: 'canary' }), dev(id));
        const b = isTargeted(rule({ firmware_version: version, rollout_percentage: p, target_type: kind }), dev(id));
        expect(a).toBe(b);
      }));
  });

  it('release bucketing draws a different canary for another release; device bucketing does not', () => {
    const devices = fleet(1000);
    const pick = (v: string, b: 'release' | 'device') =>
      new Set(targetedDevices(rule({ firmware_version: v }), devices, b).map((d) => d.device_id));
    const r1 = pick('1.2.0', 'release');
    const r2 = pick('1.3.0', 'release');
    expect([...r1].filter((id) => r2.has(id)).length).toBeLessThan(r1.size);
    expect(pick('1.2.0', 'device')).toEqual(pick('1.3.0', 'device'));
  });

  it('a p% canary of 10,000 devices selects close to p% (bucket is uniform)', () => {
    const devices = fleet(10_000);
    for (const p of [10, 25, 50]) {
      const n = targetedDevices(rule({ rollout_percentage: p }), devices).length;
      // Binomial sd at p=50 is 50; allow 5 sd.
      expect(Math.abs(n - p * 100)).toBeLessThan(250);
    }
  });

  it('buckets are in range and deterministic', () => {
    fc.assert(fc.property(fc.string(), fc.option(fc.string(), { nil: null }), (id, identity) => {
      const b = bucketOf(id, identity);
      expect(Number.isInteger(b) && b >= 0 && b < 100).toBe(true);
      expect(bucketOf(id, identity)).toBe(b);
    }));
  });
});

describe('kinds', () => {
  it('specific: by device id or by MAC in any notation; the percentage is ignored', () => {
    const r = rule({ target_type: 'specific', rollout_percentage: 0,
      target_filter: { device_ids: ['esp32_001'], mac_addresses: ['aa-bb-cc-dd-ee-ff'] } });
    expect(isTargeted(r, dev('esp32_001'))).toBe(true);
    expect(isTargeted(r, dev('esp32_002', { mac_address: 'AA:BB:CC:DD:EE:FF' }))).toBe(true);
    expect(isTargeted(r, dev('esp32_003', { mac_address: 'AA:BB:CC:DD:EE:00' }))).toBe(false);
    expect(isTargeted(r, dev('esp32_004'))).toBe(false);
    expect(isTargeted(rule({ target_type: 'specific', target_filter: null }), dev('esp32_001'))).toBe(false);
    expect(normalizeMac('aa:bb:cc:dd:ee:ff')).toBe('AABBCCDDEEFF');
  });

  it('group: any listed group matches (OR), then the percentage; devices without groups are out', () => {
    const r = rule({ target_type: 'group', rollout_percentage: 100,
      target_filter: { groups: ['location:warehouse', 'function:sensor'] } });
    expect(isTargeted(r, dev('a', { groups: ['function:sensor'] }))).toBe(true);
    expect(isTargeted(r, dev('b', { groups: ['location:warehouse', 'env:prod'] }))).toBe(true);
    expect(isTargeted(r, dev('c', { groups: ['env:prod'] }))).toBe(false);
    expect(isTargeted(r, dev('d'))).toBe(false);
    expect(isTargeted(r, dev('e', { groups: null }))).toBe(false);
    const single = rule({ target_type: 'group', rollout_percentage: null, target_filter: { group: 'production' } });
    expect(isTargeted(single, dev('f', { groups: ['production'] }))).toBe(true);
  });

  it('group percentage applies within the group and is sticky', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { maxLength: 80 }), fc.integer({ min: 0, max: 100 }), (ids, p) => {
      const devices = ids.map((id, i) => dev(id, { groups: i % 2 === 0 ? ['g'] : ['h'] }));
      const g = rule({ target_type: 'group', target_filter: { groups: ['g'] }, rollout_percentage: p });
      const canary = rule({ target_type: 'canary', rollout_percentage: p });
      for (const d of targetedDevices(g, devices)) {
        expect(d.groups).toContain('g');
        expect(isTargeted(canary, d)).toBe(true);
      }
    }));
  });

  it('the device model must match exactly for every kind', () => {
    for (const target_type of ['all', 'canary', 'group', 'specific'] as const) {
      const r = rule({ target_type, rollout_percentage: 100, target_filter: { device_ids: ['x'], groups: ['g'] } });
      expect(isTargeted(r, dev('x', { device_model: 'esp32-s3', groups: ['g'] }))).toBe(false);
      expect(isTargeted(r, dev('x', { groups: ['g'] }))).toBe(true);
    }
  });
});
