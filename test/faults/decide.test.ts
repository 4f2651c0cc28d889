import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceFaults, faultProfile, unit, type BootSubject, type FaultProfileInput } from '../../simulator/faults/index.js';

const P = (faults: FaultProfileInput['faults']) => faultProfile({ faults });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `esp32_${String(i).padStart(5, '0')}`);

const boot = (over: Partial<BootSubject> = {}): BootSubject =>
  ({ version: '1.2.1', pendingVerify: true, lastInstalled: '1.2.1', afterUpdate: true, boot: 2, ...over });

describe('seeded draws', () => {
  it('are a pure function of (seed, device id, stream, counters)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.string(), fc.string(), fc.nat(), (seed, id, stream, n) => {
      const u = unit(seed, id, stream, n);
      expect(u).toBe(unit(seed, id, stream, n));
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }));
  });

  it('differ when any input differs, including string boundaries', () => {
    const base = unit(1, 'ab', 'c', 0);
    expect(new Set([base, unit(2, 'ab', 'c', 0), unit(1, 'a', 'bc', 0), unit(1, 'ab', 'c', 1), unit(1, 'ab', 'd', 0)]).size).toBe(5);
  });

  it('are uniform enough: 20,000 draws fill ten bins within ±10 %', () => {
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) bins[Math.floor(unit(7, `d${i}`, 's', 0) * 10)]! += 1;
    for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });
});

describe('which devices a rule hits', () => {
  it('`share` picks that fraction of devices, the same ones for the same seed', () => {
    const profile = P([{ kind: 'self_test_fail', share: 0.2 }]);
    const hit = (seed: number) => ids(5000).filter((id) => deviceFaults(profile, seed, id).boot(boot()).kind === 'self-test-fail');
    const a = hit(11);
    expect(a.length / 5000).toBeGreaterThan(0.18);
    expect(a.length / 5000).toBeLessThan(0.22);
    expect(hit(11)).toEqual(a);
    expect(hit(12)).not.toEqual(a);
  });

  it('`devices` limits a rule to the ids listed', () => {
    const profile = P([{ kind: 'pending_verify_hang', devices: ['esp32_00003'] }]);
    expect(deviceFaults(profile, 0, 'esp32_00003').boot(boot()).kind).toBe('hang');
    expect(deviceFaults(profile, 0, 'esp32_00004').boot(boot()).kind).toBe('ok');
  });
});

describe('boot faults', () => {
  it('"1.2.1 crashes on 5% of boots": about 5 % of boots of 1.2.1 crash, none of 1.2.0', () => {
    const profile = P([{ kind: 'boot_crash', version: '1.2.1', mode: 'probability', probability: 0.05 }]);
    let crashes = 0;
    for (const id of ids(1000)) {
      const f = deviceFaults(profile, 3, id);
      for (let b = 1; b <= 10; b++) if (f.boot(boot({ boot: b, pendingVerify: false })).kind === 'crash') crashes++;
      expect(f.boot(boot({ version: '1.2.0' })).kind).toBe('ok');
    }
    expect(crashes / 10_000).toBeGreaterThan(0.04);
    expect(crashes / 10_000).toBeLessThan(0.06);
  });

  it('without a version, boot faults hit only the new image; `loop` every boot of the last installed one', () => {
    const f = deviceFaults(P([{ kind: 'boot_crash', mode: 'always' }]), 0, 'd');
    expect(f.boot(boot({ pendingVerify: true })).kind).toBe('crash');
    expect(f.boot(boot({ pendingVerify: false })).kind).toBe('ok');
    const loop = deviceFaults(P([{ kind: 'boot_crash', mode: 'loop', after_ms: 900 }]), 0, 'd');
    expect(loop.boot(boot({ pendingVerify: false }))).toEqual({ kind: 'crash', afterMs: 900, afterValid: true, rule: 'boot_crash#0' });
    expect(loop.boot(boot({ pendingVerify: false, version: '1.0.0' })).kind).toBe('ok');
  });

  it('precedence: crash, then hang, then failed self-test; hang and self-test need PENDING_VERIFY', () => {
    const all = P([{ kind: 'self_test_fail', id: 'st' }, { kind: 'pending_verify_hang', id: 'hang' }, { kind: 'boot_crash', mode: 'always', id: 'bc' }]);
    expect(deviceFaults(all, 0, 'd').boot(boot())).toMatchObject({ kind: 'crash', rule: 'bc' });
    expect(deviceFaults(P([{ kind: 'self_test_fail' }, { kind: 'pending_verify_hang', watchdog: false }]), 0, 'd').boot(boot()))
      .toEqual({ kind: 'hang', watchdog: false, rule: 'pending_verify_hang#1' });
    expect(deviceFaults(P([{ kind: 'self_test_fail', version: '1.2.1' }]), 0, 'd').boot(boot({ pendingVerify: false })).kind).toBe('ok');
  });

  it('broker unreachable: only after an update unless told otherwise, for its window', () => {
    const f = deviceFaults(P([{ kind: 'broker_unreachable', for_ms: 30_000 }]), 0, 'd');
    expect(f.brokerBlockedMs(boot({ afterUpdate: true }))).toBe(30_000);
    expect(f.brokerBlockedMs(boot({ afterUpdate: false }))).toBe(0);
    const always = deviceFaults(P([{ kind: 'broker_unreachable', after_update: false }]), 0, 'd');
    expect(always.brokerBlockedMs(boot({ afterUpdate: false }))).toBe(Infinity);
  });

  it('clock skew adds up per matching version', () => {
    const f = deviceFaults(P([{ kind: 'clock_skew', ms: 1000 }, { kind: 'clock_skew', ms: -250, version: '2.0.0' }]), 0, 'd');
    expect(f.clockSkewMs('1.0.0')).toBe(1000);
    expect(f.clockSkewMs('2.0.0')).toBe(750);
  });
});

