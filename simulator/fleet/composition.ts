/**
 * A fleet's composition, as data (issue 5 "Deterministic fleet"): the model mix, the mix of
 * versions devices start on, the groups they belong to and the fault-profile mix. One zod schema
 * validates it once; `parseComposition` reads JSON or YAML text (protocol/yaml.ts). Every draw is
 * `unit(seed, device id, stream)`, so a device's model, version, groups and faults depend only on
 * (seed, prefix, index) — not on the shard, the ramp or the order devices start in. Pure.
 *
 * ```yaml
 * models:   { esp32: 8, esp32s3: 2 }           # weights
 * versions: { "1.0.0": 9, "0.9.0": 1 }
 * groups:   { canary: 0.1, eu: 0.5 }           # each an independent share; a device may be in several
 * behaviours: { esp-idf: 3, paku-core: 7 }     # firmware behaviour profiles (simulator/device)
 * faults:
 *   - { name: healthy, weight: 95 }
 *   - { name: crashy, weight: 5, profile: { faults: [ { kind: boot_crash, mode: always } ] } }
 * ```
 */
import { z } from 'zod';
import { ConfigError } from '../../protocol/errors.js';
import { parseYamlText } from '../../protocol/yaml.js';
import { CHIP_NAMES, isChipName, type ChipName } from '../esp32/index.js';
import { faultProfile, NO_FAULTS, type FaultProfile } from '../faults/index.js';
import { unit } from '../faults/rng.js';
import { Slug } from '../../protocol/payloads.js';
import { BEHAVIOURS, type Behaviour } from '../device/config.js';

const weight = z.number().positive().max(1e9);

const ModelEntry = z.union([weight, z.strictObject({
  /** Relative weight of this model. */
  weight,
  /** Emulated chip; default: the model name when it is one (`esp32s3`), else `esp32`. */
  chip: z.enum(CHIP_NAMES).optional(),
})]);

export const CompositionSchema = z.strictObject({
  /** device_model → weight (or `{weight, chip}`). Default `{ esp32: 1 }`. */
  models: z.record(Slug, ModelEntry).refine((m) => Object.keys(m).length > 0, 'needs at least one model').default({ esp32: 1 }),
  /** Starting firmware version → weight. Default `{ "1.0.0": 1 }`. */
  versions: z.record(z.string().min(1).max(31), weight).refine((m) => Object.keys(m).length > 0, 'needs at least one version').default({ '1.0.0': 1 }),
  /**
   * Firmware behaviour profile → weight, so one fleet mixes the ideal `esp-idf` client with `paku-core`
   * devices as built. Default: none, every device takes the fleet's device config (`esp-idf` unless set).
   */
  behaviours: z.partialRecord(z.enum(BEHAVIOURS), weight).refine((m) => Object.keys(m).length > 0, 'needs at least one behaviour').optional(),
  /** Group name → share of devices in it (0…1), drawn independently per group. Default none. */
  groups: z.record(z.string().min(1).max(64), z.number().min(0).max(1)).default({}),
  /** Fault-profile mix: each entry a name, a weight and a profile (simulator/faults). Default: no faults. */
  faults: z.array(z.strictObject({
    name: z.string().min(1).max(64),
    weight,
    profile: z.unknown().optional(),
  })).min(1).default([{ name: 'none', weight: 1 }]),
});
export type CompositionInput = z.input<typeof CompositionSchema>;

/** A validated composition with cumulative weights ready for draws. */
export interface Composition {
  readonly models: readonly { readonly name: string; readonly chip: ChipName; readonly cum: number }[];
  readonly versions: readonly { readonly name: string; readonly cum: number }[];
  readonly groups: readonly { readonly name: string; readonly share: number }[];
  /** Behaviour mix, or null when the composition names none. */
  readonly behaviours: readonly { readonly name: Behaviour; readonly cum: number }[] | null;
  readonly faults: readonly { readonly name: string; readonly profile: FaultProfile; readonly cum: number }[];
}

