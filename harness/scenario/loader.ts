/**
 * Load a scenario: YAML or JSON text (protocol/yaml.ts) → the zod schema (schema.ts) → the checks
 * that need the whole file, so that nothing starts for a file that cannot run: firmware ids and
 * rollout or plan names used before a step creates them, plan bodies checked against the server's
 * own PlanSpec, states a rollout or plan cannot have, faults the environment cannot host, files
 * that do not exist, `${VAR}` that is not set. Every refusal is a ScenarioError at
 * `file:line:col: path: message`.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError, ScenarioError } from '../../protocol/errors.js';
import { parseYamlText } from '../../protocol/yaml.js';
import { PlanSpec } from '../../server/rollout/plan.js';
import { PLAN_STATUSES } from '../../server/rollout/policy.js';
import { inspectImage, isChipName, type ChipName } from '../../simulator/esp32/index.js';
import { composition, CompositionSchema, parseComposition, type Composition } from '../../simulator/fleet/composition.js';
import { fleetIdentity } from '../../simulator/fleet/identity.js';
import { parseRate } from '../../simulator/fleet/ramp.js';
import { Locator } from './locate.js';
import { ScenarioSchema, type Defect, type ScenarioData } from './schema.js';

/** A firmware entry, resolved: built (version, size, defect) or read from a file. */
export interface ScenarioFirmware {
  readonly id: string;
  readonly model: string;
  readonly chip: ChipName;
  readonly version: string;
  /** Built images: length in bytes. */
  readonly size: number;
  readonly secureVersion: number | undefined;
  readonly defect: Defect | undefined;
  /** A real image's bytes (from `path`), or null for a built one. */
  readonly bytes: Uint8Array | null;
}

/** A validated scenario, ready to run. */
export interface Scenario {
  /** Path as given (reports name it). */
  readonly file: string;
  /** Directory relative paths were resolved against. */
  readonly dir: string;
  readonly data: ScenarioData;
  readonly composition: Composition;
  readonly rampPerSecond: number;
  readonly firmware: ReadonlyMap<string, ScenarioFirmware>;
  /** Names the steps create: seeds' rollouts and engine plans (with their `-rollback` plans). */
  readonly rollouts: ReadonlySet<string>;
  readonly plans: ReadonlySet<string>;
  /** Plan step bodies as sent to POST /api/admin/plans, by step index. */
  readonly planBodies: ReadonlyMap<number, unknown>;
  /** Server admin key after `${VAR}` expansion (external servers). */
  readonly apiKey: string | null;
}

/** Options of {@link parseScenario}. */
export interface ParseOptions {
  /** Where `${VAR}` comes from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Base directory of relative paths. Default the file's directory. */
  readonly baseDir?: string;
}

/** Seeds' rollouts have no status of their own; the harness tells these apart. */
export const ROLLOUT_STATES = ['active', 'inactive', 'completed'] as const;

type Path = ReadonlyArray<string | number>;

/** Collects the first refusal with its place. */
class Refuser {
  constructor(readonly file: string, readonly loc: Locator) {}

  fail(path: Path, message: string, opts: { key?: string; cause?: unknown } = {}): never {
    const { line, col } = this.loc.at(path, opts.key);
    const shown = [...path, ...(opts.key === undefined ? [] : [opts.key])].join('.');
    throw new ScenarioError({ file: this.file, line, col, path: shown }, message, { cause: opts.cause });
  }

