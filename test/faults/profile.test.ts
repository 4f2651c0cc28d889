import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../protocol/errors.js';
import { FAULT_KINDS, FaultProfileSchema, faultProfile, parseFaultProfile } from '../../simulator/faults/index.js';

/** One valid rule of every kind: the profile format's reference. */
const EVERY_KIND = [
  { kind: 'drop', at_byte: 1000 },
  { kind: 'latency', ms: 200 },
  { kind: 'bandwidth', bytes_per_second: 50_000 },
  { kind: 'flaky', probability: 0.1 },
  { kind: 'corrupt', at_byte: 4096 },
  { kind: 'power_loss', phase: 'write', at_byte: 8192 },
  { kind: 'boot_crash', version: '1.2.1', mode: 'probability', probability: 0.05 },
  { kind: 'self_test_fail' },
  { kind: 'pending_verify_hang', watchdog: false },
  { kind: 'flash_too_small', slot_bytes: 0x10000 },
  { kind: 'clock_skew', ms: -3_600_000 },
  { kind: 'broker_unreachable', for_ms: 60_000 },
] as const;

const YAML = `
description: rollout rehearsal for 1.2.1
faults:
  # "1.2.1 crashes on 5% of boots"
  - kind: boot_crash
    version: "1.2.1"
    mode: probability
    probability: 0.05
  - kind: drop
    at_byte: 50000
    devices: [esp32_001, esp32_002]
  - {kind: latency, ms: 250, share: 0.5}
`;

describe('fault profiles are data', () => {
  it('covers every fault kind of issue 4 with a schema that accepts one rule each', () => {
    expect(EVERY_KIND.map((r) => r.kind)).toEqual([...FAULT_KINDS]);
    const p = faultProfile({ faults: EVERY_KIND });
    expect(p.faults).toHaveLength(FAULT_KINDS.length);
  });

  it('fills the documented defaults', () => {
    const p = faultProfile({ faults: [{ kind: 'drop', at_byte: 5 }, { kind: 'boot_crash', mode: 'always' }, { kind: 'pending_verify_hang' }, { kind: 'corrupt', at_byte: 1 }] });
    expect(p.faults[0]).toMatchObject({ requests: 1, times: 1 });
    expect(p.faults[1]).toMatchObject({ after_ms: 500 });
    expect(p.faults[2]).toMatchObject({ watchdog: true, probability: 1 });
    expect(p.faults[3]).toMatchObject({ xor: 0xff, times: 1 });
  });

  it('reads the same profile from YAML and from JSON', () => {
    const fromYaml = parseFaultProfile(YAML);
    const fromJson = parseFaultProfile(JSON.stringify({
      description: 'rollout rehearsal for 1.2.1',
      faults: [
        { kind: 'boot_crash', version: '1.2.1', mode: 'probability', probability: 0.05 },
        { kind: 'drop', at_byte: 50000, devices: ['esp32_001', 'esp32_002'] },
        { kind: 'latency', ms: 250, share: 0.5 },
      ],
    }));
    expect(fromYaml).toEqual(fromJson);
    expect(Object.isFrozen(fromYaml.faults[0])).toBe(true);
  });

  it('an empty file is the empty profile', () => {
    expect(parseFaultProfile('')).toEqual({ faults: [] });
    expect(parseFaultProfile('faults: []')).toEqual({ faults: [] });
  });

  it.each([
    ['an unknown kind', { faults: [{ kind: 'meteor' }] }, /faults\.0\.kind/],
    ['a probability above 1', { faults: [{ kind: 'flaky', probability: 1.5 }] }, /faults\.0\.probability/],
    ['mode probability without one', { faults: [{ kind: 'boot_crash', mode: 'probability' }] }, /faults\.0\.probability: probability is required/],
    ['a probability with mode always', { faults: [{ kind: 'boot_crash', mode: 'always', probability: 0.5 }] }, /faults\.0\.probability/],
    ['an unknown field', { faults: [{ kind: 'drop', at_byte: 1, at_bytes: 2 }] }, /faults\.0/],
    ['a negative byte', { faults: [{ kind: 'drop', at_byte: -1 }] }, /faults\.0\.at_byte/],
    ['a power-cut phase that does not exist', { faults: [{ kind: 'power_loss', phase: 'flash', at_byte: 1 }] }, /faults\.0\.phase/],
    ['an unaligned slot', { faults: [{ kind: 'flash_too_small', slot_bytes: 0x11000 }] }, /faults\.0\.slot_bytes: must be a multiple of 65536/],
    ['a version on flash_too_small', { faults: [{ kind: 'flash_too_small', slot_bytes: 0x10000, version: '1.0.0' }] }, /faults\.0\.version/],
    ['an unquoted YAML float version', 'faults:\n  - {kind: self_test_fail, version: 1.2}', /faults\.0\.version/],
    ['a top-level list', '[1, 2]', /\(top level\)/],
    ['an unknown top-level key', { fault: [] }, /\(top level\)|fault/],
  ])('refuses %s, naming where', (_name, input, message) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    const run = () => parseFaultProfile(text, 'auto', 'faults.yaml');
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/^faults\.yaml: /);
    expect(run).toThrow(message);
  });

  it('names the YAML line of a syntax error and the JSON problem of bad JSON', () => {
    expect(() => parseFaultProfile('faults:\n  - kind: drop\n     at_byte: 1', 'yaml', 'f.yaml')).toThrow(/^f\.yaml:2:\d+: Nested mappings/);
    expect(() => parseFaultProfile('{"faults": [}', 'auto', 'f.json')).toThrow(/^f\.json: not valid JSON/);
  });

  it('the schema is the one exported for other tools (zod)', () => {
    expect(FaultProfileSchema.safeParse({ faults: EVERY_KIND }).success).toBe(true);
  });
});
