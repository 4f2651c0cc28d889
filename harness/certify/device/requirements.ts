/**
 * The device suite's requirements, as data: an id, what it asks, and the behaviour profiles known
 * not to meet it (their documented warts). When the device claims such a profile, a broken
 * requirement is a finding with that id, not a failure; claiming `esp-idf`, it fails the suite.
 * Pure.
 */
import type { Behaviour } from '../../../simulator/device/config.js';
import type { Requirement } from '../common/index.js';

export interface DeviceRequirement extends Requirement {
  /** Profiles whose firmware is documented not to meet this (paku-protocol-facts §4, §6). */
  readonly wartOf: readonly Behaviour[];
  /** The wart in a few words, as the finding names it. */
  readonly wart?: string;
  /** Only a virtual device can be checked: the harness power-cycles it or gives it a failing self-test. */
  readonly virtualOnly?: boolean;
}

const req = (id: string, name: string, extra: Partial<DeviceRequirement> = {}): DeviceRequirement => ({ id, name, wartOf: [], ...extra });

/** Every requirement, in report order. */
export const DEVICE_REQUIREMENTS = {
  connect: req('DEV-CONN-001', 'connects, and announces itself online with its firmware_version on edge/{id}/status'),
  good: req('DEV-OTA-001', 'a good update is accepted, installed, and the device then runs the offered version'),
  recovers: req('DEV-OTA-002', 'after each bad offer the device still takes a good update'),
  order: req('DEV-REPORT-001', 'reports each offer in order: status accepted, then progress, then exactly one result'),
  monotonic: req('DEV-REPORT-002', 'progress never goes backwards (percent and downloaded), and stays within total'),
  shape: req('DEV-REPORT-003', 'every report parses in the protocol profile\'s shape; result_code 0–11 with its message'),
  resulted: req('DEV-REPORT-004', 'every accepted offer ends in a result (while the session stays up)'),
  afterReboot: req('DEV-RESULT-001', 'success is reported by the new image after its restart, naming the new version', {
    wartOf: ['paku-core'], wart: 'reports success before the reboot, from the old image',
  }),
  version: req('DEV-RESULT-002', 'after a success the device announces the offered version'),
  sha: req('DEV-SHA-001', 'an image whose SHA-256 differs from the offer is refused (result_code 3); the old version runs on'),
  shaBoot: req('DEV-SHA-002', 'after a refused checksum, a restart still runs the old version', {
    wartOf: ['paku-core'], wart: 'checksum failure leaves the unverified image as boot partition', virtualOnly: true,
  }),
  truncated: req('DEV-IMG-001', 'a truncated image is refused; the old version runs on'),
  chip: req('DEV-IMG-002', 'an image for another chip is refused from its header, before it is written (result_code 9)', {
    wartOf: ['paku-core'], wart: 'writes an image for another chip before any header check',
  }),
  corrupt: req('DEV-IMG-003', 'an image corrupted in transit is refused; the old version runs on'),
  downgrade: req('DEV-VER-001', 'a downgrade is refused; the running version stays', {
    wartOf: ['paku-core'], wart: 'accepts a downgrade',
  }),
  resume: req('DEV-NET-001', 'a download the server cuts mid-body is resumed with Range and completes', {
    wartOf: ['paku-core'], wart: 'no resume',
  }),
  partial: req('DEV-HTTP-001', 'a 206 Partial Content holding the whole image is taken', {
    wartOf: ['paku-core'], wart: 'requires 200 + Content-Length',
  }),
  keepalive: req('DEV-MQTT-001', 'the MQTT session stays up through a download that stalls past 1.5 × keepalive', {
    wartOf: ['paku-core'], wart: 'blocking download starves MQTT keepalive (broker drops it, LWT)',
  }),
  offline: req('DEV-MQTT-002', 'a command sent while the device is offline is carried out after it reconnects', {
    wartOf: ['paku-core'], wart: 'drops commands sent while offline', virtualOnly: true,
  }),
  selfTest: req('DEV-BOOT-001', 'a new image that fails its self-test is rolled back; the old version runs on', {
    wartOf: ['paku-core'], wart: 'marks valid before self-test', virtualOnly: true,
  }),
  valid: req('DEV-BOOT-002', 'an installed image is confirmed: it still runs after a power cycle', { virtualOnly: true }),
} as const satisfies Record<string, DeviceRequirement>;

export type RequirementKey = keyof typeof DEVICE_REQUIREMENTS;
