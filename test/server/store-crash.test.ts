/**
 * Acknowledged data survives a crash: a child process commits batches into a PGlite data
 * directory (and puts an artifact), reports each commit on stdout, and is killed with SIGKILL
 * mid-stream. Everything it reported before dying must be there on reopen, and the store must
 * open cleanly. Runs the built dist/ (npm test builds first).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../server/store/artifacts.js';
import { openStore } from '../../server/store/open.js';
import { projectRoot } from '../fixtures.js';

const dist = join(projectRoot, 'dist', 'server', 'store', 'index.js');
const built = existsSync(dist);
if (!built) process.stderr.write(`store-crash: ${dist} is absent (run npm run build); skipping\n`);

/** The child: commit batch after batch forever, printing "committed <n>" after each resolves. */
const child = (data: string) => `
const { openStore, ArtifactStore } = await import(${JSON.stringify(pathToFileURL(dist).href)});
const store = await openStore({ data: ${JSON.stringify(join(data, 'db'))} });
const artifacts = await ArtifactStore.create({ dir: ${JSON.stringify(join(data, 'artifacts'))} });
const a = await artifacts.put(new Uint8Array(200000).fill(7));
process.stdout.write('artifact ' + a.key + '\\n');
for (let n = 0; ; n++) {
  await store.ingest({
    statuses: Array.from({ length: 200 }, (_, i) => ({ device_id: 'b' + n + '-' + i, firmware_version: '1', status: 'pending' })),
    events: [{ event_type: 'update_started', device_id: 'batch-' + n }],
  });
  process.stdout.write('committed ' + n + '\\n');
}
`;

describe.skipIf(!built)('crash durability (SIGKILL)', () => {
  it('every batch a killed process saw committed is there on reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otasim-crash-'));
    try {
      const proc = spawn(process.execPath, ['--input-type=module', '-e', child(dir)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          // Kill after a few commits, while the next batch is in flight.
          if (/committed 4\n/.test(out)) { proc.kill('SIGKILL'); resolve(); }
        });
        proc.on('exit', () => reject(new Error(`child exited early: ${err}`)));
      });
      expect(await exited).toBe('SIGKILL');
      const committed = [...out.matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
      const key = /artifact (\S+)/.exec(out)?.[1];
      expect(committed.length).toBeGreaterThanOrEqual(5);

      await using store = await openStore({ data: join(dir, 'db') });
      const seen = new Set((await store.listEvents({ limit: 1000 })).map((e) => e.device_id));
      for (const n of committed) expect(seen.has(`batch-${n}`), `batch ${n}`).toBe(true);
      const rows = Number((await store.rawQuery('SELECT COUNT(*) AS n FROM device_update_status'))[0]?.['n']);
      // Whole batches only: a batch in flight at the kill is all there or not there at all.
      expect(rows % 200).toBe(0);
      expect(rows / 200).toBe(seen.size);
      const artifacts = await ArtifactStore.create({ dir: join(dir, 'artifacts') });
      expect((await artifacts.stat(key!))?.size).toBe(200000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
