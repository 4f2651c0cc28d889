/** Bad input to the Secure Boot v2 code: typed errors naming the problem, never a crash. */
import { generateKeyPairSync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EspError, SigningError } from '../../protocol/errors.js';
import {
  checkSignedImage, keyDigest, parseSignatureBlock, parseSignatureSector, signImage, verifySignedImage,
} from '../../simulator/esp32/secure-boot.js';
import { espErrorOf, fixCrc, imageBytes } from './secure-boot-support.js';

const p256Pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const image = imageBytes(3000, 5);

function signingErrorOf(fn: () => unknown, code: 'OTASIM_ERR_SIGNING_KEY' | 'OTASIM_ERR_SIGNING'): SigningError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SigningError);
    expect((e as SigningError).code).toBe(code);
    return e as SigningError;
  }
  throw new Error('expected a SigningError');
}

describe('malformed signature sectors', () => {
  it('short buffers are ESP_ERR_INVALID_SIZE, not a RangeError', () => {
    expect(espErrorOf(() => parseSignatureSector(new Uint8Array(10)), 'ESP_ERR_INVALID_SIZE').message).toMatch(/10 bytes.*3 × 1216/);
    espErrorOf(() => parseSignatureBlock(new Uint8Array(1215), 0), 'ESP_ERR_INVALID_SIZE');
    espErrorOf(() => parseSignatureSector(undefined as unknown as Uint8Array), 'ESP_ERR_INVALID_SIZE');
  });

  it('bad arguments are ESP_ERR_INVALID_ARG', () => {
    const bytes = new Uint8Array(8192);
    for (const len of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) espErrorOf(() => verifySignedImage(bytes, len), 'ESP_ERR_INVALID_ARG');
    espErrorOf(() => verifySignedImage('x' as unknown as Uint8Array, 10), 'ESP_ERR_INVALID_ARG');
    espErrorOf(() => verifySignedImage(bytes, 10, { trustedKeyDigests: [new Uint8Array(20)] }), 'ESP_ERR_INVALID_ARG');
    espErrorOf(() => verifySignedImage(bytes, 10, { maxBlocks: 4 as 3 }), 'ESP_ERR_INVALID_ARG');
  });

  it('an image with nothing after it: truncated, naming where the sector should be', () => {
    expect(espErrorOf(() => verifySignedImage(image, image.length)).message).toMatch(/truncated: the signature sector at 0x1000/);
  });

  it('an erased sector: "no valid signature block … erased … Image not V2 signed?"', () => {
    const bytes = new Uint8Array(8192).fill(0xff);
    bytes.set(image);
    expect(espErrorOf(() => verifySignedImage(bytes, image.length)).message)
      .toMatch(/no valid signature block in the signature sector at 0x1000 \(block 0: erased.*Image not V2 signed/);
  });

  it('names a wrong magic, an unknown version and an unknown ECDSA curve/SHA pairing', () => {
    const block = new Uint8Array(1216);
    expect(parseSignatureBlock(block, 0)).toMatchObject({ status: 'bad-magic', detail: 'magic byte 0x00, not 0xe7' });
    block[0] = 0xe7; block[1] = 0x09;
    fixCrc(block, 0);
    expect(parseSignatureBlock(block, 1)).toMatchObject({ status: 'unsupported', detail: expect.stringMatching(/version 0x09.*CRC ok/) });
    block[1] = 0x03; block[2] = 1; block[52] = 2; // SHA-384 with P-256
    fixCrc(block, 0);
    expect(parseSignatureBlock(block, 2)).toMatchObject({ status: 'unsupported', detail: expect.stringMatching(/SHA version 1 and curve id 2/) });
  });

  it('property: random sectors, even with magic, known version and a right CRC, fail as EspError (1000 runs)', () => {
    const withSector = (sector: Uint8Array): Uint8Array => {
      const b = new Uint8Array(4096 + 4096).fill(0xff);
      b.set(image);
      b.set(sector, 4096);
      return b;
    };
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 4096, maxLength: 4096 }), fc.constantFrom(-1, 2, 3), fc.constantFrom(0, 1, 2, 3), fc.nat(3),
      (sector, version, curve, shaVer) => {
        const s = Uint8Array.from(sector);
        if (version >= 0) {
          s[0] = 0xe7; s[1] = version; s[2] = shaVer; s[36] = curve; s[52] = curve;
          fixCrc(s, 0);
        }
        const bytes = withSector(s);
        const slots = parseSignatureSector(s);
        expect(slots).toHaveLength(3);
        const v = checkSignedImage(bytes, image.length);
        expect(v.ok).toBe(false);
        espErrorOf(() => verifySignedImage(bytes, image.length));
      }), { numRuns: 1000 });
  });

  it('the block CRC is plain zlib CRC-32 of bytes 0..1195 (not otadata\'s 0xFFFFFFFF-seeded one)', () => {
    const signed = signImage(image, p256Pem);
    const stored = new DataView(signed.buffer).getUint32(4096 + 1196, true);
    expect(stored).toBe(crc32(signed.subarray(4096, 4096 + 1196)) >>> 0);
  });
});

describe('keys espsecure would refuse', () => {
  it('unreadable or encrypted PEM: OTASIM_ERR_SIGNING_KEY', () => {
    expect(signingErrorOf(() => keyDigest('not a key'), 'OTASIM_ERR_SIGNING_KEY').message).toMatch(/cannot read the key/);
    const enc = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
    signingErrorOf(() => signImage(image, enc), 'OTASIM_ERR_SIGNING_KEY');
  });

  it('wrong key types and sizes are named', () => {
    const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(signingErrorOf(() => signImage(image, rsa2048), 'OTASIM_ERR_SIGNING_KEY').message).toMatch(/RSA-2048 key.*RSA-3072/);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(signingErrorOf(() => keyDigest(k1), 'OTASIM_ERR_SIGNING_KEY').message).toMatch(/curve secp256k1/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(signingErrorOf(() => keyDigest(ed), 'OTASIM_ERR_SIGNING_KEY').message).toMatch(/ed25519 key/);
  });

  it('a public key cannot sign; an empty image or a short salt is refused', () => {
    const pubPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    signingErrorOf(() => signImage(image, pubPem), 'OTASIM_ERR_SIGNING_KEY');
    expect(signingErrorOf(() => signImage(new Uint8Array(), p256Pem), 'OTASIM_ERR_SIGNING').message).toMatch(/empty/);
    expect(signingErrorOf(() => signImage(image, p256Pem, { salt: new Uint8Array(31) }), 'OTASIM_ERR_SIGNING').message)
      .toMatch(/salt must be 32 bytes/);
  });

  it('keys given as PEM file bytes work like strings', () => {
    expect(keyDigest(new TextEncoder().encode(p256Pem))).toEqual(keyDigest(p256Pem));
  });
});

describe('errors are EspError with the ESP-IDF code and number', () => {
  it('ESP_ERR_IMAGE_INVALID is 0x2002', () => {
    const e = espErrorOf(() => verifySignedImage(new Uint8Array(8192), 100));
    expect(e).toBeInstanceOf(EspError);
    expect(e.esp).toBe(0x2002);
  });
});
