/**
 * A fault profile is data (issue 4 "Faults"): a list of rules a JSON or YAML file can hold, each
 * one fault plus whom it hits. "1.2.1 crashes on 5% of boots" is
 * `{ kind: boot_crash, version: "1.2.1", mode: probability, probability: 0.05 }`.
 *
 * Which version a rule's `version` matches:
 * - boot faults (`boot_crash`, `self_test_fail`, `pending_verify_hang`, `broker_unreachable`,
 *   `clock_skew`): the version of the image that booted. Without `version`, the boot faults hit only
 *   a new image, one installed by OTA (a PENDING_VERIFY boot; for `boot_crash` `loop`, every boot of
 *   the last installed version); `broker_unreachable` uses `after_update`; `clock_skew` hits always.
 * - update faults (`drop`, `latency`, `bandwidth`, `flaky`, `corrupt`, `power_loss`): the version
 *   the offer names. Without `version`, every update.
 * - `flash_too_small` is a property of the device: it takes no `version`.
 *
 * Which devices: all, or those listed in `devices`, or a `share` of them picked from
 * (seed, device id, rule index) — so the same seed always picks the same devices. Pure: no I/O.
 */
import { z } from 'zod';

const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const probability = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(2 ** 31 - 1);

/** Fields every rule may carry. */
const Scope = {
  /** Name shown in logs and verdicts. */
  id: z.string().min(1).max(128).optional(),
  /** Firmware version(s) the rule keys on, matched exactly (see the module doc for which version). */
  version: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** Only these device ids. */
  devices: z.array(z.string().min(1)).min(1).optional(),
  /** Only this fraction of devices (0..1), chosen per device from (seed, device id, rule index). */
  share: probability.optional(),
  /** Requirement ids the scenario covers (STYLE.md §6). */
  covers: z.array(z.string().min(1)).optional(),
};

/** How many update attempts (jobs) a one-shot fault hits: the first `times`. Default 1. */
const times = z.number().int().min(1).max(1_000_000).default(1);

export const DropFault = z.strictObject({
  ...Scope,
  kind: z.literal('drop'),
  /** Cut the connection once this many body bytes of the request have arrived (on the first request, an image offset). */
  at_byte: bytes,
  /** Requests of each job that are cut: the first `requests`. Default 1 (the resume succeeds). */
  requests: z.number().int().min(1).max(1_000_000).default(1),
  times,
});

export const LatencyFault = z.strictObject({
  ...Scope,
  kind: z.literal('latency'),
  /** Added before every HTTP response and MQTT connect, ms. */
  ms,
});

export const BandwidthFault = z.strictObject({
  ...Scope,
  kind: z.literal('bandwidth'),
  /** Download body rate cap, bytes/s. */
  bytes_per_second: z.number().int().min(1),
});

export const FlakyFault = z.strictObject({
  ...Scope,
  kind: z.literal('flaky'),
  /** Each download request is cut, at a uniformly drawn body byte, with this probability. */
  probability,
});

export const CorruptFault = z.strictObject({
  ...Scope,
  kind: z.literal('corrupt'),
  /** Image offset of the byte flipped in transit. */
  at_byte: bytes,
  /** XOR mask applied to it (1..255). Default 0xFF. */
  xor: z.number().int().min(1).max(255).default(0xff),
  times,
});

export const POWER_CUT_PHASES = ['download', 'write', 'erase', 'otadata', 'reboot'] as const;

export const PowerLossFault = z.strictObject({
  ...Scope,
  kind: z.literal('power_loss'),
  /**
   * `download`: after `at_byte` body bytes; `erase` / `write`: `at_byte` flash bytes into
   * esp_ota_begin's erase / the writes; `otadata`: into esp_ota_set_boot_partition's otadata
   * rewrite; `reboot`: into the bootloader's writes at the reset after the update.
   */
  phase: z.enum(POWER_CUT_PHASES),
  at_byte: bytes,
  times,
});

export const BootCrashFault = z.strictObject({
  ...Scope,
  kind: z.literal('boot_crash'),
  /**
   * `always`: every boot of the image panics before its self-test passes (rollback saves it);
   * `probability`: each boot panics with `probability`; `loop`: the image passes its self-test,
   * is marked valid, then panics on every boot — a crash loop no rollback undoes.
   */
  mode: z.enum(['always', 'probability', 'loop']),
  probability: probability.optional(),
  /** Uptime at the panic, ms. Default 500. */
  after_ms: ms.default(500),
}).refine((f) => (f.mode === 'probability') === (f.probability !== undefined),
  { message: 'probability is required with mode probability, and only then', path: ['probability'] });

export const SelfTestFailFault = z.strictObject({
  ...Scope,
  kind: z.literal('self_test_fail'),
  /** Chance per boot that the self-test fails (the app marks itself invalid). Default 1. */
  probability: probability.default(1),
});

export const PendingVerifyHangFault = z.strictObject({
  ...Scope,
  kind: z.literal('pending_verify_hang'),
  /** The task watchdog resets the hung app (then the bootloader rolls back). Default true. */
  watchdog: z.boolean().default(true),
  probability: probability.default(1),
});

export const FlashTooSmallFault = z.strictObject({
  ...Scope,
  kind: z.literal('flash_too_small'),
  version: z.undefined().optional(),
  /** Size of each OTA slot, bytes: a multiple of 64 KiB (app partitions are 64 KiB aligned), up to 16 MiB. */
  slot_bytes: z.number().int().min(0x10000).max(0x1000000)
    .refine((n) => n % 0x10000 === 0, 'must be a multiple of 65536 (app partitions are 64 KiB aligned)'),
});

export const ClockSkewFault = z.strictObject({
  ...Scope,
  kind: z.literal('clock_skew'),
  /** Offset added to the device's wall clock, ms (negative = behind). */
  ms: z.number().int().min(-(2 ** 47)).max(2 ** 47),
});

export const BrokerUnreachableFault = z.strictObject({
  ...Scope,
  kind: z.literal('broker_unreachable'),
  /** Only after a boot into a newly installed image. Default true. */
  after_update: z.boolean().default(true),
  /** How long after the boot the broker stays unreachable, ms; absent = for the whole boot. */
  for_ms: ms.optional(),
});

export const FaultRule = z.discriminatedUnion('kind', [
  DropFault, LatencyFault, BandwidthFault, FlakyFault, CorruptFault, PowerLossFault, BootCrashFault,
  SelfTestFailFault, PendingVerifyHangFault, FlashTooSmallFault, ClockSkewFault, BrokerUnreachableFault,
]);
export type FaultRule = z.output<typeof FaultRule>;
export type FaultKind = FaultRule['kind'];

export const FAULT_KINDS = [
  'drop', 'latency', 'bandwidth', 'flaky', 'corrupt', 'power_loss', 'boot_crash', 'self_test_fail',
  'pending_verify_hang', 'flash_too_small', 'clock_skew', 'broker_unreachable',
] as const satisfies readonly FaultKind[];

/** A whole profile: `{ faults: [rule, …] }`. */
export const FaultProfileSchema = z.strictObject({
  /** What the profile is for (free text). */
  description: z.string().optional(),
  faults: z.array(FaultRule).max(10_000).default([]),
});
export type FaultProfile = z.output<typeof FaultProfileSchema>;
export type FaultProfileInput = z.input<typeof FaultProfileSchema>;

/** The empty profile: a healthy device on a healthy network. */
export const NO_FAULTS: FaultProfile = Object.freeze({ faults: Object.freeze([]) as unknown as FaultRule[] });
