/**
 * Secure Boot v2 keys from PEM: which scheme a key is, its eFuse key part, and block signing.
 * Accepted as espsecure `_load_sbv2_signing_key` / `_get_sbv2_pub_key` accept them: RSA-3072, or
 * ECDSA on P-192 / P-256 / P-384; PKCS#8, traditional ("RSA/EC PRIVATE KEY") or SPKI public PEM.
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { SigningError } from '../../protocol/errors.js';
import { encodeSignatureBlock, schemeOfCurve, type SigScheme } from './secure-boot-block.js';
import { beToBig, digest, type DigestAlg } from './secure-boot-bytes.js';
import { EC_CURVES, ecdsaKeyPart, ecdsaSign, type EcCurve } from './secure-boot-ecdsa.js';
import { PSS_SALT_LEN, RSA_BITS, rsaKeyPart, rsaPssSign } from './secure-boot-rsa.js';

/** A PEM key, as text or as the bytes of a .pem file. */
export type KeyInput = string | Uint8Array;

/** The public half of an SBv2 key: what goes in a signature block and what eFuse trusts. */
export interface SbPublicKey {
  readonly scheme: SigScheme;
  /** Digest algorithm of the image digest this key signs: SHA-384 for P-384, else SHA-256. */
  readonly hash: DigestAlg;
  /** The block's key part (RSA 776 bytes; ECDSA curve id + point, 65 or 97 bytes). */
  readonly keyPart: Uint8Array;
}

export interface SignBlockOptions {
  /** RSA-PSS salt, 32 bytes. Default: 32 random bytes, as espsecure. Pass one for reproducible RSA output.
   * (ECDSA signatures use a fresh random nonce from OpenSSL, as espsecure's do.) */
  readonly salt?: Uint8Array;
}

export interface SbSigningKey extends SbPublicKey {
  /** Sign `region` (image bytes up to the signature sector) and encode one 1216-byte block. */
  signBlock(region: Uint8Array, opts?: SignBlockOptions): Uint8Array;
}

const SUPPORTED = 'Secure Boot v2 signs with RSA-3072 or ECDSA P-192/P-256/P-384 keys '
  + '(espsecure generate-signing-key --version 2 --scheme rsa3072|ecdsa192|ecdsa256|ecdsa384)';

function pemText(input: KeyInput): string {
  return typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
}

function loadKey(input: KeyInput, kind: 'private' | 'public'): KeyObject {
  const pem = pemText(input);
  try {
    return kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (e) {
    const what = kind === 'private' ? 'an unencrypted PEM private key ("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY" or "BEGIN EC PRIVATE KEY")'
      : 'a PEM public or private key';
    throw new SigningError(`cannot read the key: ${(e as Error).message}; give ${what}`, { code: 'OTASIM_ERR_SIGNING_KEY', cause: e });
  }
}

type Shape = { readonly kind: 'rsa'; readonly n: bigint; readonly e: number } | { readonly kind: 'ec'; readonly curve: EcCurve; readonly x: bigint; readonly y: bigint };

function shapeOf(pub: KeyObject): Shape {
  const type = pub.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = pub.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits !== RSA_BITS) throw new SigningError(`an RSA-${bits} key: ${SUPPORTED}`, { code: 'OTASIM_ERR_SIGNING_KEY' });
    const jwk = pub.export({ format: 'jwk' });
    const e = beToBig(Buffer.from(jwk.e ?? '', 'base64url'));
    if (e > 0xffffffffn) throw new SigningError(`RSA public exponent ${e} does not fit the block's 32-bit field`, { code: 'OTASIM_ERR_SIGNING_KEY' });
    return { kind: 'rsa', n: beToBig(Buffer.from(jwk.n ?? '', 'base64url')), e: Number(e) };
  }
  if (type === 'ec') {
    const named = pub.asymmetricKeyDetails?.namedCurve ?? '?';
    const curve = EC_CURVES.find((c) => c.opensslName === named);
    if (curve === undefined) throw new SigningError(`an EC key on curve ${named}: ${SUPPORTED}`, { code: 'OTASIM_ERR_SIGNING_KEY' });
    // SPKI ends with the uncompressed point 04‖X‖Y (node exports it uncompressed).
    const der = new Uint8Array(pub.export({ type: 'spki', format: 'der' }));
    const pt = der.subarray(der.length - (1 + 2 * curve.size));
    if (pt[0] !== 0x04) throw new SigningError('EC public key is not an uncompressed point', { code: 'OTASIM_ERR_SIGNING_KEY' });
    return { kind: 'ec', curve, x: beToBig(pt.subarray(1, 1 + curve.size)), y: beToBig(pt.subarray(1 + curve.size)) };
  }
  throw new SigningError(`a ${type ?? 'unknown'} key: ${SUPPORTED}`, { code: 'OTASIM_ERR_SIGNING_KEY' });
}

function publicOf(shape: Shape): SbPublicKey {
  return shape.kind === 'rsa'
    ? { scheme: 'rsa3072', hash: 'sha256', keyPart: rsaKeyPart(shape) }
    : { scheme: schemeOfCurve(shape.curve.name), hash: shape.curve.hash, keyPart: ecdsaKeyPart(shape.curve, shape.x, shape.y) };
}

/** Read a public or private PEM and return its SBv2 public half. Throws SigningError for other keys. */
export function readPublicKey(input: KeyInput): SbPublicKey {
  return publicOf(shapeOf(loadKey(input, 'public')));
}

/** Read a private PEM for signing. Throws SigningError for public, encrypted or unsupported keys. */
export function readSigningKey(input: KeyInput): SbSigningKey {
  const priv = loadKey(input, 'private');
  const shape = shapeOf(createPublicKey(priv));
  const pub = publicOf(shape);
  const signBlock = (region: Uint8Array, opts: SignBlockOptions = {}): Uint8Array => {
    if (opts.salt !== undefined && opts.salt.length !== PSS_SALT_LEN) {
      throw new SigningError(`RSA-PSS salt must be ${PSS_SALT_LEN} bytes, not ${opts.salt.length}`);
    }
    const d = digest(pub.hash, region);
    if (shape.kind === 'ec') {
      const { r, s } = ecdsaSign(priv, shape.curve, region);
      return encodeSignatureBlock({ kind: 'ecdsa', curve: shape.curve, imageDigest: d, x: shape.x, y: shape.y, r, s });
    }
    const salt = opts.salt ?? new Uint8Array(randomBytes(PSS_SALT_LEN));
    return encodeSignatureBlock({ kind: 'rsa', imageDigest: d, n: shape.n, e: shape.e, signature: rsaPssSign(priv, shape.n, d, salt) });
  };
  return { ...pub, signBlock };
}
