/**
 * The README's fault-profile section, checked against the code: its YAML example loads and means
 * what its comments say, and its tables name every fault kind and every failure reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAILURE_REASONS } from '../../simulator/device/index.js';
import { FAULT_KINDS, deviceFaults, parseFaultProfile } from '../../simulator/faults/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Virtual device: firmware and fault profiles'), readme.indexOf('## ESP32 core API'));

describe('README: fault profiles', () => {
  it('the example profile loads, and "1.2.1 crashes on 5% of boots" is what it does', () => {
    const m = /<!-- fault-profile example -->\n```yaml\n([\s\S]*?)```/.exec(section);
    expect(m?.[1]).toBeDefined();
    const profile = parseFaultProfile(m?.[1] ?? '', 'yaml', 'README example');
    expect(profile.faults.map((f) => f.kind)).toEqual(['boot_crash', 'drop', 'power_loss']);
    let crashes = 0;
    for (let i = 0; i < 20_000; i++) {
      const fate = deviceFaults(profile, 1, `d${i}`).boot({ version: '1.2.1', pendingVerify: false, lastInstalled: '1.2.1', afterUpdate: false, boot: 1 });
      if (fate.kind === 'crash') crashes++;
    }
    expect(crashes / 20_000).toBeGreaterThan(0.045);
    expect(crashes / 20_000).toBeLessThan(0.055);
  });

  it('documents every fault kind and every failure reason', () => {
    for (const kind of FAULT_KINDS) expect(section, kind).toContain(`| \`${kind}\` |`);
    for (const reason of Object.keys(FAILURE_REASONS)) expect(section, reason).toContain(`\`${reason}\``);
  });
});
