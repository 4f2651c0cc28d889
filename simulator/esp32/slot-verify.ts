/**
 * A full `esp_image_verify` of a partition's contents on a Flash, memoised on shared buffers:
 * when a shared image is mapped at the partition's first byte and verifies on its own, the
 * result holds for the flash too (verification reads only the image's bytes), so ten thousand
 * devices holding one pooled image verify it once. Facts: esp-idf-ota-facts.md §3.7.
 */
import { OtasimError } from '../../protocol/errors.js';
import { readAppDesc, verifyImage, type AppDesc, type ImageInfo, type VerifyOptions } from './app-image.js';
import type { ChipName } from './chips.js';
import type { Flash } from './flash.js';
import { memoOnBuffer } from './image-pool.js';
import type { Partition } from './partition-table.js';
import type { VerifySignatureOptions } from './secure-boot.js';
import { APP_DESC_OFFSET } from './app-image.js';

export type SlotVerdict =
  | { readonly ok: true; readonly info: ImageInfo; /** The bytes verified, from the partition's first byte. */ readonly bytes: Uint8Array }
  | { readonly ok: false; readonly error: OtasimError };

export interface SlotVerifyOptions {
  readonly chip: ChipName;
  readonly chipRevision?: number | undefined;
  /** Verify as a 2nd-stage bootloader image. Default false. */
  readonly bootloader?: boolean;
  /** Check the Secure Boot v2 signature instead of the plain hash (see signature-policy.ts). Default: plain hash. */
  readonly signature?: VerifySignatureOptions | undefined;
}

function optsFor(o: SlotVerifyOptions, partitionSize: number): VerifyOptions {
  return {
    chip: o.chip, partitionSize, bootloader: o.bootloader ?? false,
    ...(o.chipRevision === undefined ? {} : { chipRevision: o.chipRevision }),
    ...(o.signature === undefined ? {} : { signature: o.signature }),
  };
}

// The memo key names everything the verdict depends on, the signature policy included, so a verdict
// reached under the plain hash (or other trusted keys) never answers a signed check.
function keyFor(o: SlotVerifyOptions, region: Region, len: number): string {
  return `verify:${o.chip}:${o.chipRevision ?? '-'}:${o.bootloader ? 'bl' : 'app'}:${region.size}:${len}:${signatureKey(o.signature)}`;
}

function signatureKey(s: VerifySignatureOptions | undefined): string {
  if (s === undefined) return 'hash';
  const trusted = s.trustedKeyDigests === undefined ? 'any' : s.trustedKeyDigests.map((d) => Buffer.from(d).toString('hex')).join(',');
  return `sig:${s.scheme ?? '*'}:${s.maxBlocks ?? 3}:${trusted}`;
}

function attempt(bytes: Uint8Array, opts: VerifyOptions): SlotVerdict {
  try {
    return { ok: true, info: verifyImage(bytes, opts), bytes };
  } catch (e) {
    if (e instanceof OtasimError) return { ok: false, error: e };
    throw e;
  }
}

/** A flash region holding an image: a partition, or the bootloader's region. */
export type Region = Pick<Partition, 'offset' | 'size'>;

/** Verify the image at the start of `region`. Never throws for bad bytes: the verdict says why. */
export function verifySlot(flash: Flash, region: Region, o: SlotVerifyOptions): SlotVerdict {
  const opts = optsFor(o, region.size);
  const m = flash.mappingAt(region.offset);
  if (m) {
    const len = Math.min(m.data.length, region.size);
    const shared = memoOnBuffer(m.data, keyFor(o, region, len), () => attempt(m.data.subarray(0, len), opts));
    if (shared.ok) return shared;
  }
  return attempt(flash.read(region.offset, region.size), opts);
}

/**
 * Record that `shared`, mapped at `region`'s first byte, verified as `info`, so the next
 * verifySlot of any device mapping it is a lookup.
 */
export function rememberVerified(shared: Uint8Array, region: Region, o: SlotVerifyOptions, info: ImageInfo): void {
  const len = Math.min(shared.length, region.size);
  memoOnBuffer(shared, keyFor(o, region, len), (): SlotVerdict => ({ ok: true, info, bytes: shared.subarray(0, len) }));
}

/** The `esp_app_desc_t` at the partition's offset 0x20, or null when absent or unreadable. */
export function readSlotAppDesc(flash: Flash, region: Region): AppDesc | null {
  const len = APP_DESC_OFFSET + 256;
  if (region.size < len || region.offset + len > flash.size) return null;
  try {
    return readAppDesc(flash.view(region.offset, len));
  } catch (e) {
    if (e instanceof OtasimError) return null;
    throw e;
  }
}
