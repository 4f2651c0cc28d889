/**
 * `--behaviour esp-idf|paku-core` on `otasim device` and `otasim fleet`: the profile decides how a
 * device takes an offer (paku-core confirms its image at the top of setup(), with no self-test, so
 * its fleet never shows `verifying`). A fleet `--mix` that draws behaviours itself wins over the flag.
 * Runs the built binary (`npm run build`).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'otasim-behaviour-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** Run a small embedded fleet with a rollout; the fleet states the devices went through. */
async function fleetStates(name: string, extra: string[]): Promise<Set<string>> {
  const events = join(dir, `${name}.ndjson`);
  const r = runCli(['fleet', '--devices', '4', '--server', 'embedded', '--rollout', '2.0.0', '--image-size', '65536', '--prefix', name,
    '--events', events, '--json', ...extra]);
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ counts: { success: 4 } });
  const lines = (await readFile(events, 'utf8')).split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { type: string; to?: string });
  return new Set(lines.filter((l) => l.type === 'state').map((l) => l.to as string));
}

describe('--behaviour', () => {
  it('otasim fleet --behaviour paku-core: every device confirms at boot (no verifying); esp-idf self-tests', async () => {
    expect((await fleetStates('pk', ['--behaviour', 'paku-core'])).has('verifying')).toBe(false);
    expect((await fleetStates('ei', ['--behaviour', 'esp-idf'])).has('verifying')).toBe(true);
  }, 180_000);

  it('a --mix with behaviours: decides instead of the flag', async () => {
    const mix = join(dir, 'mix.yaml');
    await writeFile(mix, 'behaviours: { esp-idf: 1 }\n');
    expect((await fleetStates('mx', ['--behaviour', 'paku-core', '--mix', mix])).has('verifying')).toBe(true);
  }, 120_000);

  it('an unknown behaviour is a usage error (exit 2) on both commands', () => {
    for (const args of [['fleet', '--devices', '1', '--server', 'embedded', '--behaviour', 'arduino'],
      ['device', '--id', 'd1', '--server', 'http://127.0.0.1:9', '--broker', 'mqtt://127.0.0.1:9', '--behaviour', 'arduino']]) {
      const r = runCli(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/behaviour/);
    }
  });

  it('otasim device --help lists the profiles', () => {
    const r = runCli(['device', '--help']);
    expect(r.stdout).toMatch(/--behaviour[^\n]*\n?[^\n]*"esp-idf", "paku-core"/);
  });
});
