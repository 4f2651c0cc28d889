/**
 * Secure Boot v2 inside the emulated chip: the bootloader checks app signatures against the eFuse
 * digests, esp_ota_end / esp_ota_set_boot_partition check update signatures
 * (CONFIG_SECURE_SIGNED_ON_UPDATE), and NO_SECURE_BOOT mode trusts the running app's own key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, EspError } from '../../protocol/errors.js';
import { Esp32 } from '../../simulator/esp32/esp32.js';
import type { Esp32BuildConfig } from '../../simulator/esp32/esp32-config.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { ImagePool } from '../../simulator/esp32/image-pool.js';
import { OtaImgState } from '../../simulator/esp32/otadata.js';
import type { Partition, PartitionTable } from '../../simulator/esp32/partition-table.js';
import { flashFromPlan, planFlash } from '../../simulator/esp32/provision.js';
import { appendSignature, keyDigest, signImage } from '../../simulator/esp32/secure-boot.js';
import { fixture, fixtureText, haveFixtures } from '../fixtures.js';
import { CHIP, TWO_OTA, code, device, image, labelled, ota, running } from './device-kit.js';

const pem = (): string =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keyA = pem();
const keyB = pem();
const digestA = keyDigest(keyA);
const digestB = keyDigest(keyB);

const signedA = (v: string): Uint8Array => signImage(image(v), keyA);
const signedB = (v: string): Uint8Array => signImage(image(v), keyB);

const SECURE: Omit<Esp32BuildConfig, 'chip'> = { secureBoot: { trustedKeyDigests: [digestA] } };
const NO_SECURE_BOOT: Omit<Esp32BuildConfig, 'chip'> = { signedOnUpdate: true };

function espMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof EspError) return e.message;
    throw e;
  }
  return '';
}

/** A booted device whose ota_0 runs `app` (default: v1 signed with key A). */
function booted(config: Omit<Esp32BuildConfig, 'chip'>, app: Uint8Array = signedA('v1')): Esp32 {
  const dev = device({ config, apps: { ota_0: app } });
  dev.boot();
  return dev;
}

/** Write `img` into ota_1 through the OTA API and return what esp_ota_end said. */
function update(dev: Esp32, img: Uint8Array): string {
  return code(() => ota(dev, labelled(dev, 'ota_1'), img));
}

