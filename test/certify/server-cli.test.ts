/**
 * `otasim certify server` as CI runs it: the built CLI against `otasim server` started as a child
 * process (temp data dir, free ports, embedded broker). All requirements pass with exit 0 and a
 * JUnit file; a server the suite cannot judge — unreachable, or rejecting the key, or a broker
 * that does not answer — is one line on stderr and exit 2, as are bad flags.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_REQUIREMENT_IDS } from '../../harness/certify/server/index.js';
import { projectRoot } from '../fixtures.js';
import { runCli } from '../cli/run.js';
import { SERVER_START_MS } from '../server/http-harness.js';

const KEY = 'certify-cli-key-0123';

/** Start `otasim server` and resolve with its URLs from the "listening" log line. */
function startCliServer(dir: string): { child: ChildProcess; ready: Promise<{ url: string; mqtt: string }> } {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), 'server', '--port', '0', '--mqtt-port', '0', '--data', dir, '--api-key', KEY],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const ready = new Promise<{ url: string; mqtt: string }>((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (const line of out.split('\n')) {
        if (!line.includes('otasim server listening on')) continue;
        const l = JSON.parse(line) as { url: string; mqtt: string };
        resolve({ url: l.url, mqtt: l.mqtt });
      }
    });
    child.on('exit', (code) => reject(new Error(`otasim server exited (${String(code)}) before listening: ${err}`)));
  });
  return { child, ready };
}

/** A local port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let dir: string;
let server: { child: ChildProcess; ready: Promise<{ url: string; mqtt: string }> };
let urls: { url: string; mqtt: string };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otasim-certify-cli-'));
  server = startCliServer(join(dir, 'data'));
  urls = await server.ready;
}, SERVER_START_MS);
afterAll(async () => {
  if (server !== undefined && server.child.exitCode === null) {
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await exited;
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('otasim certify server (built CLI, child processes)', () => {
  it('passes every requirement against otasim server: exit 0, the table, a JUnit file', () => {
    const junit = join(dir, 'certify.xml');
    const r = runCli(['certify', 'server', '--url', urls.url, '--api-key', KEY, '--broker', urls.mqtt, '--devices', '100', '--junit', junit]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^PASS: ${SERVER_REQUIREMENT_IDS.length} passed, 0 failed, 0 errors, 0 skipped`, 'm'));
    expect(r.status).toBe(0);
    return readFile(junit, 'utf8').then((xml) => {
      expect(xml).toContain(`tests="${SERVER_REQUIREMENT_IDS.length}" failures="0" errors="0" skipped="0"`);
    });
  }, 120_000);

  it('an unreachable URL: one line, exit 2', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = runCli(['certify', 'server', '--url', url, '--api-key', KEY]);
    expect(r.stderr).toBe(`otasim: cannot reach ${url}: ECONNREFUSED\n`);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(2);
  }, 60_000);

  it('a wrong API key, detected up front: one line, exit 2', () => {
    const r = runCli(['certify', 'server', '--url', urls.url, '--api-key', 'not-the-key']);
    expect(r.stderr).toBe(`otasim: API key rejected by ${urls.url} (401)\n`);
    expect(r.status).toBe(2);
  }, 60_000);

  it('a broker that does not answer: one line, exit 2', async () => {
    const broker = `mqtt://127.0.0.1:${await closedPort()}`;
    const r = runCli(['certify', 'server', '--url', urls.url, '--api-key', KEY, '--broker', broker, '--timeout', '3s']);
    expect(r.stderr).toBe(`otasim: cannot reach broker ${broker}: ECONNREFUSED\n`);
    expect(r.status).toBe(2);
  }, 60_000);

  it.each([
    [['--api-key', KEY], /Missing required argument: url/],
    [['--url', 'ftp://x', '--api-key', KEY], /--url ftp:\/\/x: use http: or https:/],
    [['--url', 'http://127.0.0.1:1', '--api-key', KEY, '--protocol', 'mqtt5'], /Invalid values:[\s\S]*protocol/],
    [['--url', 'http://127.0.0.1:1', '--api-key', KEY, '--timeout', 'soon'], /--timeout soon: expected e\.g\. 500ms/],
  ])('bad flags %j: exit 2', (args, message) => {
    const r = runCli(['certify', 'server', ...args]);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });
});
