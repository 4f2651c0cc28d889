/**
 * Crash durability on PGlite: `otasim server` (a child process, the built dist/) is killed with
 * SIGKILL mid-rollout and started again on the same data directory and ports; bench/durability.ts
 * runs it. Nothing the server acknowledged is lost, the plan resumes in its phase and completes,
 * every device runs the version the server records for it, and a duplicate offer harms none.
 * `npm run bench` runs the same with 5,000 devices.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { projectRoot } from '../fixtures.js';
import { checkDurability } from './durability-kit.js';

const built = existsSync(join(projectRoot, 'dist', 'cli', 'main.js'));
if (!built) process.stderr.write('durability-pglite: dist/ is absent (run npm run build); skipping\n');

describe.skipIf(!built)('crash durability: PGlite', () => {
  it('loses no acknowledged record across a SIGKILL mid-rollout, resumes the phase, harms no device', async () => {
    await checkDurability({ backend: 'pglite' });
  }, 600_000);
});
