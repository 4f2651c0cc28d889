import { it } from 'vitest';
import { loadScenario, runScenario } from '../../harness/index.js';
import { consoleSummary } from '../../harness/report/index.js';
it('probe', async () => {
  for (const name of (process.env.PROBE ?? '').split(',')) {
    const r = await runScenario(await loadScenario(`scenarios/${name}.yaml`), { progress: process.stderr });
    process.stderr.write(consoleSummary(r));
  }
}, 900_000);
