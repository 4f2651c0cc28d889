/**
 * The HTML report in a real browser: Debian's headless Chromium opens the written file and we
 * check that each of the four charts renders (a non-empty box, marks that match the report's data),
 * that the page logs no error and makes no request beyond its own file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogramBins, writeReports, type RunReport } from '../../harness/report/index.js';
import { ensureChromium, launchChromium } from './chromium.js';
import { HOSTILE, sampleRun, sampleSuite } from './report-sample.js';

const exe = ensureChromium();

interface ChartInfo {
  kind: string;
  width: number;
  height: number;
  areas: string[];
  bars: number[];
  spans: Array<{ rollout: string; width: number }>;
  events: number;
  markers: string[];
}

/** Load `file`, recording console errors and every request the page makes. */
async function open(ctx: BrowserContext, file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, errors, requests };
}

function charts(page: Page): Promise<ChartInfo[]> {
  return page.$$eval('svg[data-chart]', (svgs) => svgs.map((svg) => {
    const box = svg.getBoundingClientRect();
    const sized = (el: { getBoundingClientRect(): { width: number; height: number } }): boolean => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
    return {
      kind: svg.getAttribute('data-chart') ?? '',
      width: box.width,
      height: box.height,
      areas: [...svg.querySelectorAll('path.area')].filter(sized).map((p) => p.getAttribute('data-series') ?? ''),
      bars: [...svg.querySelectorAll('rect.bar')].filter(sized).map((b) => Number(b.getAttribute('data-count'))),
      spans: [...svg.querySelectorAll('rect.span')].filter(sized).map((s) => ({ rollout: s.getAttribute('data-rollout') ?? '', width: s.getBoundingClientRect().width })),
      events: [...svg.querySelectorAll('g.event')].filter(sized).length,
      markers: [...svg.querySelectorAll('line.marker')].map((m) => m.getAttribute('data-marker') ?? ''),
    };
  }));
}

describe.skipIf(exe === null)('HTML report in headless Chromium', () => {
  let dir: string;
  let ctx: BrowserContext & AsyncDisposable;
  const run: RunReport = sampleRun();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otasim-report-html-'));
    ctx = await launchChromium(exe as string);
  });
  afterAll(async () => {
    await ctx?.[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
  });

  it('renders the four charts with marks that match the report, no console error and no request', async () => {
    const w = await writeReports([run], { reportDir: join(dir, 'one') });
    const { page, errors, requests } = await open(ctx, w.html as string);
    const got = await charts(page);
    expect(got.map((c) => c.kind)).toEqual(['versions', 'states', 'durations', 'phases']);
    for (const c of got) {
      expect(c.width, c.kind).toBeGreaterThan(100);
      expect(c.height, c.kind).toBeGreaterThan(100);
    }
    const [versions, states, durations, phases] = got as [ChartInfo, ChartInfo, ChartInfo, ChartInfo];
    // One area per version the chips ran, one per fleet state the timeline visited.
    expect(versions.areas).toEqual(['1.0.0', '2.0.0']);
    expect(states.areas).toEqual(['idle', 'downloading', 'success']);
    // One bar per non-empty bin, and the bars hold every duration.
    const bins = histogramBins(run.fleet.updateDurationsMs).filter((b) => b.count > 0);
    expect(durations.bars).toEqual(bins.map((b) => b.count));
    expect(durations.bars.reduce((a, b) => a + b, 0)).toBe(run.fleet.updateDurationsMs.length);
    expect(durations.markers).toEqual(['p50', 'p95']);
    // One bar per phase span, in two rows, and a flag per event.
    expect(phases.spans.map((s) => s.rollout)).toEqual(['p1', 'p1', 'p1', HOSTILE]);
    expect(phases.spans.every((s) => s.width > 0)).toBe(true);
    expect(phases.events).toBe(run.events.length);
    // The hostile name is text on the page, not markup.
    expect(await page.locator('h1').innerText()).toContain(HOSTILE);
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('tr.check').count()).toBe(run.checks.length);
    expect(await page.locator('[data-verdict]').first().innerText()).toBe('FAIL');
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(w.html as string).href]);
    await page.close();
  });

  it('links each scenario of an index to its own page, which renders too', async () => {
    const b = sampleRun({ scenario: { name: 'full', file: 'full.yaml', certifies: 'full rollout' }, verdict: 'pass', phases: [], events: [] });
    const w = await writeReports([run, b, sampleSuite()], { reportDir: join(dir, 'many') });
    const { page, errors } = await open(ctx, w.html as string);
    expect(await page.locator('tr.run').count()).toBe(2);
    await page.getByRole('link', { name: 'full' }).click();
    await page.waitForURL(/02-full\.html$/);
    const got = await charts(page);
    expect(got).toHaveLength(4);
    expect(got[3]?.spans).toEqual([]);
    expect(got[0]?.areas).toEqual(['1.0.0', '2.0.0']);
    expect(errors).toEqual([]);
    await page.close();
  });
});
