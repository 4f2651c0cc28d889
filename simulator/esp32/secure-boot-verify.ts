/**
 * Secure Boot v2 image verification, as the app does it during OTA and the bootloader at boot.
 *
 * ESP-IDF secure_boot_signatures_app.c `esp_secure_boot_verify_sbv2_signature_block`: for each of the
 * 3 blocks, skip it unless magic 0xE7 + CRC are right and its version is the configured scheme; skip
 * it unless its key digest is trusted; verify it; stop at the first success. Any failure, or no
 * trusted block at all, is ESP_ERR_IMAGE_INVALID. The digest covers [start, roundup4K(image_len)).
 * The ROM path also compares the digest stored in the block (esp-idf-ota-facts.md §4.3); so do we.
 * On failure esp_image_format.c re-checks the simple hash and logs "image corrupted on flash" or
 * "image valid, signature bad"; the messages here make the same distinction.
 */
import { EspError } from '../../protocol/errors.js';
import { parseSignatureSector, SIG_SECTOR_SIZE, type SigScheme, type SignatureBlock, type SignatureSlot } from './secure-boot-block.js';
import { beToBig, bytesEqual, digest, roundUpToSector, toHex, type DigestAlg } from './secure-boot-bytes.js';
import { EC_CURVES, ecdsaVerify } from './secure-boot-ecdsa.js';
import { rsaPssVerify } from './secure-boot-rsa.js';

export interface VerifySignatureOptions {
  /** Trusted key digests (as eFuse holds them: 32 bytes, or the 16-byte prefix on ESP32-C2).
   * When absent, any valid block whose signature verifies is accepted. An empty list trusts nothing. */
  readonly trustedKeyDigests?: readonly Uint8Array[];
  /** The scheme the firmware was built for (CONFIG_SECURE_SIGNED_APPS_*). Blocks of another scheme are
   * invalid, as IDF's "signing scheme selected but signature block generated for … scheme". Default: any. */
  readonly scheme?: SigScheme;
  /** How many blocks the verifier reads: 3 by default; 1 on ESP32 ECO3 and with
   * CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT (only the first block is considered). */
  readonly maxBlocks?: 1 | 2 | 3;
}

/** Why verification failed, from the device's point of view. */
export type SignatureFailure = 'no-valid-block' | 'no-trusted-key' | 'image-corrupted' | 'signature-bad';

export type SignatureVerdict =
  | { readonly ok: true; readonly block: SignatureBlock; readonly sectorOffset: number; readonly slots: readonly SignatureSlot[] }
  | { readonly ok: false; readonly failure: SignatureFailure; readonly message: string;
    readonly sectorOffset: number; readonly slots: readonly SignatureSlot[] };

const PREFIX = 'Secure Boot V2 verification failed: ';
const short = (b: Uint8Array): string => toHex(b.subarray(0, 8)) + '…';

function checkArgs(bytes: Uint8Array, imageLength: number, opts: VerifySignatureOptions): number {
  if (!(bytes instanceof Uint8Array)) throw new EspError('ESP_ERR_INVALID_ARG', 'image bytes must be a Uint8Array');
  if (!Number.isSafeInteger(imageLength) || imageLength <= 0) {
    throw new EspError('ESP_ERR_INVALID_ARG', `image length ${String(imageLength)} is not a positive integer`);
  }
  for (const t of opts.trustedKeyDigests ?? []) {
    if (!(t instanceof Uint8Array) || (t.length !== 32 && t.length !== 16)) {
      throw new EspError('ESP_ERR_INVALID_ARG', 'a trusted key digest is 32 bytes (SHA-256), or its first 16 bytes on ESP32-C2');
    }
  }
  const max = opts.maxBlocks ?? 3;
  if (![1, 2, 3].includes(max)) throw new EspError('ESP_ERR_INVALID_ARG', `maxBlocks must be 1, 2 or 3, not ${String(max)}`);
  const sectorOffset = roundUpToSector(imageLength);
  if (bytes.length < sectorOffset + SIG_SECTOR_SIZE) {
    throw new EspError('ESP_ERR_IMAGE_INVALID', `${PREFIX}truncated: the signature sector at 0x${sectorOffset.toString(16)} `
      + `needs bytes up to 0x${(sectorOffset + SIG_SECTOR_SIZE).toString(16)}, but only ${bytes.length} bytes are present`);
  }
  return sectorOffset;
}

/** True/false when the image carries an appended SHA-256 (header byte 23), null when it has none. */
function simpleHashOk(bytes: Uint8Array, imageLength: number): boolean | null {
  if (bytes[0] !== 0xe9 || bytes[23] !== 1 || imageLength < 24 + 32) return null;
  return bytesEqual(digest('sha256', bytes.subarray(0, imageLength - 32)), bytes.subarray(imageLength - 32, imageLength));
}

