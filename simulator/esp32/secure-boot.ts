/**
 * Secure Boot v2 signature sectors: parse, verify (RSA-3072-PSS, ECDSA P-192/P-256/P-384) and sign.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §4 (secure_boot.h, espsecure).
 *
 * This file is the public door; the layout, the two signature schemes, keys and verification
 * live in the secure-boot-*.ts files beside it.
 */
import { SigningError } from '../../protocol/errors.js';
import { parseSignatureBlock, parseSignatureSector, SIG_BLOCK_COUNT, SIG_BLOCK_SIZE, SIG_SECTOR_SIZE, type SignatureBlock } from './secure-boot-block.js';
import { bytesEqual, digest, roundUpToSector } from './secure-boot-bytes.js';
import { readPublicKey, readSigningKey, type KeyInput, type SbSigningKey, type SignBlockOptions } from './secure-boot-keys.js';
import { blockFailure } from './secure-boot-verify.js';

export {
  parseSignatureBlock, parseSignatureSector, SIG_BLOCK_COUNT, SIG_BLOCK_MAGIC, SIG_BLOCK_SIZE, SIG_SECTOR_SIZE,
  SIG_VERSION_ECDSA, SIG_VERSION_RSA,
  type EcdsaBlockKey, type RsaBlockKey, type SignatureBlock, type SignatureSlot, type SigScheme, type SlotStatus,
} from './secure-boot-block.js';
export type { EcCurveName } from './secure-boot-ecdsa.js';
export { readPublicKey, readSigningKey, type KeyInput, type SbPublicKey, type SbSigningKey, type SignBlockOptions } from './secure-boot-keys.js';
export {
  checkSignedImage, verifySignedImage,
  type SignatureFailure, type SignatureVerdict, type VerifySignatureOptions,
} from './secure-boot-verify.js';

/** Flash offset of the signature sector, relative to the image start: roundup(imageLength, 4096).
 * `imageLength` includes the appended SHA-256. */
export function signatureSectorOffset(imageLength: number): number {
  return roundUpToSector(imageLength);
}

/** SHA-256 of a key's SBv2 key part: the 32 bytes eFuse stores (`espsecure digest-sbv2-public-key`).
 * Accepts a public or private PEM (RSA-3072, ECDSA P-192/P-256/P-384). Throws SigningError otherwise. */
export function keyDigest(pem: KeyInput): Uint8Array {
  return digest('sha256', readPublicKey(pem).keyPart);
}

/** Sign `region` with `key` and check the new block verifies before handing it out. */
function signedBlock(key: SbSigningKey, region: Uint8Array, index: number, opts: SignBlockOptions): Uint8Array {
  const raw = key.signBlock(region, opts);
  const { block } = parseSignatureBlock(raw, index);
  const why = block === null || !block.crcOk ? 'it does not parse' : blockFailure(block, digest(key.hash, region));
  if (why !== null) throw new SigningError(`the signature just made does not verify (${why}); the signer is faulty`);
  return raw;
}

/**
 * Sign an image as `espsecure sign-data --version 2` does: pad it with 0xFF to a multiple of 4 KiB,
 * then append one 4096-byte signature sector holding block 0 and 0xFF fill. `image` is the image
 * including its appended SHA-256. Keys: RSA-3072 or ECDSA P-192/P-256/P-384 private PEM (PKCS#8 or
 * traditional). Returns a new array of roundup(image.length, 4096) + 4096 bytes.
 */
export function signImage(image: Uint8Array, privateKeyPem: KeyInput, opts: SignBlockOptions = {}): Uint8Array {
  if (!(image instanceof Uint8Array) || image.length === 0) throw new SigningError('nothing to sign: the image is empty');
  const key = readSigningKey(privateKeyPem);
  const sector = roundUpToSector(image.length);
  const out = new Uint8Array(sector + SIG_SECTOR_SIZE).fill(0xff);
  out.set(image, 0);
  out.set(signedBlock(key, out.subarray(0, sector), 0, opts), sector);
  return out;
}

/**
 * Add one more signature block to an already signed image, as `espsecure sign-data --append-signatures`
 * does: keep the leading valid blocks, put the new block after them, fill the rest of the sector with
 * 0xFF. `signedImage` must end with its signature sector (a multiple of 4 KiB, as signImage returns).
 * Throws SigningError when no valid block is present, all 3 are used, or an existing block was signed
 * over other content (the image changed after signing). Note that ESP32 (ECO3) and ESP32-C2 read only block 0.
 */
export function appendSignature(signedImage: Uint8Array, privateKeyPem: KeyInput, opts: SignBlockOptions = {}): Uint8Array {
  const len = signedImage instanceof Uint8Array ? signedImage.length : 0;
  if (len < 2 * SIG_SECTOR_SIZE || len % SIG_SECTOR_SIZE !== 0) {
    throw new SigningError(`not a signed image: ${len} bytes; a signed image is a multiple of ${SIG_SECTOR_SIZE} bytes ending in its signature sector`);
  }
  const key = readSigningKey(privateKeyPem);
  const contentLen = len - SIG_SECTOR_SIZE;
  const slots = parseSignatureSector(signedImage.subarray(contentLen));
  const existing: SignatureBlock[] = [];
  for (const s of slots) {
    if (s.status !== 'valid' || s.block === null) break; // espsecure stops at the first invalid block
    existing.push(s.block);
  }
  if (existing.length === 0) throw new SigningError('no valid signature block to append to; sign the image with signImage first');
  if (existing.length === SIG_BLOCK_COUNT) throw new SigningError(`the signature sector already holds ${SIG_BLOCK_COUNT} blocks, the most IDF reads`);
  const content = signedImage.subarray(0, contentLen);
  for (const b of existing) {
    if (!bytesEqual(b.imageDigest, digest(b.scheme === 'ecdsa-p384' ? 'sha384' : 'sha256', content))) {
      throw new SigningError(`block ${b.index} was signed over other content: the image changed after it was signed; re-sign it from scratch`);
    }
  }
  const out = new Uint8Array(len).fill(0xff);
  out.set(signedImage.subarray(0, contentLen + existing.length * SIG_BLOCK_SIZE), 0);
  out.set(signedBlock(key, content, existing.length, opts), contentLen + existing.length * SIG_BLOCK_SIZE);
  return out;
}
