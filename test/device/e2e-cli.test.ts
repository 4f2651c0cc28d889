/**
 * `otasim device` as a firmware developer runs it: the built binary in a child process, against an
 * embedded `otasim server` reached over TCP (HTTP and MQTT), until SIGINT. Needs `npm run build`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../fixtures.js';
import { runCli } from '../cli/run.js';
import { startServer, upload, type TestServer } from '../server/http-harness.js';
import { deviceRow, rollout, until, updates } from './e2e-kit.js';
import { image } from './runtime-kit.js';

let s: TestServer;
let dir: string;

beforeAll(async () => {
  s = await startServer({ topicPrefix: 'e2ecli' });
  expect((await upload(s.url, '2.0.0', 'esp32', image('2.0.0', { size: 200 * 1024 }))).status).toBe(200);
  dir = await mkdtemp(join(tmpdir(), 'otasim-device-cli-'));
});
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  lines: () => Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<number | null>;
}

function device(args: string[]): Running {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), 'device', '--server', s.url,
    '--broker', s.server.mqttUrl ?? 'missing', '--topic-prefix', 'e2ecli', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child, exited, stderr: () => err,
    lines: () => out.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('otasim device', () => {
  it('runs one device in the foreground: takes an OTA from the server, logs each state change, stops on SIGINT', async () => {
    const d = device(['--id', 'cli_dev', '--version', '1.0.0']);
    try {
      await until('registration', () => deviceRow(s, 'cli_dev', '1.0.0'));
      await rollout(s, 'cli', '2.0.0', 'esp32', ['cli_dev']);
      await until('success row', async () => (await updates(s, 'cli_dev'))[0]?.status === 'success', 20_000);
      await until('confirmed', () => d.lines().some((l) => l.kind === 'log' && l.message === 'update to 2.0.0 confirmed'));
    } finally {
      d.child.kill('SIGINT');
    }
    expect(await d.exited).toBe(0);
    const changes = d.lines().filter((l) => l.kind === 'transition').map((l) => l.to);
    expect(changes).toEqual(['booting', 'idle', 'downloading', 'verifying', 'activating', 'rebooting', 'booting', 'self-test', 'marking', 'idle']);
    expect(d.lines().every((l) => typeof l.t === 'string' && l.device === 'cli_dev')).toBe(true);
    expect(d.stderr()).toContain('SIGINT, stopping');
  });

  it('reads a YAML fault profile: the new image crashes, the bootloader rolls back, the server hears rolled_back', async () => {
    const file = join(dir, 'crash.yaml');
    await writeFile(file, [
      'description: 2.0.0 panics on every boot',
      'faults:',
      '  - kind: boot_crash',
      '    version: "2.0.0"',
      '    mode: always',
      '    after_ms: 50',
    ].join('\n'));
    const d = device(['--id', 'cli_crash', '--faults', file]);
    try {
      await until('registration', () => deviceRow(s, 'cli_crash', '1.0.0'));
      await rollout(s, 'cli-crash', '2.0.0', 'esp32', ['cli_crash']);
      await until('rolled_back row', async () => (await updates(s, 'cli_crash'))[0]?.status === 'rolled_back', 20_000);
    } finally {
      d.child.kill('SIGTERM');
    }
    expect(await d.exited).toBe(0);
    expect(d.lines().some((l) => l.kind === 'log' && l.message === 'reset (panic)')).toBe(true);
  });

  it('refuses bad usage with exit 2 and a bad fault file with exit 1, in one line', async () => {
    const missing = runCli(['device', '--id', 'x']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('Missing required argument: server');
    const noBroker = runCli(['device', '--id', 'x', '--server', s.url]);
    expect(noBroker.status).toBe(2);
    expect(noBroker.stderr).toContain('--broker is required');
    const badId = runCli(['device', '--id', 'a/b', '--server', s.url, '--broker', 'mqtt://127.0.0.1:1']);
    expect(badId.status).toBe(2);
    expect(badId.stderr).toMatch(/^otasim: device config deviceId: /);
    const esp8266 = runCli(['device', '--id', 'x', '--server', s.url, '--broker', 'mqtt://127.0.0.1:1', '--model', 'esp8266-wired-sensors']);
    expect(esp8266.status).toBe(2);
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'faults:\n  - kind: boot_crash\n    mode: probability\n');
    const bad = runCli(['device', '--id', 'x', '--server', s.url, '--broker', 'mqtt://127.0.0.1:1', '--faults', file]);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^otasim: OTASIM_ERR_CONFIG: .*bad\.yaml: faults\.0/);
  });
});
