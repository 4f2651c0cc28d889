/**
 * Table-driven fault scenarios (STYLE.md §6): a fault profile goes in; the chain of firmware phases,
 * the status log on the wire and the image the chip ends up running come out. Each runs the pure
 * machine against a real emulated ESP32 (rollback enabled) through the loopback driver.
 */
import { describe, expect, it } from 'vitest';
import type { FaultProfileInput } from '../../simulator/faults/index.js';
import { Loopback, fileServer, image, sha256, type LoopbackOptions } from './loopback.js';

const IMG = image('1.1.0');
const URL = '/api/firmware/download/1.1.0?device_model=esp32';
const OFFER = { url: URL, version: '1.1.0', checksum: sha256(IMG) };
const server = fileServer({ '/api/firmware/download/1.1.0': IMG });

/** The status log without the per-10 % download lines (tested on their own). */
const log = (d: Loopback) => d.statusLog.filter((l) => !/^ota\/progress Downloading [1-9]/.test(l));

// The healthy update, as the prefix every scenario shares.
const UPDATE_PHASES = ['off', 'booting', 'idle', 'downloading', 'verifying', 'activating', 'rebooting', 'booting'];
const UPDATE_LOG = ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'ota/progress Verifying 100', 'ota/progress Installing 100', 'edge rebooting 1.0.0'];
const ROLLED_BACK = (reason: string) => ['edge running 1.0.0', `ota/result fail ${reason}`, 'ota/progress Rolled back 0'];

