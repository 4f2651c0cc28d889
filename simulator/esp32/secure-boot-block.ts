/**
 * Secure Boot v2 signature sector layout: up to 3 blocks of 1216 bytes at 0 / 1216 / 2432, the
 * rest 0xFF. Sources: esp-idf-ota-facts.md §4.1–§4.2 (`ets_secure_boot_sig_block_t` in
 * rom/secure_boot.h; espsecure `generate_rsa_signature_block` / `generate_ecdsa_signature_block`).
 */
import { crc32 } from 'node:zlib';
import { EspError } from '../../protocol/errors.js';
import { beToBig, bigToBe, bigToLe, copyOf, digest, leToBig, putU32le, SECTOR_SIZE, u32le } from './secure-boot-bytes.js';
import { EC_CURVES, ecdsaKeyPart, type EcCurve, type EcCurveName } from './secure-boot-ecdsa.js';
import { RSA_BYTES, rsaKeyPart, rsaMontgomery } from './secure-boot-rsa.js';

export type SigScheme = 'rsa3072' | 'ecdsa-p192' | 'ecdsa-p256' | 'ecdsa-p384';

export const SIG_BLOCK_SIZE = 1216;
export const SIG_BLOCK_COUNT = 3;
export const SIG_BLOCK_MAGIC = 0xe7;
export const SIG_VERSION_RSA = 0x02;
export const SIG_VERSION_ECDSA = 0x03;
/** The CRC covers bytes [0, 1196) and sits at 1196 (`CRC_SIGN_BLOCK_LEN`); 16 zero bytes follow. */
export const SIG_CRC_OFFSET = 1196;
/** Size of the signature sector in bytes. */
export const SIG_SECTOR_SIZE = SECTOR_SIZE;

// RSA block (version 0x02) field offsets.
const RSA_DIGEST = 4, RSA_N = 36, RSA_E = 420, RSA_RINV = 424, RSA_MDASH = 808, RSA_SIG = 812;
// ECDSA block (version 0x03): SHA-256 layout puts the curve at 36, SHA-384 (P-384) at 52.
const ECDSA_SHA_256 = 0, ECDSA_SHA_384 = 1;

export interface RsaBlockKey {
  readonly kind: 'rsa';
  readonly n: bigint;
  readonly e: number;
  /** Stored R ("rinv"), meant to be 2^6144 mod n. */
  readonly rinv: bigint;
  /** Stored M' ("mdash"), meant to be −n⁻¹ mod 2³². */
  readonly mdash: number;
  /** True when R and M' are the values n implies. The ROM's Montgomery hardware needs them right;
   * IDF's app-side (mbedTLS/PSA) verifier ignores them. */
  readonly montgomeryOk: boolean;
}

export interface EcdsaBlockKey {
  readonly kind: 'ecdsa';
  readonly curve: EcCurveName;
  readonly x: bigint;
  readonly y: bigint;
}

/** One decoded signature block (magic 0xE7 and a known layout). */
export interface SignatureBlock {
  /** Index 0..2 within the signature sector. */
  readonly index: number;
  readonly scheme: SigScheme;
  /** The image digest stored in the block (32 bytes; 48 for P-384). */
  readonly imageDigest: Uint8Array;
  /** SHA-256 of the block's public-key part: what eFuse stores. */
  readonly keyDigest: Uint8Array;
  /** The key part exactly as IDF hashes it (RSA 776 bytes; ECDSA 65, or 97 for P-384). */
  readonly keyPart: Uint8Array;
  readonly key: RsaBlockKey | EcdsaBlockKey;
  /** Signature, big-endian: RSA s (384 bytes), or ECDSA r‖s (2 × coordinate size). */
  readonly signature: Uint8Array;
  readonly crcOk: boolean;
  readonly storedCrc: number;
  readonly computedCrc: number;
}

/** How IDF would see one of the 3 block slots. Only `valid` slots take part in verification. */
export type SlotStatus = 'valid' | 'erased' | 'bad-magic' | 'bad-crc' | 'unsupported';

