/**
 * The README's "ESP32 core API" example, run as written. The code between the markers below must
 * equal the README's ```ts block (its import line aside), so the README cannot drift from what works.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../protocol/errors.js';
import {
  Esp32, ImagePool, OtaImgState, buildAppImage, flashFromPlan, parsePartitionCsv, planFlash,
} from '../../simulator/esp32/index.js';
import { projectRoot } from '../fixtures.js';

function readmeExample(): { dev: Esp32; lost: unknown; afterCut: string } {
  // README example: begin
  const table = parsePartitionCsv('otadata, data, ota, , 8K\nota_0, app, ota_0, , 1M\nota_1, app, ota_1, , 1M\n');
  const app = (version: string) => buildAppImage({ chip: 'esp32c3', version });
  const plan = planFlash({ chip: 'esp32c3', flashSize: 4 << 20, table, apps: { ota_0: app('1.0') }, pool: new ImagePool() });
  const dev = Esp32.create({ config: { chip: 'esp32c3', rollback: true }, flash: flashFromPlan(plan) });
  dev.boot();                                  // the bootloader picks ota_0: v1.0 runs
  const slot = dev.getNextUpdatePartition()!;  // ota_1
  let h = dev.otaBegin(slot);                  // esp_ota_begin erases the slot
  dev.flash.cutPowerAfter(100_000);            // power dies 100 kB into the next flash writes …
  let lost: unknown;
  try { dev.otaWrite(h, app('2.0')); } catch (e) { lost = e; }  // EspError ESP_ERR_FLASH_OP_FAIL
  const afterCut = dev.state;                  // 'off'
  dev.boot();                                  // … and v1.0 still runs
  h = dev.otaBegin(slot);
  dev.otaWrite(h, app('2.0'));
  dev.otaEnd(h);                               // full image verify, else ESP_ERR_OTA_VALIDATE_FAILED
  dev.setBootPartition(slot);                  // otadata selects ota_1, state NEW
  dev.boot();                                  // v2.0 runs, PENDING_VERIFY …
  dev.markAppValidCancelRollback();            // … until it confirms itself; unconfirmed, the next boot rolls back
  // README example: end
  return { dev, lost, afterCut };
}

/** The example's lines, dedented, from this file. */
function exampleSource(): string {
  const src = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const from = src.findIndex((l) => l.includes('// README example: begin'));
  const to = src.findIndex((l) => l.includes('// README example: end'));
  return src.slice(from + 1, to).map((l) => l.replace(/^ {2}/, '')).join('\n');
}

/** The README's ESP32 core API code block, without its import line. */
function readmeBlock(): string {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## ESP32 core API'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').filter((l) => !l.startsWith('import ')).join('\n').trim();
}

describe('README: ESP32 core API example', () => {
  it('is the code this test runs', () => {
    expect(readmeBlock()).toBe(exampleSource().trim());
  });

  it('does what its comments say', () => {
    const { dev, lost, afterCut } = readmeExample();
    expect(lost).toBeInstanceOf(EspError);
    expect((lost as EspError).code).toBe('ESP_ERR_FLASH_OP_FAIL');
    expect(afterCut).toBe('off');
    expect(dev.state).toBe('running');
    const boot = dev.lastBoot;
    expect(boot?.ok && [boot.partition.label, boot.app?.version]).toEqual(['ota_1', '2.0']);
    expect(dev.getStatePartition(dev.getRunningPartition())).toBe(OtaImgState.VALID);
  });

  it('the comments are right about the moments in between', () => {
    const table = parsePartitionCsv('otadata, data, ota, , 8K\nota_0, app, ota_0, , 1M\nota_1, app, ota_1, , 1M\n');
    expect(table.partitions.map((p) => [p.label, p.offset])).toEqual([['otadata', 0x9000], ['ota_0', 0x10000], ['ota_1', 0x110000]]);
    // Unconfirmed, the next boot rolls back: rerun the example without its last line.
    const app = (version: string) => buildAppImage({ chip: 'esp32c3', version });
    const dev = Esp32.create({
      config: { chip: 'esp32c3', rollback: true },
      flash: flashFromPlan(planFlash({ chip: 'esp32c3', flashSize: 4 << 20, table, apps: { ota_0: app('1.0') }, pool: new ImagePool() })),
    });
    dev.boot();
    const slot = dev.getNextUpdatePartition()!;
    const h = dev.otaBegin(slot);
    dev.otaWrite(h, app('2.0'));
    dev.otaEnd(h);
    dev.setBootPartition(slot);
    dev.boot();
    expect(dev.getStatePartition(slot)).toBe(OtaImgState.PENDING_VERIFY);
    dev.boot();
    const r = dev.lastBoot;
    expect(r?.ok && [r.partition.label, r.app?.version]).toEqual(['ota_0', '1.0']);
  });
});
