import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAppImage } from '../../simulator/esp32/index.js';
import { runCli } from './run.js';

describe('otasim device --trusted-key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otasim-tk-'));
  const key = join(dir, 'key.pem');
  writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
  const unsigned = join(dir, 'unsigned.bin');
  writeFileSync(unsigned, buildAppImage({ chip: 'esp32', version: '1.0.0', size: 64 * 1024 }));
  const base = ['device', '--id', 'd1', '--server', 'http://127.0.0.1:9', '--mode', 'poll', '--report-via', 'http', '--trusted-key', key];

  it('needs a signed factory image: without --image it is a usage error', () => {
    const r = runCli(base);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--trusted-key needs --image/);
  });

  it('refuses a factory image no trusted key signed, in one line', () => {
    const r = runCli([...base, '--image', unsigned]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^otasim: --image is not signed by a --trusted-key: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
