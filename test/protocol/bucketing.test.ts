/**
 * Canary buckets per wire profile. paku-edge must pick exactly the canaries the real paku service
 * picks: `int(sha256(device_id).hexdigest(), 16) % 100 < p` (paku-protocol-facts §2.6 test vectors).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, inPercentage, rolloutIdentity } from '../../protocol/bucketing.js';
import { PROFILES, wireProfile } from '../../protocol/profiles.js';

/** The facts sheet's vectors: device id → bucket (hash % 100). */
const VECTORS: ReadonlyArray<readonly [string, number]> = [
  ['ESP32-20E955A0', 25], ['ESP32-27C136B8', 71], ['ESP8266-9608CF16', 35],
  ['device1', 60], ['device123', 16], ['test_device', 72],
];

/** The bucket a profile gives a device for a release. */
const bucket = (profile: 'paku-edge' | 'paku-legacy', id: string, release = { device_model: 'esp32', firmware_version: '1.4.3' }): number =>
  bucketOf(id, rolloutIdentity(release, wireProfile(profile).bucketing));

describe('paku-edge bucketing: SHA-256(device_id) mod 100, as the real service', () => {
  it('is the profile\'s rule', () => {
    expect(PROFILES['paku-edge'].bucketing).toBe('device');
  });

  it.each(VECTORS)('%s → bucket %i', (id, expected) => {
    expect(bucket('paku-edge', id)).toBe(expected);
  });

  it.each(VECTORS)('%s is in a canary of (bucket + 1)% and out of one of (bucket)%', (id, b) => {
    expect(inPercentage(bucket('paku-edge', id), b + 1)).toBe(true);
    expect(inPercentage(bucket('paku-edge', id), b)).toBe(false);
  });

  it('uses the whole digest as one integer (a last-bytes shortcut would give other buckets)', () => {
    // sha256("device1") mod 100 from the digest's last 4 bytes differs from the whole-digest value;
    // the vector pins the whole-digest rule.
    const digest = createHash('sha256').update('device1').digest();
    expect(digest.readUInt32BE(28) % 100).not.toBe(60);
    expect(bucket('paku-edge', 'device1')).toBe(60);
  });

  it('draws the same canaries for every release and model', () => {
    fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (id, version, model) => {
      expect(bucket('paku-edge', id, { device_model: model, firmware_version: version })).toBe(bucket('paku-edge', id));
    }));
  });

  it('0% takes nobody and 100% everybody, whatever the bucket (the service\'s p ≤ 0 / p ≥ 100 rule)', () => {
    for (const [id] of VECTORS) {
      expect(inPercentage(bucket('paku-edge', id), 0)).toBe(false);
      expect(inPercentage(bucket('paku-edge', id), 100)).toBe(true);
      expect(inPercentage(bucket('paku-edge', id), null)).toBe(true);
    }
  });
});

describe('paku-legacy bucketing: per release', () => {
  it('is the profile\'s rule, and keys the buckets on the release', () => {
    expect(PROFILES['paku-legacy'].bucketing).toBe('release');
    const a = VECTORS.map(([id]) => bucket('paku-legacy', id, { device_model: 'esp32', firmware_version: '1.0.0' }));
    const b = VECTORS.map(([id]) => bucket('paku-legacy', id, { device_model: 'esp32', firmware_version: '2.0.0' }));
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(VECTORS.map(([, v]) => v));
  });
});

describe('both profiles', () => {
  it('are sticky: a device in a p% canary stays in every larger one (property)', () => {
    fc.assert(fc.property(fc.constantFrom('paku-edge' as const, 'paku-legacy' as const), fc.string({ minLength: 1 }),
      fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (profile, id, p, q) => {
        const [lo, hi] = p <= q ? [p, q] : [q, p];
        const b = bucket(profile, id);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(100);
        if (inPercentage(b, lo)) expect(inPercentage(b, hi)).toBe(true);
      }));
  });

  it('select about p% of a large fleet', () => {
    for (const profile of ['paku-edge', 'paku-legacy'] as const) {
      const ids = Array.from({ length: 4000 }, (_, i) => `ESP32-${i.toString(16).toUpperCase().padStart(8, '0')}`);
      const inTen = ids.filter((id) => inPercentage(bucket(profile, id), 10)).length;
      expect(inTen, profile).toBeGreaterThan(300);
      expect(inTen, profile).toBeLessThan(500);
    }
  });
});
