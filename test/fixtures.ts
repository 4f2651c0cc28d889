import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The project root (where package.json lives). */
export const projectRoot = root;

/** The real Espressif binaries: `$OTASIM_FIXTURES` or `../shared/fixtures/esp32` beside the project. */
export const fixturesDir = process.env.OTASIM_FIXTURES ?? resolve(root, '..', 'shared', 'fixtures', 'esp32');

/** True when the fixtures folder is present. Suites that need it use `describe.skipIf(!haveFixtures)`. */
export const haveFixtures = existsSync(fixturesDir);

if (!haveFixtures) {
  // One line, once per test file that imports this module.
  process.stderr.write(`fixtures: ${fixturesDir} is absent; fixture tests skip\n`);
}

/** Read a fixture by its path relative to the fixtures folder. */
export function fixture(rel: string): Uint8Array {
  const buf = readFileSync(join(fixturesDir, rel));
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function fixtureText(rel: string): string {
  return readFileSync(join(fixturesDir, rel), 'utf8');
}
