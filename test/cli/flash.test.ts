/** `otasim flash inspect` end to end: the built CLI on merged images made from the real fixtures. */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OtaImgState } from '../../simulator/esp32/otadata.js';
import { encodePartitionTable } from '../../simulator/esp32/partition-table.js';
import { fixturesDir, haveFixtures } from '../fixtures.js';
import { ARDUINO, arduinoImage, fx, mergeBin, otadataWith } from '../esp32/flash-image-kit.js';
import { runCli, type CliResult } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'otasim-flash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** One line on stderr, `otasim: CODE: …`, and no stack trace. */
function expectOneLineError(r: CliResult, status: number, code: RegExp): void {
  expect(r.status).toBe(status);
  expect(r.stderr.split('\n')[0]).toMatch(code);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (status === 1) expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
}

interface FlashDoc {
  chip: string;
  bootloader: { offset: number; size: number; image: Record<string, unknown> };
  partitionTable: { partitions: Array<{ label: string }>; md5: string | null; error: { code: string } | null };
  otadata: { copies: Array<{ seq: number; stateName: string; selects: string | null }>; active: number | null; error: unknown; wouldWrite: unknown[] };
  apps: Array<{ label: string; subtype: number; offset: number; size: number; image: Record<string, unknown> }>;
  boots: string | null;
  bootReason: string;
  bootFailure: string | null;
}

const json = (r: CliResult): FlashDoc => JSON.parse(r.stdout) as FlashDoc;

