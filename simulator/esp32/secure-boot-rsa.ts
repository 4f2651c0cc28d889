/**
 * RSA-3072-PSS as Secure Boot v2 uses it: SHA-256, MGF1-SHA-256, salt 32 bytes, trailer 0xBC,
 * over the *prehashed* image digest (espsecure signs with `utils.Prehashed(SHA256)`, so mHash in
 * RFC 8017 is the image digest itself, not a hash of it).
 *
 * node:crypto's sign/verify always hash their input, so the raw RSA step is done with
 * publicEncrypt/privateDecrypt under RSA_NO_PADDING and EMSA-PSS is implemented here
 * (RFC 8017 §9.1.1 encode, §9.1.2 verify, appendix B.2.1 MGF1).
 */
import { constants, createPublicKey, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { beToBig, bigToBe, bigToLe, bitLength, bytesEqual, digest, modInverse, putU32le } from './secure-boot-bytes.js';

/** SBv2 RSA key size in bits (espsecure: "Secure boot v2 only supports RSA-3072"). */
export const RSA_BITS = 3072;
/** Modulus, R and signature field size in bytes. */
export const RSA_BYTES = RSA_BITS / 8;
/** PSS salt length in bytes (espsecure `padding.PSS(..., salt_length=32)`). */
export const PSS_SALT_LEN = 32;
const H_LEN = 32;

/** The public half of an SBv2 RSA key, as the ROM's `ets_rsa_pubkey_t` holds it. */
export interface RsaPublicParts {
  readonly n: bigint;
  readonly e: number;
}

/** RFC 8017 B.2.1 MGF1 with SHA-256. */
export function mgf1(seed: Uint8Array, maskLen: number): Uint8Array {
  const out = new Uint8Array(maskLen);
  const counter = new Uint8Array(4);
  for (let c = 0, off = 0; off < maskLen; c++, off += H_LEN) {
    new DataView(counter.buffer).setUint32(0, c); // I2OSP(counter, 4): big-endian
    out.set(digest('sha256', seed, counter).subarray(0, Math.min(H_LEN, maskLen - off)), off);
  }
  return out;
}

function topBitsMask(emLen: number, emBits: number): number {
  return 0xff >>> (8 * emLen - emBits);
}

/** RFC 8017 §9.1.1 EMSA-PSS-ENCODE with SHA-256 / MGF1-SHA-256. `mHash` is the 32-byte image digest. */
export function emsaPssEncode(mHash: Uint8Array, emBits: number, salt: Uint8Array): Uint8Array {
  const emLen = Math.ceil(emBits / 8);
  if (mHash.length !== H_LEN) throw new RangeError('EMSA-PSS: mHash must be 32 bytes');
  if (emLen < H_LEN + salt.length + 2) throw new RangeError('EMSA-PSS: encoding error (emLen too small)');
  const h = digest('sha256', new Uint8Array(8), mHash, salt); // steps 5-6: H = Hash(0^8 || mHash || salt)
  const db = new Uint8Array(emLen - H_LEN - 1); // steps 7-8: DB = PS || 0x01 || salt
  db[db.length - salt.length - 1] = 0x01;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(h, db.length); // steps 9-10
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & topBitsMask(emLen, emBits); // step 11
  const em = new Uint8Array(emLen); // step 12: EM = maskedDB || H || 0xbc
  em.set(db, 0);
  em.set(h, db.length);
  em[emLen - 1] = 0xbc;
  return em;
}

/** RFC 8017 §9.1.2 EMSA-PSS-VERIFY, salt length fixed at 32. True when "consistent". */
export function emsaPssVerify(mHash: Uint8Array, em: Uint8Array, emBits: number, sLen = PSS_SALT_LEN): boolean {
  const emLen = Math.ceil(emBits / 8);
  if (mHash.length !== H_LEN || em.length !== emLen) return false;
  if (emLen < H_LEN + sLen + 2) return false; // step 3
  if (em[emLen - 1] !== 0xbc) return false; // step 4
  const masked = em.subarray(0, emLen - H_LEN - 1); // step 5
  const h = em.subarray(emLen - H_LEN - 1, emLen - 1);
  const keep = topBitsMask(emLen, emBits);
  if (((masked[0] ?? 0) & ~keep & 0xff) !== 0) return false; // step 6
  const mask = mgf1(h, masked.length); // steps 7-8
  const db = masked.map((b, i) => b ^ (mask[i] ?? 0));
  db[0] = (db[0] ?? 0) & keep; // step 9
  const psLen = emLen - H_LEN - sLen - 2; // step 10
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - sLen); // step 11
  return bytesEqual(digest('sha256', new Uint8Array(8), mHash, salt), h); // steps 12-14
}

