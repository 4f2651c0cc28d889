/**
 * A cached template of a freshly initialised and migrated PGlite data directory.
 *
 * PGlite runs initdb on its first start in a new directory, which takes seconds; unpacking a
 * template takes a fraction of that, so `otasim server` on a fresh `--data` starts quickly from
 * the second fresh directory on. The template is keyed by the PGlite version and the
 * migrations' text, so any change to either makes a new one. It is a cache: a missing, stale or
 * unreadable template only costs the slow path.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS } from './migrate.js';

/** The installed PGlite's version: its data directory format follows it. */
function pgliteVersion(): string {
  const main = createRequire(import.meta.url).resolve('@electric-sql/pglite'); // …/pglite/dist/index.cjs
  return (JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The template directory shipped with the package (`dist/pglite-template`, written by the build:
 * see build-template.ts), so even the first `otasim server` on a machine skips initdb.
 */
export function builtinTemplateDir(): string {
  return fileURLToPath(new URL('../../pglite-template/', import.meta.url));
}

/** File name of the template for this PGlite and this schema. */
export function templateName(): string {
  const schema = createHash('sha256').update(MIGRATIONS.map((m) => `${m.version}:${m.sql}`).join('\n')).digest('hex').slice(0, 16);
  return `pglite-${pgliteVersion()}-schema-${schema}.tar.gz`;
}

/**
 * The unpacked template data directory in `cacheDir` (`<name>.d/`), or undefined. Copying it is
 * an order of magnitude faster than unpacking the archive, so the shipped template is one.
 */
export function templateDataDir(cacheDir: string): string | undefined {
  const dir = join(cacheDir, templateName().replace(/\.tar\.gz$/, '.d'));
  return existsSync(join(dir, 'PG_VERSION')) ? dir : undefined;
}

/** The template in `cacheDir`, or undefined when there is none (or it cannot be read). */
export async function readTemplate(cacheDir: string): Promise<Blob | undefined> {
  try {
    return new Blob([await readFile(join(cacheDir, templateName()))]);
  } catch {
    return undefined;
  }
}

/** Store a template atomically (temp file, fsync, rename); best effort. */
export async function writeTemplate(cacheDir: string, template: Blob): Promise<void> {
  const dest = join(cacheDir, templateName());
  const tmp = `${dest}.${randomBytes(6).toString('hex')}.part`;
  try {
    await mkdir(cacheDir, { recursive: true });
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(new Uint8Array(await template.arrayBuffer()));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } catch {
    // A cache that cannot be written only means the next fresh start is slow again.
    await rm(tmp, { force: true });
  }
}

/** Drop a template that failed to load, so the next start rebuilds it. */
export async function dropTemplate(cacheDir: string): Promise<void> {
  await rm(join(cacheDir, templateName()), { force: true });
}
