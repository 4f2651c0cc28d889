/**
 * What the harness reads during a run. The fleet side comes from the devices themselves: the
 * version each chip booted, the fleet states, outcomes and reason codes, and — at the end — which
 * chips can no longer boot any app (the core's flash inspector runs the bootloader on a copy of
 * each device's flash). The server side comes from the admin API: plan statuses, and for a seeds'
 * rollout whether it is active and whether every device it decides for runs its version, confirmed
 * (`completed`), judged with the server's own targeting rule over the fleet's identities.
 */
import { decidingRollout } from '../../server/rollout/offer.js';
import type { Bucketing } from '../../server/rollout/targeting.js';
import { runBootloader } from '../../simulator/esp32/index.js';
import { traitsOf, type Composition } from '../../simulator/fleet/composition.js';
import type { Fleet } from '../../simulator/fleet/runner.js';
import { isUpdating } from '../../simulator/fleet/states.js';
import type { AdminClient, RolloutInfo } from './admin.js';
import type { RolloutStatus, Snapshot } from './checks.js';

/** Running version → devices, read from each device's last boot. */
export function runningVersions(fleet: Fleet): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = fleet.first; i < fleet.first + fleet.devices; i++) {
    const v = fleet.runtime(i)?.state.running?.version;
    if (v !== undefined) out[v] = (out[v] ?? 0) + 1;
  }
  return out;
}

/**
 * Devices whose chip would boot nothing at the next reset: the core's bootloader runs, with the
 * chip's own configuration and eFuses, over a copy of its flash (so the otadata rewrites a boot
 * makes never touch the device).
 */
export function countBricked(fleet: Fleet): number {
  let n = 0;
  for (let i = fleet.first; i < fleet.first + fleet.devices; i++) {
    const chip = fleet.chip(i);
    if (chip === undefined) continue;
    if (!runBootloader({ flash: chip.flash.copy(), efuse: chip.efuse, config: chip.config }).ok) n++;
  }
  return n;
}

/** A device as targeting reads it. */
interface Target {
  readonly index: number;
  readonly device_id: string;
  readonly device_model: string;
  readonly mac_address: string;
  readonly groups: readonly string[];
}

/** Reads rollout and plan statuses for the names a check needs. */
export class RolloutObserver {
  #targets: Target[] | null = null;
  readonly #decided = new Map<string, { key: string; devices: number; ids: ReadonlyMap<number, number> }>();

  constructor(private readonly admin: AdminClient, private readonly fleet: Fleet, private readonly comp: Composition,
    private readonly seed: number, private readonly bucketing: Bucketing, private readonly plans: ReadonlySet<string>,
    private readonly serverVersions: (model: string) => Promise<ReadonlyMap<string, string | null>>) {}

  /** The fleet's devices with the identity the server targets on (model, MAC, composition groups). */
  #devices(): Target[] {
    if (this.#targets !== null) return this.#targets;
    const out: Target[] = [];
    for (let i = this.fleet.first; i < this.fleet.first + this.fleet.devices; i++) {
      const c = this.fleet.runtime(i)?.config;
      if (c === undefined) return out; // not all started yet: do not cache
      out.push({ index: i, device_id: c.deviceId, device_model: c.deviceModel, mac_address: c.mac, groups: traitsOf(this.comp, this.seed, c.deviceId).groups });
    }
    this.#targets = out;
    return out;
  }

