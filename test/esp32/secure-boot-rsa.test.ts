/** RSA-3072-PSS: our EMSA-PSS against OpenSSL's, and sign → verify round trips through signImage. */
import { constants, createHash, generateKeyPairSync, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EspError } from '../../protocol/errors.js';
import {
  appendSignature, checkSignedImage, keyDigest, parseSignatureSector, signImage, verifySignedImage,
} from '../../simulator/esp32/secure-boot.js';
import { emsaPssEncode, emsaPssVerify, rsaPssVerify } from '../../simulator/esp32/secure-boot-rsa.js';
import { espErrorOf, fixCrc, flipped, imageBytes, sha256 } from './secure-boot-support.js';

// RSA-3072 generation takes seconds: once per file.
const rsa = generateKeyPairSync('rsa', { modulusLength: 3072 });
const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsaPemPkcs1 = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const rsaPubPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const jwk = rsa.publicKey.export({ format: 'jwk' });
const pub = { n: BigInt('0x' + Buffer.from(jwk.n ?? '', 'base64url').toString('hex')), e: 65537 };
const ecPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

const IMAGE_LEN = 5000; // sector at 8192
const image = imageBytes(IMAGE_LEN, 7);
const signed = signImage(image, rsaPem);
const trusted = [keyDigest(rsaPubPem)];

describe('EMSA-PSS (RFC 8017 §9.1) against node:crypto / OpenSSL', () => {
  it('accepts a signature OpenSSL made over msg when given sha256(msg) as the digest', () => {
    for (let i = 0; i < 5; i++) {
      const msg = randomBytes(100 + i * 37);
      const sig = nodeSign('sha256', msg, { key: rsa.privateKey, ...PSS });
      expect(rsaPssVerify(pub, sig, sha256(msg))).toBe(true);
      expect(rsaPssVerify(pub, sig, sha256(flipped(msg, 0)))).toBe(false);
    }
  });

  it('rejects OpenSSL PSS signatures whose salt is not 32 bytes', () => {
    const msg = randomBytes(64);
    const sig = nodeSign('sha256', msg, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 });
    expect(nodeVerify('sha256', msg, { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 }, sig)).toBe(true);
    expect(rsaPssVerify(pub, sig, sha256(msg))).toBe(false);
  });

  it('our signatures verify under OpenSSL (PSS, SHA-256, MGF1-SHA-256, salt 32)', () => {
    const b = parseSignatureSector(signed.subarray(8192))[0]?.block;
    expect(b?.scheme).toBe('rsa3072');
    expect(nodeVerify('sha256', signed.subarray(0, 8192), { key: rsa.publicKey, ...PSS }, b?.signature ?? new Uint8Array())).toBe(true);
  });

  it('encode → verify holds for any digest, salt and emBits; one flipped bit breaks it', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 8 * 66 + 1, max: 3071 }), fc.nat(),
      (mHash, salt, emBits, pos) => {
        const em = emsaPssEncode(mHash, emBits, salt);
        expect(em.length).toBe(Math.ceil(emBits / 8));
        expect(emsaPssVerify(mHash, em, emBits)).toBe(true);
        const bad = flipped(em, pos % em.length, 1 << (pos % 8));
        // The top 8·emLen − emBits bits are forced to zero; flipping one is itself inconsistent.
        expect(emsaPssVerify(mHash, bad, emBits)).toBe(false);
      }), { numRuns: 300 });
  });
});

