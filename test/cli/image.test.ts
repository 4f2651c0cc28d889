import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAppDesc, verifyImage } from '../../simulator/esp32/app-image.js';
import { fixture, fixturesDir, haveFixtures } from '../fixtures.js';
import { runCli, type CliResult } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'otasim-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = (name: string): string => join(dir, name);

/** One line on stderr, `otasim: CODE: …`, and no stack trace. */
function expectOneLineError(r: CliResult, status: number, code: RegExp): void {
  expect(r.status).toBe(status);
  expect(r.stderr.split('\n')[0]).toMatch(code);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (status === 1) expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
}

const JSON_KEYS = ['valid', 'error', 'chip', 'chipId', 'entryAddr', 'segments', 'checksum', 'sha256', 'app', 'size'];

describe('otasim image build', () => {
  it('writes a valid image with the asked-for chip, version, project, secure_version and size', () => {
    const out = path('a.bin');
    const r = runCli(['image', 'build', '--chip', 'esp32s3', '--version', '2.0.1', '--project', 'thermostat',
      '--secure-version', '3', '--size', '1.5MiB', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${out}: esp32s3 app "thermostat" 2.0.1, secure_version 3, 1572864 bytes; file sha256 [0-9a-f]{64}\\n$`));
    const b = new Uint8Array(readFileSync(out));
    const info = verifyImage(b, { chip: 'esp32s3' });
    expect(info.size).toBe(1572864);
    expect(info.app).toMatchObject({ version: '2.0.1', projectName: 'thermostat', secureVersion: 3 });
  });

  it('accepts sizes as N, 0xN, NKiB and NMiB, and is reproducible (same flags, same bytes)', () => {
    for (const [size, want] of [['65536', 65536], ['0x20000', 0x20000], ['100KiB', 102400], ['1MiB', 1048576]] as const) {
      const out = path(`s-${size}.bin`);
      expect(runCli(['image', 'build', '--chip', 'esp32c3', '--version', 'v', '--size', size, '-o', out]).status).toBe(0);
      expect(readFileSync(out)).toHaveLength(want);
    }
    const again = path('again.bin');
    runCli(['image', 'build', '--chip', 'esp32c3', '--version', 'v', '--size', '100KiB', '-o', again]);
    expect(readFileSync(again).equals(readFileSync(path('s-100KiB.bin')))).toBe(true);
  });

  it('--sign appends a Secure Boot v2 signature sector that inspect --trusted-key accepts', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = path('ec.pem');
    const pub = path('ec.pub.pem');
    writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const out = path('signed.bin');
    const r = runCli(['image', 'build', '--chip', 'esp32c6', '--version', '1.0', '--size', '100000', '--sign', key, '-o', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Secure Boot v2 signed (106496 bytes with the signature sector)');
    expect(readFileSync(out)).toHaveLength(106496);
    const ok = runCli(['image', 'inspect', out, '--trusted-key', pub]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/signature {2}block 0 \(ecdsa-p256\) verifies/);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    writeFileSync(path('other.pem'), other.export({ type: 'spki', format: 'pem' }));
    expectOneLineError(runCli(['image', 'inspect', out, '--trusted-key', path('other.pem')]), 1, /^otasim: ESP_ERR_IMAGE_INVALID: /);
  });

  it('bad --size, a too-long --version and a missing --version are usage errors (exit 2)', () => {
    const base = ['image', 'build', '--chip', 'esp32', '-o', path('x.bin')];
    const bad = runCli([...base, '--version', '1', '--size', '12QB']);
    expectOneLineError(bad, 2, /^otasim: --size 12QB: expected a byte count/);
    expectOneLineError(runCli([...base, '--version', '1', '--size', '512']), 2, /^otasim: size 512 is not an integer in \[1024, 16777216\]/);
    expectOneLineError(runCli([...base, '--version', 'x'.repeat(32)]), 2, /^otasim: version "x+" is 32 bytes; esp_app_desc_t holds at most 31/);
    expectOneLineError(runCli(base), 2, /^otasim: Missing required argument: version/);
    expectOneLineError(runCli([...base, '--version', '1', '--secure-version', '-1']), 2, /^otasim: --secure-version -1/);
    expectOneLineError(runCli([...base, '--version', '1', '--chip', 'esp8266']), 2, /^otasim: Invalid values/);
  });

  it('a signing key that is not a key fails with one line (exit 1)', () => {
    writeFileSync(path('junk.pem'), 'not a key');
    expectOneLineError(runCli(['image', 'build', '--chip', 'esp32', '--version', '1', '--sign', path('junk.pem'), '-o', path('j.bin')]),
      1, /^otasim: OTASIM_ERR_SIGNING_KEY: /);
  });
});

describe('otasim image inspect', () => {
  const built = path('inspect.bin');
  runCliBuild(built);

  it('--json has exactly the documented keys, and exit 0 for a valid image', () => {
    const r = runCli(['image', 'inspect', built, '--json', '--chip', 'esp32', '--partition-size', '1MiB']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(JSON_KEYS);
    const info = verifyImage(new Uint8Array(readFileSync(built)));
    expect(j).toEqual({
      valid: true, error: null, chip: 'esp32', chipId: 0, entryAddr: info.entryAddr,
      segments: info.segments.map((s) => ({ loadAddr: s.loadAddr, length: s.length })),
      checksum: { stored: info.checksum.stored, computed: info.checksum.stored, ok: true },
      sha256: { appended: info.sha256.appended, ok: true },
      app: { version: '9.9.9', projectName: 'inspect-me', secureVersion: 7, idfVersion: 'v5.2.2', date: 'Jan  1 2025',
        time: '00:00:00', elfSha256: readAppDesc(new Uint8Array(readFileSync(built)))?.elfSha256 },
      size: 80_000,
    });
  });

  it('a truncated file: exit 1, one line on stderr, no stack; --json reports the error and what was read', () => {
    const cut = path('cut.bin');
    writeFileSync(cut, readFileSync(built).subarray(0, 5000));
    const text = runCli(['image', 'inspect', cut]);
    expectOneLineError(text, 1, /^otasim: ESP_ERR_IMAGE_INVALID: segment 0 data \[0x20, 0x[0-9a-f]+\) runs past the end of the 5000-byte image/);
    expect(text.stdout).toMatch(/^.*cut\.bin: INVALID app image \(ESP_ERR_IMAGE_INVALID: /);
    const json = runCli(['image', 'inspect', cut, '--json']);
    expect(json.status).toBe(1);
    expect(json.stderr).toBe('');
    const j = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(JSON_KEYS);
    expect(j).toMatchObject({ valid: false, error: { code: 'ESP_ERR_IMAGE_INVALID' }, chip: 'esp32', chipId: 0, segments: [],
      checksum: null, sha256: null, app: null, size: null });
  });

  it('wrong chip is ESP_FAIL; not an image at all is "invalid magic"; a missing file is one line', () => {
    expectOneLineError(runCli(['image', 'inspect', built, '--chip', 'esp32c3']), 1, /^otasim: ESP_FAIL: mismatch chip ID/);
    writeFileSync(path('text.bin'), 'hello\n');
    const j = JSON.parse(runCli(['image', 'inspect', path('text.bin'), '--json']).stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ valid: false, chip: null, chipId: null, entryAddr: null, error: { message: expect.stringContaining('invalid magic byte 0x68') } });
    expectOneLineError(runCli(['image', 'inspect', path('absent.bin')]), 1, /^otasim: ENOENT: /);
  });

  it('bad option values are usage errors (exit 2)', () => {
    expectOneLineError(runCli(['image', 'inspect', built, '--partition-size', 'big']), 2, /^otasim: --partition-size big/);
    expectOneLineError(runCli(['image', 'inspect', built, '--chip-revision', 'v3']), 2, /^otasim: --chip-revision v3/);
    expectOneLineError(runCli(['image', 'inspect']), 2, /^otasim: /);
    expectOneLineError(runCli(['image']), 2, /^otasim: Name an image command/);
  });

  it.skipIf(!haveFixtures)('real builds: the text summary names chip, segments, checksum, hash and app', () => {
    const r = runCli(['image', 'inspect', join(fixturesDir, 'app/idf-v5.2.2_esp32_hello_world.bin')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/: valid esp32 app image, 124416 bytes\n/);
    expect(r.stdout).toContain('entry      0x40080af0');
    expect(r.stdout).toContain('segments   5');
    expect(r.stdout).toContain('checksum   0x9a stored, 0x9a computed: ok');
    expect(r.stdout).toContain('app        hello_world v1.4.1-2-g0296947-dirty, secure_version 0');
    const nodesc = runCli(['image', 'inspect', join(fixturesDir, 'app/espflash_esp32_esp-hal-blinky_no-app-desc.bin'), '--json']);
    expect(nodesc.status).toBe(0);
    expect(JSON.parse(nodesc.stdout)).toMatchObject({ valid: true, app: null });
    const bl = runCli(['image', 'inspect', join(fixturesDir, 'bootloader/esptool-test_esp32_bootloader_no-sha256.bin'), '--bootloader', '--json']);
    expect(bl.status).toBe(0);
    expect(JSON.parse(bl.stdout)).toMatchObject({ valid: true, sha256: { appended: null, ok: false }, size: fixture('bootloader/esptool-test_esp32_bootloader_no-sha256.bin').length });
  });

  it('--help on each command', () => {
    for (const args of [['image', '--help'], ['image', 'inspect', '--help'], ['image', 'build', '--help']]) {
      const r = runCli(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`otasim ${args.slice(0, -1).join(' ')}`);
    }
    expect(runCli(['image', 'build', '--help']).stdout).toMatch(/--version\s+esp_app_desc_t.version/);
  });
});

/** Build the inspect test's image through the CLI itself, returning its bytes. */
function runCliBuild(out: string): Buffer {
  const r = runCli(['image', 'build', '--chip', 'esp32', '--version', '9.9.9', '--project', 'inspect-me', '--secure-version', '7',
    '--size', '80000', '-o', out]);
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  return readFileSync(out);
}