export interface SignatureSlot {
  readonly index: number;
  readonly status: SlotStatus;
  /** Human-readable reason, in IDF's terms ("CRC mismatch …", "magic byte 0x00, not 0xe7"). */
  readonly detail: string;
  /** The decoded block for `valid` and `bad-crc` slots, else null. */
  readonly block: SignatureBlock | null;
}

const hex8 = (v: number): string => '0x' + v.toString(16).padStart(8, '0');
const hex2 = (v: number): string => '0x' + v.toString(16).padStart(2, '0');

export function schemeOfCurve(curve: EcCurveName): SigScheme {
  return curve === 'P-192' ? 'ecdsa-p192' : curve === 'P-256' ? 'ecdsa-p256' : 'ecdsa-p384';
}

interface Decoded { readonly scheme: SigScheme; readonly imageDigest: Uint8Array; readonly keyPart: Uint8Array;
  readonly key: RsaBlockKey | EcdsaBlockKey; readonly signature: Uint8Array }

function decodeRsa(b: Uint8Array): Decoded {
  const n = leToBig(b.subarray(RSA_N, RSA_N + RSA_BYTES));
  const rinv = leToBig(b.subarray(RSA_RINV, RSA_RINV + RSA_BYTES));
  const mdash = u32le(b, RSA_MDASH);
  const m = rsaMontgomery(n);
  return {
    scheme: 'rsa3072',
    imageDigest: copyOf(b, RSA_DIGEST, RSA_DIGEST + 32),
    keyPart: copyOf(b, RSA_N, RSA_SIG),
    key: { kind: 'rsa', n, e: u32le(b, RSA_E), rinv, mdash, montgomeryOk: m !== null && m.rinv === rinv && m.mdash === mdash },
    signature: copyOf(b, RSA_SIG, RSA_SIG + RSA_BYTES).reverse(),
  };
}

function decodeEcdsa(b: Uint8Array): Decoded | string {
  const sha = b[2] ?? 0;
  const curveAt = sha === ECDSA_SHA_384 ? 52 : 36;
  const curve = EC_CURVES.find((c) => c.id === b[curveAt]);
  const okCombo = (sha === ECDSA_SHA_256 && (curve?.id === 1 || curve?.id === 2)) || (sha === ECDSA_SHA_384 && curve?.id === 3);
  if (curve === undefined || !okCombo) {
    return `ECDSA block with SHA version ${sha} and curve id ${b[curveAt] ?? 0}: not a layout IDF knows`;
  }
  const le = (off: number): bigint => leToBig(b.subarray(off, off + curve.size));
  const point = curveAt + 1, sig = point + curve.fieldLen;
  const [x, y, r, s] = [le(point), le(point + curve.size), le(sig), le(sig + curve.size)];
  return {
    scheme: schemeOfCurve(curve.name),
    imageDigest: copyOf(b, 4, curveAt),
    keyPart: copyOf(b, curveAt, sig),
    key: { kind: 'ecdsa', curve: curve.name, x, y },
    signature: new Uint8Array([...bigToBe(r, curve.size), ...bigToBe(s, curve.size)]),
  };
}

