/**
 * The scenario file format (issue 7), as one zod schema: every object is strict (an unknown key is
 * an error), every duration, size and comparison is parsed here, so a file that passes runs. The
 * loader (loader.ts) adds what needs the whole file: firmware ids and rollout names used before
 * they exist, the plan bodies checked against the server's own PlanSpec, and file references.
 * Pure. The same form is documented for people in docs/scenarios.md.
 *
 * ```yaml
 * name: canary-10-25-50                 # slug; names the JUnit suite
 * certifies: "Canary 10/25/50 then full reaches every device"
 * requirements: [ROL-CANARY-001]        # optional ids it covers
 * heavy: false                          # true: a load rehearsal that `otasim run` runs only with --heavy
 * seed: 7                               # default 0; --seed overrides
 * time_scale: 20                        # scenario ms per wall ms (default 1); all scenario times are scaled
 * timeout: 5m                           # whole run, wall time (default 10m); exceeded → verdict error
 * environment:
 *   server: embedded                    # or { url: https://…, api_key: "${OTA_API_KEY}" }
 *   broker: memory                      # memory | tcp | mqtt://… | mqtts://… | ws://… | wss://… | container:IMAGE
 *   protocol: paku-edge                 # paku-edge | paku-legacy
 *   topic_prefix: paku                  # default paku
 * fleet:
 *   size: 200
 *   prefix: sim                         # device ids sim-000000 …
 *   composition: { versions: {"1.0.0": 1}, groups: {beta: 0.1}, faults: [...] }   # as `otasim fleet --mix`
 *   composition_file: fleet.yaml        # or this, relative to the scenario
 *   ramp: 2000/s
 *   downloads: 64
 *   device: { mode: mqtt, self_test_ms: 2000, allow_downgrade: false }
 * firmware:                             # built through the core, or a real .bin
 *   - { id: good, model: esp32, version: 2.0.0, size: 1MiB }
 *   - { id: bad, version: 2.0.1, defect: bad_checksum }
 *   - { id: real, path: app.bin }       # version read from its app descriptor
 * steps:                                # one kind per step, run in order once every device is registered
 *   - upload: good                      # or { firmware: bad, expect: rejected }
 *   - rollout: { name: canary, firmware: good, target: canary, percentage: 10 }
 *   - plan: { name: p1, firmware: good, phases: [{percent: 10}, {percent: 100}], failure: {...} }
 *   - wait: { for: { rollout: canary, state: completed }, timeout: 60s }
 *   - set_percentage: { rollout: canary, percentage: 25 }
 *   - approve: p1                       # also pause, resume, abort (plans and rollouts)
 *   - fault: { broker_outage: 10s }     # or { server_restart: {} } or { partition: { share: 0.2, for: 20s } }
 *   - sleep: 5s
 *   - assert: { versions: { "2.0.0": ">= 20" } }
 * assert:                               # final checks, one CheckResult (JUnit testcase) each
 *   versions: { "2.0.0": "== 100%" }
 *   success_rate: ">= 0.99"
 *   bricked: 0
 *   rollout: { canary: completed }
 *   p95_update: "< 60s"
 *   errors: { ESP_ERR_OTA_VALIDATE_FAILED: ">= 1" }
 * ```
 */
import { z } from 'zod';
import { Slug } from '../../protocol/payloads.js';
import { PROTOCOL_PROFILES } from '../../protocol/topics.js';
import { CHIP_NAMES } from '../../simulator/esp32/index.js';
import { BEHAVIOURS } from '../../simulator/device/config.js';
import { FLEET_STATES } from '../../simulator/fleet/states.js';
import { parseComparison, parseDuration, parseSize, type Comparison } from './units.js';

