/**
 * SVG building blocks for the HTML report's charts: linear scales, "nice" ticks, axes, legends and
 * the chart frame. Strings in, strings out, every text escaped; no chart library and nothing the
 * page would have to fetch. Pure.
 */
import { esc } from './junit.js';

/** Geometry of one chart: the whole box and the plot area's margins, px. */
export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** Default frame: room on the right for the legend. */
export const FRAME: Frame = { width: 780, height: 300, left: 60, right: 170, top: 40, bottom: 46 };

/** Coordinates with one decimal: enough for a screen, short in the file. */
export const n1 = (v: number): string => (Math.round(v * 10) / 10).toString();

/** A linear map of [d0, d1] onto [r0, r1]; a zero-width domain maps to r0. */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** The smallest 1, 2 or 5 × 10^k step that cuts `span` into at most `count` intervals. */
export function niceStep(span: number, count = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/** Tick values from `lo` to `hi` (both included when they fall on a step). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const step = niceStep(hi - lo, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

/** Seconds for axis labels: `0`, `2.5 s`, `12 min`. */
export function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  if (s === 0) return '0';
  if (Math.abs(s) >= 600) return `${+(s / 60).toFixed(1)} min`;
  return `${+s.toFixed(s < 10 ? 2 : 1)} s`;
}

/** One axis: `ticks` in data units, their labels, and the axis title. */
export interface AxisSpec {
  readonly scale: (v: number) => number;
  readonly ticks: readonly number[];
  readonly label: (v: number) => string;
  readonly title: string;
}

/** X axis along the bottom of the plot area and Y axis along its left side, with light grid lines. */
export function axes(f: Frame, x: AxisSpec, y: AxisSpec): string {
  const x0 = f.left;
  const x1 = f.width - f.right;
  const y0 = f.height - f.bottom;
  const y1 = f.top;
  const out: string[] = ['<g class="axes">'];
  for (const t of y.ticks) {
    const py = n1(y.scale(t));
    out.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${x0 - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${esc(y.label(t))}</text>`);
  }
  for (const t of x.ticks) {
    const px = n1(x.scale(t));
    out.push(`<line class="tickmark" x1="${px}" x2="${px}" y1="${y0}" y2="${y0 + 5}"/>`,
      `<text class="tick" x="${px}" y="${y0 + 18}" text-anchor="middle">${esc(x.label(t))}</text>`);
  }
  out.push(`<line class="axis" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/>`,
    `<line class="axis" x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}"/>`,
    `<text class="axis-title" x="${n1((x0 + x1) / 2)}" y="${f.height - 6}" text-anchor="middle">${esc(x.title)}</text>`,
    `<text class="axis-title" transform="translate(14 ${n1((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle">${esc(y.title)}</text>`,
    '</g>');
  return out.join('');
}

/** A legend in the right margin: one swatch and label per item. */
export function legend(f: Frame, items: ReadonlyArray<{ label: string; color: string }>): string {
  const x = f.width - f.right + 16;
  const out = ['<g class="legend">'];
  items.forEach((it, i) => {
    const y = f.top + i * 18;
    out.push(`<rect class="swatch" x="${x}" y="${y}" width="12" height="12" fill="${esc(it.color)}"/>`,
      `<text x="${x + 18}" y="${y + 10}">${esc(it.label.length > 22 ? `${it.label.slice(0, 21)}…` : it.label)}</text>`);
  });
  out.push('</g>');
  return out.join('');
}

/** An `<svg>` element for chart `kind` with an accessible title and the visible heading. */
export function chart(kind: string, f: Frame, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" data-chart="${esc(kind)}" role="img" aria-label="${esc(title)}" `
    + `viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}"><title>${esc(title)}</title>`
    + `<text class="chart-title" x="${f.left}" y="22">${esc(title)}</text>${body}</svg>`;
}

/** The text shown in an empty plot area. */
export function noData(f: Frame, text: string): string {
  return `<text class="no-data" x="${n1((f.left + f.width - f.right) / 2)}" y="${n1((f.top + f.height - f.bottom) / 2)}" text-anchor="middle">${esc(text)}</text>`;
}
