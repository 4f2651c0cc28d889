import { describe, expect, it } from 'vitest';
import { runCli } from './run.js';

describe('otasim CLI', () => {
  it('prints help and exits 0', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('otasim <command>');
  });

  it('rejects an unknown command with exit 2 and one line, no stack', () => {
    const r = runCli(['no-such-command']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^otasim: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
