/**
 * `otasim demo` as a user runs it (the built binary as a child process), with a smaller fleet:
 * it must pass, print live progress on stderr and the summary and report path on stdout, and
 * leave report.html, report.json and junit.xml whose verdict and checks agree.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../harness/report/index.js';
import { runCli } from '../cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'otasim-demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('otasim demo', () => {
  it('rolls a good release canary → full and halts the bad one, and writes the reports', () => {
    const out = join(dir, 'report');
    const r = runCli(['demo', '--devices', '200', '--report', out]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/^fleet t=\S+ started=\d+\/200 /m);
    expect(r.stdout).toMatch(/^verdict: PASS demo: \d+ passed, 0 failed/m);
    expect(r.stdout).toContain(`report: ${join(out, 'report.html')}\n`);
    for (const f of ['report.html', 'report.json', 'junit.xml']) expect(existsSync(join(out, f)), f).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunReport;
    expect(report.verdict).toBe('pass');
    expect(report.fleet.devices).toBe(200);
    expect(report.fleet.bricked).toBe(0);
    // The good release reached most of the fleet; the bad one stopped in its canary phase.
    expect(report.fleet.versions['2.0.0'] ?? 0).toBeGreaterThanOrEqual(170);
    expect(report.fleet.versions['2.1.0'] ?? 0).toBeLessThanOrEqual(30);
    expect(report.fleet.errors.boot_crash ?? 0).toBeGreaterThanOrEqual(1);
    expect(report.timeline.length).toBeGreaterThan(10);
    expect(new Set(report.phases.map((p) => p.rollout))).toEqual(new Set(['good-canary-full', 'bad-canary-full']));
    const xml = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect(xml.match(/<testcase /g)).toHaveLength(report.checks.length);
    expect(xml).toContain('failures="0" errors="0"');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg [^>]*data-chart=/g)).toHaveLength(4);
  });

  it('prints its scenario for otasim run, and refuses a bad --devices with exit 2', () => {
    const p = runCli(['demo', '--print-scenario', '--devices', '50']);
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/^name: demo$/m);
    expect(p.stdout).toMatch(/^ {2}size: 50$/m);
    const bad = runCli(['demo', '--devices', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--devices 0');
  });
});
