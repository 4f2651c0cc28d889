/**
 * ECDSA as Secure Boot v2 uses it (signature block version 0x03): the image digest *is* the
 * message hash (espsecure signs with `ec.ECDSA(utils.Prehashed(...))`), so verification runs
 * with prehash disabled. Curve ids and sizes: esp-idf-ota-facts.md §4.2; espsecure
 * `generate_ecdsa_signature_block` / `_microecc_format`.
 *
 * Verify: @noble/curves p256/p384 (`prehash: false`, `lowS: false`: espsecure does not normalise s).
 * noble ships no P-192, so P-192 verifies with SEC 1 v2 §4.1.4 over a noble Weierstrass point.
 * Sign: node:crypto, which hashes the signed region itself, giving the same digest.
 */
import { sign as nodeSign, type KeyObject } from 'node:crypto';
import { weierstrass, type WeierstrassPointCons } from '@noble/curves/abstract/weierstrass.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { beToBig, bigToBe, bigToLe, mod, modInverse, type DigestAlg } from './secure-boot-bytes.js';

export type EcCurveName = 'P-192' | 'P-256' | 'P-384';

export interface EcCurve {
  readonly name: EcCurveName;
  /** `curve_id` byte in the block: P192 = 1, P256 = 2, P384 = 3. */
  readonly id: 1 | 2 | 3;
  /** Coordinate / scalar size in bytes. */
  readonly size: 24 | 32 | 48;
  /** The block's image digest: SHA-384 for P-384, SHA-256 otherwise. */
  readonly hash: DigestAlg;
  /** OpenSSL's curve name, as node:crypto reports `namedCurve`. */
  readonly opensslName: string;
  /** Bytes the point (and r‖s) occupies in the block: 64, or 96 for P-384; shorter values are zero-padded. */
  readonly fieldLen: 64 | 96;
}

export const EC_CURVES: readonly EcCurve[] = [
  { name: 'P-192', id: 1, size: 24, hash: 'sha256', opensslName: 'prime192v1', fieldLen: 64 },
  { name: 'P-256', id: 2, size: 32, hash: 'sha256', opensslName: 'prime256v1', fieldLen: 64 },
  { name: 'P-384', id: 3, size: 48, hash: 'sha384', opensslName: 'secp384r1', fieldLen: 96 },
];

/** NIST P-192 domain parameters (FIPS 186-4 D.1.2.1, a = p − 3). */
const P192 = weierstrass({
  p: 0xfffffffffffffffffffffffffffffffeffffffffffffffffn,
  n: 0xffffffffffffffffffffffff99def836146bc9b1b4d22831n,
  h: 1n,
  a: 0xfffffffffffffffffffffffffffffffefffffffffffffffcn,
  b: 0x64210519e59c80e70fa7e9ab72243049feb8deecc146b9b1n,
  Gx: 0x188da80eb03090f67cbf20eb43a18800f4ff0afd82ff1012n,
  Gy: 0x07192b95ffc8da78631011ed6b24cdd573f977a11e794811n,
});

/** The ECDSA key part IDF hashes for the eFuse digest: curve id, then X‖Y little-endian, zero-padded. */
export function ecdsaKeyPart(curve: EcCurve, x: bigint, y: bigint): Uint8Array {
  const part = new Uint8Array(1 + curve.fieldLen);
  part[0] = curve.id;
  part.set(bigToLe(x, curve.size), 1);
  part.set(bigToLe(y, curve.size), 1 + curve.size);
  return part;
}

/**
 * SEC 1 v2 §4.1.4 ECDSA verification with the message hash given (no hashing here).
 * Exported for cross-checking against noble's own verifier in tests.
 */
export function sec1Verify(Point: WeierstrassPointCons<bigint>, e: Uint8Array, x: bigint, y: bigint, r: bigint, s: bigint): boolean {
  const n = Point.Fn.ORDER;
  if (r < 1n || r >= n || s < 1n || s >= n) return false; // step 1
  let q;
  try {
    q = Point.fromAffine({ x, y });
    q.assertValidity();
  } catch {
    return false;
  }
  const nBits = n.toString(2).length;
  const shift = BigInt(Math.max(0, e.length * 8 - nBits)); // step 3-4: leftmost ⌈log2 n⌉ bits of the hash
  const ei = beToBig(e) >> shift;
  const w = modInverse(s, n);
  if (w === null) return false;
  const u1 = mod(ei * w, n); // step 5
  const u2 = mod(r * w, n);
  const big = Point.BASE.multiplyUnsafe(u1).add(q.multiplyUnsafe(u2)); // step 5: R = u1·G + u2·Q
  if (big.is0()) return false; // step 6
  return mod(big.toAffine().x, n) === r; // steps 7-8
}

/** Verify (r, s) over `digest` for the public point (x, y). Malformed input is "not verified". */
export function ecdsaVerify(curve: EcCurve, x: bigint, y: bigint, r: bigint, s: bigint, digest: Uint8Array): boolean {
  if (curve.name === 'P-192') return sec1Verify(P192, digest, x, y, r, s);
  const impl = curve.name === 'P-256' ? p256 : p384;
  try {
    const sig = new Uint8Array([...bigToBe(r, curve.size), ...bigToBe(s, curve.size)]);
    const pub = new Uint8Array([0x04, ...bigToBe(x, curve.size), ...bigToBe(y, curve.size)]);
    return impl.verify(sig, digest, pub, { prehash: false, lowS: false });
  } catch {
    return false; // coordinates or scalars that do not fit the curve
  }
}

/** Sign `region` (whose digest goes in the block) with an EC private key; returns r and s. */
export function ecdsaSign(privateKey: KeyObject, curve: EcCurve, region: Uint8Array): { readonly r: bigint; readonly s: bigint } {
  const rs = new Uint8Array(nodeSign(curve.hash, region, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  return { r: beToBig(rs.subarray(0, curve.size)), s: beToBig(rs.subarray(curve.size)) };
}
