/**
 * `esp_image_header_t` (24 bytes) and `esp_image_segment_header_t` (8 bytes).
 * ESP-IDF components/bootloader_support/include/esp_app_format.h; esptool bin_image.py
 * (`<BBBBI` + `<BBBBHBHH` + 4×B + B); esp-idf-ota-facts.md §3.1–§3.2.
 */
import { putU16, putU32, u16, u32 } from './bytes.js';

/** `ESP_IMAGE_HEADER_MAGIC`. */
export const ESP_IMAGE_HEADER_MAGIC = 0xe9;
/** `ESP_IMAGE_MAX_SEGMENTS`. */
export const ESP_IMAGE_MAX_SEGMENTS = 16;
export const IMAGE_HEADER_SIZE = 24;
export const SEGMENT_HEADER_SIZE = 8;
/** Length of the appended SHA-256 digest. */
export const HASH_LEN = 32;
/** esptool `WP_PIN_DISABLED`. */
export const WP_PIN_DISABLED = 0xee;

/** The image header, decoded. Revisions are major×100+minor. */
export interface ImageHeader {
  readonly magic: number;
  readonly segmentCount: number;
  /** QIO 0, QOUT 1, DIO 2, DOUT 3, FAST_READ 4, SLOW_READ 5. */
  readonly spiMode: number;
  /** Low nibble of byte 3 (DIV_2 0, DIV_3 1, DIV_4 2, DIV_1 0xF). */
  readonly spiSpeed: number;
  /** High nibble of byte 3 (1MB 0, 2MB 1, 4MB 2, … 128MB 7). */
  readonly spiSize: number;
  readonly entryAddr: number;
  readonly wpPin: number;
  /** The three packed drive-strength bytes (offsets 9..11). */
  readonly spiPinDrv: readonly [number, number, number];
  readonly chipId: number;
  /** Legacy one-byte minimum revision (offset 14). */
  readonly minChipRev: number;
  readonly minChipRevFull: number;
  readonly maxChipRevFull: number;
  /** Byte 23 as stored; ESP-IDF treats any nonzero value as "SHA-256 appended". */
  readonly hashAppendedByte: number;
}

/** Decode the header. The caller guarantees `b.length >= 24`. */
export function parseImageHeader(b: Uint8Array): ImageHeader {
  const speedSize = b[3] ?? 0;
  return {
    magic: b[0] ?? 0,
    segmentCount: b[1] ?? 0,
    spiMode: b[2] ?? 0,
    spiSpeed: speedSize & 0x0f,
    spiSize: speedSize >>> 4,
    entryAddr: u32(b, 4),
    wpPin: b[8] ?? 0,
    spiPinDrv: [b[9] ?? 0, b[10] ?? 0, b[11] ?? 0],
    chipId: u16(b, 12),
    minChipRev: b[14] ?? 0,
    minChipRevFull: u16(b, 15),
    maxChipRevFull: u16(b, 17),
    hashAppendedByte: b[23] ?? 0,
  };
}

/** Encode `h` into `out[0, 24)` (reserved bytes 19..22 are written as zero). */
export function writeImageHeader(out: Uint8Array, h: ImageHeader): void {
  out[0] = h.magic;
  out[1] = h.segmentCount;
  out[2] = h.spiMode;
  out[3] = (h.spiSpeed & 0x0f) | ((h.spiSize & 0x0f) << 4);
  putU32(out, 4, h.entryAddr);
  out[8] = h.wpPin;
  out.set(h.spiPinDrv, 9);
  putU16(out, 12, h.chipId);
  out[14] = h.minChipRev;
  putU16(out, 15, h.minChipRevFull);
  putU16(out, 17, h.maxChipRevFull);
  out.fill(0, 19, 23);
  out[23] = h.hashAppendedByte;
}

/** Write one segment header at `off`. */
export function writeSegmentHeader(out: Uint8Array, off: number, loadAddr: number, length: number): void {
  putU32(out, off, loadAddr);
  putU32(out, off + 4, length);
}
