/**
 * Debian's Chromium for the HTML report tests, driven by playwright-core (which downloads no
 * browser of its own). If /usr/bin/chromium is absent and we are root, it is installed with apt;
 * when that cannot be done the caller skips with one line on stderr, never fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The machine's flags: headless, and no background traffic to hosts the closed network refuses. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** Path of a usable chromium, installing Debian's package when possible; null (after a notice) when not. */
export function ensureChromium(): string | null {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`chromium: ${CHROMIUM} is absent and installing it needs root; browser tests skip\n`);
    return null;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], { env, encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status === 0 && existsSync(CHROMIUM)) return CHROMIUM;
  process.stderr.write(`chromium: apt-get could not install chromium (exit ${String(r.status)}); browser tests skip\n`);
  return null;
}

/** A headless Chromium with a fresh profile; disposing closes it and removes the profile. */
export async function launchChromium(executablePath: string): Promise<BrowserContext & AsyncDisposable> {
  const profile = await mkdtemp(join(tmpdir(), 'otasim-chromium-'));
  // --user-data-dir is Playwright's to pass: a persistent context on the new empty profile.
  const ctx = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: CHROMIUM_FLAGS });
  return Object.assign(ctx, {
    async [Symbol.asyncDispose]() {
      await ctx.close();
      await rm(profile, { recursive: true, force: true });
    },
  });
}