  zod(prefix: Path, issue: z.core.$ZodIssue, rename: (p: Path) => Path = (p) => p): never {
    const path = rename([...prefix, ...(issue.path as Array<string | number>)]);
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] ?? '';
      return this.fail(path, `unknown key "${key}"${issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).map((k) => `"${k}"`).join(', ')})` : ''}`, { key });
    }
    return this.fail(path, issue.message);
  }
}

/** Read and validate a scenario file. Throws ScenarioError (also for a missing file). */
export async function loadScenario(path: string, opts: ParseOptions = {}): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ScenarioError({ file: path }, `cannot read the scenario: ${(e as Error).message}`, { cause: e });
  }
  return parseScenario(text, path, opts);
}

/**
 * Validate scenario text. Synchronous: files it names (a composition, a real `.bin`) are read with
 * readFileSync. Throws ScenarioError.
 */
export function parseScenario(text: string, file: string, opts: ParseOptions = {}): Scenario {
  return check(text, file, opts, readSync);
}

function readSync(p: string): Uint8Array {
  const b = readFileSync(p);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function check(text: string, file: string, opts: ParseOptions, read: (p: string) => Uint8Array): Scenario {
  let raw: unknown;
  try {
    raw = parseYamlText(text, file);
  } catch (e) {
    const m = /^(.*):(\d+):(\d+): (.*)$/s.exec((e as Error).message);
    if (e instanceof ConfigError && m !== null) throw new ScenarioError({ file, line: Number(m[2]), col: Number(m[3]) }, m[4] ?? '', { cause: e });
    throw new ScenarioError({ file }, (e as Error).message, { cause: e });
  }
  const r: Refuser = new Refuser(file, new Locator(text));
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) r.fail([], 'a scenario is a mapping with name, certifies, fleet, firmware, steps and assert');
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) r.zod([], parsed.error.issues[0] as z.core.$ZodIssue);
  const data = parsed.data;
  const dir = opts.baseDir ?? dirname(resolve(file));
  const env = opts.env ?? process.env;
  return { file, dir, data, ...semantics(r, data, dir, env, read) };
}

function semantics(r: Refuser, s: ScenarioData, dir: string, env: ParseOptions['env'] & object, read: (p: string) => Uint8Array):
Omit<Scenario, 'file' | 'dir' | 'data'> {
  const embedded = s.environment.server === 'embedded';
  let apiKey: string | null = null;
  if (!embedded && typeof s.environment.server === 'object') {
    apiKey = s.environment.server.api_key.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      return v === undefined || v === '' ? r.fail(['environment', 'server', 'api_key'], `environment variable ${name} is not set`) : v;
    });
    if (s.time_scale !== 1) r.fail(['time_scale'], 'time_scale needs the embedded server: an external server\'s rollout engine runs on its own clock');
  }
  const broker = s.environment.broker;
  if (!embedded && (broker === 'memory' || broker === 'tcp')) {
    r.fail(['environment', 'broker'], `broker ${broker} is the embedded server's own; with an external server give the broker's URL`);
  }

  // Fleet composition.
  const f = s.fleet;
  if (f.composition !== undefined && f.composition_file !== undefined) r.fail(['fleet', 'composition_file'], 'give composition or composition_file, not both');
  let comp: Composition;
  try {
    if (f.composition_file !== undefined) {
      let text: string;
      try {
        text = Buffer.from(read(resolve(dir, f.composition_file))).toString('utf8');
      } catch (e) {
        return r.fail(['fleet', 'composition_file'], `cannot read ${f.composition_file}: ${(e as Error).message}`, { cause: e });
      }
      comp = parseComposition(text, f.composition_file);
    } else {
      // The schema first, so an issue keeps its exact path (a version key holds dots).
      const checked = CompositionSchema.safeParse(f.composition ?? {});
      if (!checked.success) r.zod(['fleet', 'composition'], checked.error.issues[0] as z.core.$ZodIssue);
      comp = composition(f.composition ?? {}, 'composition');
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const m = /^composition: ([^:]+): (.*)$/s.exec(e.message);
    if (m !== null && f.composition !== undefined) {
      const sub = (m[1] ?? '').split('.').map((x) => (/^\d+$/.test(x) ? Number(x) : x));
      return r.fail(['fleet', 'composition', ...sub], m[2] ?? e.message, { cause: e });
    }
    return r.fail(['fleet', f.composition_file === undefined ? 'composition' : 'composition_file'], e.message, { cause: e });
  }
  try {
    fleetIdentity(f.prefix, f.size - 1);
  } catch (e) {
    r.fail(['fleet', 'prefix'], (e as Error).message, { cause: e });
  }
  const rampPerSecond = parseRate(f.ramp);
  const chipOf = (model: string): ChipName => comp.models.find((m) => m.name === model)?.chip ?? (isChipName(model) ? model : 'esp32');

  // Firmware.
  const firmware = new Map<string, ScenarioFirmware>();
  for (const [i, fw] of s.firmware.entries()) {
    const at = ['firmware', i];
    if (firmware.has(fw.id)) r.fail([...at, 'id'], `firmware id "${fw.id}" appears twice`);
    const chip = fw.chip ?? chipOf(fw.model);
    if (fw.path !== undefined) {
      for (const k of ['version', 'size', 'defect', 'secure_version'] as const) {
        if (fw[k] !== undefined) r.fail([...at, k], `${k} is for built images; a real image (path) carries its own`);
      }
      let bytes: Uint8Array;
      try {
        bytes = read(resolve(dir, fw.path));
      } catch (e) {
        return r.fail([...at, 'path'], `cannot read ${fw.path}: ${(e as Error).message}`, { cause: e });
      }
      const version = inspectImage(bytes).app?.version;
      if (version === undefined || version === '') r.fail([...at, 'path'], `${fw.path} has no app descriptor: it is not an app image an OTA client accepts`);
      firmware.set(fw.id, { id: fw.id, model: fw.model, chip, version, size: bytes.length, secureVersion: undefined, defect: undefined, bytes });
    } else {
      if (fw.version === undefined) r.fail(at, 'give version (a built image) or path (a real .bin)');
      firmware.set(fw.id, {
        id: fw.id, model: fw.model, chip, version: fw.version, size: fw.size ?? 256 * 1024, secureVersion: fw.secure_version, defect: fw.defect, bytes: null,
      });
    }
  }
  const fwRef = (path: Path, id: string): ScenarioFirmware => firmware.get(id) ?? r.fail(path, `unknown firmware id "${id}"; the firmware list has ${[...firmware.keys()].map((k) => `"${k}"`).join(', ') || 'none'}`);

  // Steps, in order: names exist only after the step that creates them.
  const rollouts = new Set<string>();
  const plans = new Set<string>();
  const planBodies = new Map<number, unknown>();
  const known = (path: Path, name: string): 'rollout' | 'plan' => {
    if (plans.has(name)) return 'plan';
    if (rollouts.has(name)) return 'rollout';
    return r.fail(path, `unknown rollout or plan "${name}": no earlier step creates it`);
  };
  const stateOk = (namePath: Path, path: Path, name: string, state: string): void => {
    const kind = known(namePath, name);
    const allowed: readonly string[] = kind === 'plan' ? PLAN_STATUSES : ROLLOUT_STATES;
    if (!allowed.includes(state)) r.fail(path, `a ${kind} is never "${state}"; it is one of ${allowed.join(', ')}`);
  };
  const deviceRef = (path: Path, ref: number | string, mac: boolean): string => {
    if (typeof ref === 'string') return ref;
    if (ref >= f.size) r.fail(path, `device index ${ref} is outside the fleet (size ${f.size})`);
    const id = fleetIdentity(f.prefix, ref);
    return mac ? id.mac : id.deviceId;
  };
  const checkAssertions = (at: Path, a: ScenarioData['assert']): void => {
    for (const [name, state] of Object.entries(a.rollout ?? {})) stateOk([...at, 'rollout', name], [...at, 'rollout', name], name, state);
  };
  const faultNeedsEmbedded = (path: Path, what: string): void => {
    if (!embedded) r.fail(path, `${what} needs the embedded server (environment.server: embedded)`);
  };

  for (const [i, step] of s.steps.entries()) {
    const at: Path = ['steps', i];
    if (step.upload !== undefined) {
      const id = typeof step.upload === 'string' ? step.upload : step.upload.firmware;
      fwRef(typeof step.upload === 'string' ? [...at, 'upload'] : [...at, 'upload', 'firmware'], id);
    } else if (step.rollout !== undefined) {
      const ro = step.rollout;
      fwRef([...at, 'rollout', 'firmware'], ro.firmware);
      if (rollouts.has(ro.name) || plans.has(ro.name)) r.fail([...at, 'rollout', 'name'], `"${ro.name}" is already created by an earlier step`);
      if (ro.target === 'group' && ro.groups === undefined) r.fail([...at, 'rollout'], 'a group rollout needs groups: [...]');
      if (ro.target === 'specific' && ro.device_ids === undefined && ro.mac_addresses === undefined) {
        r.fail([...at, 'rollout'], 'a specific rollout needs device_ids or mac_addresses (fleet indexes or literal values)');
      }
      ro.device_ids?.forEach((d, k) => deviceRef([...at, 'rollout', 'device_ids', k], d, false));
      ro.mac_addresses?.forEach((d, k) => deviceRef([...at, 'rollout', 'mac_addresses', k], d, true));
      rollouts.add(ro.name);
    } else if (step.plan !== undefined) {
      const { firmware: id, ...rest } = step.plan as Record<string, unknown>;
      if (typeof id !== 'string') r.fail([...at, 'plan', 'firmware'], 'a plan needs firmware: ID (the id of a firmware entry)');
      const fw = fwRef([...at, 'plan', 'firmware'], id);
      const phases = Array.isArray(rest.phases) ? rest.phases.map((p: unknown, k: number) => {
        if (p === null || typeof p !== 'object' || !Array.isArray((p as { device_ids?: unknown }).device_ids)) return p;
        const ids = (p as { device_ids: unknown[] }).device_ids.map((d, j) => (typeof d === 'number' ? deviceRef([...at, 'plan', 'phases', k, 'device_ids', j], d, false) : d));
        return { ...p, device_ids: ids };
      }) : rest.phases;
      const body = { ...rest, phases, firmware_version: fw.version, device_model: fw.model };
      const ps = PlanSpec.safeParse(body);
      if (!ps.success) {
        r.zod([...at, 'plan'], ps.error.issues[0] as z.core.$ZodIssue,
          (p) => p.map((seg) => (seg === 'firmware_version' || seg === 'device_model' ? 'firmware' : seg)));
      }
      const name = ps.data.name;
      if (rollouts.has(name) || plans.has(name)) r.fail([...at, 'plan', 'name'], `"${name}" is already created by an earlier step`);
      plans.add(name);
      if (ps.data.failure?.action === 'rollback') plans.add(`${name}-rollback`);
      planBodies.set(i, body);
    } else if (step.wait !== undefined) {
      const c = step.wait.for;
      if (c.rollout !== undefined) {
        const kind = known([...at, 'wait', 'for', 'rollout'], c.rollout);
        if (c.state !== undefined) stateOk([...at, 'wait', 'for', 'rollout'], [...at, 'wait', 'for', 'state'], c.rollout, c.state);
        if (c.phase !== undefined && kind !== 'plan') r.fail([...at, 'wait', 'for', 'phase'], `"${c.rollout}" is a rollout; only plans have phases`);
      }
    } else if (step.set_percentage !== undefined) {
      known([...at, 'set_percentage', 'rollout'], step.set_percentage.rollout);
    } else if (step.approve !== undefined) {
      if (known([...at, 'approve'], step.approve) !== 'plan') r.fail([...at, 'approve'], `"${step.approve}" is a rollout; only plans wait for approval`);
    } else if (step.pause !== undefined) {
      known([...at, 'pause'], step.pause);
    } else if (step.resume !== undefined) {
      known([...at, 'resume'], step.resume);
    } else if (step.abort !== undefined) {
      known([...at, 'abort'], step.abort);
    } else if (step.fault !== undefined) {
      const ft = step.fault;
      if (ft.broker_outage !== undefined) {
        faultNeedsEmbedded([...at, 'fault', 'broker_outage'], 'a broker outage');
        if (broker !== 'memory' && broker !== 'tcp') r.fail([...at, 'fault', 'broker_outage'], `a broker outage needs the embedded broker (memory or tcp), not ${broker}`);
      }
      if (ft.server_restart !== undefined) faultNeedsEmbedded([...at, 'fault', 'server_restart'], 'a server restart');
      if (ft.partition !== undefined && ft.partition.share <= 0) r.fail([...at, 'fault', 'partition', 'share'], 'a partition needs share > 0');
    } else if (step.assert !== undefined) {
      checkAssertions([...at, 'assert'], step.assert);
    }
  }
  checkAssertions(['assert'], s.assert);
  return { composition: comp, rampPerSecond, firmware, rollouts, plans, planBodies, apiKey };
}