/** Null when the block's stored digest equals `computed` and its signature verifies over it; else the reason. */
export function blockFailure(b: SignatureBlock, computed: Uint8Array): string | null {
  if (!bytesEqual(b.imageDigest, computed)) {
    return `block ${b.index}: stored image digest ${short(b.imageDigest)} differs from the computed ${short(computed)}`;
  }
  const k = b.key;
  let ok: boolean;
  if (k.kind === 'rsa') {
    ok = rsaPssVerify(k, b.signature, computed);
  } else {
    const curve = EC_CURVES.find((c) => c.name === k.curve);
    const half = b.signature.length / 2;
    ok = curve !== undefined && ecdsaVerify(curve, k.x, k.y, beToBig(b.signature.subarray(0, half)), beToBig(b.signature.subarray(half)), computed);
  }
  return ok ? null : `block ${b.index}: ${k.kind === 'rsa' ? 'RSA-PSS' : 'ECDSA'} signature check failed`;
}

/**
 * Check a signed image without throwing on a verification failure: `bytes` holds the image from its
 * first byte; `imageLength` is its length including the appended SHA-256. Throws EspError only for
 * bad arguments (ESP_ERR_INVALID_ARG) or bytes that end before the signature sector (ESP_ERR_IMAGE_INVALID).
 */
export function checkSignedImage(bytes: Uint8Array, imageLength: number, opts: VerifySignatureOptions = {}): SignatureVerdict {
  const sectorOffset = checkArgs(bytes, imageLength, opts);
  const slots = parseSignatureSector(bytes.subarray(sectorOffset, sectorOffset + SIG_SECTOR_SIZE)).slice(0, opts.maxBlocks ?? 3);
  const fail = (failure: SignatureFailure, message: string): SignatureVerdict => ({ ok: false, failure, message: PREFIX + message, sectorOffset, slots });

  const reasons: string[] = [];
  const usable: SignatureBlock[] = [];
  for (const s of slots) {
    if (s.status !== 'valid' || s.block === null) reasons.push(`block ${s.index}: ${s.detail}`);
    else if (opts.scheme !== undefined && s.block.scheme !== opts.scheme) {
      reasons.push(`block ${s.index}: ${opts.scheme} scheme selected but the block was generated for ${s.block.scheme}`);
    } else usable.push(s.block);
  }
  const at = `0x${sectorOffset.toString(16)}`;
  if (usable.length === 0) {
    return fail('no-valid-block', `no valid signature block in the signature sector at ${at} (${reasons.join('; ')}). `
      + 'Image not V2 signed? Sign it with espsecure sign-data --version 2 or otasim signImage.');
  }

  const trusted = opts.trustedKeyDigests;
  const trustedBlocks = trusted === undefined ? usable
    : usable.filter((b) => trusted.some((t) => bytesEqual(b.keyDigest.subarray(0, t.length), t)));
  if (trustedBlocks.length === 0) {
    const have = usable.map((b) => `block ${b.index} key digest ${toHex(b.keyDigest)}`).join('; ');
    const want = trusted !== undefined && trusted.length > 0 ? `trusted: ${trusted.map(toHex).join(', ')}` : 'no trusted key digests were given';
    return fail('no-trusted-key', `no trusted key: no signature block's key digest matches a trusted key digest (${have}; ${want}). `
      + 'Sign with a key whose digest is trusted (eFuse), or trust this key\'s digest.');
  }

  const digests = new Map<DigestAlg, Uint8Array>();
  const imageDigest = (alg: DigestAlg): Uint8Array => {
    let d = digests.get(alg);
    if (d === undefined) digests.set(alg, (d = digest(alg, bytes.subarray(0, sectorOffset))));
    return d;
  };
  const failures: string[] = [];
  for (const b of trustedBlocks) {
    const why = blockFailure(b, imageDigest(b.scheme === 'ecdsa-p384' ? 'sha384' : 'sha256'));
    if (why === null) return { ok: true, block: b, sectorOffset, slots };
    failures.push(why);
  }
  const simple = simpleHashOk(bytes, imageLength);
  const detail = failures.join('; ');
  if (simple === false) {
    return fail('image-corrupted', `image corrupted on flash: its appended SHA-256 no longer matches its contents (${detail}). Re-flash or re-download the image.`);
  }
  const lead = simple === true ? 'image valid, signature bad' : 'signature bad (the image has no appended SHA-256 to tell corruption from a bad signature)';
  return fail('signature-bad', `${lead} (${detail}). The image was changed after signing, or signed with another key than its block names.`);
}

/**
 * Verify a signed image: `bytes` holds the image from its first byte; `imageLength` is the image's
 * length including the appended SHA-256. The signature sector starts at roundup(imageLength, 4096).
 * Returns the block that verified; throws EspError('ESP_ERR_IMAGE_INVALID') otherwise, whose message
 * says "no valid signature block", "no trusted key", "image corrupted on flash" or "image valid, signature bad".
 */
export function verifySignedImage(bytes: Uint8Array, imageLength: number, opts: VerifySignatureOptions = {}): SignatureBlock {
  const v = checkSignedImage(bytes, imageLength, opts);
  if (!v.ok) throw new EspError('ESP_ERR_IMAGE_INVALID', v.message);
  return v.block;
}
