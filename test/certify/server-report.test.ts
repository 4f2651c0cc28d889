/**
 * The pieces a certify report is made of, without a server: how a check's outcome becomes its
 * status, the verdict, the table's reason lines, and the canary share bound of the server suite.
 */
import { describe, expect, it } from 'vitest';
import { formatSuiteTable, RequirementFailed, RequirementSkipped, SuiteRecorder, ensure } from '../../harness/certify/common/index.js';
import { plausibleCount } from '../../harness/certify/server/targeting.js';

const A = { id: 'SRV-X-001', name: 'a passes' };
const B = { id: 'SRV-X-002', name: 'b fails' };
const C = { id: 'SRV-X-003', name: 'c skips' };
const D = { id: 'SRV-X-004', name: 'd cannot run' };

describe('SuiteRecorder', () => {
  it('records pass, fail (with expected/actual), skip and error, and the verdict follows the worst', async () => {
    const rec = new SuiteRecorder('server', 'http://x');
    await rec.check(A, () => 'measured 3');
    await rec.check(B, () => ensure(1 + 1 === 3, 'arithmetic broke', { expected: '3', actual: '2' }));
    await rec.check(C, () => {
      throw new RequirementSkipped('no groups API');
    });
    let report = rec.finish();
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([['SRV-X-001', 'pass'], ['SRV-X-002', 'fail'], ['SRV-X-003', 'skip']]);
    expect(report.checks[0]).toMatchObject({ actual: 'measured 3' });
    expect(report.checks[1]).toMatchObject({ message: 'arithmetic broke', expected: '3', actual: '2' });
    expect(report.verdict).toBe('fail');
    await rec.check(D, async () => {
      throw new Error('connect ECONNREFUSED');
    });
    report = rec.finish();
    expect(report.checks[3]).toMatchObject({ status: 'error', message: 'connect ECONNREFUSED' });
    expect(report.verdict).toBe('error');
    expect(rec.finish('the suite stopped').verdict).toBe('error');
  });

  it('passes a suite whose checks all pass or skip', async () => {
    const rec = new SuiteRecorder('server', 'http://x');
    await rec.check(A, () => undefined);
    rec.skip(C, 'needs --broker');
    expect(rec.finish().verdict).toBe('pass');
  });
});

describe('formatSuiteTable', () => {
  it('prints one row per requirement, the reason under each one that did not pass, and the counts', async () => {
    const rec = new SuiteRecorder('server', 'http://staging');
    await rec.check(A, () => undefined);
    await rec.check(B, () => {
      throw new RequirementFailed('wrong\nheader', { expected: 'abc', actual: 'abd' });
    });
    const lines = formatSuiteTable(rec.finish()).split('\n');
    expect(lines[0]).toBe('certify server: http://staging');
    expect(lines).toContain('SRV-X-001  PASS    a passes');
    expect(lines).toContain('SRV-X-002  FAIL    b fails');
    expect(lines).toContain(`${' '.repeat(19)}↳ wrong header; expected abc; got abd`);
    expect(lines.at(-2)).toMatch(/^FAIL: 1 passed, 1 failed, 0 errors, 0 skipped in \d+\.\d s$/);
  });
});

describe('plausibleCount (canary share)', () => {
  it('accepts counts within 4.5 standard deviations of n·p, plus one, and refuses the rest', () => {
    // n = 200, p = 10%: mean 20, sd √18 ≈ 4.24 → 20 ± 20.1
    expect(plausibleCount(20, 200, 10)).toBe(true);
    expect(plausibleCount(0, 200, 10)).toBe(true);
    expect(plausibleCount(40, 200, 10)).toBe(true);
    expect(plausibleCount(41, 200, 10)).toBe(false);
    // n = 200, p = 50%: mean 100, sd √50 ≈ 7.07 → 100 ± 32.8
    expect(plausibleCount(67, 200, 50)).toBe(false);
    expect(plausibleCount(68, 200, 50)).toBe(true);
    expect(plausibleCount(200, 200, 50)).toBe(false);
  });
});
