/** The composition file: validation, seeded determinism, and mixes that land on their weights. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { DEFAULT_COMPOSITION, fleetIdentity, parseComposition, traitsOf } from '../../simulator/fleet/index.js';

const YAML = `
models:   { esp32: 8, "board-x": { weight: 2, chip: esp32c3 } }
versions: { "1.0.0": 3, "0.9.0": 1 }
groups:   { canary: 0.1, eu: 0.5 }
faults:
  - { name: healthy, weight: 95 }
  - name: crashy
    weight: 5
    profile: { faults: [ { kind: boot_crash, mode: always } ] }
`;

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => fleetIdentity('mix', i).deviceId);

describe('fleet composition', () => {
  const c = parseComposition(YAML, 'mix.yaml');

  it('gives each device the same traits for the same seed, and other traits for another seed', () => {
    const a = ids(500).map((id) => traitsOf(c, 7, id));
    const b = ids(500).map((id) => traitsOf(c, 7, id));
    expect(a).toEqual(b);
    const other = ids(500).map((id) => traitsOf(c, 8, id));
    expect(other).not.toEqual(a);
  });

  it('lands each mix near its weights over 20,000 devices', () => {
    const n = 20_000;
    const t = ids(n).map((id) => traitsOf(c, 1, id));
    const share = (f: (x: (typeof t)[number]) => boolean): number => t.filter(f).length / n;
    expect(share((x) => x.model === 'esp32')).toBeCloseTo(0.8, 1);
    expect(share((x) => x.model === 'board-x' && x.chip === 'esp32c3')).toBeCloseTo(0.2, 1);
    expect(share((x) => x.version === '0.9.0')).toBeCloseTo(0.25, 1);
    expect(share((x) => x.groups.includes('canary'))).toBeCloseTo(0.1, 1);
    expect(share((x) => x.groups.includes('eu'))).toBeCloseTo(0.5, 1);
    expect(share((x) => x.faultName === 'crashy')).toBeGreaterThan(0.03);
    expect(share((x) => x.faultName === 'crashy')).toBeLessThan(0.07);
    expect(t.find((x) => x.faultName === 'crashy')?.faults.faults[0]?.kind).toBe('boot_crash');
    expect(t.find((x) => x.faultName === 'healthy')?.faults.faults).toEqual([]);
  });

  it('shares one profile object between devices of the same entry (no per-device copies)', () => {
    const crashy = ids(2000).map((id) => traitsOf(c, 1, id)).filter((x) => x.faultName === 'crashy');
    expect(new Set(crashy.map((x) => x.faults)).size).toBe(1);
  });

  it('defaults to esp32 on 1.0.0 without faults, and reads JSON too', () => {
    expect(traitsOf(DEFAULT_COMPOSITION, 0, 'x')).toMatchObject({ model: 'esp32', chip: 'esp32', version: '1.0.0', groups: [], faultName: 'none' });
    expect(traitsOf(parseComposition('{"models":{"esp32s3":1}}'), 0, 'x')).toMatchObject({ model: 'esp32s3', chip: 'esp32s3' });
  });

  it('refuses bad files with a ConfigError naming the place', () => {
    const cases: Array<[string, string]> = [
      ['models: {}', 'models'],
      ['models: { esp32: -1 }', 'models.esp32'],
      ['groups: { g: 1.5 }', 'groups.g'],
      ['faults: [ { name: a, weight: 1 }, { name: a, weight: 1 } ]', 'faults.1.name'],
      ['faults: [ { name: a, weight: 1, profile: { faults: [ { kind: nope } ] } } ]', 'faults.0.profile'],
      ['colour: blue', 'colour'],
      ['models: { esp32: 1', 'f.yaml'],
      ['models: { "a/b": 1 }', 'models'],
    ];
    for (const [text, where] of cases) {
      let err: unknown;
      try {
        parseComposition(text, 'f.yaml');
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ConfigError);
      expect((err as Error).message, text).toContain(where);
    }
  });
});
