/**
 * Per-device fault decisions: a profile, a seed and a device id in; pure answers out. The machine
 * asks about boots; the runtime asks about the network, power cuts and the flash layout. Every
 * probability is drawn with `unit(seed, deviceId, stream, …counters)`, so a device's fate is fixed by
 * (seed, device id) and nothing else. Pure: no I/O.
 */
import type { FaultProfile, FaultRule } from './profile.js';
import type { PowerCutPhase } from '../device/types.js';
import { unit } from './rng.js';

/** A booted app, as the boot faults see it. */
export interface BootSubject {
  /** Version of the image that booted. */
  readonly version: string;
  /** The image is PENDING_VERIFY: first boot after its update. */
  readonly pendingVerify: boolean;
  /** Version last installed by OTA on this device, or null. */
  readonly lastInstalled: string | null;
  /** This boot follows an update (the previous reset was the post-update restart). */
  readonly afterUpdate: boolean;
  /** Boots since provisioning (1 = the first), a draw counter. */
  readonly boot: number;
}

/** What this boot of the app does. */
export type BootFate =
  | { readonly kind: 'ok' }
  /** Panic `afterMs` after start; `afterValid`: only after the self-test passed and marked it valid. */
  | { readonly kind: 'crash'; readonly afterMs: number; readonly afterValid: boolean; readonly rule: string }
  /** The self-test fails: the app calls esp_ota_mark_app_invalid_rollback_and_reboot. */
  | { readonly kind: 'self-test-fail'; readonly rule: string }
  /** The app hangs before marking itself valid; `watchdog`: the task WDT resets it. */
  | { readonly kind: 'hang'; readonly watchdog: boolean; readonly rule: string };

/** One download request, as the network faults see it. */
export interface RequestSubject {
  /** Version the offer names. */
  readonly version: string;
  /** Update attempt index on this device (0 = the first ever), survives resets. */
  readonly job: number;
  /** Request index within the job (0 = the first, 1 = the first resume, …). */
  readonly request: number;
  /** Image offset of the request's first body byte (the `Range` start; 0 for a full GET). */
  readonly offset: number;
  /** Image size in bytes when known (flaky cuts need it): the body carries `size − offset` bytes. */
  readonly size: number | null;
}

/** What the network does to one download request. */
export interface NetworkPlan {
  /** Delay before the response (and before an MQTT connect), ms. */
  readonly latencyMs: number;
  /** Body rate cap, bytes/s, or null. */
  readonly bytesPerSecond: number | null;
  /** Cut the connection after this many body bytes of this request, or null. */
  readonly cutAfter: number | null;
  /** Bytes flipped in transit, by image offset. */
  readonly corrupt: readonly { readonly at: number; readonly xor: number }[];
}

/** A power cut armed for an update attempt. */
export interface PowerCutPlan {
  readonly phase: PowerCutPhase;
  readonly atByte: number;
  readonly rule: string;
}

/** Every fault decision for one device. */
export interface DeviceFaults {
  /** What happens to this boot of the app. */
  boot(s: BootSubject): BootFate;
  /** Ms after the boot until which the broker is unreachable (Infinity: all boot), or 0. */
  brokerBlockedMs(s: BootSubject): number;
  /** Wall-clock offset of the device, ms. */
  clockSkewMs(version: string): number;
  /** The power cut for update attempt `job` to `version`, or null. */
  powerCut(version: string, job: number): PowerCutPlan | null;
  /** What the network does to one download request. */
  network(r: RequestSubject): NetworkPlan;
  /** OTA slot size the device is provisioned with, bytes, or null for the normal layout. */
  slotBytes(): number | null;
}

/** Name of a rule for logs: its `id`, else `kind#index`. */
function ruleName(r: FaultRule, i: number): string {
  return r.id ?? `${r.kind}#${i}`;
}

function versionMatches(r: FaultRule, v: string): boolean {
  if (r.version === undefined) return true;
  return typeof r.version === 'string' ? r.version === v : r.version.includes(v);
}

interface Indexed<R extends FaultRule = FaultRule> { readonly rule: R; readonly index: number }

/** The rules of `profile` that apply to this device (`devices`, `share`), with their profile index. */
function rulesFor(profile: FaultProfile, seed: number, deviceId: string): Indexed[] {
  const out: Indexed[] = [];
  profile.faults.forEach((rule, index) => {
    if (rule.devices !== undefined && !rule.devices.includes(deviceId)) return;
    if (rule.share !== undefined && unit(seed, deviceId, 'share', index) >= rule.share) return;
    out.push({ rule, index });
  });
  return out;
}