/**
 * The ROM's Montgomery constants for `n` (espsecure `_get_sbv2_rsa_primitives`):
 * R = 2^(2·3072) mod n ("rinv") and M' = −n⁻¹ mod 2³² ("mdash"). Null when n is even (no inverse).
 */
export function rsaMontgomery(n: bigint): { readonly rinv: bigint; readonly mdash: number } | null {
  if (n <= 1n) return null;
  const inv = modInverse(n, 1n << 32n);
  if (inv === null) return null;
  return { rinv: (1n << BigInt(2 * RSA_BITS)) % n, mdash: Number(((1n << 32n) - inv) % (1n << 32n)) };
}

/** The 776-byte key part of an RSA block (offsets 36..811): n, e, R, M', all little-endian. */
export function rsaKeyPart(key: RsaPublicParts): Uint8Array {
  const m = rsaMontgomery(key.n);
  if (m === null) throw new RangeError('RSA modulus must be odd');
  const part = new Uint8Array(2 * RSA_BYTES + 8);
  part.set(bigToLe(key.n, RSA_BYTES), 0);
  putU32le(part, RSA_BYTES, key.e);
  part.set(bigToLe(m.rinv, RSA_BYTES), RSA_BYTES + 4);
  putU32le(part, 2 * RSA_BYTES + 4, m.mdash);
  return part;
}

function b64url(n: bigint): string {
  return Buffer.from(bigToBe(n, Math.max(1, Math.ceil(bitLength(n) / 8)))).toString('base64url');
}

/**
 * RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) of a big-endian signature over the prehashed `mHash`.
 * Any malformed key or signature is simply "not verified", never an exception.
 */
export function rsaPssVerify(key: RsaPublicParts, signature: Uint8Array, mHash: Uint8Array): boolean {
  const modBits = bitLength(key.n);
  const k = Math.ceil(modBits / 8);
  if (signature.length !== k || key.e < 3 || key.e % 2 === 0 || key.n % 2n === 0n) return false;
  if (beToBig(signature) >= key.n) return false; // RSAVP1 step 1: signature representative out of range
  let m: Uint8Array;
  try {
    const pub = createPublicKey({ key: { kty: 'RSA', n: b64url(key.n), e: b64url(BigInt(key.e)) }, format: 'jwk' });
    m = new Uint8Array(publicEncrypt({ key: pub, padding: constants.RSA_NO_PADDING }, signature)); // s^e mod n
  } catch {
    return false;
  }
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (m.subarray(0, k - emLen).some((b) => b !== 0)) return false; // I2OSP(m, emLen) must fit
  return emsaPssVerify(mHash, m.subarray(k - emLen), emBits);
}

/** RSASSA-PSS-SIGN (RFC 8017 §8.1.1) of the prehashed `mHash`; returns the big-endian signature. */
export function rsaPssSign(privateKey: KeyObject, n: bigint, mHash: Uint8Array, salt: Uint8Array): Uint8Array {
  const modBits = bitLength(n);
  const k = Math.ceil(modBits / 8);
  const em = emsaPssEncode(mHash, modBits - 1, salt);
  const block = new Uint8Array(k);
  block.set(em, k - em.length);
  const s = new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block)); // em^d mod n
  const out = new Uint8Array(k);
  out.set(s.subarray(Math.max(0, s.length - k)), k - Math.min(k, s.length));
  return out;
}
