/**
 * The HTML report's four charts, each one inline `<svg data-chart=…>` built from a RunReport:
 * fleet versions over time and device states over time (stacked areas over the timeline samples),
 * a histogram of update durations, and a Gantt of the rollouts' phases with the run's events marked.
 * Each mark carries its data (`data-series`, `data-count`, `data-rollout`) so a browser test can
 * check the picture against the report. Pure.
 */
import { FLEET_STATES, type FleetState } from '../../simulator/fleet/states.js';
import { esc } from './junit.js';
import { fmtMs, sortVersions } from './format.js';
import type { RunReport, TimelineSample } from './model.js';
import { axes, chart, fmtSeconds, FRAME, legend, linear, n1, niceStep, niceTicks, noData, type Frame } from './svg.js';

/** Colours of the fleet states, fixed so every report reads the same. */
export const STATE_COLORS: Readonly<Record<FleetState, string>> = {
  starting: '#9aa5b1', idle: '#cbd2d9', downloading: '#3e7bfa', installing: '#7b61ff', rebooting: '#f0b429',
  verifying: '#2bb0ed', success: '#27ab83', failed: '#e12d39', 'rolled back': '#f78b4b',
};

/** Categorical colours for versions, in release order. */
const PALETTE = ['#4e79a7', '#59a14f', '#f28e2b', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** Colours of rollout phase states in the Gantt. */
function phaseColor(state: string): string {
  if (/complete|done|success/i.test(state)) return '#27ab83';
  if (/pause|wait|approv|soak/i.test(state)) return '#f0b429';
  if (/abort|halt|fail|cancel|roll/i.test(state)) return '#e12d39';
  if (/active|running|progress/i.test(state)) return '#3e7bfa';
  return '#9aa5b1';
}

/** One stacked area per series over the samples; the y axis counts devices. */
function stackedArea(kind: string, title: string, samples: readonly TimelineSample[], pick: (s: TimelineSample) => Readonly<Record<string, number>>,
  series: ReadonlyArray<{ key: string; color: string }>, devices: number, runMs: number): string {
  const f = FRAME;
  if (samples.length === 0 || series.length === 0) return chart(kind, f, title, noData(f, 'no timeline samples in this run'));
  // A single sample still draws: it spans one second.
  const pts = samples.length === 1 ? [samples[0] as TimelineSample, { ...(samples[0] as TimelineSample), t: (samples[0] as TimelineSample).t + 1000 }] : samples;
  // The run's whole span, as in the phases chart, so the three time charts line up.
  const t0 = Math.min(0, (pts[0] as TimelineSample).t);
  const t1 = Math.max(runMs, (pts[pts.length - 1] as TimelineSample).t);
  const totals = pts.map((s) => series.reduce((n, { key }) => n + (pick(s)[key] ?? 0), 0));
  const yMax = Math.max(1, devices, ...totals);
  const x = linear(t0, t1, f.left, f.width - f.right);
  const y = linear(0, yMax, f.height - f.bottom, f.top);
  const below = pts.map(() => 0);
  const paths: string[] = [];
  for (const { key, color } of series) {
    const above = pts.map((s, i) => (below[i] as number) + (pick(s)[key] ?? 0));
    if (above.some((v, i) => v > (below[i] as number))) {
      const top = pts.map((s, i) => `${n1(x(s.t))},${n1(y(above[i] as number))}`);
      const bottom = pts.map((s, i) => `${n1(x(s.t))},${n1(y(below[i] as number))}`).reverse();
      const peak = Math.max(...pts.map((s) => pick(s)[key] ?? 0));
      paths.push(`<path class="area" data-series="${esc(key)}" fill="${color}" d="M${top.join('L')}L${bottom.join('L')}Z">`
        + `<title>${esc(key)}: up to ${peak} devices</title></path>`);
    }
    above.forEach((v, i) => { below[i] = v; });
  }
  const xAxis = { scale: x, ticks: niceTicks(t0, t1, 6), label: fmtSeconds, title: 'run time' };
  const yAxis = { scale: y, ticks: niceTicks(0, yMax, 5), label: (v: number) => String(v), title: 'devices' };
  return chart(kind, f, title, axes(f, xAxis, yAxis) + `<g class="marks">${paths.join('')}</g>`
    + legend(f, series.map(({ key, color }) => ({ label: key, color })).reverse()));
}

/** (1) Fleet versions over time: what each chip runs, stacked oldest release at the bottom. */
export function versionsChart(r: RunReport): string {
  const keys = new Set<string>();
  for (const s of r.timeline) for (const [k, v] of Object.entries(s.versions)) if (v > 0) keys.add(k);
  const series = sortVersions(keys).map((key, i) => ({ key, color: PALETTE[i % PALETTE.length] as string }));
  return stackedArea('versions', 'Fleet versions over time', r.timeline, (s) => s.versions, series, r.fleet.devices, r.durationMs);
}

/** (2) Device states over time, in the fleet's state order. */
export function statesChart(r: RunReport): string {
  const used = FLEET_STATES.filter((k) => r.timeline.some((s) => (s.states[k] ?? 0) > 0));
  return stackedArea('states', 'Device states over time', r.timeline, (s) => s.states, used.map((key) => ({ key, color: STATE_COLORS[key] })), r.fleet.devices, r.durationMs);
}

/** One histogram bin: [from, to) ms and how many durations fell in it. */
export interface Bin {
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

/**
 * Bins for `values`: about √n of them (at most `maxBins`), of a "nice" width (1, 2 or 5 × 10^k ms)
 * aligned on multiples of the width. Empty input → no bins; equal values → one bin.
 */
export function histogramBins(values: readonly number[], maxBins = 30): Bin[] {
  if (values.length === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const want = Math.min(maxBins, Math.max(1, Math.ceil(Math.sqrt(values.length))));
  const width = niceStep(hi - lo, want);
  const start = Math.floor(lo / width) * width;
  const n = Math.floor((hi - start) / width) + 1;
  const counts = new Array<number>(n).fill(0);
  for (const v of values) counts[Math.min(n - 1, Math.floor((v - start) / width))]! += 1;
  return counts.map((count, i) => ({ from: start + i * width, to: start + (i + 1) * width, count }));
}

/** (3) Histogram of update durations (first download to reported outcome), with p50 and p95 marked. */
export function durationsChart(r: RunReport): string {
  const f = FRAME;
  const title = 'Update durations';
  const bins = histogramBins(r.fleet.updateDurationsMs);
  if (bins.length === 0) return chart('durations', f, title, noData(f, 'no update ended in this run'));
  const lo = (bins[0] as Bin).from;
  const hi = (bins[bins.length - 1] as Bin).to;
  const cMax = Math.max(...bins.map((b) => b.count));
  const x = linear(lo, hi, f.left, f.width - f.right);
  const y = linear(0, cMax, f.height - f.bottom, f.top);
  const bars = bins.filter((b) => b.count > 0).map((b) => {
    const x0 = x(b.from);
    const w = Math.max(1, x(b.to) - x0 - 1);
    return `<rect class="bar" data-count="${b.count}" data-from="${b.from}" data-to="${b.to}" x="${n1(x0)}" y="${n1(y(b.count))}" `
      + `width="${n1(w)}" height="${n1(y(0) - y(b.count))}" fill="#3e7bfa"><title>${fmtMs(b.from)} – ${fmtMs(b.to)}: ${b.count} updates</title></rect>`;
  });
  const marks: string[] = [];
  const p = r.fleet.updateMs;
  for (const [name, v, color] of [['p50', p.p50, '#1f2933'], ['p95', p.p95, '#e12d39']] as const) {
    if (v === null) continue;
    const px = n1(x(v));
    marks.push(`<line class="marker" data-marker="${name}" x1="${px}" x2="${px}" y1="${f.top}" y2="${f.height - f.bottom}" stroke="${color}" stroke-dasharray="4 3">`
      + `<title>${name} ${fmtMs(v)}</title></line>`);
  }
  const xAxis = { scale: x, ticks: niceTicks(lo, hi, 6), label: fmtSeconds, title: 'update duration' };
  const yAxis = { scale: y, ticks: niceTicks(0, cMax, 5).filter((t) => Number.isInteger(t)), label: (v: number) => String(v), title: 'updates' };
  return chart('durations', f, title, axes(f, xAxis, yAxis) + `<g class="marks">${bars.join('')}</g>${marks.join('')}`
    + legend(f, [{ label: `updates (${r.fleet.updateDurationsMs.length})`, color: '#3e7bfa' },
      ...(p.p50 === null ? [] : [{ label: `p50 ${fmtMs(p.p50)}`, color: '#1f2933' }]),
      ...(p.p95 === null ? [] : [{ label: `p95 ${fmtMs(p.p95)}`, color: '#e12d39' }])]));
}

/** (4) Timeline of the rollouts' phases (one row per rollout or plan), the run's events as flags. */
export function phasesChart(r: RunReport): string {
  const rows = [...new Set(r.phases.map((p) => p.rollout))];
  const rowH = 26;
  const f: Frame = { ...FRAME, left: 130, height: Math.max(150, FRAME.top + 14 + rows.length * rowH + FRAME.bottom) };
  const title = 'Rollout phases and events';
  if (rows.length === 0 && r.events.length === 0) return chart('phases', f, title, noData(f, 'no rollout phase recorded in this run'));
  const end = Math.max(1, r.durationMs, ...r.phases.map((p) => p.endMs ?? p.startMs), ...r.events.map((e) => e.t));
  const x = linear(0, end, f.left, f.width - f.right);
  const rowY = (i: number): number => f.top + 14 + i * rowH;
  const out: string[] = ['<g class="rows">'];
  rows.forEach((name, i) => {
    out.push(`<text class="row-label" x="${f.left - 8}" y="${n1(rowY(i) + rowH / 2 - 2)}" text-anchor="end" dominant-baseline="middle">`
      + `${esc(name.length > 18 ? `${name.slice(0, 17)}…` : name)}</text>`);
  });
  out.push('</g><g class="marks">');
  const states = new Map<string, string>();
  for (const p of r.phases) {
    const i = rows.indexOf(p.rollout);
    const x0 = x(p.startMs);
    const w = Math.max(2, x(p.endMs ?? end) - x0);
    const color = phaseColor(p.state);
    states.set(p.state, color);
    out.push(`<rect class="span" data-rollout="${esc(p.rollout)}" data-state="${esc(p.state)}" x="${n1(x0)}" y="${n1(rowY(i) + 2)}" width="${n1(w)}" `
      + `height="${rowH - 8}" rx="3" fill="${color}"><title>${esc(`${p.rollout}: ${p.label} (${p.state}) ${fmtMs(p.startMs)} – ${p.endMs === null ? 'end of run' : fmtMs(p.endMs)}`)}</title></rect>`);
    if (w > 7 * p.label.length) {
      out.push(`<text class="span-label" x="${n1(x0 + 4)}" y="${n1(rowY(i) + rowH / 2 - 2)}" dominant-baseline="middle">${esc(p.label)}</text>`);
    }
  }
  const yTop = f.top + 6;
  const yBottom = f.height - f.bottom;
  for (const e of r.events) {
    const px = n1(x(e.t));
    out.push(`<g class="event" data-kind="${esc(e.kind)}"><line x1="${px}" x2="${px}" y1="${yTop}" y2="${yBottom}" stroke="#52606d" stroke-dasharray="2 3"/>`
      + `<path d="M${px},${yTop}l5,-8h-10z" fill="#52606d"/><title>${esc(`${fmtMs(e.t)} ${e.kind}: ${e.detail}`)}</title></g>`);
  }
  out.push('</g>');
  const xAxis = { scale: x, ticks: niceTicks(0, end, 6), label: fmtSeconds, title: 'run time' };
  const yAxis = { scale: () => yBottom, ticks: [], label: () => '', title: '' };
  return chart('phases', f, title, axes(f, xAxis, yAxis) + out.join('')
    + legend(f, [...[...states].map(([label, color]) => ({ label, color })), ...(r.events.length > 0 ? [{ label: 'event', color: '#52606d' }] : [])]));
}
