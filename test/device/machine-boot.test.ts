/**
 * Boot faults that need more than a phase chain to describe: crash loops, per-boot probabilities,
 * builds without rollback, clock skew and a broker that is away after the update.
 */
import { describe, expect, it } from 'vitest';
import { deviceTimestamp } from '../../simulator/device/index.js';
import { Loopback, START, fileServer, image, sha256 } from './loopback.js';

const IMG = image('1.1.0');
const OFFER = { url: '/fw/1.1.0', version: '1.1.0', checksum: sha256(IMG) };
const server = fileServer({ '/fw/1.1.0': IMG });

describe('boot faults', () => {
  it('crash loop: the image confirms itself, reports success, then panics on every boot; rollback cannot help', () => {
    const d = new Loopback({ server, profile: { faults: [{ kind: 'boot_crash', version: '1.1.0', mode: 'loop', after_ms: 4000 }] } }).start();
    d.offer(OFFER, 60_000);
    // Each boot: 300 ms reset + 4 s uptime; the first one also ran the 2 s self-test inside those 4 s.
    expect(d.state.boots).toBeGreaterThan(10);
    expect(d.running === 'ota_1:1.1.0' || d.running === '(booting)').toBe(true);
    expect(d.statusLog.filter((l) => l.startsWith('ota/result'))).toEqual(['ota/result ok 1.1.0']);
    const after = d.statusLog.slice(d.statusLog.indexOf('ota/result ok 1.1.0') + 1);
    expect(after.slice(0, 4)).toEqual(['edge offline', 'edge running 1.1.0', 'edge offline', 'edge running 1.1.0']);
    expect(d.lines.filter((l) => l === 'reset (panic)').length).toBe(d.state.boots - 2);
  });

  it('crash with a probability: the same seed always crashes on the same boots', () => {
    const profile = { faults: [{ kind: 'boot_crash' as const, version: '1.1.0', mode: 'probability' as const, probability: 0.5 }] };
    const outcomes = (seed: number) => [0, 1, 2, 3, 4, 5, 6, 7].map((i) => {
      const d = new Loopback({ id: `dev_${i}`, server, profile, config: { seed } }).start();
      d.offer(OFFER, 60_000);
      return d.running;
    });
    const a = outcomes(1);
    expect(outcomes(1)).toEqual(a);
    expect(new Set(a)).toEqual(new Set(['ota_0:1.0.0', 'ota_1:1.1.0'])); // with p = 0.5 over 8 devices, both happen
  });

  it('without rollback in the build, a crashing image is reported as a success, then loops on the new image', () => {
    const d = new Loopback({ server, rollback: false, profile: { faults: [{ kind: 'boot_crash', version: '1.1.0', mode: 'always', after_ms: 1000 }] } }).start();
    d.offer(OFFER, 30_000);
    expect(d.state.boots).toBeGreaterThan(5);
    // Nothing confirms the image before it runs, so its first second online is enough to claim success.
    expect(d.statusLog.filter((l) => l.startsWith('ota/result'))).toEqual(['ota/result ok 1.1.0']);
    expect(d.lines.filter((l) => l.startsWith('boot #')).slice(1).every((l) => l.endsWith('ota_1 runs 1.1.0 (UNDEFINED)'))).toBe(true);
  });

  it('without rollback, a healthy image is reported at once (no PENDING_VERIFY, no self-test)', () => {
    const d = new Loopback({ server, rollback: false }).start();
    d.offer(OFFER);
    expect(d.phases.slice(-3)).toEqual(['rebooting', 'booting', 'idle']);
    expect(d.statusLog.slice(-2)).toEqual(['edge running 1.1.0', 'ota/result ok 1.1.0']);
  });

  it('a version that was rolled back is refused when offered again (known_bad), a newer one is taken', () => {
    const next = image('1.2.0');
    const d = new Loopback({
      server: fileServer({ '/fw/1.1.0': IMG, '/fw/1.2.0': next }), profile: { faults: [{ kind: 'boot_crash', version: '1.1.0', mode: 'always' }] },
    }).start();
    d.offer(OFFER);
    expect(d.state.nvs.lastInvalid).toBe('1.1.0');
    d.offer(OFFER);
    expect(d.statusLog.at(-1)).toBe('ota/result fail known_bad');
    d.offer({ url: '/fw/1.2.0', version: '1.2.0', checksum: sha256(next) });
    expect(d.running).toBe('ota_1:1.2.0');
  });

  it('clock skew shifts every timestamp the device writes', () => {
    const skew = -7 * 24 * 3600_000;
    const d = new Loopback({ server, profile: { faults: [{ kind: 'clock_skew', ms: skew }] } }).start(60_000);
    d.offer(OFFER);
    const ack = d.published.find((p) => p.topic.endsWith('/ota/status'));
    expect(JSON.parse(ack?.payload ?? '{}').timestamp).toBe(deviceTimestamp(START + 60_000 + skew));
    expect(JSON.parse(ack?.payload ?? '{}').timestamp).toBe('2024-12-25T12:01:00+00:00');
  });

  it('broker unreachable after the update: retries with backoff, then reports once it is back', () => {
    const d = new Loopback({ server, profile: { faults: [{ kind: 'broker_unreachable', for_ms: 45_000 }] } }).start();
    d.offer(OFFER, 200_000);
    const bootAt = d.state.bootAt;
    expect(d.connects.at(-1)).toBeGreaterThanOrEqual(bootAt + 45_000);
    expect(d.connects.filter((t) => t > bootAt)).toHaveLength(1); // the fault refuses without touching the network
    expect(d.lines.filter((l) => l.startsWith('mqtt connect failed: broker unreachable (fault)')).length).toBeGreaterThanOrEqual(4);
    expect(d.statusLog.slice(-2)).toEqual(['edge running 1.1.0', 'ota/result ok 1.1.0']);
  });

  it('broker unreachable for the whole boot: the outcome stays in NVS, unreported', () => {
    const d = new Loopback({ server, profile: { faults: [{ kind: 'broker_unreachable' }] } }).start();
    d.offer(OFFER, 600_000);
    expect(d.running).toBe('ota_1:1.1.0');
    expect(d.statusLog.at(-1)).toBe('edge rebooting 1.0.0');
    expect(d.state.nvs.pending).toMatchObject({ to: '1.1.0', installed: true });
  });
});
