/**
 * The HTML report: one self-contained page per scenario run (inline CSS and SVG, no script, no
 * font, no request: its Content-Security-Policy forbids any), and an index page when a run had
 * several scenarios or certify suites. Every text from the report is escaped: scenario names and
 * messages are user input. Pure.
 */
import { FLEET_STATES } from '../../simulator/fleet/states.js';
import { durationsChart, phasesChart, statesChart, versionsChart } from './charts.js';
import { fmtCounts, fmtInt, fmtMs, sortVersions } from './format.js';
import { esc } from './junit.js';
import type { CheckResult, RunReport, SuiteReport } from './model.js';

const CSS = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
body{margin:0 auto;max-width:1100px;padding:24px}
h1{margin:0 0 4px;font-size:26px}h2{margin:28px 0 10px;font-size:18px}
.certifies{margin:0 0 12px;color:#3e4c59;font-size:15px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:700;letter-spacing:.05em}
.verdict.pass{background:#27ab83}.verdict.fail{background:#e12d39}.verdict.error{background:#9f1239}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:14px;margin:12px 0}
dl.meta dt{color:#616e7c}dl.meta dd{margin:0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}
th,td{border-bottom:1px solid #e4e7eb;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#e4e7eb}td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{font-weight:700}.status.pass{color:#18794e}.status.fail{color:#e12d39}.status.error{color:#9f1239}.status.skip{color:#616e7c}
.charts{display:grid;grid-template-columns:1fr;gap:18px}
.charts svg{background:#fff;border:1px solid #e4e7eb;border-radius:4px;max-width:100%;height:auto}
svg text{font-size:11px;fill:#3e4c59}svg .chart-title{font-size:14px;font-weight:600;fill:#1f2933}
svg .axis{stroke:#7b8794}svg .grid{stroke:#e4e7eb}svg .tickmark{stroke:#7b8794}svg .axis-title{font-size:12px}
svg .no-data{font-size:13px;fill:#7b8794}svg .span-label{fill:#fff;font-size:11px}
.error-box{background:#ffe3e3;border:1px solid #e12d39;padding:8px 12px;border-radius:4px}
`;

function page(title: string, body: string): string {
  return '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    + '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">'
    + `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${CSS}</style></head>`
    + `<body>${body}</body></html>\n`;
}

const verdictBadge = (v: string): string => `<span class="verdict ${esc(v)}" data-verdict="${esc(v)}">${esc(v.toUpperCase())}</span>`;
const cell = (v: string | number | undefined, cls = ''): string => `<td${cls === '' ? '' : ` class="${cls}"`}>${esc(v === undefined ? '' : String(v))}</td>`;

function meta(pairs: ReadonlyArray<readonly [string, string]>): string {
  return `<dl class="meta">${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

/** The checks table: one row per check, in the order they ran. */
export function checksTable(checks: readonly CheckResult[]): string {
  if (checks.length === 0) return '<p>No checks.</p>';
  const rows = checks.map((c) => `<tr class="check" data-status="${esc(c.status)}"><td class="status ${esc(c.status)}">${esc(c.status.toUpperCase())}</td>`
    + `${cell(c.id)}${cell(c.name)}${cell(c.expected)}${cell(c.actual)}${cell(c.message)}</tr>`);
  return `<table class="checks"><thead><tr><th>status</th><th>id</th><th>check</th><th>expected</th><th>actual</th><th>message</th></tr></thead>`
    + `<tbody>${rows.join('')}</tbody></table>`;
}

function fleetTable(r: RunReport): string {
  const f = r.fleet;
  const rows: Array<[string, string]> = [
    ['devices', fmtInt(f.devices)],
    ['states at the end', FLEET_STATES.filter((s) => f.counts[s] > 0).map((s) => `${s} ${fmtInt(f.counts[s])}`).join(', ') || 'none'],
    ['versions running', sortVersions(Object.keys(f.versions)).filter((v) => (f.versions[v] ?? 0) > 0).map((v) => `${v} ${fmtInt(f.versions[v] ?? 0)}`).join(', ') || 'none'],
    ['updates ended', fmtInt(f.updateMs.count)],
    ['update duration p50 / p95 / p99', `${fmtMs(f.updateMs.p50)} / ${fmtMs(f.updateMs.p95)} / ${fmtMs(f.updateMs.p99)}`],
    ['bytes received', fmtInt(f.bytes)],
    ['errors by code', fmtCounts(f.errors)],
    ['bricked devices', fmtInt(f.bricked)],
  ];
  return `<table class="fleet"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th>${cell(v)}</tr>`).join('')}</tbody></table>`;
}

function stepsTable(r: RunReport): string {
  if (r.steps.length === 0) return '<p>No steps.</p>';
  const rows = r.steps.map((s) => `<tr><td class="num">${s.index + 1}</td><td class="status ${esc(s.status)}">${esc(s.status.toUpperCase())}</td>`
    + `${cell(s.label)}${cell(fmtMs(s.startMs), 'num')}${cell(fmtMs(s.endMs - s.startMs), 'num')}${cell(s.message)}</tr>`);
  return `<table class="steps"><thead><tr><th>#</th><th>status</th><th>step</th><th>at</th><th>took</th><th>message</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function eventsList(r: RunReport): string {
  if (r.events.length === 0) return '<p>No events.</p>';
  return `<table class="events"><thead><tr><th>at</th><th>event</th><th>detail</th></tr></thead><tbody>`
    + r.events.map((e) => `<tr>${cell(fmtMs(e.t), 'num')}${cell(e.kind)}${cell(e.detail)}</tr>`).join('') + '</tbody></table>';
}

/** The whole page of one scenario run. */
export function scenarioHtml(r: RunReport): string {
  const passed = r.checks.filter((c) => c.status === 'pass').length;
  const body = `<header><h1>${esc(r.scenario.name)} ${verdictBadge(r.verdict)}</h1>`
    + `<p class="certifies">Certifies: ${esc(r.scenario.certifies)}</p>`
    + meta([['scenario file', r.scenario.file], ['seed', String(r.seed)], ['started', r.startedAt],
      ['run time', `${fmtMs(r.durationMs)} (${r.clock} clock)`], ['wall time', fmtMs(r.wallMs)], ['checks', `${passed} of ${r.checks.length} passed`]])
    + '</header>'
    + (r.error === undefined ? '' : `<p class="error-box">${esc(r.error)}</p>`)
    + `<h2>Checks</h2>${checksTable(r.checks)}`
    + `<h2>Fleet</h2>${fleetTable(r)}`
    + `<h2>Charts</h2><div class="charts">${versionsChart(r)}${statesChart(r)}${durationsChart(r)}${phasesChart(r)}</div>`
    + `<h2>Steps</h2>${stepsTable(r)}`
    + `<h2>Events</h2>${eventsList(r)}`;
  return page(`otasim: ${r.scenario.name} (${r.verdict})`, body);
}

/** A certify suite's section: verdict, target, checks and findings. */
function suiteSection(s: SuiteReport): string {
  return `<section class="suite"><h2>certify ${esc(s.suite)} ${verdictBadge(s.verdict)}</h2>`
    + meta([['target', s.target], ['started', s.startedAt], ['wall time', fmtMs(s.wallMs)]])
    + (s.error === undefined ? '' : `<p class="error-box">${esc(s.error)}</p>`)
    + checksTable(s.checks)
    + (s.findings === undefined || s.findings.length === 0 ? '' : `<h3>Findings</h3>${checksTable(s.findings)}`)
    + '</section>';
}

/** An index of several runs: each scenario links to its own page (`links[i]`, a relative path). */
export function indexHtml(reports: ReadonlyArray<RunReport | SuiteReport>, links: ReadonlyArray<string | null>): string {
  const verdicts = reports.map((r) => r.verdict);
  const overall = verdicts.includes('error') ? 'error' : verdicts.includes('fail') ? 'fail' : 'pass';
  const rows: string[] = [];
  const suites: string[] = [];
  reports.forEach((r, i) => {
    if (r.kind === 'certify') {
      suites.push(suiteSection(r));
      return;
    }
    const link = links[i];
    const name = link === null || link === undefined ? esc(r.scenario.name) : `<a href="${esc(link)}">${esc(r.scenario.name)}</a>`;
    const passed = r.checks.filter((c) => c.status === 'pass').length;
    rows.push(`<tr class="run" data-verdict="${esc(r.verdict)}"><td>${name}</td><td class="status ${esc(r.verdict)}">${esc(r.verdict.toUpperCase())}</td>`
      + `${cell(r.scenario.certifies)}${cell(`${passed}/${r.checks.length}`, 'num')}${cell(fmtInt(r.fleet.devices), 'num')}${cell(fmtMs(r.durationMs), 'num')}</tr>`);
  });
  const body = `<header><h1>otasim report ${verdictBadge(overall)}</h1>`
    + `<p class="certifies">${reports.length} run${reports.length === 1 ? '' : 's'}</p></header>`
    + (rows.length === 0 ? '' : '<h2>Scenarios</h2><table class="runs"><thead><tr><th>scenario</th><th>verdict</th><th>certifies</th><th>checks passed</th>'
      + `<th>devices</th><th>run time</th></tr></thead><tbody>${rows.join('')}</tbody></table>`)
    + suites.join('');
  return page(`otasim report (${overall})`, body);
}
