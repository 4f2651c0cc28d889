/**
 * `otasim run` validates a heavy scenario (a load rehearsal) like any other but runs it only with
 * `--heavy`, so `otasim run scenarios/*.yaml` in CI skips the 10,000-device rehearsal yet still
 * refuses it when it is broken.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli } from '../cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'otasim-run-heavy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scenario = (extra: string): string => `name: load-small
certifies: "stands in for a load rehearsal"
heavy: true
time_scale: 10
fleet: { size: 20 }
${extra}`;

it('skips a heavy scenario without --heavy, and says so', () => {
  const file = join(dir, 'heavy.yaml');
  writeFileSync(file, scenario('assert: { bricked: 0 }\n'));
  const r = runCli(['run', file, '--quiet']);
  expect(r.stderr).toContain('load-small');
  expect(r.stderr).toContain('pass --heavy to run it');
  expect(r.stdout).toContain('0/0 scenario(s) passed, 1 heavy skipped');
  expect(r.status).toBe(0);
});

it('runs it with --heavy', () => {
  const file = join(dir, 'heavy-run.yaml');
  writeFileSync(file, scenario('assert: { bricked: 0 }\n'));
  const r = runCli(['run', file, '--quiet', '--heavy', '--json', join(dir, 'heavy.json')]);
  expect(r.stdout).toContain('1/1 scenario(s) passed');
  expect(r.status).toBe(0);
});

it('still refuses a broken heavy scenario (exit 2) without --heavy', () => {
  const file = join(dir, 'heavy-bad.yaml');
  writeFileSync(file, scenario('assert: { bricked: -1 }\nsurprise: 1\n'));
  const r = runCli(['run', file, '--quiet']);
  expect(r.stderr).toContain('surprise');
  expect(r.status).toBe(2);
});
