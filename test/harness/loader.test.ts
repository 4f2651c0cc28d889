/**
 * Scenario loading: every broken file is refused before anything starts, with the file, line,
 * column and path of the problem; a good file comes out with its durations, sizes and comparisons
 * parsed and its names resolved.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ScenarioError } from '../../protocol/errors.js';
import { loadScenario, parseScenario } from '../../harness/index.js';
import { parseComparison, parseDuration, parseSize } from '../../harness/scenario/units.js';

const dir = mkdtempSync(join(tmpdir(), 'otasim-loader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = 'name: t\ncertifies: "x"\n';
const FW = 'firmware:\n  - { id: good, version: 2.0.0 }\n';

/** [what, text, the text the error must point at (its first occurrence), path, message pattern] */
const BROKEN: ReadonlyArray<readonly [string, string, string, string, RegExp]> = [
  ['unknown key', `${HEAD}fleet: { size: 10, colour: red }\n`, 'colour', 'fleet.colour', /unknown key "colour"/],
  ['unknown top-level key', `${HEAD}fleet: { size: 10 }\nstepz: []\n`, 'stepz', 'stepz', /unknown key "stepz"/],
  ['wrong type', `${HEAD}fleet:\n  size: many\n`, 'many', 'fleet.size', /expected number/i],
  ['negative size', `${HEAD}fleet: { size: 10 }\nfirmware:\n  - { id: good, version: 2.0.0, size: -5 }\n`, '-5', 'firmware.0.size', /must be a whole number of bytes > 0/],
  ['negative fleet size', `${HEAD}fleet: { size: -3 }\n`, '-3', 'fleet.size', /too small|>=\s*1/i],
  ['unknown firmware id', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - upload: goood\n`, 'goood', 'steps.0.upload', /unknown firmware id "goood"/],
  ['unknown firmware in a rollout', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - rollout: { name: c, firmware: nope, target: all }\n`,
    'nope', 'steps.0.rollout.firmware', /unknown firmware id "nope"/],
  ['wait on an unknown rollout', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - wait: { for: { rollout: canary, state: completed }, timeout: 60s }\n`,
    'canary', 'steps.0.wait.for.rollout', /unknown rollout or plan "canary": no earlier step creates it/],
  ['wait before the rollout exists', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - wait: { for: { rollout: c, state: completed } }\n  - rollout: { name: c, firmware: good, target: all }\n`,
    ' c,', 'steps.0.wait.for.rollout', /unknown rollout or plan "c"/],
  ['bad duration', `${HEAD}fleet: { size: 10 }\ntimeout: 10 parsecs\n`, '10 parsecs', 'timeout', /"10 parsecs" is not a duration/],
  ['bare number as a duration', `${HEAD}fleet: { size: 10 }\nsteps:\n  - sleep: 30\n`, '30', 'steps.0.sleep', /expected string/i],
  ['bad comparator', `${HEAD}fleet: { size: 10 }\nassert:\n  versions: { "2.0.0": "about 5" }\n`, '"about 5"', 'assert.versions.2.0.0', /is not a comparison/],
  ['missing fleet', `${HEAD}seed: 1\n`, 'name', 'fleet', /expected object|required/i],
  ['two kinds in one step', `${HEAD}fleet: { size: 10 }\nsteps:\n  - { sleep: 5s, pause: x }\n`, '{ sleep', 'steps.0', /a step is exactly one of/],
  ['approve on a seeds rollout', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - rollout: { name: c, firmware: good, target: all }\n  - approve: c\n`,
    'c\n', 'steps.1.approve', /is a rollout; only plans wait for approval/],
  ['a plan that does not grow', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - plan: { name: p, firmware: good, phases: [{ percent: 50 }, { percent: 10 }] }\n`,
    '{ percent: 10 }', 'steps.0.plan.phases.1', /does not grow the plan/],
  ['a plan with an unknown field', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - plan: { name: p, firmware: good, phases: [{ percent: 50 }], speed: 3 }\n`,
    'speed', 'steps.0.plan.speed', /unknown key "speed"/],
  ['a state a rollout never has', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - rollout: { name: c, firmware: good, target: all }\nassert:\n  rollout: { c: finished }\n`,
    'finished', 'assert.rollout.c', /a rollout is never "finished"/],
  ['a broker outage on a broker it cannot stop', `${HEAD}environment: { broker: "mqtt://127.0.0.1:1883" }\nfleet: { size: 10 }\nsteps:\n  - fault: { broker_outage: 10s }\n`,
    '10s', 'steps.0.fault.broker_outage', /needs the embedded broker/],
  ['an unset environment variable', `${HEAD}environment: { server: { url: "http://127.0.0.1:9", api_key: "\${OTASIM_TEST_UNSET_KEY}" }, broker: "mqtt://127.0.0.1:1883" }\nfleet: { size: 10 }\n`,
    '"${OTASIM', 'environment.server.api_key', /OTASIM_TEST_UNSET_KEY is not set/],
  ['a missing composition file', `${HEAD}fleet: { size: 10, composition_file: nowhere.yaml }\n`, 'nowhere.yaml', 'fleet.composition_file', /cannot read nowhere.yaml/],
  ['a bad composition weight', `${HEAD}fleet:\n  size: 10\n  composition: { versions: { "1.0.0": -1 } }\n`, '-1', 'fleet.composition.versions.1.0.0', /too small|>\s*0/i],
  ['a device index outside the fleet', `${HEAD}fleet: { size: 10 }\n${FW}steps:\n  - rollout: { name: c, firmware: good, target: specific, device_ids: [3, 12] }\n`,
    '12', 'steps.0.rollout.device_ids.1', /device index 12 is outside the fleet/],
  ['a .bin that is not an app image', `${HEAD}fleet: { size: 10 }\nfirmware:\n  - { id: real, path: junk.bin }\n`, 'junk.bin', 'firmware.0.path', /no app descriptor/],
];

