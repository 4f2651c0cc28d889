/**
 * Table-driven: the server suite against the real server behind the rig (all pass), then against
 * each mutant of a slice of the catalogue — the suite must fail exactly the mutant's requirement
 * ids, with nothing in error and everything else passing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certifyServer } from '../../../../harness/certify/server/index.js';
import type { SuiteReport } from '../../../../harness/report/model.js';
import { SERVER_START_MS } from '../../../server/http-harness.js';
import { SERVER_MUTANTS } from './catalogue.js';
import { MutantRig, type ServerMutant } from './kit.js';

/** Per suite run: a run takes a few seconds; a mutant that drops MQTT effects waits out the timeout. */
const RUN_MS = 60_000;

async function runSuite(rig: MutantRig): Promise<SuiteReport> {
  return certifyServer({ url: rig.url, apiKey: rig.apiKey, broker: rig.brokerUrl, devices: 100, timeoutMs: 5_000 });
}

const notPassed = (r: SuiteReport): string[] => r.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id} ${c.status}`).sort();

/** Describe the suite against the real server and against each named mutant. */
export function describeMutants(title: string, names: readonly string[]): void {
  const mutants = names.map((n) => {
    const m = SERVER_MUTANTS.find((x) => x.name === n);
    if (m === undefined) throw new Error(`no mutant named ${n}`);
    return m;
  });
  describe(title, () => {
    let rig: MutantRig;
    beforeAll(async () => {
      rig = await MutantRig.create();
    }, SERVER_START_MS);
    afterAll(async () => {
      await rig?.[Symbol.asyncDispose]();
    });

    it('the real server behind the rig passes every requirement', async () => {
      rig.use(undefined);
      const report = await runSuite(rig);
      expect(notPassed(report)).toEqual([]);
    }, RUN_MS);

    it.each(mutants.map((m): [string, ServerMutant] => [m.name, m]))('fails mutant %s with exactly its requirement ids', async (_name, m) => {
      rig.use(m);
      const report = await runSuite(rig);
      rig.use(undefined);
      expect(notPassed(report), `${m.bug}\n${JSON.stringify(report.checks.filter((c) => c.status !== 'pass'), null, 1)}`)
        .toEqual(m.fails.map((id) => `${id} fail`).sort());
      expect(report.verdict).toBe('fail');
    }, RUN_MS);
  });
}