describe('signImage / verifySignedImage with RSA-3072', () => {
  it('pads with 0xFF to 4 KiB, appends one sector: block 0 then 0xFF', () => {
    expect(signed.length).toBe(8192 + 4096);
    expect(Buffer.from(signed.subarray(0, IMAGE_LEN)).equals(image)).toBe(true);
    expect(signed.subarray(IMAGE_LEN, 8192).every((b) => b === 0xff)).toBe(true);
    expect([signed[8192], signed[8193], signed[8194], signed[8195]]).toEqual([0xe7, 0x02, 0, 0]);
    expect(signed.subarray(8192 + 1200, 8192 + 1216).every((b) => b === 0)).toBe(true);
    expect(signed.subarray(8192 + 1216).every((b) => b === 0xff)).toBe(true);
  });

  it('verifies with the key digest, which is the same from private, PKCS#1 and public PEM', () => {
    expect(keyDigest(rsaPem)).toEqual(trusted[0]);
    expect(keyDigest(rsaPemPkcs1)).toEqual(trusted[0]);
    const b = verifySignedImage(signed, IMAGE_LEN, { trustedKeyDigests: trusted });
    expect(b.keyDigest).toEqual(trusted[0]);
    expect(b.key.kind === 'rsa' && b.key.montgomeryOk).toBe(true);
    expect(verifySignedImage(signImage(image, rsaPemPkcs1), IMAGE_LEN, { trustedKeyDigests: trusted }).index).toBe(0);
  });

  it('writes R = 2^6144 mod n and M\' = −n⁻¹ mod 2³²', () => {
    const b = parseSignatureSector(signed.subarray(8192))[0]?.block;
    if (b?.key.kind !== 'rsa') throw new Error('expected an RSA block');
    expect(b.key.n).toBe(pub.n);
    expect(b.key.rinv).toBe((1n << 6144n) % pub.n);
    expect(BigInt.asUintN(32, pub.n * BigInt(b.key.mdash))).toBe(0xffffffffn);
  });

  it('is reproducible with a fixed salt and randomised without one', () => {
    const salt = new Uint8Array(32).fill(0x5a);
    expect(signImage(image, rsaPem, { salt })).toEqual(signImage(image, rsaPem, { salt }));
    expect(signImage(image, rsaPem)).not.toEqual(signed);
  });

  it('a 4 KiB-aligned image gets no padding', () => {
    const aligned = imageBytes(8192, 3);
    const out = signImage(aligned, rsaPem);
    expect(out.length).toBe(8192 + 4096);
    expect(verifySignedImage(out, 8192, { trustedKeyDigests: trusted }).index).toBe(0);
  });

  it('property: any byte flip in [0, end of block 0\'s CRC) fails verification (1000 runs)', () => {
    const end = 8192 + 1200;
    fc.assert(fc.property(fc.integer({ min: 0, max: end - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const v = checkSignedImage(flipped(signed, at, xor), IMAGE_LEN, { trustedKeyDigests: trusted });
      expect(v.ok).toBe(false);
    }), { numRuns: 1000 });
  });

  it('property: flips IDF never reads (block padding, rest of the sector) leave it valid', () => {
    fc.assert(fc.property(fc.integer({ min: 8192 + 1200, max: signed.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      expect(verifySignedImage(flipped(signed, at, xor), IMAGE_LEN, { trustedKeyDigests: trusted }).index).toBe(0);
    }), { numRuns: 300 });
  });
});

describe('appendSignature: more blocks in one sector', () => {
  const two = appendSignature(signed, ecPem);
  const ecTrusted = [keyDigest(ecPem)];

  it('keeps block 0 and puts the new block at 1216, rest 0xFF', () => {
    expect(Buffer.from(two.subarray(0, 8192 + 1216)).equals(signed.subarray(0, 8192 + 1216))).toBe(true);
    expect(parseSignatureSector(two.subarray(8192)).map((s) => s.status)).toEqual(['valid', 'valid', 'erased']);
    expect(two.subarray(8192 + 2432).every((b) => b === 0xff)).toBe(true);
  });

  it('each block verifies for its own trusted key; the configured scheme filters the other', () => {
    expect(verifySignedImage(two, IMAGE_LEN, { trustedKeyDigests: trusted }).index).toBe(0);
    expect(verifySignedImage(two, IMAGE_LEN, { trustedKeyDigests: ecTrusted }).index).toBe(1);
    expect(verifySignedImage(two, IMAGE_LEN, { trustedKeyDigests: ecTrusted, scheme: 'ecdsa-p256' }).scheme).toBe('ecdsa-p256');
    expect(espErrorOf(() => verifySignedImage(two, IMAGE_LEN, { trustedKeyDigests: ecTrusted, maxBlocks: 1 })).message).toMatch(/no trusted key/);
  });

  it('like IDF, a trusted block that fails does not stop a later trusted block from verifying', () => {
    const bad = flipped(two, 8192 + 812 + 5); // corrupt block 0's signature, keep its CRC right
    fixCrc(bad, 8192);
    const both = [...trusted, ...ecTrusted];
    expect(verifySignedImage(bad, IMAGE_LEN, { trustedKeyDigests: both }).index).toBe(1);
    expect(espErrorOf(() => verifySignedImage(bad, IMAGE_LEN, { trustedKeyDigests: trusted })).message)
      .toMatch(/image valid, signature bad.*block 0: RSA-PSS signature check failed/);
  });

  it('fills all 3 slots, then refuses a 4th', () => {
    const three = appendSignature(two, rsaPem);
    expect(parseSignatureSector(three.subarray(8192)).map((s) => s.status)).toEqual(['valid', 'valid', 'valid']);
    expect(verifySignedImage(three, IMAGE_LEN, { trustedKeyDigests: trusted }).index).toBe(0);
    expect(() => appendSignature(three, rsaPem)).toThrow(/already holds 3 blocks/);
  });

  it('refuses unsigned input, misaligned input, and content changed after signing', () => {
    const unsigned = new Uint8Array(8192 + 4096).fill(0xff);
    unsigned.set(image);
    expect(() => appendSignature(unsigned, rsaPem)).toThrow(/no valid signature block to append to/);
    expect(() => appendSignature(signed.subarray(0, signed.length - 1), rsaPem)).toThrow(/not a signed image/);
    expect(() => appendSignature(flipped(signed, 100), rsaPem)).toThrow(/block 0 was signed over other content/);
  });

  it('the errors are typed', () => {
    try {
      appendSignature(signed.subarray(0, 10), rsaPem);
    } catch (e) {
      expect(e).not.toBeInstanceOf(EspError);
      expect((e as { code?: string }).code).toBe('OTASIM_ERR_SIGNING');
      return;
    }
    throw new Error('expected a throw');
  });
});

describe('input buffers', () => {
  it('parsing a Node Buffer leaves it untouched (regression: Buffer.slice is a view; reversing the RSA signature corrupted block 0)', () => {
    const buf = Buffer.from(signed);
    parseSignatureSector(buf.subarray(8192));
    verifySignedImage(buf, IMAGE_LEN, { trustedKeyDigests: trusted });
    const appended = appendSignature(buf, rsaPem);
    expect(buf.equals(signed)).toBe(true);
    expect(parseSignatureSector(appended.subarray(8192)).map((s) => s.status)).toEqual(['valid', 'valid', 'erased']);
  });
});

describe('digest range', () => {
  it('covers [0, roundup4K(imageLength)), so the 0xFF padding is signed too', () => {
    const b = parseSignatureSector(signed.subarray(8192))[0]?.block;
    expect(b?.imageDigest).toEqual(new Uint8Array(createHash('sha256').update(signed.subarray(0, 8192)).digest()));
  });
});