function ofKind<K extends FaultRule['kind']>(rules: readonly Indexed[], kind: K): Indexed<Extract<FaultRule, { kind: K }>>[] {
  return rules.filter((x): x is Indexed<Extract<FaultRule, { kind: K }>> => x.rule.kind === kind);
}

/** A boot fault without `version` hits only a new image (module doc of profile.ts). */
function bootScope(r: FaultRule, s: BootSubject, loop: boolean): boolean {
  if (r.version !== undefined) return versionMatches(r, s.version);
  return loop ? s.lastInstalled === s.version : s.pendingVerify;
}

/**
 * Build the fault decisions of device `deviceId` under `seed`. Cheap: it keeps only the rules that
 * apply to this device (methods live on the prototype, no closures), so many devices can share one profile.
 */
export function deviceFaults(profile: FaultProfile, seed: number, deviceId: string): DeviceFaults {
  return new Decisions(rulesFor(profile, seed, deviceId), seed, deviceId);
}

class Decisions implements DeviceFaults {
  constructor(readonly rules: readonly Indexed[], readonly seed: number, readonly deviceId: string) {}

  #draw(stream: string, ...n: number[]): number {
    return unit(this.seed, this.deviceId, stream, ...n);
  }

  boot(s: BootSubject): BootFate {
    for (const { rule, index } of ofKind(this.rules, 'boot_crash')) {
      const loop = rule.mode === 'loop';
      if (!bootScope(rule, s, loop)) continue;
      const hit = rule.mode !== 'probability' || this.#draw('boot-crash', index, s.boot) < (rule.probability ?? 0);
      if (hit) return { kind: 'crash', afterMs: rule.after_ms, afterValid: loop, rule: ruleName(rule, index) };
    }
    for (const { rule, index } of ofKind(this.rules, 'pending_verify_hang')) {
      if (!s.pendingVerify || !bootScope(rule, s, false)) continue;
      if (this.#draw('hang', index, s.boot) < rule.probability) return { kind: 'hang', watchdog: rule.watchdog, rule: ruleName(rule, index) };
    }
    for (const { rule, index } of ofKind(this.rules, 'self_test_fail')) {
      if (!s.pendingVerify || !bootScope(rule, s, false)) continue;
      if (this.#draw('self-test', index, s.boot) < rule.probability) return { kind: 'self-test-fail', rule: ruleName(rule, index) };
    }
    return OK;
  }

  brokerBlockedMs(s: BootSubject): number {
    let until = 0;
    for (const { rule } of ofKind(this.rules, 'broker_unreachable')) {
      if (!versionMatches(rule, s.version) || (rule.after_update && !s.afterUpdate)) continue;
      until = Math.max(until, rule.for_ms ?? Infinity);
    }
    return until;
  }

  clockSkewMs(version: string): number {
    let skew = 0;
    for (const { rule } of ofKind(this.rules, 'clock_skew')) if (versionMatches(rule, version)) skew += rule.ms;
    return skew;
  }

  powerCut(version: string, job: number): PowerCutPlan | null {
    for (const { rule, index } of ofKind(this.rules, 'power_loss')) {
      if (versionMatches(rule, version) && job < rule.times) return { phase: rule.phase, atByte: rule.at_byte, rule: ruleName(rule, index) };
    }
    return null;
  }

  network(r: RequestSubject): NetworkPlan {
    let latencyMs = 0;
    let bytesPerSecond: number | null = null;
    let cutAfter: number | null = null;
    const corrupt: { at: number; xor: number }[] = [];
    const cut = (n: number): void => { cutAfter = cutAfter === null ? n : Math.min(cutAfter, n); };
    for (const { rule, index } of this.rules) {
      if (!versionMatches(rule, r.version)) continue;
      switch (rule.kind) {
        case 'latency': latencyMs += rule.ms; break;
        case 'bandwidth': bytesPerSecond = Math.min(bytesPerSecond ?? Infinity, rule.bytes_per_second); break;
        case 'drop': if (r.job < rule.times && r.request < rule.requests) cut(rule.at_byte); break;
        case 'flaky':
          if (r.size !== null && r.size > r.offset && this.#draw('flaky', index, r.job, r.request) < rule.probability) {
            cut(Math.floor(this.#draw('flaky-at', index, r.job, r.request) * (r.size - r.offset)));
          }
          break;
        case 'corrupt': if (r.job < rule.times) corrupt.push({ at: rule.at_byte, xor: rule.xor }); break;
        default: break;
      }
    }
    return { latencyMs, bytesPerSecond, cutAfter, corrupt };
  }

  slotBytes(): number | null {
    let min: number | null = null;
    for (const { rule } of ofKind(this.rules, 'flash_too_small')) min = Math.min(min ?? Infinity, rule.slot_bytes);
    return min;
  }
}

const OK: BootFate = Object.freeze({ kind: 'ok' });
