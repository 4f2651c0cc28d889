/**
 * `certifyDevice`: the device conformance suite (issue 8). The harness is the OTA server and the
 * broker for one device under test — a real ESP32 on the bench, or a virtual one started here —
 * and offers it a good update, then bad ones (wrong SHA-256, truncated, another chip, a downgrade,
 * corrupted in transit), each followed by a good one, then good ones over hard networks (the server
 * cutting the body, a 206, a stall past the keepalive) and, for a virtual device, while it is
 * offline and with an image whose self-test fails. The requirements are judged on what the device
 * reported (evaluate.ts). Warts of the profile the device claims are findings, not failures.
 */
import { UsageError } from '../../../protocol/errors.js';
import type { ProtocolProfile } from '../../../protocol/topics.js';
import type { Behaviour } from '../../../simulator/device/config.js';
import type { ChipName } from '../../../simulator/esp32/index.js';
import type { SuiteReport } from '../../report/model.js';
import { RequirementFailed, RequirementSkipped, SuiteRecorder } from '../common/index.js';
import { Bench } from './bench.js';
import { evaluate, type Probes } from './evaluate.js';
import { builtImages, restampedImages, type ImageSource } from './images.js';
import { DEVICE_REQUIREMENTS, type DeviceRequirement, type RequirementKey } from './requirements.js';
import { announces, sha256Hex, StepRunner, succeeded, first, versionOf, type StepKind, type StepRecord } from './steps.js';
import { VirtualDevice, VIRTUAL_TIMINGS, type VirtualVariant } from './virtual.js';

/** The version whose image fails its self-test on a virtual device (DEV-BOOT-001). */
export const SELF_TEST_VERSION = '90.0.0';

/** The device never announced itself: the suite cannot judge it (exit 2). */
export class DeviceNotConnected extends UsageError {}

/** Where the device must connect, for the set-up instructions. */
export interface BenchInfo {
  readonly deviceId: string;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  readonly topicPrefix: string;
  readonly protocol: ProtocolProfile;
}

export interface CertifyDeviceOptions {
  readonly deviceId: string;
  readonly protocol: ProtocolProfile;
  readonly topicPrefix: string;
  /** HTTP port of the harness's file server; 0 picks one. */
  readonly httpPort: number;
  /** MQTT port of the harness's broker; 0 picks one. */
  readonly mqttPort: number;
  /** Host the device is told to reach (default 127.0.0.1 for a virtual device). */
  readonly host: string;
  /** Interface the listeners bind (default: 127.0.0.1 for a virtual device, every interface for a real one). */
  readonly bind?: string;
  /** How long the device has to connect, and each step to settle, ms. */
  readonly timeoutMs: number;
  /** The behaviour profile the device claims; its documented warts become findings. */
  readonly claims: Behaviour;
  /** Start a virtual device here with this profile (and variant); else a real one is expected. */
  readonly virtual?: { readonly behaviour: Behaviour; readonly variant?: VirtualVariant; readonly chip?: ChipName };
  /** A real device's own firmware build, re-stamped for each offer. */
  readonly firmware?: { readonly bytes: Uint8Array; readonly source: string };
  /** Silence that ends a step nothing else ended, ms; at least the stall + 1.5 s. Default 3 s virtual, 45 s real. */
  readonly quietMs?: number;
  /** How long the stalled download holds its body, ms. Default 1.5 × keepalive + 1 s (virtual, keepalive 2 s: 4 s; real, keepalive 15 s: 23.5 s). */
  readonly stallMs?: number;
  /** Called once the bench listens, before waiting for the device (print the set-up). */
  readonly onReady?: (info: BenchInfo) => void;
}

