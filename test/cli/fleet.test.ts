/**
 * `otasim fleet` as a user runs it (the built binary in a child process): a one-command rollout
 * over the memory transport and over TCP to the embedded broker, the NDJSON events with the summary
 * last, a graceful stop on SIGINT that still prints the summary, and usage errors that exit 2.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../fixtures.js';
import { runCli } from './run.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otasim-fleet-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = async (file: string): Promise<Array<Record<string, unknown>>> =>
  (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('otasim fleet', () => {
  for (const broker of ['memory', 'tcp']) {
    it(`rolls 2.0.0 out to 100 devices over ${broker}; events first, summary last`, async () => {
      const events = join(dir, `${broker}.ndjson`);
      const r = runCli(['fleet', '--devices', '100', '--server', 'embedded', '--broker', broker, '--rollout', '2.0.0',
        '--image-size', String(128 * 1024), '--events', events, '--json', '--seed', '3']);
      expect(r.stderr).toMatch(/success=100/);
      expect(r.status).toBe(0);
      const summary = JSON.parse(r.stdout) as { counts: Record<string, number>; ended: string; bytes: number; updateMs: { count: number } };
      expect(summary).toMatchObject({ ended: 'done', counts: { success: 100, failed: 0 }, updateMs: { count: 100 } });
      expect(summary.bytes).toBeGreaterThanOrEqual(100 * 128 * 1024);
      const ev = await lines(events);
      expect(ev.at(-1)).toMatchObject({ type: 'summary', ended: 'done' });
      expect(ev.filter((e) => e.to === 'success')).toHaveLength(100);
      expect(new Set(ev.filter((e) => e.type === 'state').map((e) => e.device)).size).toBe(100);
    }, 180_000);
  }

  it('stops gracefully on SIGINT and still prints the summary', async () => {
    const events = join(dir, 'sigint.ndjson');
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), 'fleet', '--devices', '50', '--server', 'embedded', '--events', events],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    // Wait until the fleet runs (its first events are on disk), then interrupt it.
    for (let i = 0; i < 600; i++) {
      const text = await readFile(events, 'utf8').catch(() => '');
      if (text.includes('"to":"idle"')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toContain('SIGINT, stopping');
    expect(code).toBe(0);
    expect(out).toMatch(/ended by signal/);
    expect((await lines(events)).at(-1)).toMatchObject({ type: 'summary', ended: 'signal' });
  }, 180_000);

  it('refuses bad flags with exit 2 and a message naming them', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--devices', '10', '--server', 'http://127.0.0.1:9', '--broker', 'memory'], /--broker memory needs --server embedded/],
      [['--devices', '10', '--server', 'embedded', '--shard', '3/2'], /--shard 3\/2/],
      [['--devices', '10', '--server', 'embedded', '--ramp', 'fast'], /--ramp fast/],
      [['--devices', '0', '--server', 'embedded'], /--devices 0/],
      [['--devices', '10', '--server', 'embedded', '--duration', 'soon'], /--duration soon/],
      [['--devices', '10', '--server', 'http://x:1', '--rollout', '2.0.0'], /--rollout needs --server embedded/],
    ];
    for (const [args, re] of cases) {
      const r = runCli(['fleet', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
  });
});
