/**
 * Read a fault profile from the text of a JSON or YAML file and validate it once against the
 * schema (profile.ts). Every problem comes back as one ConfigError naming where it is: the YAML line,
 * or the path inside the profile (`faults.2.probability`). Pure: text in, a frozen profile out.
 */
import { ConfigError } from '../../protocol/errors.js';
import { FaultProfileSchema, type FaultProfile } from './profile.js';
import { parseYamlText } from '../../protocol/yaml.js';

/** `json`, `yaml`, or `auto` (default): JSON when the text starts with `{`, else YAML. */
export type ProfileFormat = 'json' | 'yaml' | 'auto';

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Validate an already-parsed profile value. */
export function faultProfile(value: unknown, source = 'fault profile'): FaultProfile {
  const r = FaultProfileSchema.safeParse(value ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.join('.');
    throw new ConfigError(`${source}: ${where}: ${issue?.message ?? 'invalid'}`, { cause: r.error });
  }
  return deepFreeze(r.data);
}

/** Parse and validate the text of a profile file. `source` names it in errors (e.g. the file path). */
export function parseFaultProfile(text: string, format: ProfileFormat = 'auto', source = 'fault profile'): FaultProfile {
  const json = format === 'json' || (format === 'auto' && text.trimStart().startsWith('{'));
  let value: unknown;
  if (json) {
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${source}: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  } else {
    value = parseYamlText(text, source);
  }
  return faultProfile(value, source);
}
