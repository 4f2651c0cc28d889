/**
 * ESP32 app image: parse and verify as ESP-IDF `esp_image_verify` does, in its order and with its
 * error codes. Facts: esp-idf-ota-facts.md §3 (esp_app_format.h, esp_image_format.c).
 *
 * One walker ({@link inspectImage}) records the first failure in ESP-IDF's order and keeps reading
 * wherever the structure still allows, so a report can show the checksum of a wrong-chip image;
 * {@link verifyImage} throws that first failure.
 */
import { createHash } from 'node:crypto';
import { EspError, OtasimError } from '../../protocol/errors.js';
import { APP_DESC_OFFSET, APP_DESC_SIZE, readAppDesc, type AppDesc } from './app-desc.js';
import { hex, roundUp, toHex, u32 } from './bytes.js';
import { CHIPS, chipById, type Chip, type ChipName } from './chips.js';
import { CHECKSUM_INITIAL, foldXor, xorWords } from './image-checksum.js';
import {
  ESP_IMAGE_HEADER_MAGIC, ESP_IMAGE_MAX_SEGMENTS, HASH_LEN, IMAGE_HEADER_SIZE, SEGMENT_HEADER_SIZE,
  parseImageHeader, type ImageHeader,
} from './image-header.js';
import { verifySignedImage, type SignatureBlock, type VerifySignatureOptions } from './secure-boot.js';

export { ESP_APP_DESC_MAGIC, APP_DESC_OFFSET, readAppDesc, type AppDesc } from './app-desc.js';
export { ESP_IMAGE_HEADER_MAGIC, ESP_IMAGE_MAX_SEGMENTS, type ImageHeader } from './image-header.js';

/** `ESP_IMAGE_MAX_FLASH_ADDR_SIZE`: segment lengths and partition sizes must stay below 16 MiB. */
export const SIXTEEN_MIB = 0x1000000;
/** Secure Boot v2 signature sector size (esp-idf-ota-facts.md §4.1). */
const SIG_SECTOR = 4096;

export interface ImageSegment {
  readonly loadAddr: number;
  /** `data_len` in bytes. */
  readonly length: number;
  /** Image offset of the segment's data. */
  readonly dataOffset: number;
}

export interface ChecksumResult {
  readonly stored: number;
  readonly computed: number;
  readonly ok: boolean;
}

export interface Sha256Result {
  /** Hex of the stored digest, or null when `hash_appended` is 0. */
  readonly appended: string | null;
  /** Hex of SHA-256 over [0, P), or null when no digest is appended. */
  readonly computed: string | null;
  /** True when a digest is appended and matches; false when it mismatches or is absent. */
  readonly ok: boolean;
}

export interface ImageInfo {
  /** Chip name for `chipId`, or null when unknown. */
  readonly chip: ChipName | null;
  readonly chipId: number;
  readonly entryAddr: number;
  readonly spiMode: number;
  readonly spiSpeed: number;
  readonly spiSize: number;
  readonly minChipRevFull: number;
  readonly maxChipRevFull: number;
  readonly hashAppended: boolean;
  readonly header: ImageHeader;
  readonly segments: readonly ImageSegment[];
  readonly checksum: ChecksumResult;
  readonly sha256: Sha256Result;
  /**
   * The app descriptor, or null when its magic is absent (an OTA client must refuse such an image as
   * an app: `esp_ota_get_partition_description` returns ESP_ERR_NOT_FOUND). Always null for bootloaders.
   */
  readonly app: AppDesc | null;
  /** Image length in bytes, appended SHA-256 included; partition bytes beyond it are not part of the image. */
  readonly size: number;
  /** The signature block that verified, when `opts.signature` was given. */
  readonly signature: SignatureBlock | null;
}

export interface VerifyOptions {
  /** The running chip; a different `chip_id` is ESP_FAIL. Default: accept any known chip. */
  readonly chip?: ChipName;
  /** The chip's revision as major×100+minor. Default 0 for the min check; the max check is skipped when absent. */
  readonly chipRevision?: number;
  /** The partition's size in bytes; an image that does not fit is ESP_ERR_IMAGE_INVALID; > 16 MiB is ESP_ERR_INVALID_ARG. */
  readonly partitionSize?: number;
  /** Verify as a 2nd-stage bootloader image: the appended hash is not checked, no app desc. Default false. */
  readonly bootloader?: boolean;
  /**
   * Check the Secure Boot v2 signature sector (at roundup(size, 4 KiB)) instead of the plain appended hash,
   * as `CONFIG_SECURE_SIGNED_ON_UPDATE` does (§3.7 step 9). Default: no signature check.
   */
  readonly signature?: VerifySignatureOptions;
}

