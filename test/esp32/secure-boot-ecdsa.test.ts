/** ECDSA signature blocks (version 0x03) on P-256, P-192 and P-384: layout, round trips, tampering. */
import { createHash, generateKeyPairSync, randomBytes, sign as nodeSign } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkSignedImage, keyDigest, parseSignatureSector, signImage, verifySignedImage,
} from '../../simulator/esp32/secure-boot.js';
import { sec1Verify } from '../../simulator/esp32/secure-boot-ecdsa.js';
import { espErrorOf, fixCrc, flipped, imageBytes, sha256 } from './secure-boot-support.js';

const IMAGE_LEN = 6000;
const SECTOR = 8192;
const image = imageBytes(IMAGE_LEN, 11);

function ecKey(namedCurve: string, type: 'pkcs8' | 'sec1' = 'pkcs8'): string {
  return generateKeyPairSync('ec', { namedCurve }).privateKey.export({ type, format: 'pem' }).toString();
}

const P256_N = p256.Point.Fn.ORDER;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const beBig = (b: Uint8Array): bigint => BigInt('0x' + (hex(b) || '0'));

describe.each([
  { curve: 'prime256v1', scheme: 'ecdsa-p256', id: 2, sha: 0, curveAt: 36, size: 32, hash: 'sha256' },
  { curve: 'prime192v1', scheme: 'ecdsa-p192', id: 1, sha: 0, curveAt: 36, size: 24, hash: 'sha256' },
  { curve: 'secp384r1', scheme: 'ecdsa-p384', id: 3, sha: 1, curveAt: 52, size: 48, hash: 'sha384' },
] as const)('$scheme', ({ curve, scheme, id, sha, curveAt, size, hash }) => {
  const pem = ecKey(curve);
  const signed = signImage(image, pem);
  const trusted = [keyDigest(pem)];
  const fieldLen = size === 48 ? 96 : 64;
  const sigAt = SECTOR + curveAt + 1 + fieldLen;

  it('writes espsecure\'s layout: version 3, SHA version, curve id, zero-padded point and r‖s', () => {
    const blk = signed.subarray(SECTOR, SECTOR + 1216);
    expect([blk[0], blk[1], blk[2], blk[3]]).toEqual([0xe7, 0x03, sha, 0]);
    expect(blk[curveAt]).toBe(id);
    const digestLen = hash === 'sha384' ? 48 : 32;
    expect(hex(blk.subarray(4, 4 + digestLen))).toBe(createHash(hash).update(signed.subarray(0, SECTOR)).digest('hex'));
    // P-192 packs 24+24 bytes into 64-byte fields; the rest, and the reserved area, are zero.
    expect(blk.subarray(curveAt + 1 + 2 * size, curveAt + 1 + fieldLen).every((b) => b === 0)).toBe(true);
    expect(blk.subarray(curveAt + 1 + fieldLen + 2 * size, 1196).every((b) => b === 0)).toBe(true);
    const parsed = parseSignatureSector(signed.subarray(SECTOR))[0]?.block;
    expect(parsed?.key).toMatchObject({ kind: 'ecdsa', curve: `P-${size * 8}` });
    expect(parsed?.signature.length).toBe(2 * size);
  });

  it('the key digest is SHA-256 of curve id + point (65 or 97 bytes), from private or SEC1 PEM alike', () => {
    const b = verifySignedImage(signed, IMAGE_LEN, { trustedKeyDigests: trusted, scheme });
    expect(b.scheme).toBe(scheme);
    expect(b.keyPart.length).toBe(1 + fieldLen);
    expect(b.keyDigest).toEqual(sha256(signed.subarray(SECTOR + curveAt, SECTOR + curveAt + 1 + fieldLen)));
    expect(b.keyDigest).toEqual(trusted[0]);
  });

  it('accepts traditional "EC PRIVATE KEY" PEM', () => {
    const sec1 = ecKey(curve, 'sec1');
    expect(sec1).toMatch(/BEGIN EC PRIVATE KEY/);
    expect(verifySignedImage(signImage(image, sec1), IMAGE_LEN, { trustedKeyDigests: [keyDigest(sec1)] }).scheme).toBe(scheme);
  });

  it('a flipped r or s byte (re-CRC\'d) is "image valid, signature bad"', () => {
    for (const at of [sigAt, sigAt + size + 3]) {
      const bad = flipped(signed, at, 0x40);
      fixCrc(bad, SECTOR);
      expect(espErrorOf(() => verifySignedImage(bad, IMAGE_LEN, { trustedKeyDigests: trusted })).message)
        .toMatch(/image valid, signature bad.*ECDSA signature check failed/);
    }
  });

  it('a point moved off the curve (re-CRC\'d, no trust list) fails cleanly', () => {
    const bad = flipped(signed, SECTOR + curveAt + 1, 0x01);
    fixCrc(bad, SECTOR);
    const v = checkSignedImage(bad, IMAGE_LEN);
    expect(v.ok === false && v.failure).toBe('signature-bad');
  });

  it('property: any byte flip in [0, end of block 0\'s CRC) fails', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: SECTOR + 1199 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      expect(checkSignedImage(flipped(signed, at, xor), IMAGE_LEN, { trustedKeyDigests: trusted }).ok).toBe(false);
    }), { numRuns: scheme === 'ecdsa-p256' ? 1000 : 200 });
  });
});

describe('ECDSA verifier details', () => {
  it('accepts high-S signatures (espsecure does not normalise s; neither does IDF)', () => {
    const pem = ecKey('prime256v1');
    const signed = signImage(image, pem);
    const sAt = SECTOR + 101 + 32;
    const s = beBig(signed.subarray(sAt, sAt + 32).reverse());
    const other = P256_N - s; // (r, n − s) is the same signature's twin
    const twin = Uint8Array.from(signed);
    twin.set(Buffer.from(other.toString(16).padStart(64, '0'), 'hex').reverse(), sAt);
    fixCrc(twin, SECTOR);
    expect(verifySignedImage(twin, IMAGE_LEN, { trustedKeyDigests: [keyDigest(pem)] }).index).toBe(0);
  });

  it('our SEC 1 verifier (used for P-192) agrees with noble\'s p256.verify on P-256', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    const point = spki.subarray(spki.length - 65);
    const [x, y] = [beBig(point.subarray(1, 33)), beBig(point.subarray(33))];
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.boolean(), (msg, tamper) => {
      const rs = new Uint8Array(nodeSign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
      const e = tamper ? sha256(flipped(msg, 0)) : sha256(msg);
      const ours = sec1Verify(p256.Point, e, x, y, beBig(rs.subarray(0, 32)), beBig(rs.subarray(32)));
      expect(ours).toBe(p256.verify(rs, e, point, { prehash: false, lowS: false }));
      expect(ours).toBe(!tamper);
    }), { numRuns: 100 });
  });

  it('SEC 1 verify rejects r or s out of [1, n) and a point not on the curve', () => {
    const e = randomBytes(32);
    const G = p256.Point.BASE.toAffine();
    expect(sec1Verify(p256.Point, e, G.x, G.y, 0n, 1n)).toBe(false);
    expect(sec1Verify(p256.Point, e, G.x, G.y, 1n, P256_N)).toBe(false);
    expect(sec1Verify(p256.Point, e, G.x, G.y + 1n, 1n, 1n)).toBe(false);
  });
});
