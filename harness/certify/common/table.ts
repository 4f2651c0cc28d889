/**
 * The console form of a certify run: one row per requirement (id, result, name), the reason under
 * each row that did not pass, then a one-line verdict with counts. Plain text, no colour, so CI
 * logs stay readable.
 */
import type { CheckResult, SuiteReport } from '../../report/model.js';

const MARK: Record<CheckResult['status'], string> = { pass: 'PASS', fail: 'FAIL', error: 'ERROR', skip: 'SKIP' };

/** Longest reason line before it is cut, in characters. */
const MAX_WHY = 400;

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_WHY ? `${flat.slice(0, MAX_WHY - 1)}…` : flat;
}

function why(c: CheckResult): string {
  if (c.status === 'pass') return '';
  const parts = [c.message, c.expected === undefined ? undefined : `expected ${c.expected}`, c.actual === undefined ? undefined : `got ${c.actual}`];
  return oneLine(parts.filter((p): p is string => p !== undefined && p !== '').join('; '));
}

/** The table and verdict line for `report`, ending with a newline. */
export function formatSuiteTable(report: SuiteReport): string {
  const rows = [...report.checks, ...(report.findings ?? [])];
  const idW = Math.max(2, ...rows.map((c) => c.id.length));
  const lines = [`certify ${report.suite}: ${report.target}`, `${'ID'.padEnd(idW)}  RESULT  REQUIREMENT`];
  for (const c of rows) {
    lines.push(`${c.id.padEnd(idW)}  ${MARK[c.status].padEnd(6)}  ${c.name}`);
    const reason = why(c);
    if (reason !== '') lines.push(`${' '.repeat(idW + 10)}↳ ${reason}`);
  }
  const count = (s: CheckResult['status']): number => report.checks.filter((c) => c.status === s).length;
  const summary = `${count('pass')} passed, ${count('fail')} failed, ${count('error')} errors, ${count('skip')} skipped`;
  const verdict = report.verdict.toUpperCase();
  lines.push(`${verdict}: ${summary} in ${(report.wallMs / 1000).toFixed(1)} s${report.error === undefined ? '' : ` (${oneLine(report.error)})`}`);
  return `${lines.join('\n')}\n`;
}