/** Decode one 1216-byte slot. Never throws on content; `block` must be exactly 1216 bytes. */
export function parseSignatureBlock(block: Uint8Array, index: number): SignatureSlot {
  if (block.length !== SIG_BLOCK_SIZE) {
    throw new EspError('ESP_ERR_INVALID_SIZE', `signature block ${index} is ${block.length} bytes; a block is ${SIG_BLOCK_SIZE}`);
  }
  if (block.every((v) => v === 0xff)) return { index, status: 'erased', detail: 'erased (all 0xFF): no block', block: null };
  const magic = block[0] ?? 0;
  if (magic !== SIG_BLOCK_MAGIC) {
    return { index, status: 'bad-magic', detail: `magic byte ${hex2(magic)}, not 0xe7`, block: null };
  }
  const storedCrc = u32le(block, SIG_CRC_OFFSET);
  const computedCrc = crc32(block.subarray(0, SIG_CRC_OFFSET)) >>> 0;
  const crcOk = storedCrc === computedCrc;
  const crcText = crcOk ? 'CRC ok' : `CRC mismatch: stored ${hex8(storedCrc)}, computed ${hex8(computedCrc)}`;
  const version = block[1] ?? 0;
  const decoded = version === SIG_VERSION_RSA ? decodeRsa(block)
    : version === SIG_VERSION_ECDSA ? decodeEcdsa(block)
      : `version ${hex2(version)} is neither RSA (0x02) nor ECDSA (0x03)`;
  if (typeof decoded === 'string') return { index, status: 'unsupported', detail: `${decoded} (${crcText})`, block: null };
  const sb: SignatureBlock = { index, ...decoded, keyDigest: digest('sha256', decoded.keyPart), crcOk, storedCrc, computedCrc };
  return crcOk ? { index, status: 'valid', detail: `${decoded.scheme} block`, block: sb }
    : { index, status: 'bad-crc', detail: crcText, block: sb };
}

/** Split a signature sector (≥ 3 × 1216 bytes; normally 4096) into its 3 slots. */
export function parseSignatureSector(sector: Uint8Array): readonly SignatureSlot[] {
  if (!(sector instanceof Uint8Array) || sector.length < SIG_BLOCK_COUNT * SIG_BLOCK_SIZE) {
    const len = sector instanceof Uint8Array ? `${sector.length} bytes` : typeof sector;
    throw new EspError('ESP_ERR_INVALID_SIZE',
      `signature sector is ${len}; it needs ${SIG_BLOCK_COUNT} × ${SIG_BLOCK_SIZE} bytes (normally a whole ${SIG_SECTOR_SIZE}-byte sector)`);
  }
  return Array.from({ length: SIG_BLOCK_COUNT }, (_, i) =>
    parseSignatureBlock(sector.subarray(i * SIG_BLOCK_SIZE, (i + 1) * SIG_BLOCK_SIZE), i));
}

/** Fields to encode one block; the signature is big-endian as signers produce it. */
export type BlockFields =
  | { readonly kind: 'rsa'; readonly imageDigest: Uint8Array; readonly n: bigint; readonly e: number; readonly signature: Uint8Array }
  | { readonly kind: 'ecdsa'; readonly curve: EcCurve; readonly imageDigest: Uint8Array;
    readonly x: bigint; readonly y: bigint; readonly r: bigint; readonly s: bigint };

/** Encode a 1216-byte block with its CRC and 16 zero bytes of padding (espsecure layout). */
export function encodeSignatureBlock(f: BlockFields): Uint8Array {
  const b = new Uint8Array(SIG_BLOCK_SIZE);
  b[0] = SIG_BLOCK_MAGIC;
  if (f.kind === 'rsa') {
    b[1] = SIG_VERSION_RSA;
    b.set(f.imageDigest, RSA_DIGEST);
    b.set(rsaKeyPart({ n: f.n, e: f.e }), RSA_N);
    b.set(bigToLe(beToBig(f.signature), RSA_BYTES), RSA_SIG);
  } else {
    const p384 = f.curve.id === 3;
    const curveAt = p384 ? 52 : 36;
    b[1] = SIG_VERSION_ECDSA;
    b[2] = p384 ? ECDSA_SHA_384 : ECDSA_SHA_256;
    b.set(f.imageDigest, 4);
    b.set(ecdsaKeyPart(f.curve, f.x, f.y), curveAt);
    const sig = curveAt + 1 + f.curve.fieldLen;
    b.set(bigToLe(f.r, f.curve.size), sig);
    b.set(bigToLe(f.s, f.curve.size), sig + f.curve.size);
  }
  putU32le(b, SIG_CRC_OFFSET, crc32(b.subarray(0, SIG_CRC_OFFSET)) >>> 0);
  return b;
}