describe('a broken scenario file is refused at load time with file:line:col and path', () => {
  writeFileSync(join(dir, 'junk.bin'), Buffer.alloc(4096, 0x5a));
  for (const [what, text, needle, path, message] of BROKEN) {
    it(what, async () => {
      const before = text.slice(0, text.indexOf(needle) + (needle.startsWith(' ') ? 1 : 0)).split('\n');
      const at = `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
      const file = join(dir, `${what.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, text);
      const err = await loadScenario(file, { env: {} }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ScenarioError);
      const e = err as ScenarioError;
      expect(e.code).toBe('OTASIM_ERR_SCENARIO');
      expect(e.message.startsWith(`${file}:${at}: ${path}: `), e.message).toBe(true);
      expect(e.message).toMatch(message);
    });
  }

  it('a missing file names the file', async () => {
    const err = await loadScenario(join(dir, 'absent.yaml')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as Error).message).toMatch(/absent\.yaml: cannot read the scenario: ENOENT/);
  });

  it('a YAML syntax error (duplicate key) names its line', () => {
    expect(() => parseScenario(`${HEAD}fleet: { size: 1 }\nfleet: { size: 2 }\n`, 'dup.yaml')).toThrow(/^dup\.yaml:4:1: Map keys must be unique/);
  });

  it('a document that is not a mapping is refused', () => {
    expect(() => parseScenario('- just\n- a list\n', 'list.yaml')).toThrow(/^list\.yaml:1:1: a scenario is a mapping/);
  });
});

describe('a good scenario', () => {
  it('parses durations, sizes, comparisons and resolves names, plans and device references', () => {
    const s = parseScenario(`${HEAD}time_scale: 20
timeout: 3m
fleet: { size: 20, composition: { groups: { beta: 0.5 } }, device: { self_test_ms: 500 } }
firmware:
  - { id: good, version: 2.0.0, size: 64KiB }
  - { id: bad, version: 2.0.1, defect: bad_checksum }
steps:
  - upload: good
  - upload: { firmware: bad, expect: rejected }
  - plan: { name: p, firmware: good, phases: [{ device_ids: [0, 1] }, { percent: 100 }], failure: { max_failed_percent: 20, action: rollback } }
  - wait: { for: { rollout: p, phase: 1 }, timeout: 45s }
  - rollout: { name: g, firmware: good, target: group, groups: [beta], percentage: 50 }
  - set_percentage: { rollout: g, percentage: 100 }
  - fault: { partition: { share: 0.25, for: 20s } }
assert:
  versions: { "2.0.0": ">= 90%" }
  p95_update: "< 1m"
  rollout: { p: completed, p-rollback: running, g: active }
`, 'good.yaml');
    expect(s.data.timeout).toBe(180_000);
    expect(s.data.time_scale).toBe(20);
    expect(s.firmware.get('good')?.size).toBe(65_536);
    expect(s.firmware.get('bad')?.defect).toBe('bad_checksum');
    expect(s.plans.has('p')).toBe(true);
    expect(s.plans.has('p-rollback')).toBe(true);
    expect(s.rollouts.has('g')).toBe(true);
    expect(s.data.steps[3]?.wait?.timeout).toBe(45_000);
    expect((s.planBodies.get(2) as { phases: Array<{ device_ids?: string[] }> }).phases[0]?.device_ids).toEqual(['sim-000000', 'sim-000001']);
    expect(s.data.assert.p95_update).toMatchObject({ op: '<', value: 60_000, unit: 'ms' });
    expect(s.data.assert.versions?.['2.0.0']).toMatchObject({ op: '>=', value: 90, unit: 'percent' });
    expect(s.composition.groups).toEqual([{ name: 'beta', share: 0.5 }]);
  });

  it('reads JSON too', () => {
    const s = parseScenario(JSON.stringify({ name: 'j', certifies: 'json', fleet: { size: 3 } }), 'j.json');
    expect(s.data.fleet.size).toBe(3);
    expect(s.data.environment).toMatchObject({ server: 'embedded', broker: 'memory', protocol: 'paku-edge' });
  });
});

describe('units', () => {
  it('durations need a unit', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('30')).toMatch(/not a duration/);
  });

  it('sizes', () => {
    expect(parseSize('1MiB')).toBe(1_048_576);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize(0)).toMatch(/> 0/);
    expect(parseSize('12 furlongs')).toMatch(/not a size/);
  });

  it('comparisons', () => {
    expect(parseComparison('>= 20')).toMatchObject({ op: '>=', value: 20, unit: 'number' });
    expect(parseComparison('100%')).toMatchObject({ op: '==', value: 100, unit: 'percent' });
    expect(parseComparison('< 2m')).toMatchObject({ op: '<', value: 120_000, unit: 'ms' });
    expect(parseComparison(0)).toMatchObject({ op: '==', value: 0 });
    expect(parseComparison('=> 3')).toMatch(/not a comparison/);
  });
});