describe('Secure Boot v2 on: updates must carry a trusted signature', () => {
  it('a signed update with the trusted key: otaEnd → setBootPartition → boot runs it', () => {
    const dev = booted(SECURE);
    expect(running(dev)).toBe('ota_0:v1');
    expect(update(dev, signedA('v2'))).toBe('ESP_OK');
    dev.setBootPartition(labelled(dev, 'ota_1'));
    dev.reboot();
    expect(running(dev)).toBe('ota_1:v2');
  });

  for (const [what, img] of [['that is unsigned', () => image('v2')], ['signed with an untrusted key', () => signedB('v2')]] as const) {
    it(`an update ${what} is ESP_ERR_OTA_VALIDATE_FAILED at otaEnd and setBootPartition; the old app keeps booting`, () => {
      const dev = booted(SECURE);
      const ota1 = labelled(dev, 'ota_1');
      expect(update(dev, img())).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
      expect(code(() => dev.setBootPartition(ota1))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
      expect(dev.getBootPartition()?.label).toBe('ota_0');
      dev.reboot();
      expect(running(dev)).toBe('ota_0:v1');
    });
  }

  it('the refusal says why: no valid block, or no trusted key', () => {
    const dev = booted(SECURE);
    const ota1 = labelled(dev, 'ota_1');
    update(dev, image('v2'));
    expect(espMessage(() => dev.setBootPartition(ota1))).toMatch(/no valid signature block/);
    update(dev, signedB('v2'));
    expect(espMessage(() => dev.setBootPartition(ota1))).toMatch(/no trusted key/);
  });

  it('an image changed after signing is refused as corrupted, although its key is trusted', () => {
    const dev = booted(SECURE);
    // The header's SPI mode byte is outside the checksum but inside the hash and the signed digest.
    const tampered = signedA('v2').slice();
    tampered[2] = (tampered[2] ?? 0) ^ 0x01;
    expect(update(dev, tampered)).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    expect(espMessage(() => dev.setBootPartition(labelled(dev, 'ota_1')))).toMatch(/image corrupted on flash/);
  });

  it('a rollback check counts only apps whose signature verifies', () => {
    const dev = booted({ ...SECURE, rollback: true });
    const ota1 = labelled(dev, 'ota_1');
    ota(dev, ota1, signedA('v2'));
    dev.setBootPartition(ota1);
    dev.reboot();
    expect(running(dev)).toBe('ota_1:v2');
    expect(dev.checkRollbackIsPossible()).toBe(true);
    // Swap the old app for an unsigned one behind the API's back: rollback now has nowhere to go.
    const ota0: Partition = labelled(dev, 'ota_0');
    dev.flash.erase(ota0.offset, ota0.size);
    dev.flash.write(ota0.offset, image('v1'));
    expect(dev.checkRollbackIsPossible()).toBe(false);
  });
});

describe('Secure Boot v2 on: the bootloader verifies signatures instead of the plain hash', () => {
  it('an unsigned app selected by otadata is skipped; the signed one boots', () => {
    const apps = { ota_0: image('plain'), ota_1: signedA('signed') };
    const secure = device({ config: SECURE, apps, otadata: { slot: 0 } });
    const r = secure.boot();
    expect(running(secure)).toBe('ota_1:signed');
    expect(r.log.join('\n')).toMatch(/'ota_0' does not hold a valid app \(ESP_ERR_IMAGE_INVALID\).*no valid signature block/);
    // Control: the same flash without secure boot boots the otadata choice.
    const plain = device({ apps, otadata: { slot: 0 } });
    plain.boot();
    expect(running(plain)).toBe('ota_0:plain');
  });

  it('nothing signed by a trusted key: no bootable app', () => {
    const dev = device({ config: SECURE, apps: { ota_0: image('v1'), ota_1: signedB('v2') } });
    expect(dev.boot()).toMatchObject({ ok: false, reason: 'no-bootable-app' });
  });

  it('a verdict cached for one policy never answers another (shared pool, shared buffers)', () => {
    const shared = new ImagePool();
    const plan = (app: Uint8Array) => planFlash({ chip: CHIP, flashSize: 0x100000, pool: shared, table: TWO_OTA, apps: { ota_0: app } });
    const unsigned = plan(image('cache-v1'));
    // A plain device verifies (and memoises) the unsigned image first …
    const plainDev = Esp32.create({ config: { chip: CHIP }, flash: flashFromPlan(unsigned), pool: shared });
    expect(plainDev.boot().ok).toBe(true);
    // … and a secure-boot device mapping the very same buffer must still refuse it.
    const secureDev = Esp32.create({ config: { chip: CHIP, ...SECURE }, flash: flashFromPlan(unsigned), pool: shared });
    expect(secureDev.boot()).toMatchObject({ ok: false, reason: 'no-bootable-app' });
    // Likewise a verdict under key A does not answer a device that trusts only key B.
    const signed = plan(signImage(image('cache-v1'), keyA));
    const trustsA = Esp32.create({ config: { chip: CHIP, ...SECURE }, flash: flashFromPlan(signed), pool: shared });
    expect(trustsA.boot().ok).toBe(true);
    const trustsB = Esp32.create({ config: { chip: CHIP, secureBoot: { trustedKeyDigests: [digestB] } }, flash: flashFromPlan(signed), pool: shared });
    expect(trustsB.boot()).toMatchObject({ ok: false, reason: 'no-bootable-app' });
  });

  it('a verified signed update is shared through the pool with its signature sector', () => {
    const dev = booted(SECURE);
    const ota1 = labelled(dev, 'ota_1');
    const img = signedA('pooled');
    ota(dev, ota1, img);
    const m = dev.flash.mappingAt(ota1.offset);
    expect(m?.data.length).toBe(img.length);
    expect(dev.flash.read(ota1.offset, img.length)).toEqual(img);
    dev.setBootPartition(ota1);
    dev.reboot();
    expect(running(dev)).toBe('ota_1:pooled');
  });
});

describe('CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT: the running app names the trusted key', () => {
  it('an update signed with the running app\'s key is accepted and boots', () => {
    const dev = booted(NO_SECURE_BOOT);
    expect(update(dev, signedA('v2'))).toBe('ESP_OK');
    dev.setBootPartition(labelled(dev, 'ota_1'));
    dev.reboot();
    expect(running(dev)).toBe('ota_1:v2');
  });

  it('an update signed with another key, or unsigned, is ESP_ERR_OTA_VALIDATE_FAILED', () => {
    const dev = booted(NO_SECURE_BOOT);
    expect(update(dev, signedB('v2'))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    expect(update(dev, image('v2'))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    dev.reboot();
    expect(running(dev)).toBe('ota_0:v1');
  });

  it('the trust follows the running app: after moving to a B-signed app, only B-signed updates pass', () => {
    // Running A, updating to an image signed by B then A (block 0 = B): only block 0 counts, so refused.
    const dev = booted(NO_SECURE_BOOT);
    const bThenA = appendSignature(signedB('v2'), keyA);
    expect(update(dev, bThenA)).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
    // Start over on a device running a B-signed app: the same image passes, and an A-only one does not.
    const devB = booted(NO_SECURE_BOOT, signedB('v1'));
    expect(update(devB, bThenA)).toBe('ESP_OK');
    expect(update(devB, signedA('v3'))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
  });

  it('an unsigned running app can verify no update at all', () => {
    const dev = booted(NO_SECURE_BOOT, image('v1'));
    expect(running(dev)).toBe('ota_0:v1'); // the bootloader does not check signatures in this mode
    expect(update(dev, signedA('v2'))).toBe('ESP_ERR_OTA_VALIDATE_FAILED');
  });

  it('with secure boot, any of up to 3 blocks may carry the trusted key (block 0 B, block 1 A)', () => {
    const dev = booted(SECURE);
    expect(update(dev, appendSignature(signedB('v2'), keyA))).toBe('ESP_OK');
  });

  it('without signedOnUpdate an unsigned update is accepted (the plain hash is enough)', () => {
    const dev = booted({});
    expect(update(dev, image('v2'))).toBe('ESP_OK');
    dev.setBootPartition(labelled(dev, 'ota_1'));
    expect(dev.getStatePartition(labelled(dev, 'ota_1'))).toBe(OtaImgState.UNDEFINED);
  });
});

describe('configuration', () => {
  const create = (config: Esp32BuildConfig) => () => device({ config: { ...config } }).boot();
  it('refuses signedOnUpdate: false with secure boot, and malformed digests', () => {
    expect(create({ chip: CHIP, secureBoot: { trustedKeyDigests: [digestA] }, signedOnUpdate: false })).toThrow(ConfigError);
    expect(create({ chip: CHIP, secureBoot: { trustedKeyDigests: [] } })).toThrow(/1 to 3/);
    expect(create({ chip: CHIP, secureBoot: { trustedKeyDigests: [digestA.subarray(0, 16)] } })).toThrow(/32 bytes/);
    expect(create({ chip: CHIP, secureBoot: { trustedKeyDigests: [digestA, digestB, digestA, digestB] } })).toThrow(/1 to 3/);
  });

  it('ESP32 holds one key digest', () => {
    expect(() => Esp32.create({
      config: { chip: 'esp32', secureBoot: { trustedKeyDigests: [digestA, digestB] } },
      flash: flashFromPlan(planFlash({ chip: 'esp32', flashSize: 0x100000, pool: new ImagePool(), table: TWO_OTA })),
    })).toThrow(/1 to 1 key digest/);
  });

  it('the digests are copied: changing the caller\'s array later changes nothing', () => {
    const digest = digestA.slice();
    const dev = device({ config: { secureBoot: { trustedKeyDigests: [digest] } }, apps: { ota_0: signedA('v1') } });
    digest.fill(0);
    expect(dev.boot().ok).toBe(true);
  });
});

describe.skipIf(!haveFixtures)('ROM check of a real signed bootloader (esptool test image, RSA-3072)', () => {
  // The signed bootloader is 0x9000 bytes at 0x1000, so the table moves to 0xA000.
  const part = (label: string, type: number, subtype: number, offset: number, size: number): Partition =>
    ({ label, type, subtype, offset, size, flags: 0 });
  const table: PartitionTable = {
    md5: true,
    partitions: [part('otadata', 1, 0, 0xd000, 0x2000), part('ota_0', 0, 0x10, 0x10000, 0x20000), part('ota_1', 0, 0x11, 0x30000, 0x20000)],
  };
  const rsaDigest = (): Uint8Array => keyDigest(fixtureText('bootloader/esptool-test_rsa_secure_boot_signing_pubkey.pem'));
  const start = (trusted: Uint8Array, app: Uint8Array): Esp32 => Esp32.create({
    config: { chip: 'esp32', partitionTableOffset: 0xa000, checkBootloaderImage: true, secureBoot: { trustedKeyDigests: [trusted] } },
    flash: flashFromPlan(planFlash({
      chip: 'esp32', flashSize: 0x100000, pool: new ImagePool(), table, partitionTableOffset: 0xa000,
      bootloader: fixture('bootloader/esptool-test_esp32_bootloader_signed-sbv2-rsa.bin'), apps: { ota_0: app },
    })),
  });

  it('the ROM passes the bootloader when eFuse trusts its key; the bootloader then refuses the unsigned app', () => {
    // Only the public half of the fixture's key is published, so no app can be signed with it: the
    // bootloader gets past the ROM, then finds no app signed by the one trusted key.
    const r = start(rsaDigest(), buildAppImage({ chip: 'esp32', version: 'rom-ok', size: 24 * 1024 })).boot();
    expect(r).toMatchObject({ ok: false, reason: 'no-bootable-app' });
    expect(r.log.join('\n')).not.toMatch(/ROM: invalid/);
  });

  it('refuses the bootloader when eFuse trusts another key', () => {
    const r = start(digestA, signImage(buildAppImage({ chip: 'esp32', version: 'rom-bad', size: 24 * 1024 }), keyA)).boot();
    expect(r).toMatchObject({ ok: false, reason: 'bootloader-invalid' });
    expect(r.log.join('\n')).toMatch(/no trusted key/);
  });
});