/** What {@link inspectImage} reports: everything it could read, plus the first failure. */
export interface ImageInspection {
  readonly valid: boolean;
  /** The first failure in `esp_image_verify`'s order, or null. */
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly chip: ChipName | null;
  /** Null when the header could not be read (empty, wrong magic, shorter than 24 bytes). */
  readonly header: ImageHeader | null;
  /** The segments read before the walk stopped. */
  readonly segments: readonly ImageSegment[];
  /** Null when the walk stopped before the checksum byte. */
  readonly checksum: ChecksumResult | null;
  /** Null when the walk stopped before the appended digest. */
  readonly sha256: Sha256Result | null;
  readonly app: AppDesc | null;
  /** Image length (appended SHA-256 included), or null when the walk stopped before it was known. */
  readonly size: number | null;
  readonly signature: SignatureBlock | null;
}

/** Verify `bytes` (an image, possibly followed by unused partition bytes). Throws EspError on failure. */
export function verifyImage(bytes: Uint8Array, opts: VerifyOptions = {}): ImageInfo {
  const w = walkImage(bytes, opts);
  if (w.error !== null) throw w.error;
  const h = w.header;
  if (h === null || w.checksum === null || w.sha256 === null || w.size === null) {
    throw new EspError('ESP_ERR_IMAGE_INVALID', 'image walk ended early without naming a failure'); // unreachable
  }
  return {
    chip: chipById(h.chipId)?.name ?? null, chipId: h.chipId, entryAddr: h.entryAddr, spiMode: h.spiMode,
    spiSpeed: h.spiSpeed, spiSize: h.spiSize, minChipRevFull: h.minChipRevFull, maxChipRevFull: h.maxChipRevFull,
    hashAppended: h.hashAppendedByte !== 0, header: h, segments: w.segments, checksum: w.checksum,
    sha256: w.sha256, app: w.app, size: w.size, signature: w.signature,
  };
}

interface Walk {
  error: EspError | null;
  header: ImageHeader | null;
  segments: ImageSegment[];
  checksum: ChecksumResult | null;
  sha256: Sha256Result | null;
  app: AppDesc | null;
  size: number | null;
  signature: SignatureBlock | null;
}

/** Like {@link verifyImage}, but never throws for bad input: returns what it read and the first error. */
export function inspectImage(bytes: Uint8Array, opts: VerifyOptions = {}): ImageInspection {
  const w = walkImage(bytes, opts);
  const error = w.error;
  return {
    valid: error === null,
    error: error === null ? null : { code: error.code, message: error.message },
    chip: w.header === null ? null : (chipById(w.header.chipId)?.name ?? null),
    header: w.header, segments: w.segments, checksum: w.checksum, sha256: w.sha256, app: w.app, size: w.size,
    signature: w.signature,
  };
}

function walkImage(bytes: Uint8Array, opts: VerifyOptions): Walk {
  const w: Walk = {
    error: null, header: null, segments: [], checksum: null, sha256: null, app: null, size: null, signature: null,
  };
  walk(bytes, opts, w);
  return w;
}