function parsed<T>(parse: (v: string) => T | string) {
  return (v: string, ctx: z.RefinementCtx): T => {
    const r = parse(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  };
}

/** `30s`, `5m`: ms. */
export const Duration = z.string().transform(parsed(parseDuration));
/** Bytes: a whole number or `256KiB`, `1MiB`. */
export const Size = z.union([z.number(), z.string()]).transform((v, ctx) => parsed<number>(() => parseSize(v))('', ctx));
/** `>= 20`, `== 100%`, `< 60s`, or a number (`==`). */
export const Cmp = z.union([z.number(), z.string()]).transform((v, ctx) => parsed<Comparison>(() => parseComparison(v))('', ctx));
const Share = z.number().min(0).max(1);

/** Broker specs the runner knows. */
export const BROKER_SPEC = /^(memory|tcp|(mqtts?|wss?|tcp|tls):\/\/.+|container:[^\s]+)$/;

export const Environment = z.strictObject({
  /** `embedded` (this process, temp data) or an OTA server's base URL with its admin key. */
  server: z.union([z.literal('embedded'), z.strictObject({
    url: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL'),
    /** `${VAR}` is read from the environment at load time. */
    api_key: z.string().min(1),
  })]).default('embedded'),
  broker: z.string().regex(BROKER_SPEC, 'must be memory, tcp, an mqtt://, mqtts://, ws://, wss:// URL, or container:IMAGE').default('memory'),
  protocol: z.enum(PROTOCOL_PROFILES).default('paku-edge'),
  topic_prefix: z.string().min(1).max(64).regex(/^[^#+\s]+$/, 'must not contain #, + or spaces').default('paku'),
});

/** The vetted subset of simulator/device/config.ts a scenario may set for every device. */
export const DeviceSettings = z.strictObject({
  mode: z.enum(['mqtt', 'poll']).optional(),
  report_via: z.enum(['mqtt', 'http', 'both']).optional(),
  behaviour: z.enum(BEHAVIOURS).optional(),
  poll_interval_ms: z.number().int().min(1).optional(),
  boot_ms: z.number().int().min(0).optional(),
  self_test_ms: z.number().int().min(0).optional(),
  watchdog_ms: z.number().int().min(1).optional(),
  reboot_delay_ms: z.number().int().min(0).optional(),
  power_restore_ms: z.number().int().min(0).optional(),
  download_retries: z.number().int().min(0).max(1000).optional(),
  keepalive_s: z.number().int().min(0).max(65535).optional(),
  allow_downgrade: z.boolean().optional(),
});

export const Fleet = z.strictObject({
  size: z.number().int().min(1).max(100_000),
  prefix: z.string().min(1).max(32).default('sim'),
  /** A composition, as `otasim fleet --mix` reads it (simulator/fleet/composition.ts). */
  composition: z.record(z.string(), z.unknown()).optional(),
  /** A composition file, relative to the scenario. */
  composition_file: z.string().min(1).optional(),
  ramp: z.string().regex(/^\s*\d+(\.\d+)?\s*(\/\s*(s|sec|m|min))?\s*$/, 'must be a rate such as 2000/s or 600/m').default('2000/s'),
  downloads: z.number().int().min(1).max(10_000).default(64),
  device: DeviceSettings.default({}),
});

/** What a built image is made wrong by (the server or the device must refuse it). */
export const DEFECTS = ['bad_checksum', 'bad_sha', 'wrong_chip', 'truncated', 'bad_magic'] as const;
export type Defect = (typeof DEFECTS)[number];

export const Firmware = z.strictObject({
  id: Slug,
  /** device_model it is uploaded for. Default `esp32`. */
  model: Slug.default('esp32'),
  /** Version of a built image (its app descriptor). */
  version: Slug.optional(),
  /** Built image length. Default 256 KiB. */
  size: Size.optional(),
  /** Chip it is built for. Default the model's chip in the composition. */
  chip: z.enum(CHIP_NAMES).optional(),
  secure_version: z.number().int().min(0).max(255).optional(),
  defect: z.enum(DEFECTS).optional(),
  /** A real app image, relative to the scenario; its version comes from its app descriptor. */
  path: z.string().min(1).optional(),
});

/** A device named by fleet index (0 = the first) or by its literal id / MAC. */
const DeviceRef = z.union([z.number().int().min(0), z.string().min(1).max(128)]);

export const RolloutStep = z.strictObject({
  name: Slug,
  firmware: Slug,
  target: z.enum(['all', 'canary', 'group', 'specific']),
  percentage: z.number().int().min(0).max(100).optional(),
  groups: z.array(z.string().min(1).max(64)).min(1).optional(),
  device_ids: z.array(DeviceRef).min(1).optional(),
  mac_addresses: z.array(DeviceRef).min(1).optional(),
  active: z.boolean().default(true),
});

/** `wait.for` and step conditions: every key given must hold. */
export const Condition = z.strictObject({
  /** A rollout or plan by name, with `state` and/or `phase`. */
  rollout: Slug.optional(),
  /** Rollouts: active, inactive, completed. Plans: running, awaiting_approval, paused, completed, aborted, rolled_back, cancelled. */
  state: z.string().min(1).optional(),
  /** Plans: the current phase index is at least this. */
  phase: z.number().int().min(0).optional(),
  /** Devices running each version (what the chip booted). */
  versions: z.record(z.string().min(1), Cmp).optional(),
  /** Devices in each fleet state. */
  states: z.partialRecord(z.enum(FLEET_STATES), Cmp).optional(),
  /** Devices with an update outcome (success, failed or rolled back). */
  outcomes: Cmp.optional(),
  /** Failed and rolled-back updates by reason code. */
  errors: z.record(z.string().min(1), Cmp).optional(),
}).refine((c) => Object.keys(c).length > 0, 'a condition needs at least one of rollout, versions, states, outcomes, errors')
  .refine((c) => (c.state === undefined && c.phase === undefined) || c.rollout !== undefined, 'state and phase need rollout: NAME');

/** Checks: final (`assert:`) and step (`- assert:`). Each key is one CheckResult. */
export const Assertions = z.strictObject({
  versions: z.record(z.string().min(1), Cmp).optional(),
  /** success / (success + failed + rolled back), 0…1 (`99%` works too). */
  success_rate: Cmp.optional(),
  bricked: Cmp.optional(),
  rollout: z.record(Slug, z.string().min(1)).optional(),
  p50_update: Cmp.optional(),
  p95_update: Cmp.optional(),
  p99_update: Cmp.optional(),
  errors: z.record(z.string().min(1), Cmp).optional(),
  states: z.partialRecord(z.enum(FLEET_STATES), Cmp).optional(),
  outcomes: Cmp.optional(),
});

export const Fault = z.strictObject({
  /** The broker refuses everyone for this long (embedded broker only). */
  broker_outage: Duration.optional(),
  /** The embedded server closes and starts again on the same data and ports. */
  server_restart: z.union([z.strictObject({ down: Duration.optional() }), z.null()]).optional(),
  /** A share of the fleet (drawn from the seed) loses HTTP and MQTT for a while. */
  partition: z.strictObject({ share: Share, for: Duration }).optional(),
}).refine((f) => Object.values(f).filter((v) => v !== undefined).length === 1, 'a fault is exactly one of broker_outage, server_restart, partition');

const Name = Slug;

export const Step = z.strictObject({
  upload: z.union([Slug, z.strictObject({ firmware: Slug, expect: z.enum(['accepted', 'rejected']).default('accepted') })]).optional(),
  rollout: RolloutStep.optional(),
  /** The engine's plan body (docs/protocol.md §2.3) with `firmware: ID` for firmware_version and device_model. */
  plan: z.record(z.string(), z.unknown()).optional(),
  wait: z.strictObject({ for: Condition, timeout: Duration.default(120_000) }).optional(),
  set_percentage: z.strictObject({ rollout: Name, percentage: z.number().int().min(1).max(100) }).optional(),
  approve: Name.optional(),
  pause: Name.optional(),
  resume: Name.optional(),
  abort: Name.optional(),
  fault: Fault.optional(),
  sleep: Duration.optional(),
  assert: Assertions.optional(),
}).refine((s) => Object.values(s).filter((v) => v !== undefined).length === 1,
  'a step is exactly one of upload, rollout, plan, wait, set_percentage, approve, pause, resume, abort, fault, sleep, assert');

export const ScenarioSchema = z.strictObject({
  name: Slug,
  certifies: z.string().min(1).max(500),
  requirements: z.array(z.string().min(1).max(64)).optional(),
  /** A load rehearsal too big for every CI run: `otasim run` skips it unless `--heavy`. */
  heavy: z.boolean().default(false),
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  time_scale: z.number().positive().max(1000).default(1),
  timeout: Duration.default(600_000),
  environment: Environment.default({ server: 'embedded', broker: 'memory', protocol: 'paku-edge', topic_prefix: 'paku' }),
  fleet: Fleet,
  firmware: z.array(Firmware).default([]),
  steps: z.array(Step).default([]),
  assert: Assertions.default({}),
});

export type ScenarioData = z.output<typeof ScenarioSchema>;
export type StepData = z.output<typeof Step>;
export type ConditionData = z.output<typeof Condition>;
export type AssertionsData = z.output<typeof Assertions>;
export type FirmwareData = z.output<typeof Firmware>;
export type FaultData = z.output<typeof Fault>;
export type RolloutStepData = z.output<typeof RolloutStep>;
export type DeviceSettingsData = z.output<typeof DeviceSettings>;
