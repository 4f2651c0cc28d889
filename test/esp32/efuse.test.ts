import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Efuse } from '../../simulator/esp32/efuse.js';

describe('eFuse secure_version (facts §4.5)', () => {
  it('reads the popcount of the lowest N bits', () => {
    expect(Efuse.create('esp32c3', { secureVersionRaw: 0b1011 }).readSecureVersion()).toBe(3);
    expect(Efuse.create('esp32c2', { secureVersionRaw: 0xff }).readSecureVersion()).toBe(4);
    expect(Efuse.create('esp32', { secureVersionRaw: 0xffffffff }).readSecureVersion()).toBe(32);
  });

  it('takes its width from the chip: ESP32 32, C2 4, C5 9, others 16', () => {
    expect(Efuse.create('esp32').secureVersionBits).toBe(32);
    expect(Efuse.create('esp32c2').secureVersionBits).toBe(4);
    expect(Efuse.create('esp32c5').secureVersionBits).toBe(9);
    expect(Efuse.create('esp32s3').secureVersionBits).toBe(16);
    expect(() => Efuse.create('esp32c2', { secureVersionBits: 5 })).toThrow(expect.objectContaining({ code: 'OTASIM_ERR_CONFIG' }));
  });

  it('burns as a thermometer code and only raises', () => {
    const e = Efuse.create('esp32c3');
    e.burnSecureVersion(3);
    expect(e.secureVersionRaw).toBe(0b111);
    e.burnSecureVersion(3);
    expect(e.readSecureVersion()).toBe(3);
    expect(() => e.burnSecureVersion(2)).toThrow(expect.objectContaining({ code: 'ESP_FAIL' }));
    expect(e.readSecureVersion()).toBe(3);
    expect(() => e.burnSecureVersion(17)).toThrow(expect.objectContaining({ code: 'ESP_ERR_INVALID_ARG' }));
    expect(e.checkSecureVersion(3)).toBe(true);
    expect(e.checkSecureVersion(2)).toBe(false);
  });

  it('ESP32 needs coding scheme NONE to burn', () => {
    const e = Efuse.create('esp32', { codingScheme: '3/4' });
    expect(() => e.burnSecureVersion(1)).toThrow(expect.objectContaining({ code: 'ESP_ERR_NOT_SUPPORTED' }));
  });

  it('never clears a bit, whatever is burned (property)', () => {
    fc.assert(fc.property(fc.nat(0xffff), fc.array(fc.nat(20), { maxLength: 6 }), (raw, versions) => {
      const e = Efuse.create('esp32s3', { secureVersionRaw: raw });
      for (const v of versions) {
        const before = e.secureVersionRaw;
        const vBefore = e.readSecureVersion();
        try {
          e.burnSecureVersion(v);
          expect(e.readSecureVersion()).toBe(v);
        } catch {
          expect(e.secureVersionRaw).toBe(before);
        }
        expect((e.secureVersionRaw & before) >>> 0).toBe(before);
        expect(e.readSecureVersion()).toBeGreaterThanOrEqual(vBefore);
      }
    }), { numRuns: 1000 });
  });
});