describe('update faults', () => {
  it('power loss hits the first `times` jobs to a matching version', () => {
    const f = deviceFaults(P([{ kind: 'power_loss', phase: 'otadata', at_byte: 10, times: 2, version: '1.1.0' }]), 0, 'd');
    expect(f.powerCut('1.1.0', 0)).toEqual({ phase: 'otadata', atByte: 10, rule: 'power_loss#0' });
    expect(f.powerCut('1.1.0', 1)).not.toBeNull();
    expect(f.powerCut('1.1.0', 2)).toBeNull();
    expect(f.powerCut('1.2.0', 0)).toBeNull();
  });

  it('drop cuts the first `requests` requests of the first `times` jobs; the earliest cut wins', () => {
    const f = deviceFaults(P([{ kind: 'drop', at_byte: 5000, requests: 2 }, { kind: 'drop', at_byte: 3000, version: '9.9.9' }]), 0, 'd');
    const req = (job: number, request: number, version = '1.1.0') => f.network({ version, job, request, offset: 0, size: 10_000 }).cutAfter;
    expect([req(0, 0), req(0, 1), req(0, 2), req(1, 0)]).toEqual([5000, 5000, null, null]);
    expect(req(0, 0, '9.9.9')).toBe(3000);
  });

  it('flaky cuts with its probability, at a byte inside the body, and only when the size is known', () => {
    const f = deviceFaults(P([{ kind: 'flaky', probability: 0.3 }]), 5, 'd');
    let cuts = 0;
    for (let r = 0; r < 2000; r++) {
      const c = f.network({ version: 'v', job: 0, request: r, offset: 400, size: 1400 }).cutAfter;
      if (c !== null) {
        cuts++;
        expect(c).toBeGreaterThanOrEqual(0);
        expect(c).toBeLessThan(1000);
      }
    }
    expect(cuts / 2000).toBeGreaterThan(0.26);
    expect(cuts / 2000).toBeLessThan(0.34);
    expect(f.network({ version: 'v', job: 0, request: 0, offset: 0, size: null }).cutAfter).toBeNull();
  });

  it('latency and bandwidth combine; corruption lists every flipped byte', () => {
    const f = deviceFaults(P([
      { kind: 'latency', ms: 100 }, { kind: 'latency', ms: 50 }, { kind: 'bandwidth', bytes_per_second: 9000 },
      { kind: 'bandwidth', bytes_per_second: 4000 }, { kind: 'corrupt', at_byte: 7, xor: 1 }, { kind: 'corrupt', at_byte: 9 },
    ]), 0, 'd');
    expect(f.network({ version: 'v', job: 0, request: 0, offset: 0, size: 10 })).toEqual({
      latencyMs: 150, bytesPerSecond: 4000, cutAfter: null, corrupt: [{ at: 7, xor: 1 }, { at: 9, xor: 0xff }],
    });
    expect(f.network({ version: 'v', job: 1, request: 0, offset: 0, size: 10 }).corrupt).toEqual([]);
  });

  it('flash too small: the smallest slot asked for', () => {
    expect(deviceFaults(P([]), 0, 'd').slotBytes()).toBeNull();
    expect(deviceFaults(P([{ kind: 'flash_too_small', slot_bytes: 0x20000 }, { kind: 'flash_too_small', slot_bytes: 0x10000 }]), 0, 'd').slotBytes()).toBe(0x10000);
  });
});