/** What the composition gives one device. */
export interface DeviceTraits {
  readonly model: string;
  readonly chip: ChipName;
  /** Version of the factory image it starts on. */
  readonly version: string;
  readonly groups: readonly string[];
  /** Its firmware behaviour profile, or null when the composition names no mix. */
  readonly behaviour: Behaviour | null;
  /** Name of its fault-profile entry. */
  readonly faultName: string;
  /** The profile itself (shared by every device with the same entry). */
  readonly faults: FaultProfile;
}

function cumulative<T extends { weight: number }>(items: T[]): Array<T & { cum: number }> {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let acc = 0;
  return items.map((i) => ({ ...i, cum: (acc += i.weight) / total }));
}

/** Validate a parsed composition. Throws ConfigError naming the path of the first problem. */
export function composition(value: unknown, source = 'fleet composition'): Composition {
  const r = CompositionSchema.safeParse(value ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.join('.');
    throw new ConfigError(`${source}: ${where}: ${issue?.message ?? 'invalid'}`, { cause: r.error });
  }
  const c = r.data;
  const models = cumulative(Object.entries(c.models).map(([name, e]) => {
    const w = typeof e === 'number' ? e : e.weight;
    const chip = typeof e === 'object' && e.chip !== undefined ? e.chip : isChipName(name) ? name : 'esp32';
    return { name, chip, weight: w };
  })).map(({ name, chip, cum }) => ({ name, chip, cum }));
  const versions = cumulative(Object.entries(c.versions).map(([name, w]) => ({ name, weight: w }))).map(({ name, cum }) => ({ name, cum }));
  const names = new Set<string>();
  const faults = cumulative(c.faults.map((f, i) => {
    if (names.has(f.name)) throw new ConfigError(`${source}: faults.${i}.name: "${f.name}" appears twice`);
    names.add(f.name);
    return { name: f.name, weight: f.weight, profile: f.profile === undefined ? NO_FAULTS : faultProfile(f.profile, `${source}: faults.${i}.profile`) };
  })).map(({ name, profile, cum }) => ({ name, profile, cum }));
  const behaviours = c.behaviours === undefined ? null
    : cumulative(Object.entries(c.behaviours).map(([name, w]) => ({ name: name as Behaviour, weight: w as number }))).map(({ name, cum }) => ({ name, cum }));
  return Object.freeze({ models, versions, groups: Object.entries(c.groups).map(([name, share]) => ({ name, share })), behaviours, faults });
}

/** Read a composition file's text (JSON or YAML). `source` names it in errors. */
export function parseComposition(text: string, source = 'fleet composition'): Composition {
  return composition(parseYamlText(text, source), source);
}

/** The default fleet: every device an esp32 on 1.0.0, no groups, no faults. */
export const DEFAULT_COMPOSITION: Composition = composition({});

function pick<T extends { cum: number }>(items: readonly T[], u: number): T {
  for (const i of items) if (u < i.cum) return i;
  return items[items.length - 1] as T; // u < 1 and the last cum is 1 (up to rounding)
}

/** The traits of device `deviceId` under `seed`: pure in (composition, seed, deviceId). */
export function traitsOf(c: Composition, seed: number, deviceId: string): DeviceTraits {
  const model = pick(c.models, unit(seed, deviceId, 'fleet:model'));
  const fault = pick(c.faults, unit(seed, deviceId, 'fleet:faults'));
  return {
    model: model.name,
    chip: model.chip,
    version: pick(c.versions, unit(seed, deviceId, 'fleet:version')).name,
    groups: c.groups.filter((g) => unit(seed, deviceId, `fleet:group:${g.name}`) < g.share).map((g) => g.name),
    behaviour: c.behaviours === null ? null : pick(c.behaviours, unit(seed, deviceId, 'fleet:behaviour')).name,
    faultName: fault.name,
    faults: fault.profile,
  };
}
