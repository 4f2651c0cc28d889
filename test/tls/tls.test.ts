/**
 * TLS end to end (issue 9): a CA and a server certificate for 127.0.0.1 made inside the test
 * (test/tls/ca.ts), the OTA server serving HTTPS (`tlsCert`/`tlsKey`), a private Mosquitto with a
 * TLS listener (harness/brokers/mosquitto-process.ts), and a fleet that trusts the CA rolling out
 * over mqtts + https. A client that does not trust the CA fails with a typed error.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, FormData, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MosquittoProcess, mosquittoAvailable } from '../../harness/brokers/mosquitto-process.js';
import { SystemClock } from '../../protocol/clock.js';
import { OtasimError } from '../../protocol/errors.js';
import { OtaServer } from '../../server/index.js';
import { resolveServerConfig } from '../../server/config.js';
import { buildAppImage } from '../../simulator/esp32/index.js';
import { mqttUrlConnector } from '../../simulator/device/transport-mqtt.js';
import { Fleet } from '../../simulator/fleet/index.js';
import { checkTrust } from '../../simulator/fleet/tls.js';
import { projectRoot } from '../fixtures.js';
import { makeTestCa, opensslAvailable, type TestCa } from './ca.js';

const ready = (await opensslAvailable()) && (await mosquittoAvailable());
if (!ready) process.stderr.write('tls: the openssl CLI or mosquitto is missing; skipping\n');
const built = existsSync(join(projectRoot, 'dist', 'cli', 'main.js'));

const KEY = 'tls-test-api-key';
const PREFIX = `tls${process.pid}`;

async function admin(d: Dispatcher, url: string, path: string, body: FormData | string): Promise<void> {
  const res = await request(`${url}${path}`, {
    dispatcher: d, method: 'POST', body, headers: { 'x-api-key': KEY, ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}) },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${text}`);
}

/** Run the built CLI without blocking this process (the server under test lives here). */
function cli(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

describe.skipIf(!ready)('TLS: mqtts and https with a CA made in the test', () => {
  let ca: TestCa;
  let mosquitto: MosquittoProcess;
  let server: OtaServer;
  let dir: string;
  let trusting: Agent;

  beforeAll(async () => {
    ca = await makeTestCa();
    mosquitto = await MosquittoProcess.start({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
    dir = await mkdtemp(join(tmpdir(), 'otasim-tls-'));
    // The server's collector and orchestrator use the plain loopback listener; devices use TLS.
    server = await OtaServer.create({
      port: 0, host: '127.0.0.1', data: dir, apiKey: KEY, broker: mosquitto.url, topicPrefix: PREFIX, logLevel: 'silent',
      tlsCert: ca.certFile, tlsKey: ca.keyFile,
    }, { logger: pino({ level: 'silent' }), defaultMetrics: false });
    trusting = new Agent({ connect: { ca: ca.ca } });
    const form = new FormData();
    form.append('file', new Blob([buildAppImage({ chip: 'esp32', version: '2.0.0', size: 64 * 1024 })]), 'fw.bin');
    await admin(trusting, server.url, '/api/admin/firmware/upload?version=2.0.0&device_model=esp32', form);
  }, 60_000);

  afterAll(async () => {
    await trusting?.close();
    await server?.close();
    await mosquitto?.close();
    await ca?.[Symbol.asyncDispose]();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('the server listens on https and the broker on mqtts', () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(mosquitto.tlsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a fleet that trusts the CA completes a rollout over mqtts + https', async () => {
    const clock = new SystemClock();
    const agent = new Agent({ connect: { ca: ca.ca } });
    const tlsUrl = mosquitto.tlsUrl as string;
    const connector = mqttUrlConnector(tlsUrl, { ca: ca.ca });
    await checkTrust({ serverUrl: server.url, http: agent, brokerUrl: tlsUrl, connector, ca: true });
    const fleet = Fleet.create({
      devices: 20, prefix: 'tls', serverUrl: server.url, mqtt: connector, clock, http: agent,
      deviceConfig: { topicPrefix: PREFIX, bootMs: 50, selfTestMs: 200, rebootDelayMs: 200 },
    });
    try {
      await fleet.all('idle');
      while ((await server.store.devicesOfModel('esp32')).filter((d) => d.device_id.startsWith('tls-')).length < 20) await new Promise((r) => setTimeout(r, 100));
      await admin(trusting, server.url, '/api/admin/rollout/create', JSON.stringify({
        name: 'tls-rollout', firmware_version: '2.0.0', device_model: 'esp32', target_type: 'all', rollout_percentage: 100,
      }));
      await fleet.settled();
      expect(fleet.counts().success).toBe(20);
      for (let i = 0; i < 20; i++) expect(fleet.runtime(i)?.state.running?.version).toBe('2.0.0');
      expect(fleet.summary('done').bytes).toBeGreaterThanOrEqual(20 * 64 * 1024);
    } finally {
      await fleet.stop();
      clock.close();
      await agent.close();
    }
  }, 120_000);

  it('a client that does not trust the CA fails with OTASIM_ERR_TLS_UNTRUSTED, for https and for mqtts', async () => {
    const agent = new Agent();
    try {
      const https = checkTrust({ serverUrl: server.url, http: agent, brokerUrl: null, connector: mqttUrlConnector(mosquitto.url), ca: false });
      await expect(https).rejects.toBeInstanceOf(OtasimError);
      await expect(https).rejects.toMatchObject({ code: 'OTASIM_ERR_TLS_UNTRUSTED', message: expect.stringContaining('--ca') });
      const tlsUrl = mosquitto.tlsUrl as string;
      const mqtts = checkTrust({ serverUrl: 'http://127.0.0.1:1', http: agent, brokerUrl: tlsUrl, connector: mqttUrlConnector(tlsUrl), ca: false });
      await expect(mqtts).rejects.toMatchObject({ code: 'OTASIM_ERR_TLS_UNTRUSTED', message: expect.stringContaining('MQTT broker') });
      // A CA that did not sign the server's certificate is no better than none.
      await using other = await makeTestCa();
      const wrong = new Agent({ connect: { ca: other.ca } });
      await expect(checkTrust({ serverUrl: server.url, http: wrong, brokerUrl: null, connector: mqttUrlConnector(mosquitto.url), ca: true }))
        .rejects.toMatchObject({ code: 'OTASIM_ERR_TLS_UNTRUSTED', message: expect.stringContaining('did not sign it') });
      await wrong.close();
    } finally {
      await agent.close();
    }
  }, 60_000);

  it.skipIf(!built)('otasim fleet --ca FILE connects over mqtts + https; without --ca it exits 1 with one typed line', async () => {
    const base = ['fleet', '--devices', '5', '--server', server.url, '--broker', mosquitto.tlsUrl as string, '--prefix', 'tlscli',
      '--topic-prefix', PREFIX, '--workers', '1', '--duration', '4s', '--json'];
    const ok = await cli([...base, '--ca', ca.caFile]);
    expect(ok.stderr).not.toMatch(/OTASIM_ERR/);
    expect(ok.status).toBe(0);
    expect((await server.store.devicesOfModel('esp32')).filter((d) => d.device_id.startsWith('tlscli-')).length).toBe(5);
    const refused = await cli(base);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^otasim: OTASIM_ERR_TLS_UNTRUSTED: the OTA server https:\/\/127\.0\.0\.1:\d+ presents a certificate .*--ca FILE/m);
    const notPem = join(ca.dir, 'not.pem');
    await writeFile(notPem, 'hello');
    expect((await cli([...base, '--ca', notPem])).status).toBe(2);
  }, 120_000);

  it('the server refuses half a TLS config and a key that does not match, with ConfigError', async () => {
    expect(() => resolveServerConfig({ tlsCert: ca.certFile })).toThrow(/tls-cert and tls-key go together/);
    await using other = await makeTestCa();
    await expect(OtaServer.create({ port: 0, data: join(dir, 'x'), mqttPort: 0, logLevel: 'silent', tlsCert: ca.certFile, tlsKey: other.keyFile },
      { logger: pino({ level: 'silent' }), defaultMetrics: false })).rejects.toMatchObject({ code: 'OTASIM_ERR_CONFIG' });
    await expect(OtaServer.create({ port: 0, data: join(dir, 'y'), mqttPort: 0, logLevel: 'silent', tlsCert: join(dir, 'missing.pem'), tlsKey: ca.keyFile },
      { logger: pino({ level: 'silent' }), defaultMetrics: false })).rejects.toMatchObject({ code: 'OTASIM_ERR_CONFIG', message: expect.stringContaining('missing.pem') });
  }, 60_000);
});