/** Run the suite; throws DeviceNotConnected when the device never shows up. */
export async function certifyDevice(o: CertifyDeviceOptions): Promise<SuiteReport> {
  const virtual = o.virtual !== undefined;
  if (!virtual && o.firmware === undefined) throw new UsageError('a real device needs --firmware FILE (its own app build, re-stamped for each offer); or use --virtual');
  const images: ImageSource = o.firmware === undefined ? builtImages(o.virtual?.chip ?? 'esp32') : restampedImages(o.firmware.bytes, o.firmware.source);
  const keepaliveS = virtual ? (VIRTUAL_TIMINGS.keepaliveS as number) : 15;
  const stallMs = o.stallMs ?? keepaliveS * 1500 + 1000;
  await using bench = await Bench.create({
    deviceId: o.deviceId, protocol: o.protocol, topicPrefix: o.topicPrefix, httpPort: o.httpPort, mqttPort: o.mqttPort,
    bind: o.bind ?? (virtual ? '127.0.0.1' : '0.0.0.0'), host: o.host, stallMs,
  });
  o.onReady?.({ deviceId: o.deviceId, mqttUrl: bench.mqttUrl, httpUrl: bench.httpUrl, topicPrefix: o.topicPrefix, protocol: o.protocol });
  const recorder = new SuiteRecorder('device', `${o.deviceId} (${virtual ? `virtual ${o.virtual?.behaviour}` : 'device on the bench'}, claims ${o.claims}) at ${bench.mqttUrl}`);
  await using dut = virtual ? VirtualDevice.start({
    deviceId: o.deviceId, behaviour: o.virtual?.behaviour ?? 'esp-idf', protocol: o.protocol, topicPrefix: o.topicPrefix,
    chip: images.chip, version: '1.0.0', mqttUrl: bench.mqttUrl, httpUrl: bench.httpUrl, selfTestFails: SELF_TEST_VERSION,
    ...(o.virtual?.variant === undefined ? {} : { variant: o.virtual.variant }),
  }) : null;

  const connected = await bench.until(() => announces(bench.heard).length > 0, o.timeoutMs);
  if (!connected) {
    throw new DeviceNotConnected(`device ${o.deviceId} did not connect to ${bench.mqttUrl} within ${Math.round(o.timeoutMs / 1000)} s`);
  }
  await recorder.check(DEVICE_REQUIREMENTS.connect, () => {
    const a = announces(bench.heard)[0];
    if (versionOf(a) === null) throw new RequirementFailed('the announce has no firmware_version', { actual: a?.raw ?? '' });
    return `announced ${versionOf(a)}`;
  });

  const steps = new StepRunner(bench, {
    // The stalled download is silent for stallMs: only a longer silence may end a step.
    timeoutMs: o.timeoutMs, quietMs: Math.max(o.quietMs ?? (virtual ? 3000 : 45_000), stallMs + 1500), afterAnnounceMs: virtual ? 700 : 5000, lingerMs: virtual ? 150 : 1000,
  });
  const probes: { validAfterCycle?: Probes['validAfterCycle']; shaAfterCycle?: Probes['shaAfterCycle'] } = {};
  let error: string | undefined;
  try {
    await runSteps(steps, bench, images, dut, probes, o.timeoutMs);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }

  const verdicts = evaluate(steps.records, probes, o.protocol);
  for (const [key, r] of Object.entries(DEVICE_REQUIREMENTS) as [RequirementKey, DeviceRequirement][]) {
    if (key === 'connect') continue;
    const v = verdicts[key];
    if (v === undefined) continue;
    const wart = v !== null && 'fail' in v && r.wartOf.includes(o.claims);
    if (wart) {
      recorder.finding({ id: r.id, name: r.wart ?? r.name, status: 'skip', message: `finding (known ${o.claims} wart): ${v.fail}` });
    }
    await recorder.check(r, () => {
      if (v === null) return;
      if ('skip' in v) throw new RequirementSkipped(v.skip);
      if (wart) throw new RequirementSkipped(`known ${o.claims} wart, listed as a finding: ${r.wart ?? ''}`);
      throw new RequirementFailed(v.fail);
    });
  }
  return recorder.finish(error);
}

/** Power-cycle a virtual device and return the version it announces when it is back. */
async function cycle(bench: Bench, dut: VirtualDevice, timeoutMs: number): Promise<string | null> {
  const from = bench.seq;
  dut.powerCut();
  await bench.until(() => announces(bench.since(from)).length > 0, timeoutMs);
  return versionOf(announces(bench.since(from))[0]);
}

async function runSteps(steps: StepRunner, bench: Bench, images: ImageSource, dut: VirtualDevice | null, probes: { -readonly [K in keyof Probes]: Probes[K] }, timeoutMs: number): Promise<void> {
  let major = 2;
  const next = (): string => `${major++}.0.0`;
  const other: ChipName = images.chip === 'esp32c3' ? 'esp32' : 'esp32c3';
  const good = async (name: string, kind: StepKind = 'recovery'): Promise<StepRecord> => {
    const v = next();
    return steps.offer(name, kind, v, images.image(v));
  };
  /** A recovery after `r` when it did not end in success. */
  const recoverIfNeeded = async (r: StepRecord): Promise<void> => {
    if (!succeeded(first(r.heard, 'result')) || versionOf(announces(r.heard).at(-1)) !== r.version) await good(`after-${r.name}`);
  };

  const g = await good('good', 'good');
  if (dut !== null && succeeded(first(g.heard, 'result'))) probes.validAfterCycle = { expected: g.version, got: await cycle(bench, dut, timeoutMs) };

  // Bad offers, each followed by a good one.
  {
    const v = next();
    const before = steps.running;
    await steps.offer('wrong-sha', 'bad', v, images.image(v), { checksum: sha256Hex(images.image(`${v}-other`)) });
    if (dut !== null) probes.shaAfterCycle = { expected: before, got: await cycle(bench, dut, timeoutMs) };
    await good('after-wrong-sha');
  }
  {
    const v = next();
    const img = images.image(v);
    const cut = img.subarray(0, Math.floor(img.length * 0.6));
    await steps.offer('truncated', 'bad', v, cut);
    await good('after-truncated');
  }
  {
    const v = next();
    await steps.offer('wrong-chip', 'bad', v, images.image(v, other));
    await good('after-wrong-chip');
  }
  await steps.offer('downgrade', 'bad', '0.1.0', images.image('0.1.0'));
  await good('after-downgrade');
  {
    const v = next();
    await steps.offer('corrupt', 'bad', v, images.image(v), { mode: 'corrupt' });
    await good('after-corrupt');
  }

  // Good offers over hard networks.
  for (const [name, mode] of [['cut', 'drop'], ['partial', 'partial'], ['stall', 'stall']] as const) {
    const v = next();
    await recoverIfNeeded(await steps.offer(name, 'hard', v, images.image(v), { mode }));
  }
  if (dut === null) return;

  // A command while the device is offline: it is cut off, the command goes out, power returns.
  {
    const v = next();
    const r = await steps.offer('offline', 'hard', v, images.image(v), {
      during: async (publish) => {
        const from = bench.seq;
        dut.powerCut();
        await bench.until(() => bench.since(from).some((h) => h.kind === 'lwt'), timeoutMs);
        return publish();
      },
    });
    await recoverIfNeeded(r);
  }
  // An image whose self-test fails when it boots.
  await steps.offer('self-test', 'bad', SELF_TEST_VERSION, images.image(SELF_TEST_VERSION));
  major = Number(SELF_TEST_VERSION.split('.')[0]) + 1;
  await good('after-self-test');
}
