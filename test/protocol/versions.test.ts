import { describe, expect, it } from 'vitest';
import { isNewer } from '../../protocol/versions.js';

describe('isNewer: is an offer an upgrade for the device?', () => {
  it.each([
    ['1.2.0', '1.1.9', true],
    ['1.2.10', '1.2.9', true],
    ['v2.0', '1.9.9', true],
    ['1.2.0', '1.2.0', false],
    ['1.2', '1.2.0', false],
    ['1.1.0', '1.2.0', false],
    ['a1b2c3d-20251208-153045', 'f00ba47-20251201-101010', true],
    ['same-build', 'same-build', false],
  ])('%s over %s → %s', (offered, running, expected) => {
    expect(isNewer(offered, running)).toBe(expected);
  });
});
