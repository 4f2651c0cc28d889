/**
 * The server suite against the real server, in process: OtaServer on free ports with its embedded
 * broker over TCP. Every requirement passes; a second run against the same server passes too (the
 * suite namespaces what it creates, so it can run again and again against a shared staging
 * server); without a broker the MQTT requirements skip and the rest still pass. The reports are
 * written as JSON and JUnit, and the table names every requirement.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSuiteTable, writeSuiteReports } from '../../harness/certify/common/index.js';
import { certifyServer, SERVER_REQUIREMENT_IDS } from '../../harness/certify/server/index.js';
import type { SuiteReport } from '../../harness/report/model.js';
import { SERVER_START_MS, startServer, TEST_KEY, type TestServer } from '../server/http-harness.js';

let srv: TestServer;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otasim-certify-'));
  srv = await startServer();
}, SERVER_START_MS);
afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const notPassed = (r: SuiteReport): Array<{ id: string; status: string; message?: string }> =>
  r.checks.filter((c) => c.status !== 'pass').map(({ id, status, message }) => ({ id, status, ...(message === undefined ? {} : { message }) }));

describe('certify server against otasim server', () => {
  it('passes every requirement, on a second run against the same server too', async () => {
    const runs: SuiteReport[] = [];
    for (let i = 0; i < 2; i++) {
      const report = await certifyServer({ url: srv.url, apiKey: TEST_KEY, broker: srv.server.mqttUrl ?? '', devices: 100 });
      expect(notPassed(report)).toEqual([]);
      expect(report.verdict).toBe('pass');
      expect(report.checks.map((c) => c.id).sort()).toEqual([...SERVER_REQUIREMENT_IDS].sort());
      runs.push(report);
    }
    const json = join(dir, 'r.json');
    const junit = join(dir, 'r.xml');
    await writeSuiteReports(runs[1] as SuiteReport, { json, junit });
    expect(JSON.parse(await readFile(json, 'utf8'))).toMatchObject({ kind: 'certify', suite: 'server', target: srv.url, verdict: 'pass' });
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain(`<testsuite name="certify-server" tests="${SERVER_REQUIREMENT_IDS.length}" failures="0" errors="0" skipped="0"`);
    const table = formatSuiteTable(runs[1] as SuiteReport);
    for (const id of SERVER_REQUIREMENT_IDS) expect(table).toMatch(new RegExp(`^${id} +PASS `, 'm'));
    expect(table).toMatch(new RegExp(`^PASS: ${SERVER_REQUIREMENT_IDS.length} passed, 0 failed, 0 errors, 0 skipped`, 'm'));
  }, 240_000);

  it('a paku-legacy server under a two-level topic prefix passes with the matching --protocol and --topic-prefix', async () => {
    await using legacy = await startServer({ protocol: 'paku-legacy', topicPrefix: 'site/ctf' });
    const report = await certifyServer({
      url: legacy.url, apiKey: TEST_KEY, broker: legacy.server.mqttUrl ?? '', protocol: 'paku-legacy', topicPrefix: 'site/ctf', devices: 40, timeoutMs: 3_000,
    });
    expect(notPassed(report)).toEqual([]);
    // Told the wrong profile, the suite sees commands on the other layout and its reports go unheard.
    const wrong = await certifyServer({ url: legacy.url, apiKey: TEST_KEY, broker: legacy.server.mqttUrl ?? '', topicPrefix: 'site/ctf', devices: 40, timeoutMs: 2_000 });
    expect(notPassed(wrong).map((c) => `${c.id} ${c.status}`)).toEqual(['SRV-MQTT-001 fail', 'SRV-MQTT-003 fail']);
    expect(wrong.checks.find((c) => c.id === 'SRV-MQTT-001')?.actual).toMatch(/cmd\/ota on site\/ctf\/devices\/ctf-\w+-m-0000\/cmd\/ota, expected site\/ctf\/edge\//);
  }, SERVER_START_MS);

  it('without a broker, skips the MQTT requirements (and MAC targeting) and passes the rest', async () => {
    const report = await certifyServer({ url: srv.url, apiKey: TEST_KEY, devices: 40 });
    expect(notPassed(report).map((c) => `${c.id} ${c.status}`).sort())
      .toEqual(['SRV-MQTT-001 skip', 'SRV-MQTT-002 skip', 'SRV-MQTT-003 skip', 'SRV-MQTT-004 skip', 'SRV-TARGET-002 skip']);
    expect(report.verdict).toBe('pass');
  }, 120_000);
});
