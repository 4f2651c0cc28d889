import { describe, expect, it } from 'vitest';
import { parseIdfInt, pythonInt } from '../../simulator/esp32/partition-int.js';
import { subtypeKeywords, TYPE_KEYWORDS } from '../../simulator/esp32/partition-names.js';

describe('pythonInt: Python int(text, 0)', () => {
  it.each([
    ['0', 0n], ['00', 0n], ['0_0', 0n], ['7', 7n], ['1_000', 1000n], ['+5', 5n], ['-5', -5n], ['0x1F', 31n], ['0X_1f', 31n],
    ['0o17', 15n], ['0b101', 5n], ['-0x10', -16n], ['0xffffffffffffffff', 0xffffffffffffffffn],
  ])('accepts %s', (text, value) => {
    expect(pythonInt(text)).toBe(value);
  });

  it.each(['', '010', '1__0', '_1', '1_', '0x', '0x_', '0b2', '0o8', '1e3', '0x1g', '--1', '1.0', 'abc'])('refuses %j', (text) => {
    expect(pythonInt(text)).toBeNull();
  });
});

describe('parseIdfInt: gen_esp32part parse_int', () => {
  const ok = (text: string, kw = [] as typeof TYPE_KEYWORDS): bigint => {
    const r = parseIdfInt(text, kw);
    if (!r.ok) throw new Error(r.reason);
    return r.value;
  };

  it('applies K and M suffixes recursively and in either case', () => {
    expect(ok('1M')).toBe(0x100000n);
    expect(ok('64k')).toBe(0x10000n);
    expect(ok('0x10K')).toBe(0x4000n);
    expect(ok('1KM')).toBe(1024n * 1048576n);
    expect(ok('-2M')).toBe(-0x200000n);
  });

  it('looks keywords up case-insensitively, only when the text is not a number', () => {
    expect(ok('APP', TYPE_KEYWORDS)).toBe(0n);
    expect(ok('Ota_7', subtypeKeywords(0))).toBe(0x17n);
    expect(ok('0x40', TYPE_KEYWORDS)).toBe(0x40n);
  });

  it('explains what it refuses', () => {
    const bad = parseIdfInt('K');
    expect(bad.ok).toBe(false);
    const kw = parseIdfInt('apps', TYPE_KEYWORDS);
    expect(kw).toEqual({ ok: false, reason: "'apps' is neither a number nor a known keyword (bootloader, partition_table, app, data)" });
  });
});
