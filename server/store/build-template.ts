/**
 * Build step (`npm run build`): ship the template of a fresh, migrated PGlite database with the
 * package (`dist/pglite-template/`), both as an archive (for in-memory stores) and unpacked (for
 * data directories, which copy it). `otasim server` on a fresh `--data` directory then skips
 * initdb, which takes seconds. Skipped when this PGlite version's and schema's template exists.
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore } from './open.js';
import { builtinTemplateDir, templateDataDir, templateName } from './pglite-template.js';

const dir = builtinTemplateDir();
if (!existsSync(join(dir, templateName()))) {
  const store = await openStore({ memory: true }, { pgliteTemplateDir: dir });
  await store.close();
}
if (templateDataDir(dir) === undefined) {
  const unpacked = join(dir, templateName().replace(/\.tar\.gz$/, '.d'));
  const staging = `${unpacked}.part`;
  await rm(staging, { recursive: true, force: true });
  const store = await openStore({ data: staging }, { pgliteTemplateDir: dir });
  await store.close();
  await rm(`${staging}.lock`, { force: true });
  await rename(staging, unpacked);
}
