import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../fixtures.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built `otasim` binary (bin/otasim.js → dist/) as a child process.
 * `env` adds variables to (or overrides them in) the inherited environment. */
export function runCli(args: readonly string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'otasim.js'), ...args], {
    cwd: opts.cwd ?? projectRoot,
    input: opts.input,
    encoding: 'utf8',
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