describe.skipIf(!haveFixtures)('otasim flash inspect', () => {
  it('an Arduino merged image boots app0 (exit 0); the JSON keys are stable and stderr is empty', () => {
    const r = runCli(['flash', 'inspect', file('arduino.bin', arduinoImage()), '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = json(r);
    expect(Object.keys(doc).slice(0, 7)).toEqual(['chip', 'bootloader', 'partitionTable', 'otadata', 'apps', 'boots', 'bootReason']);
    expect(doc.chip).toBe('esp32');
    expect(doc.boots).toBe('app0');
    expect(doc.bootReason).toMatch(/otadata\[0\] seq 1 .*selects OTA slot 0/);
    expect(doc.partitionTable.partitions.map((p) => p.label)).toEqual(['nvs', 'otadata', 'app0', 'app1', 'spiffs']);
    expect(doc.partitionTable.md5).toMatch(/^[0-9a-f]{32}$/);
    expect(doc.otadata.active).toBe(0);
    expect(doc.otadata.copies.map((c) => [c.seq, c.stateName, c.selects])).toEqual([[1, 'UNDEFINED', 'app0'], [0, 'UNDEFINED', 'app1']]);
    expect(doc.apps.map((a) => [a.label, a.subtype, a.offset, a.size])).toEqual([['app0', 0x10, 0x10000, 0x330000], ['app1', 0x11, 0x340000, 0x330000]]);
  });

  it('app and bootloader entries are exactly what `otasim image inspect --json` says of the same bytes', () => {
    const doc = json(runCli(['flash', 'inspect', file('arduino.bin', arduinoImage()), '--json']));
    const app = runCli(['image', 'inspect', join(fixturesDir, 'app/idf-v5.2.2_esp32_hello_world.bin'), '--json', '--chip', 'esp32', '--partition-size', '0x330000']);
    expect(doc.apps[0]?.image).toEqual(JSON.parse(app.stdout));
    const bl = runCli(['image', 'inspect', join(fixturesDir, 'bootloader/esptool-test_esp32_bootloader_no-sha256.bin'), '--json', '--bootloader', '--chip', 'esp32', '--partition-size', '0x7000']);
    // merge_bin rewrote the header's flash-size nibble; nothing in the inspection depends on it.
    expect(doc.bootloader.image).toEqual(JSON.parse(bl.stdout));
  });

  it('text mode: a readable summary with the answer and the reason', () => {
    const r = runCli(['flash', 'inspect', file('arduino.bin', arduinoImage())]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/esp32 flash image .*8 MiB flash \(from the bootloader header\)/);
    expect(r.stdout).toMatch(/bootloader\s+0x1000: valid esp32 bootloader, 7888 bytes/);
    expect(r.stdout).toMatch(/\[0\] seq 1\s+UNDEFINED\s+crc ok\s+valid\s+→ slot 0 'app0'/);
    expect(r.stdout).toMatch(/app0\s+ota_0\s+0x10000\s+valid esp32 app, hello_world v1\.4\.1-2-g0296947-dirty/);
    expect(r.stdout).toMatch(/app1\s+ota_1\s+0x340000\s+INVALID app \(ESP_ERR_IMAGE_INVALID: invalid magic byte 0xff/);
    expect(r.stdout).toMatch(/boots\s+'app0' \(ota_0 at 0x10000\)\n\s+why: /);
  });

  it('otadata selecting the empty slot: the bootloader falls back to app0', () => {
    const doc = json(runCli(['flash', 'inspect', file('empty-slot.bin', arduinoImage({ otadata: otadataWith(2) })), '--json']));
    expect(doc.otadata.copies[0]?.selects).toBe('app1');
    expect(doc.boots).toBe('app0');
    expect(doc.bootReason).toMatch(/'app1' does not hold a valid app/);
  });

  it('erased otadata and a factory app: factory boots', () => {
    const table = encodePartitionTable({
      md5: true,
      partitions: [
        { label: 'otadata', type: 1, subtype: 0, offset: 0xd000, size: 0x2000, flags: 0 },
        { label: 'factory', type: 0, subtype: 0, offset: 0x10000, size: 0x100000, flags: 0 },
        { label: 'ota_0', type: 0, subtype: 0x10, offset: 0x110000, size: 0x100000, flags: 0 },
        { label: 'ota_1', type: 0, subtype: 0x11, offset: 0x210000, size: 0x100000, flags: 0 },
      ],
    });
    const bytes = mergeBin([[0x1000, fx.bootloader()], [0x8000, table], [0x10000, fx.helloEsp32()]], { flashSize: '4MB' });
    const r = runCli(['flash', 'inspect', file('factory.bin', bytes), '--json']);
    expect(r.status).toBe(0);
    const doc = json(r);
    expect(doc.boots).toBe('factory');
    expect(doc.otadata.active).toBeNull();
  });

  it('NEW state: the text says the bootloader would rewrite otadata, and the file stays as it was', () => {
    const bytes = arduinoImage({ otadata: otadataWith(1, OtaImgState.NEW) });
    const p = file('new.bin', bytes);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const r = runCli(['flash', 'inspect', p]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\[0\] seq 1\s+NEW /);
    expect(r.stdout).toContain('the bootloader would rewrite otadata[0]: seq 1 NEW → seq 1 PENDING_VERIFY (not written: inspect is read-only)');
    expect(createHash('sha256').update(readFileSync(p)).digest('hex')).toBe(digest);
    expect(json(runCli(['flash', 'inspect', p, '--json', '--no-rollback'])).otadata.wouldWrite).toEqual([]);
  });

  it('a truncated file: nothing boots, exit 1; JSON keeps stderr empty, text adds one line', () => {
    const p = file('cut.bin', arduinoImage().subarray(0, ARDUINO.app0 + 50_000));
    const j = runCli(['flash', 'inspect', p, '--json']);
    expect(j.status).toBe(1);
    expect(j.stderr).toBe('');
    expect(json(j)).toMatchObject({ boots: null, bootFailure: 'no-bootable-app' });
    const t = runCli(['flash', 'inspect', p]);
    expect(t.stdout).toMatch(/boots\s+NOTHING \(no-bootable-app\)/);
    expectOneLineError(t, 1, /^otasim: OTASIM_ERR_FLASH_NO_BOOT: nothing boots \(no-bootable-app\): /);
  });

  it('a bootloader header naming 2MB refuses the 8 MB table; --flash-size 8MB inspects as if esptool had written 8MB', () => {
    const p = file('2mb.bin', arduinoImage({ flashSize: null }));
    const r = runCli(['flash', 'inspect', p, '--json']);
    expect(r.status).toBe(1);
    expect(json(r)).toMatchObject({ boots: null, bootFailure: 'partition-table-invalid', partitionTable: { error: { code: 'OTASIM_ERR_PARTITION_BOUNDS' } } });
    expect(json(runCli(['flash', 'inspect', p, '--json', '--flash-size', '8MB'])).boots).toBe('app0');
  });

  it('--trusted-key: Secure Boot v2 makes the ROM refuse the unsigned bootloader', () => {
    const pub = join(dir, 'pub.pem');
    writeFileSync(pub, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    const r = runCli(['flash', 'inspect', file('arduino.bin', arduinoImage()), '--json', '--trusted-key', pub]);
    expect(r.status).toBe(1);
    const doc = json(r);
    expect(doc).toMatchObject({ boots: null, bootFailure: 'bootloader-invalid' });
    expect(doc.apps[0]?.image).toMatchObject({ valid: false });
  });

  it('garbage, an empty file and a missing file: one line, exit 1', () => {
    const garbage = Uint8Array.from({ length: 0x10000 }, (_, i) => (i * 131 + 7) & 0xff);
    expectOneLineError(runCli(['flash', 'inspect', file('garbage.bin', garbage)]), 1, /^otasim: OTASIM_ERR_FLASH_CHIP: no 2nd-stage bootloader header/);
    expectOneLineError(runCli(['flash', 'inspect', file('empty.bin', new Uint8Array(0)), '--json']), 1, /^otasim: OTASIM_ERR_FLASH_EMPTY: /);
    expectOneLineError(runCli(['flash', 'inspect', join(dir, 'nope.bin')]), 1, /^otasim: ENOENT: /);
  });

  it('garbage with --chip: a report that shows why nothing boots', () => {
    const garbage = Uint8Array.from({ length: 0x10000 }, (_, i) => (i * 131 + 7) & 0xff);
    const r = runCli(['flash', 'inspect', file('garbage.bin', garbage), '--chip', 'esp32', '--json']);
    expect(r.status).toBe(1);
    expect(json(r)).toMatchObject({ boots: null, bootFailure: 'bootloader-invalid', partitionTable: { error: { code: 'OTASIM_ERR_PARTITION_MAGIC' } } });
  });

  it('usage errors exit 2', () => {
    const p = file('arduino.bin', arduinoImage());
    expectOneLineError(runCli(['flash', 'inspect', p, '--table-offset', '0x8001']), 2, /^otasim: --table-offset 0x8001: must be a multiple of 0x1000/);
    expectOneLineError(runCli(['flash', 'inspect', p, '--table-offset', '0x0']), 2, /^otasim: table offset 0x0 must lie after esp32's bootloader/);
    expectOneLineError(runCli(['flash', 'inspect', p, '--flash-size', '3QB']), 2, /^otasim: --flash-size 3QB/);
    expectOneLineError(runCli(['flash', 'inspect', p, '--chip', 'esp8266']), 2, /^otasim: Invalid values/);
    expectOneLineError(runCli(['flash', 'inspect']), 2, /^otasim: Not enough non-option arguments/);
    expectOneLineError(runCli(['flash']), 2, /^otasim: Name a flash command: inspect\./);
  });
});
