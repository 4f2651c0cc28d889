/**
 * The real-device path of `certify device`: no `--virtual`, the offers re-stamped from the
 * device's own firmware build, the device connecting from outside to the addresses the set-up
 * names. The device on the bench is played by the simulator's esp-idf device over TCP, started
 * from the set-up the harness hands out; the requirements only a virtual device can meet skip.
 * And the claim decides: a paku-core device claiming esp-idf fails where its warts were findings.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { certifyDevice, DEVICE_REQUIREMENTS, type BenchInfo } from '../../harness/certify/device/index.js';
import { VirtualDevice } from '../../harness/certify/device/index.js';
import { buildAppImage } from '../../simulator/esp32/index.js';

describe('otasim certify device with a device on the bench', () => {
  it('offers the re-stamped firmware, judges what the device reports, and skips the virtual-only requirements', async () => {
    let dut: VirtualDevice | undefined;
    try {
      const r = await certifyDevice({
        deviceId: 'ESP32-B3C4B3C4', protocol: 'paku-edge', topicPrefix: 'bench', httpPort: 0, mqttPort: 0, host: '127.0.0.1',
        timeoutMs: 30_000, claims: 'esp-idf', quietMs: 5000, stallMs: 4000,
        firmware: { bytes: buildAppImage({ chip: 'esp32', version: '1.0.0', size: 48 * 1024 }), source: 'app.bin' },
        onReady: (b: BenchInfo) => {
          dut = VirtualDevice.start({
            deviceId: b.deviceId, behaviour: 'esp-idf', protocol: b.protocol, topicPrefix: b.topicPrefix, chip: 'esp32', version: '1.0.0',
            mqttUrl: b.mqttUrl, httpUrl: b.httpUrl, selfTestFails: 'none',
          });
        },
      });
      const virtualOnly = Object.values(DEVICE_REQUIREMENTS).filter((q) => 'virtualOnly' in q && q.virtualOnly).map((q) => q.id).sort();
      expect(r.checks.filter((c) => c.status === 'skip').map((c) => c.id).sort()).toEqual(virtualOnly);
      expect(r.checks.filter((c) => c.status === 'fail' || c.status === 'error')).toEqual([]);
      expect(r.target).toContain('device on the bench');
      expect(r.verdict).toBe('pass');
    } finally {
      await dut?.[Symbol.asyncDispose]();
    }
  }, 120_000);

  it('from the CLI: a paku-core device claiming esp-idf fails on exactly its warts, exit 1', async () => {
    let stdout = '';
    let stderr = '';
    const code = await main(['certify', 'device', '--device-id', 'ESP32-BADC1A1M', '--virtual', 'paku-core', '--claims', 'esp-idf'], {
      stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) },
    });
    expect(stderr).toBe('');
    expect(code).toBe(1);
    const failed = [...stdout.matchAll(/^(DEV-[A-Z]+-\d{3})\s+FAIL\b/gm)].map((m) => m[1]).sort();
    expect(failed).toEqual(Object.values(DEVICE_REQUIREMENTS).filter((q) => q.wartOf.includes('paku-core')).map((q) => q.id).sort());
    expect(stdout).toMatch(/^FAIL: /m);
  }, 120_000);
});
