/**
 * `otasim server` as users run it: a child process of the built CLI on free ports, waiting for
 * its "listening" log line, answering /health, and exiting 0 on SIGTERM and on SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { projectRoot } from '../fixtures.js';
import { runCli } from './run.js';

interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), 'server', ...args],
    { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  let buf = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, lines, stderr, exit };
}

/** Wait for the log line whose msg matches, or fail if the process exits first. */
async function waitForLine(r: Running, re: RegExp): Promise<Record<string, unknown>> {
  let exited = false;
  void r.exit.then(() => { exited = true; });
  for (;;) {
    const hit = r.lines.find((l) => re.test(String(l.msg)));
    if (hit !== undefined) return hit;
    if (exited) throw new Error(`otasim server exited before logging ${re}: ${r.stderr.join('')}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Per test: PGlite initialises a fresh data dir in seconds per server, more on a loaded machine. */
const TIMEOUT = 240_000;

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('otasim server (child process)', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`starts on free ports, logs where it listens, serves /health and stops cleanly on ${signal}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'otasim-cli-server-'));
      dirs.push(dir);
      const r = start(['--port', '0', '--mqtt-port', '0', '--data', dir, '--api-key', 'cli-test-key-123']);
      children.push(r.child);
      const listening = await waitForLine(r, /^otasim server listening on http:\/\/127\.0\.0\.1:\d+$/);
      expect(listening).toMatchObject({ store: 'pglite', mqtt: expect.stringMatching(/^mqtt:\/\/127\.0\.0\.1:\d+$/) });
      const url = String(listening.url);
      const h = await request(`${url}/health`);
      expect(h.statusCode).toBe(200);
      expect(await h.body.json()).toEqual({ status: 'healthy', store: 'pglite' });
      const admin = await request(`${url}/api/admin/devices`, { headers: { 'x-api-key': 'cli-test-key-123' } });
      expect(admin.statusCode).toBe(200);
      await admin.body.dump();
      expect(r.lines.some((l) => /api-key/.test(String(l.msg)))).toBe(false);
      r.child.kill(signal);
      expect(await r.exit).toEqual({ code: 0, signal: null });
      expect(r.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
      expect(r.stderr.join('')).not.toMatch(/Error|internal error/);
    }, TIMEOUT);
  }

  it('without --api-key it warns that the built-in default key is in use; OTASIM_API_KEY is read instead', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-cli-server-'));
    dirs.push(dir);
    const r = start(['--port', '0', '--mqtt-port', '0', '--data', dir]);
    children.push(r.child);
    const warn = await waitForLine(r, /no --api-key given/);
    expect(warn.level).toBe(40);
    expect(String(warn.msg)).toContain('otasim-dev-key');
    const listening = await waitForLine(r, /listening on/);
    const res = await request(`${String(listening.url)}/api/admin/devices`, { headers: { 'x-api-key': 'otasim-dev-key' } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    r.child.kill('SIGTERM');
    expect((await r.exit).code).toBe(0);

    const r2 = start(['--port', '0', '--mqtt-port', '0', '--data', dir], { OTASIM_API_KEY: 'from-the-env-123' });
    children.push(r2.child);
    const l2 = await waitForLine(r2, /listening on/);
    expect(r2.lines.some((l) => /no --api-key given/.test(String(l.msg)))).toBe(false);
    const ok = await request(`${String(l2.url)}/api/admin/devices`, { headers: { 'x-api-key': 'from-the-env-123' } });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    r2.child.kill('SIGTERM');
    expect((await r2.exit).code).toBe(0);
  }, TIMEOUT);

  it('bad flags are usage errors (exit 2, one line)', () => {
    for (const args of [['--port', '70000'], ['--port', 'abc'], ['--broker', 'not a url'], ['--api-key', 'short'],
      ['--model-chip', 'board=esp99'], ['--protocol', 'zigbee'], ['--topic-prefix', 'a/#']]) {
      const r = runCli(['server', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^otasim: /);
    }
  }, TIMEOUT);

  it('a port already in use fails with one line and exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-cli-server-'));
    dirs.push(dir);
    const r = start(['--port', '0', '--mqtt-port', '0', '--data', dir, '--api-key', 'cli-test-key-123']);
    children.push(r.child);
    const url = new URL(String((await waitForLine(r, /listening on/)).url));
    const clash = start(['--port', url.port, '--mqtt-port', '0', '--data', join(dir, 'other'), '--api-key', 'cli-test-key-123']);
    children.push(clash.child);
    expect((await clash.exit).code).toBe(1);
    expect(clash.stderr.join('')).toMatch(/^otasim: EADDRINUSE: /m);
    r.child.kill('SIGTERM');
    expect((await r.exit).code).toBe(0);
  }, TIMEOUT);
});
