/** Signed app images end to end: buildAppImage → signImage → verifyImage({ signature }). */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../protocol/errors.js';
import { verifyImage } from '../../simulator/esp32/app-image.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { appendSignature, keyDigest, signatureSectorOffset, signImage } from '../../simulator/esp32/secure-boot.js';
import { fixture, haveFixtures } from '../fixtures.js';

const ecPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const ec2Pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('signed app images through verifyImage', () => {
  const app = buildAppImage({ chip: 'esp32c3', version: '1.2.3', size: 100_000 });
  const signed = signImage(app, ecPem);

  it('verifies, and reports the block that did', () => {
    const info = verifyImage(signed, { chip: 'esp32c3', signature: { trustedKeyDigests: [keyDigest(ecPem)] } });
    expect(info.size).toBe(app.length);
    expect(signatureSectorOffset(info.size)).toBe(signed.length - 4096);
    expect(info.signature?.scheme).toBe('ecdsa-p256');
  });

  it('an image signed by another key is ESP_ERR_IMAGE_INVALID naming the untrusted key', () => {
    try {
      verifyImage(signImage(app, ec2Pem), { signature: { trustedKeyDigests: [keyDigest(ecPem)] } });
    } catch (e) {
      expect(e).toBeInstanceOf(EspError);
      expect((e as EspError).code).toBe('ESP_ERR_IMAGE_INVALID');
      expect((e as EspError).message).toMatch(/no trusted key/);
      return;
    }
    throw new Error('expected verifyImage to refuse');
  });

  it('a key rotation image (old + new key blocks) verifies for either trusted key', () => {
    const both = appendSignature(signed, ec2Pem);
    expect(verifyImage(both, { signature: { trustedKeyDigests: [keyDigest(ec2Pem)] } }).signature?.index).toBe(1);
    expect(verifyImage(both, { signature: { trustedKeyDigests: [keyDigest(ecPem)] } }).signature?.index).toBe(0);
  });
});

describe.skipIf(!haveFixtures)('a real IDF app, signed', () => {
  it('idf-v5.2.2 esp32 hello_world signs and verifies; its length is the image size', () => {
    const app = fixture('app/idf-v5.2.2_esp32_hello_world.bin');
    const signed = signImage(app, ecPem);
    expect(signed.length).toBe(Math.ceil(124416 / 4096) * 4096 + 4096);
    expect(verifyImage(signed, { chip: 'esp32', signature: { trustedKeyDigests: [keyDigest(ecPem)] } }).signature?.index).toBe(0);
  });
});