// ESP-IDF esp_image_format.c `image_load`: the steps below follow its order (facts §3.7).
function walk(b: Uint8Array, opts: VerifyOptions, w: Walk): void {
  const fail = (code: EspError['code'], msg: string): void => {
    w.error ??= new EspError(code, msg);
  };
  const n = b.length;
  // Step 1: `part->size` > 16 MiB → ESP_ERR_INVALID_ARG.
  if (opts.partitionSize !== undefined && opts.partitionSize > SIXTEEN_MIB) {
    return fail('ESP_ERR_INVALID_ARG', `partition size ${hex(opts.partitionSize)} exceeds 16 MiB`);
  }
  // Steps 2–3: header and magic (verify_image_header).
  if (n === 0) return fail('ESP_ERR_IMAGE_INVALID', 'image is empty (0 bytes): nothing flashed here?');
  if (b[0] !== ESP_IMAGE_HEADER_MAGIC) {
    return fail('ESP_ERR_IMAGE_INVALID',
      `invalid magic byte ${hex(b[0] ?? 0, 2)} at offset 0, expected 0xe9: nothing flashed here?`);
  }
  if (n < IMAGE_HEADER_SIZE) {
    return fail('ESP_ERR_IMAGE_INVALID', `image truncated: ${n} bytes, shorter than the 24-byte header`);
  }
  const h = parseImageHeader(b);
  w.header = h;
  // Step 4: chip id and revision (bootloader_common_check_chip_validity) → ESP_FAIL.
  const chipMsg = checkChip(h, opts);
  if (chipMsg !== null) fail('ESP_FAIL', chipMsg);
  // Step 5: segment count.
  if (h.segmentCount > ESP_IMAGE_MAX_SEGMENTS) {
    return fail('ESP_ERR_IMAGE_INVALID',
      `segment count ${h.segmentCount} exceeds the maximum of ${ESP_IMAGE_MAX_SEGMENTS}`);
  }
  // Step 6: segments (process_segment, verify_segment_header).
  const mapChip = opts.chip !== undefined ? CHIPS[opts.chip] : chipById(h.chipId);
  let off = IMAGE_HEADER_SIZE;
  let headerXor = 0;
  for (let i = 0; i < h.segmentCount; i++) {
    if (off + SEGMENT_HEADER_SIZE > n) {
      return fail('ESP_ERR_IMAGE_INVALID',
        `image truncated: segment ${i} header at ${hex(off)} runs past the end of the ${n}-byte image`);
    }
    const loadAddr = u32(b, off);
    const length = u32(b, off + 4);
    const dataOffset = off + SEGMENT_HEADER_SIZE;
    if (length >= SIXTEEN_MIB) return fail('ESP_ERR_IMAGE_INVALID', `segment ${i} length ${hex(length)} exceeds 16 MiB`);
    if (length % 4 !== 0) {
      return fail('ESP_ERR_IMAGE_INVALID', `segment ${i} length ${hex(length)} is not a multiple of 4`);
    }
    const mmuMsg = mapChip === undefined ? null : checkMmu(mapChip, i, loadAddr, dataOffset);
    if (mmuMsg !== null) fail('ESP_ERR_IMAGE_INVALID', mmuMsg);
    if (dataOffset + length > n) {
      return fail('ESP_ERR_IMAGE_INVALID', `segment ${i} data [${hex(dataOffset)}, ${hex(dataOffset + length)}) `
        + `runs past the end of the ${n}-byte image (truncated, or a lying length)`);
    }
    w.segments.push({ loadAddr, length, dataOffset });
    headerXor ^= loadAddr ^ length;
    off = dataOffset + length;
  }
  // Step 7: checksum (process_checksum): 0xEF XOR all segment data, stored at roundup16(U+1) − 1.
  const end = roundUp(off + 1, 16);
  if (end > n) {
    return fail('ESP_ERR_IMAGE_INVALID',
      `image truncated: checksum byte at ${hex(end - 1)} is past the end of the ${n}-byte image`);
  }
  // One pass over [24, U) covers every segment header and its data; the headers are XORed back out.
  const computed = foldXor(xorWords(b, IMAGE_HEADER_SIZE, off) ^ headerXor) ^ CHECKSUM_INITIAL;
  const stored = b[end - 1] ?? 0;
  w.checksum = { stored, computed, ok: stored === computed };
  if (stored !== computed) {
    fail('ESP_ERR_IMAGE_INVALID', `checksum failed: calculated ${hex(computed, 2)}, stored ${hex(stored, 2)}`);
  }
  // Step 8: appended hash and length vs partition (process_appended_hash_and_sig).
  const hashAppended = h.hashAppendedByte !== 0;
  const size = end + (hashAppended ? HASH_LEN : 0);
  if (size > n) {
    return fail('ESP_ERR_IMAGE_INVALID',
      `image truncated: appended SHA-256 [${hex(end)}, ${hex(size)}) runs past the end of the ${n}-byte image`);
  }
  w.size = size;
  const fullLen = opts.signature !== undefined ? roundUp(size, SIG_SECTOR) + SIG_SECTOR : size;
  if (opts.partitionSize !== undefined && fullLen > opts.partitionSize) {
    fail('ESP_ERR_IMAGE_INVALID', `image length ${fullLen} doesn't fit in partition length ${opts.partitionSize}`);
  }
  w.sha256 = hashAppended ? checkHash(b, end) : { appended: null, computed: null, ok: false };
  if (!opts.bootloader && n >= APP_DESC_OFFSET + APP_DESC_SIZE) w.app = readAppDesc(b);
  // Step 9: signature, else the simple hash (apps only).
  if (opts.signature !== undefined) {
    if (fullLen > n) {
      return fail('ESP_ERR_IMAGE_INVALID', `image truncated: signature sector [${hex(fullLen - SIG_SECTOR)}, `
        + `${hex(fullLen)}) runs past the end of the ${n}-byte image`);
    }
    try {
      w.signature = verifySignedImage(b, size, opts.signature);
    } catch (e) {
      if (!(e instanceof OtasimError)) throw e;
      fail(e instanceof EspError ? e.code : 'ESP_ERR_IMAGE_INVALID', e.message);
    }
  } else if (hashAppended && !opts.bootloader && !w.sha256.ok) {
    fail('ESP_ERR_IMAGE_INVALID', `image hash failed - image is corrupt: SHA-256 of [0, ${hex(end)}) is `
      + `${w.sha256.computed ?? ''}, appended digest is ${w.sha256.appended ?? ''}`);
  }
}