interface Scenario {
  readonly name: string;
  /** Issue 4 requirements the scenario covers. */
  readonly covers: readonly string[];
  readonly profile: FaultProfileInput;
  readonly options?: LoopbackOptions;
  /** Default: 1.1.0 with its checksum. */
  readonly offer?: object;
  readonly phases: readonly string[];
  readonly log: readonly string[];
  readonly running: string;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'no fault: the update is confirmed and reported with the running version',
    covers: ['boot', 'offer', 'download', 'verify', 'set-boot', 'self-test', 'report-success'],
    profile: { faults: [] },
    phases: [...UPDATE_PHASES, 'self-test', 'marking', 'idle'],
    log: [...UPDATE_LOG, 'edge running 1.1.0', 'ota/result ok 1.1.0'],
    running: 'ota_1:1.1.0',
  },
  {
    name: 'boot crash, always: the new image panics before confirming; the bootloader rolls back',
    covers: ['fault-boot-crash-always', 'rollback-crash', 'report-failure'],
    profile: { faults: [{ kind: 'boot_crash', version: '1.1.0', mode: 'always' }] },
    phases: [...UPDATE_PHASES, 'crashing', 'booting', 'idle'],
    log: [...UPDATE_LOG, ...ROLLED_BACK('boot_crash')],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'failed self-test: the image marks itself invalid and reboots into the old one',
    covers: ['fault-self-test', 'rollback-invalid'],
    profile: { faults: [{ kind: 'self_test_fail' }] },
    phases: [...UPDATE_PHASES, 'self-test', 'marking', 'idle'],
    log: [...UPDATE_LOG, ...ROLLED_BACK('self_test_failed')],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'hang in PENDING_VERIFY: the task watchdog resets it and the bootloader rolls back',
    covers: ['fault-hang', 'rollback-watchdog'],
    profile: { faults: [{ kind: 'pending_verify_hang' }] },
    phases: [...UPDATE_PHASES, 'hung', 'booting', 'idle'],
    log: [...UPDATE_LOG, ...ROLLED_BACK('watchdog')],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'hang in PENDING_VERIFY without a watchdog: the device is stuck and says nothing more',
    covers: ['fault-hang'],
    profile: { faults: [{ kind: 'pending_verify_hang', watchdog: false }] },
    phases: [...UPDATE_PHASES, 'hung'],
    log: UPDATE_LOG,
    running: 'ota_1:1.1.0',
  },
  {
    name: 'power lost mid-download: the old image boots and reports the interrupted update',
    covers: ['fault-power-download', 'report-failure'],
    profile: { faults: [{ kind: 'power_loss', phase: 'download', at_byte: 20_000 }] },
    phases: ['off', 'booting', 'idle', 'downloading', 'off', 'booting', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'edge offline', 'edge running 1.0.0', 'ota/result fail interrupted'],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'power lost in the erase of esp_ota_begin',
    covers: ['fault-power-erase'],
    profile: { faults: [{ kind: 'power_loss', phase: 'erase', at_byte: 6000 }] },
    phases: ['off', 'booting', 'idle', 'downloading', 'off', 'booting', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'edge offline', 'edge running 1.0.0', 'ota/result fail interrupted'],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'power lost in the flash writes',
    covers: ['fault-power-write'],
    profile: { faults: [{ kind: 'power_loss', phase: 'write', at_byte: 9000 }] },
    phases: ['off', 'booting', 'idle', 'downloading', 'off', 'booting', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'edge offline', 'edge running 1.0.0', 'ota/result fail interrupted'],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'power lost in the otadata rewrite of esp_ota_set_boot_partition: the old image still boots',
    covers: ['fault-power-otadata'],
    profile: { faults: [{ kind: 'power_loss', phase: 'otadata', at_byte: 100 }] },
    phases: ['off', 'booting', 'idle', 'downloading', 'verifying', 'activating', 'off', 'booting', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'ota/progress Verifying 100', 'edge offline', 'edge running 1.0.0', 'ota/result fail interrupted'],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'power lost in the bootloader\'s writes at the restart: the next power-on completes the update',
    covers: ['fault-power-reboot'],
    profile: { faults: [{ kind: 'power_loss', phase: 'reboot', at_byte: 10 }] },
    phases: [...UPDATE_PHASES, 'off', 'booting', 'self-test', 'marking', 'idle'],
    log: [...UPDATE_LOG, 'edge running 1.1.0', 'ota/result ok 1.1.0'],
    running: 'ota_1:1.1.0',
  },
  {
    name: 'flash too small: the image does not fit the OTA slot',
    covers: ['fault-flash-too-small', 'bad-input-too-big'],
    profile: { faults: [{ kind: 'flash_too_small', slot_bytes: 0x10000 }] },
    options: { server: fileServer({ '/api/firmware/download/1.1.0': image('1.1.0', { size: 100_000 }) }) },
    phases: ['off', 'booting', 'idle', 'downloading', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'ota/progress Failed 0', 'ota/result fail image_too_big'],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'a drop at 50 % resumes with Range and the update completes',
    covers: ['fault-drop', 'resume-range'],
    profile: { faults: [{ kind: 'drop', at_byte: 20_000 }] },
    phases: ['off', 'booting', 'idle', 'downloading', 'retry-wait', 'downloading', 'verifying', 'activating', 'rebooting', 'booting', 'self-test', 'marking', 'idle'],
    log: [...UPDATE_LOG, 'edge running 1.1.0', 'ota/result ok 1.1.0'],
    running: 'ota_1:1.1.0',
  },
  {
    name: 'a network that always breaks: the retries run out and the attempt fails',
    covers: ['fault-flaky', 'retry-bounded'],
    profile: { faults: [{ kind: 'flaky', probability: 1 }] },
    phases: ['off', 'booting', 'idle', 'downloading', 'retry-wait', 'downloading', 'retry-wait', 'downloading', 'retry-wait', 'downloading',
      'retry-wait', 'downloading', 'retry-wait', 'downloading', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'ota/progress Failed', 'ota/result fail download_failed'],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'a byte corrupted in transit: the SHA-256 differs from the offer; nothing is activated',
    covers: ['fault-corrupt', 'verify-sha256'],
    profile: { faults: [{ kind: 'corrupt', at_byte: 5000 }] },
    phases: ['off', 'booting', 'idle', 'downloading', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'ota/progress Failed 100', 'ota/result fail checksum_mismatch'],
    running: 'ota_0:1.0.0',
  },
  {
    name: 'a byte corrupted in transit, no checksum offered: esp_ota_end refuses the image',
    covers: ['fault-corrupt', 'verify-ota-end'],
    profile: { faults: [{ kind: 'corrupt', at_byte: 5000 }] },
    offer: { url: URL, version: '1.1.0' },
    phases: ['off', 'booting', 'idle', 'downloading', 'verifying', 'idle'],
    log: ['edge running 1.0.0', 'ota/status accepted 1.1.0', 'ota/progress Downloading 0', 'ota/progress Verifying 100', 'ota/progress Failed 100', 'ota/result fail validate_failed'],
    running: 'ota_0:1.0.0',
  },
];

describe('fault scenarios: profile in, state chain and status log out', () => {
  it.each(SCENARIOS)('$name', (sc) => {
    const d = new Loopback({ server, ...sc.options, profile: sc.profile }).start();
    d.offer(sc.offer ?? OFFER, 300_000);
    expect(d.phases).toEqual(sc.phases);
    expect(log(d).map((l) => (l.startsWith('ota/progress Failed') && sc.log.includes('ota/progress Failed') ? 'ota/progress Failed' : l))).toEqual(sc.log);
    expect(d.running).toBe(sc.running);
    // What the chip boots after a cold restart agrees with what the machine believes runs.
    if (sc.phases.at(-1) === 'idle') {
      d.pullPlug();
      d.run(10_000);
      expect(d.running).toBe(sc.running);
    }
  });

  it('every scenario names the requirements it covers', () => {
    for (const sc of SCENARIOS) expect(sc.covers.length).toBeGreaterThan(0);
  });
});
