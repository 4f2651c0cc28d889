/**
 * The table the mutant tests share: run the device suite against one mutant of the catalogue
 * (harness/certify/device/mutants.ts) and compare the requirement ids it fails with the ones the
 * catalogue names. Split across files so each stays under a minute on a loaded machine.
 */
import { expect } from 'vitest';
import { certifyDevice } from '../../harness/certify/device/index.js';
import type { DeviceMutant } from '../../harness/certify/device/index.js';

/** The ids the suite fails `m` on (a requirement it could not judge is no failure), and its verdict. */
export async function failingIds(m: DeviceMutant): Promise<{ ids: string[]; verdict: string }> {
  const r = await certifyDevice({
    deviceId: `mutant-${m.name}`, protocol: 'paku-edge', topicPrefix: 'mut',
    httpPort: 0, mqttPort: 0, host: '127.0.0.1', timeoutMs: 30_000, claims: 'esp-idf', virtual: { behaviour: 'esp-idf', variant: m.variant },
  });
  expect(r.findings ?? []).toEqual([]);
  return { ids: r.checks.filter((c) => c.status === 'fail' || c.status === 'error').map((c) => c.id).sort(), verdict: r.verdict };
}
