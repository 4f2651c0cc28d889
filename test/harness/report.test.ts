import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSummary, histogramBins, scenarioHtml, textTable, writeReports, type RunReport } from '../../harness/report/index.js';
import { DURATIONS, HOSTILE, sampleRun, sampleSuite } from './report-sample.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'otasim-report-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** `<tag attr="v">` occurrences of an element in an XML text, with their attributes. */
function elements(xml: string, tag: string): Array<Record<string, string>> {
  return [...xml.matchAll(new RegExp(`<${tag}((?:\\s+[a-z]+="[^"]*")*)\\s*/?>`, 'g'))].map((m) =>
    Object.fromEntries([...(m[1] ?? '').matchAll(/([a-z]+)="([^"]*)"/g)].map((a) => [a[1] as string, a[2] as string])));
}

describe('histogramBins', () => {
  it('cuts 100 durations into about √n bins of a round width aligned on it', () => {
    const bins = histogramBins(DURATIONS);
    expect(bins).toHaveLength(10);
    expect(bins[0]).toEqual({ from: 10_000, to: 11_000, count: 10 });
    expect(bins[9]).toEqual({ from: 19_000, to: 20_000, count: 10 });
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(100);
  });

  it('puts equal values in one bin, nothing in none, and the maximum in the last bin', () => {
    expect(histogramBins([])).toEqual([]);
    expect(histogramBins([5000, 5000, 5000])).toEqual([{ from: 5000, to: 5001, count: 3 }]);
    const bins = histogramBins([0, 1000, 2000, 3000]);
    expect(bins).toEqual([{ from: 0, to: 2000, count: 2 }, { from: 2000, to: 4000, count: 2 }]);
  });
});

describe('consoleSummary', () => {
  it('tabulates every check with expected and actual, the fleet, and ends on the verdict line', () => {
    const text = consoleSummary(sampleRun());
    const lines = text.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`verdict: FAIL ${HOSTILE}: 2 passed, 1 failed in 60.0 s run time (virtual), 3.0 s wall`);
    const fail = lines.find((l) => l.startsWith('FAIL'));
    expect(fail).toMatch(/^FAIL\s+p95 update < 15s\s+< 15 s\s+19\.5 s \(p95 above the bound\)$/);
    expect(lines.filter((l) => /^PASS\s/.test(l))).toHaveLength(2);
    expect(text).toContain('fleet: 200 devices; success 200');
    expect(text).toContain('versions: 2.0.0 200');
    expect(text).toContain('p50 14.5 s, p95 19.5 s, p99 19.5 s');
    expect(text).toContain('errors: boot_crash 3, ESP_ERR_OTA_VALIDATE_FAILED 1; bricked 0');
  });

  it('summarises a certify suite with its findings', () => {
    const text = consoleSummary(sampleSuite());
    expect(text).toContain('findings:');
    expect(text.trimEnd().split('\n').at(-1)).toBe('verdict: PASS certify server: 1 passed, 0 failed in 1.2 s');
  });

  it('aligns columns and cuts long cells', () => {
    const t = textTable(['a', 'bb'], [['xxx', 'y'], ['z'.repeat(80), '']]).split('\n');
    expect(t[0]).toBe(`a${' '.repeat(47)}  bb`);
    expect(t[2]).toBe('xxx'.padEnd(48) + '  y');
    expect(t[3]).toBe(`${'z'.repeat(47)}…`);
  });
});

describe('scenarioHtml', () => {
  const html = scenarioHtml(sampleRun());

  it('escapes every text from the report', () => {
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;canary&apos;');
    expect(html).toContain('scenarios/&lt;x&gt;.yaml');
  });

  it('is one self-contained page: no script, no external reference, a CSP that forbids requests', () => {
    expect(html).not.toMatch(/\s(src|href)=/);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });

  it('has the four charts, the checks table, the verdict and the fleet summary', () => {
    for (const c of ['versions', 'states', 'durations', 'phases']) expect(html).toContain(`data-chart="${c}"`);
    expect(html.match(/<tr class="check"/g)).toHaveLength(3);
    expect(html).toContain('data-verdict="fail"');
    expect(html).toContain('Certifies: a canary &amp; full rollout reaches &quot;every&quot; device');
    expect(html).toContain('<dt>seed</dt><dd>7</dd>');
    expect(html).toContain('14.5 s / 19.5 s / 19.5 s');
  });

  it('says so in each chart when a run has no samples, durations or phases', () => {
    const empty = sampleRun({ timeline: [], phases: [], events: [], fleet: { ...sampleRun().fleet, updateDurationsMs: [] } });
    const page = scenarioHtml(empty);
    expect(page.match(/class="no-data"/g)).toHaveLength(4);
    expect(page).not.toContain('class="area"');
  });
});

describe('writeReports', () => {
  it('writes one scenario as report.html, report.json (the object) and junit.xml with a testcase per check', async () => {
    const out = join(dir, 'one');
    const r = sampleRun();
    const w = await writeReports([r], { reportDir: out, json: join(dir, 'one.json'), junit: join(dir, 'one.xml') });
    expect(w.html).toBe(join(out, 'report.html'));
    expect((await readdir(out)).sort()).toEqual(['junit.xml', 'report.html', 'report.json']);
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8'))).toEqual(r);
    expect(JSON.parse(await readFile(join(dir, 'one.json'), 'utf8'))).toEqual(r);
    const xml = await readFile(join(dir, 'one.xml'), 'utf8');
    expect(await readFile(join(out, 'junit.xml'), 'utf8')).toBe(xml);
    const [suites] = elements(xml, 'testsuites');
    expect(suites).toMatchObject({ tests: '3', failures: '1', errors: '0' });
    const cases = elements(xml, 'testcase');
    expect(cases).toHaveLength(r.checks.length);
    expect(cases.map((c) => c.classname)).toEqual(Array(3).fill('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;canary&apos;'));
    expect(xml.match(/<failure /g)).toHaveLength(1);
    expect(xml).toContain('expected: &lt; 15 s\nactual: 19.5 s</failure>');
  });

  it('writes several runs as an index linking one page per scenario, and a JSON array', async () => {
    const out = join(dir, 'many');
    const a = sampleRun();
    const b: RunReport = sampleRun({ scenario: { name: 'full rollout', file: 'b.yaml', certifies: 'full' }, verdict: 'pass', checks: [] });
    const w = await writeReports([a, b, sampleSuite()], { reportDir: out });
    expect((await readdir(out)).sort()).toEqual(['01-script-alert-x-script-canary.html', '02-full-rollout.html', 'junit.xml', 'report.html', 'report.json']);
    expect(w.files).toHaveLength(5);
    const index = await readFile(join(out, 'report.html'), 'utf8');
    expect(index).toContain('<a href="01-script-alert-x-script-canary.html">');
    expect(index).toContain('<a href="02-full-rollout.html">full rollout</a>');
    expect(index).toContain('certify server');
    expect(index).toContain('data-verdict="fail"');
    const json = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as unknown[];
    expect(json).toHaveLength(3);
    const xml = await readFile(join(out, 'junit.xml'), 'utf8');
    expect(elements(xml, 'testsuite')).toHaveLength(3);
    // 3 checks of a, none of b, a check and a finding of the suite.
    expect(elements(xml, 'testcase')).toHaveLength(5);
  });

  it('writes nothing when no target is given', async () => {
    expect(await writeReports([sampleRun()], {})).toEqual({ files: [], html: null });
  });
});
