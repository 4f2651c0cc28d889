/**
 * The real espsecure-signed ESP32 bootloader (esptool test/secure_images): SBv2 RSA-3072-PSS,
 * 30480-byte image padded with 0xFF to 0x8000, signature sector at 0x8000.
 */
import { constants, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkSignedImage, keyDigest, parseSignatureSector, signatureSectorOffset, verifySignedImage,
} from '../../simulator/esp32/secure-boot.js';
import { rsaPssVerify } from '../../simulator/esp32/secure-boot-rsa.js';
import { fixture, fixtureText, haveFixtures } from '../fixtures.js';
import { espErrorOf, fixCrc, flipped, sha256 } from './secure-boot-support.js';

const IMAGE_LEN = 30480;
const SECTOR = 0x8000;

describe.skipIf(!haveFixtures)('SBv2 RSA fixture: esptool-test_esp32_bootloader_signed-sbv2-rsa.bin', () => {
  const bin = haveFixtures ? fixture('bootloader/esptool-test_esp32_bootloader_signed-sbv2-rsa.bin') : new Uint8Array();
  const pem = haveFixtures ? fixtureText('bootloader/esptool-test_rsa_secure_boot_signing_pubkey.pem') : '';
  const trusted = haveFixtures ? [keyDigest(pem)] : [];

  it('has the documented shape: 0xFF padding to 0x8000, one RSA block, erased slots 1 and 2', () => {
    expect(bin.length).toBe(SECTOR + 4096);
    expect(signatureSectorOffset(IMAGE_LEN)).toBe(SECTOR);
    expect(bin.subarray(IMAGE_LEN, SECTOR).every((b) => b === 0xff)).toBe(true);
    const slots = parseSignatureSector(bin.subarray(SECTOR));
    expect(slots.map((s) => s.status)).toEqual(['valid', 'erased', 'erased']);
    const b = slots[0]?.block;
    expect(b?.scheme).toBe('rsa3072');
    expect(b?.crcOk).toBe(true);
    expect(Buffer.from(b?.imageDigest ?? []).equals(sha256(bin.subarray(0, SECTOR)))).toBe(true);
    expect(b?.key.kind === 'rsa' && b.key.e).toBe(65537);
  });

  it('our R, M\' and key digest from the PEM equal what espsecure wrote into the block', () => {
    const b = parseSignatureSector(bin.subarray(SECTOR))[0]?.block;
    if (b?.key.kind !== 'rsa') throw new Error('expected an RSA block');
    expect(b.key.montgomeryOk).toBe(true);
    expect(b.key.rinv).toBe((1n << 6144n) % b.key.n);
    expect(BigInt.asUintN(32, b.key.n * BigInt(b.key.mdash))).toBe(0xffffffffn); // n·M' ≡ −1 (mod 2³²)
    // keyDigest() rebuilds n, e, R and M' from the PEM alone; equality means all 776 bytes agree.
    expect(Buffer.from(trusted[0] ?? []).toString('hex')).toBe(Buffer.from(b.keyDigest).toString('hex'));
    const jwk = createPublicKey(pem).export({ format: 'jwk' });
    expect(b.key.n).toBe(BigInt('0x' + Buffer.from(jwk.n ?? '', 'base64url').toString('hex')));
  });

  it('the signature is RSA-PSS over the prehashed digest (SHA-256 of the image), not over a hash of it', () => {
    const b = parseSignatureSector(bin.subarray(SECTOR))[0]?.block;
    if (b?.key.kind !== 'rsa') throw new Error('expected an RSA block');
    const d = sha256(bin.subarray(0, SECTOR));
    expect(rsaPssVerify(b.key, b.signature, d)).toBe(true);
    expect(rsaPssVerify(b.key, b.signature, sha256(d))).toBe(false);
    // OpenSSL agrees: PSS(SHA-256(image)) is what node:crypto verifies when given the image itself.
    const opts = { key: createPublicKey(pem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    expect(nodeVerify('sha256', bin.subarray(0, SECTOR), opts, b.signature)).toBe(true);
  });

  it('verifies with the fixture public key digest as the trusted key (and its 16-byte ESP32-C2 prefix)', () => {
    expect(verifySignedImage(bin, IMAGE_LEN, { trustedKeyDigests: trusted }).index).toBe(0);
    expect(verifySignedImage(bin, IMAGE_LEN, { trustedKeyDigests: [trusted[0]?.subarray(0, 16) ?? new Uint8Array()] }).index).toBe(0);
    expect(verifySignedImage(bin, IMAGE_LEN, { scheme: 'rsa3072', maxBlocks: 1 }).index).toBe(0);
  });

  it('a flipped image byte: "image corrupted on flash"', () => {
    const e = espErrorOf(() => verifySignedImage(flipped(bin, 0x400), IMAGE_LEN, { trustedKeyDigests: trusted }));
    expect(e.message).toMatch(/image corrupted on flash/);
    expect(e.message).toMatch(/stored image digest/);
  });

  it('a flipped 0xFF padding byte: "image valid, signature bad" (the simple hash still holds)', () => {
    const v = checkSignedImage(flipped(bin, IMAGE_LEN + 10), IMAGE_LEN, { trustedKeyDigests: trusted });
    expect(v.ok === false && v.failure).toBe('signature-bad');
    expect(v.ok === false && v.message).toMatch(/image valid, signature bad/);
  });

  it('a flipped stored digest: the CRC catches it; re-CRC\'d, "image valid, signature bad" naming the stored digest', () => {
    const raw = flipped(bin, SECTOR + 4 + 7);
    expect(espErrorOf(() => verifySignedImage(raw, IMAGE_LEN, { trustedKeyDigests: trusted })).message)
      .toMatch(/no valid signature block.*block 0: CRC mismatch/);
    fixCrc(raw, SECTOR);
    const e = espErrorOf(() => verifySignedImage(raw, IMAGE_LEN, { trustedKeyDigests: trusted }));
    expect(e.message).toMatch(/image valid, signature bad.*block 0: stored image digest/);
  });

  it('a flipped signature byte, re-CRC\'d: "image valid, signature bad" from the RSA-PSS check', () => {
    const raw = flipped(bin, SECTOR + 812 + 100, 0x80);
    fixCrc(raw, SECTOR);
    const e = espErrorOf(() => verifySignedImage(raw, IMAGE_LEN, { trustedKeyDigests: trusted }));
    expect(e.message).toMatch(/image valid, signature bad.*RSA-PSS signature check failed/);
  });

  it('a flipped CRC byte: "no valid signature block" naming the CRC mismatch', () => {
    const v = checkSignedImage(flipped(bin, SECTOR + 1196 + 2), IMAGE_LEN, { trustedKeyDigests: trusted });
    expect(v.ok === false && v.failure).toBe('no-valid-block');
    expect(v.ok === false && v.message).toMatch(/block 0: CRC mismatch: stored 0x[0-9a-f]{8}, computed 0x0e3f620c/);
  });

  it('an untrusted key digest: "no trusted key"', () => {
    const e = espErrorOf(() => verifySignedImage(bin, IMAGE_LEN, { trustedKeyDigests: [sha256(new Uint8Array([1, 2, 3]))] }));
    expect(e.message).toMatch(/no trusted key/);
    expect(e.message).toContain(Buffer.from(trusted[0] ?? []).toString('hex'));
    expect(espErrorOf(() => verifySignedImage(bin, IMAGE_LEN, { trustedKeyDigests: [] })).message).toMatch(/no trusted key digests were given/);
  });

  it('a firmware configured for ECDSA treats the RSA block as invalid', () => {
    const e = espErrorOf(() => verifySignedImage(bin, IMAGE_LEN, { scheme: 'ecdsa-p256' }));
    expect(e.message).toMatch(/ecdsa-p256 scheme selected but the block was generated for rsa3072/);
  });

  it('bytes IDF does not read (block padding 1200..1215, the unused sector tail) do not matter', () => {
    expect(verifySignedImage(flipped(bin, SECTOR + 1205), IMAGE_LEN, { trustedKeyDigests: trusted }).index).toBe(0);
    expect(verifySignedImage(flipped(bin, SECTOR + 3000), IMAGE_LEN, { trustedKeyDigests: trusted }).index).toBe(0);
  });

  it('bytes cut off before the end of the signature sector: a truncation error, not a crash', () => {
    expect(espErrorOf(() => verifySignedImage(bin.subarray(0, SECTOR + 4095), IMAGE_LEN)).message).toMatch(/truncated/);
  });
});
