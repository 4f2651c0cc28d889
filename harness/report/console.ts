/**
 * The console summary printed after a run (live progress during it is the fleet's own reporter,
 * simulator/fleet/progress.ts): a table of the checks with expected and actual values, the fleet's
 * counts, versions, update-duration percentiles and errors by code, and one verdict line last, so
 * `tail -1` in CI says it all. Plain text, no colour codes. Pure.
 */
import { FLEET_STATES } from '../../simulator/fleet/states.js';
import { fmtCounts, fmtInt, fmtMs, sortVersions } from './format.js';
import type { CheckResult, RunReport, SuiteReport } from './model.js';

/** Cells longer than this are cut with `…` so a row fits a terminal. */
const MAX_CELL = 48;

const cut = (s: string): string => (s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s);

/** Rows as aligned columns under a header and a rule. */
export function textTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows].map((r) => r.map((c) => cut(c.replace(/\s+/g, ' '))));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const [head, ...body] = all;
  return [line(head ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n') + '\n';
}

function checksTable(checks: readonly CheckResult[]): string {
  if (checks.length === 0) return 'no checks\n';
  return textTable(['status', 'check', 'expected', 'actual'], checks.map((c) => [
    c.status.toUpperCase(), c.name, c.expected ?? '', c.status === 'pass' || c.message === undefined ? c.actual ?? '' : `${c.actual ?? ''}${c.actual === undefined ? '' : ' '}(${c.message})`,
  ]));
}

function tally(checks: readonly CheckResult[]): string {
  const n = (s: CheckResult['status']): number => checks.filter((c) => c.status === s).length;
  const parts = [`${n('pass')} passed`, `${n('fail')} failed`];
  if (n('error') > 0) parts.push(`${n('error')} errored`);
  if (n('skip') > 0) parts.push(`${n('skip')} skipped`);
  return parts.join(', ');
}

function scenarioSummary(r: RunReport): string {
  const f = r.fleet;
  const states = FLEET_STATES.filter((s) => f.counts[s] > 0).map((s) => `${s} ${fmtInt(f.counts[s])}`).join(', ') || 'none';
  const versions = sortVersions(Object.keys(f.versions)).filter((v) => (f.versions[v] ?? 0) > 0).map((v) => `${v} ${fmtInt(f.versions[v] ?? 0)}`).join(', ') || 'none';
  const run = r.clock === 'virtual' ? `${fmtMs(r.durationMs)} run time (virtual), ${fmtMs(r.wallMs)} wall` : fmtMs(r.wallMs);
  return [
    `scenario ${r.scenario.name} (${r.scenario.file}), seed ${r.seed}`,
    `certifies: ${r.scenario.certifies}`,
    '',
    checksTable(r.checks),
    `fleet: ${fmtInt(f.devices)} devices; ${states}`,
    `versions: ${versions}`,
    `updates: ${fmtInt(f.updateMs.count)} ended; p50 ${fmtMs(f.updateMs.p50)}, p95 ${fmtMs(f.updateMs.p95)}, p99 ${fmtMs(f.updateMs.p99)}; ${fmtInt(f.bytes)} bytes received`,
    `errors: ${fmtCounts(f.errors)}; bricked ${fmtInt(f.bricked)}`,
    ...(r.error === undefined ? [] : [`error: ${r.error}`]),
    `verdict: ${r.verdict.toUpperCase()} ${r.scenario.name}: ${tally(r.checks)} in ${run}`,
  ].join('\n') + '\n';
}

function suiteSummary(s: SuiteReport): string {
  return [
    `certify ${s.suite} against ${s.target}`,
    '',
    checksTable(s.checks),
    ...(s.findings === undefined || s.findings.length === 0 ? [] : ['findings:', checksTable(s.findings)]),
    ...(s.error === undefined ? [] : [`error: ${s.error}`]),
    `verdict: ${s.verdict.toUpperCase()} certify ${s.suite}: ${tally(s.checks)} in ${fmtMs(s.wallMs)}`,
  ].join('\n') + '\n';
}

/** The summary of one run for the terminal; the last line is the verdict. */
export function consoleSummary(report: RunReport | SuiteReport): string {
  return report.kind === 'scenario' ? scenarioSummary(report) : suiteSummary(report);
}
