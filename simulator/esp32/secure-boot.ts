/**
 * Secure Boot v2 signature sectors: parse, verify (RSA-3072-PSS, ECDSA P-256) and sign.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §4 (secure_boot.h, espsecure).
 *
 * CONTRACT STUB — to be implemented (owner: secure-boot work).
 */
import { EspError } from '../../protocol/errors.js';

export type SigScheme = 'rsa3072' | 'ecdsa-p192' | 'ecdsa-p256' | 'ecdsa-p384';

export interface SignatureBlock {
  /** Index 0..2 within the signature sector. */
  readonly index: number;
  readonly scheme: SigScheme;
  /** The image digest stored in the block. */
  readonly imageDigest: Uint8Array;
  /** SHA-256 of the block's public-key part: what eFuse stores. */
  readonly keyDigest: Uint8Array;
  readonly crcOk: boolean;
}

export interface VerifySignatureOptions {
  /** Trusted key digests (as eFuse holds them). When absent, any block whose signature verifies is accepted. */
  readonly trustedKeyDigests?: readonly Uint8Array[];
}

/**
 * Verify a signed image: `bytes` holds the image from its first byte; `imageLength` is the image's
 * length including the appended SHA-256. The signature sector starts at roundup(imageLength, 4096).
 * Returns the block that verified; throws EspError('ESP_ERR_IMAGE_INVALID') otherwise.
 */
export function verifySignedImage(_bytes: Uint8Array, _imageLength: number, _opts: VerifySignatureOptions = {}): SignatureBlock {
  throw new EspError('ESP_ERR_IMAGE_INVALID', 'not implemented');
}

/** Sign an image with a PEM private key (RSA-3072 or EC P-256): pad with 0xFF to 4 KiB, append the sector. */
export function signImage(_image: Uint8Array, _privateKeyPem: string): Uint8Array {
  throw new Error('not implemented');
}
