/** Identities are a pure function of (prefix, index): same in every call and shard, unique, valid. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OtasimError } from '../../protocol/errors.js';
import { DeviceConfigSchema } from '../../simulator/device/config.js';
import { fleetIdentity, MAX_FLEET_INDEX } from '../../simulator/fleet/index.js';

describe('fleet identities', () => {
  it('are deterministic: the same (prefix, index) gives the same id and MAC', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), fc.integer({ min: 0, max: MAX_FLEET_INDEX }), (p, i) => {
      expect(fleetIdentity(p, i)).toEqual(fleetIdentity(p, i));
    }));
    expect(fleetIdentity('sim', 42)).toEqual({ index: 42, deviceId: 'sim-000042', mac: fleetIdentity('sim', 42).mac });
  });

  it('are unique within a fleet and valid device configs (locally administered unicast MACs)', () => {
    const ids = new Set<string>();
    const macs = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = fleetIdentity('lab', i);
      ids.add(id.deviceId);
      macs.add(id.mac);
    }
    expect(ids.size).toBe(20_000);
    expect(macs.size).toBe(20_000);
    const last = fleetIdentity('lab', MAX_FLEET_INDEX);
    expect(DeviceConfigSchema.safeParse({ deviceId: last.deviceId, mac: last.mac }).success).toBe(true);
    const first = parseInt(last.mac.slice(0, 2), 16);
    expect(first & 0b11).toBe(0b10); // locally administered, unicast
  });

  it('differ between prefixes in id and MAC', () => {
    expect(fleetIdentity('a', 7).mac).not.toBe(fleetIdentity('b', 7).mac);
    expect(fleetIdentity('a', 7).deviceId).toBe('a-000007');
  });

  it('refuse a prefix that is not a topic level, and an index out of range, with a typed error', () => {
    for (const [p, i] of [['a/b', 0], ['', 0], ['ok', -1], ['ok', MAX_FLEET_INDEX + 1], ['ok', 1.5]] as const) {
      expect(() => fleetIdentity(p, i)).toThrow(OtasimError);
    }
  });
});