  /** Statuses of `names` (plans and seeds' rollouts). A name the server does not know is left out. */
  async statuses(names: readonly string[]): Promise<Map<string, RolloutStatus>> {
    const out = new Map<string, RolloutStatus>();
    if (names.length === 0) return out;
    const needPlans = names.some((n) => this.plans.has(n));
    const needRollouts = names.some((n) => !this.plans.has(n));
    const plans = needPlans ? await this.admin.plans() : [];
    const rollouts = needRollouts ? await this.admin.rollouts() : [];
    for (const name of names) {
      if (this.plans.has(name)) {
        const p = plans.find((x) => x.name === name);
        if (p !== undefined) out.set(name, { kind: 'plan', state: p.status, phase: p.phase, detail: `phase ${p.phase + 1}/${p.phases}`, label: `phase ${p.phase + 1}/${p.phases}` });
        continue;
      }
      const r = rollouts.find((x) => x.name === name);
      if (r !== undefined) out.set(name, await this.#rolloutStatus(r, rollouts));
    }
    return out;
  }

  /**
   * Fleet index → id of the rollout that decides for it, among `rules` (the model's active ones):
   * recomputed only when the rules change, since each test hashes every device (sticky buckets).
   */
  #deciding(model: string, rules: ReadonlyArray<Omit<RolloutInfo, 'created_at'> & { created_at: Date }>): ReadonlyMap<number, number> {
    const key = JSON.stringify(rules.map((x) => [x.id, x.target_type, x.target_filter, x.rollout_percentage, x.created_at.getTime()]));
    const devices = this.#devices();
    const cached = this.#decided.get(model);
    if (cached !== undefined && cached.key === key && cached.devices === devices.length) return cached.ids;
    const ids = new Map<number, number>();
    for (const d of devices) {
      if (d.device_model !== model) continue;
      const by = decidingRollout(d, rules, this.bucketing);
      if (by !== undefined) ids.set(d.index, by.id);
    }
    this.#decided.set(model, { key, devices: devices.length, ids });
    return ids;
  }

  /**
   * active / inactive, or completed: active, deciding for at least one device, and every one of
   * those runs its version with the boot confirmed (not PENDING_VERIFY: a device still in its
   * self-test may yet roll back), no update under way, and the server has recorded that version
   * for it (so a next rollout created at once does not offer it again). The server is asked only
   * once the chips agree.
   */
  async #rolloutStatus(r: RolloutInfo, all: readonly RolloutInfo[]): Promise<RolloutStatus> {
    const label = `${r.target_type} ${r.rollout_percentage ?? 100}%`;
    if (!r.is_active) return { kind: 'rollout', state: 'inactive', label };
    const rules = all.filter((x) => x.is_active && x.device_model === r.device_model).map((x) => ({ ...x, created_at: new Date(x.created_at) }));
    const targets: number[] = [];
    for (const [index, id] of this.#deciding(r.device_model, rules)) if (id === r.id) targets.push(index);
    let done = 0;
    for (const index of targets) {
      const running = this.fleet.runtime(index)?.state.running;
      const state = this.fleet.stateOf(index);
      if (running?.version === r.firmware_version && running.otaState !== 'PENDING_VERIFY' && state !== undefined && !isUpdating(state)) done++;
    }
    let recordedDone = done;
    if (targets.length > 0 && done === targets.length) {
      const recorded = await this.serverVersions(r.device_model);
      // An external server lists at most 500 devices: beyond them its record cannot be checked.
      const agrees = (index: number): boolean => {
        const id = this.fleet.runtime(index)?.config.deviceId ?? '';
        return (recorded.size >= 500 && !recorded.has(id)) || recorded.get(id) === r.firmware_version;
      };
      recordedDone = targets.filter(agrees).length;
    }
    const detail = `${done}/${targets.length} targeted devices run ${r.firmware_version}${recordedDone < done ? `, ${recordedDone} recorded by the server` : ''}`;
    return { kind: 'rollout', state: targets.length > 0 && recordedDone === targets.length ? 'completed' : 'active', detail, label };
  }
}

/** The fleet part of a snapshot (rollout statuses and the bricked count are added by the caller). */
export function fleetSnapshot(fleet: Fleet, rollouts: ReadonlyMap<string, RolloutStatus>, bricked: number | null): Snapshot {
  const summary = fleet.summary('done');
  return {
    devices: fleet.devices, counts: summary.counts, versions: runningVersions(fleet), errors: summary.errors,
    updateDurations: fleet.updateDurations(), bricked, rollouts,
  };
}