function checkChip(h: ImageHeader, opts: VerifyOptions): string | null {
  const imageChip = chipById(h.chipId);
  const imageName = imageChip === undefined ? 'unknown chip' : imageChip.name;
  if (opts.chip !== undefined && CHIPS[opts.chip].chipId !== h.chipId) {
    return `mismatch chip ID: image is for chip id ${h.chipId} (${imageName}), this device is ${opts.chip} `
      + `(chip id ${CHIPS[opts.chip].chipId})`;
  }
  if (imageChip === undefined) return `chip id ${hex(h.chipId, 4)} is not a known ESP32-family chip`;
  const rev = opts.chipRevision ?? 0;
  if (rev < h.minChipRevFull) {
    return `chip revision ${revName(rev)} is below the image's minimum ${revName(h.minChipRevFull)}`;
  }
  // Apps only; IS_MAX_REV_SET: neither 0 nor 0xFFFF. The "disable wafer version major" eFuse is not modelled.
  const maxSet = h.maxChipRevFull !== 0 && h.maxChipRevFull !== 0xffff;
  if (!opts.bootloader && opts.chipRevision !== undefined && maxSet && rev > h.maxChipRevFull) {
    return `chip revision ${revName(rev)} is above the image's maximum ${revName(h.maxChipRevFull)}`;
  }
  return null;
}

const revName = (full: number): string => `v${Math.floor(full / 100)}.${full % 100}`;

// ESP-IDF esp_image_format.c `verify_segment_header`: a flash-mapped segment's data offset must be
// congruent with its load address modulo the MMU page. Offsets here are image-relative: app partitions
// start on a 64 KiB boundary, so the congruence is the same as for absolute flash offsets.
function checkMmu(chip: Chip, i: number, loadAddr: number, dataOffset: number): string | null {
  const inRange = (r: Chip['irom']): boolean => r !== null && loadAddr >= r.start && loadAddr < r.end;
  if (!inRange(chip.irom) && !inRange(chip.drom)) return null;
  const page = chip.mmuPageSize;
  if (dataOffset % page === loadAddr % page) return null;
  return `segment ${i} load address ${hex(loadAddr, 8)} doesn't match data offset ${hex(dataOffset, 8)} `
    + `modulo the ${page / 1024} KiB MMU page`;
}

function checkHash(b: Uint8Array, end: number): Sha256Result {
  const digest = createHash('sha256').update(b.subarray(0, end)).digest();
  const stored = b.subarray(end, end + HASH_LEN);
  let same = true;
  for (let i = 0; i < HASH_LEN; i++) if (digest[i] !== stored[i]) same = false;
  return { appended: toHex(stored), computed: toHex(digest), ok: same };
}
