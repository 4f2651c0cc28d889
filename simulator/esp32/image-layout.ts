/**
 * Segment placement the way esptool `elf2image` places an app's sections
 * (esptool bin_image.py `ESP32FirmwareImage.save`; esp-idf-ota-facts.md §3.2):
 *
 * 1. Flash-mapped sections (DROM with the app descriptor first, then IROM) go first, each at an image
 *    offset whose data is congruent with its load address modulo the MMU page.
 * 2. The gap before a flash section is filled by splitting RAM sections (when the gap is more than a
 *    segment header), else by a zero-filled padding segment with load address 0.
 * 3. Whatever RAM is left follows the last flash section. RAM sections are taken in address order.
 * 4. ESP32 only: a flash segment whose end lands fewer than 0x24 bytes past a page boundary is
 *    zero-extended (esptool's workaround for old 2nd-stage bootloaders not mapping that last page).
 */
import { IMAGE_HEADER_SIZE, SEGMENT_HEADER_SIZE } from './image-header.js';

export type SectionKind = 'drom' | 'irom' | 'dram' | 'iram' | 'rtc' | 'padding';

export interface Section {
  readonly kind: SectionKind;
  readonly loadAddr: number;
  /** Bytes, a multiple of 4. */
  readonly length: number;
}

export interface PlacedSegment extends Section {
  /** Image offset of the data. */
  readonly dataOffset: number;
  /** Trailing zero bytes added by the ESP32 0x24 workaround (already counted in `length`). */
  readonly zeroTail: number;
}

export interface LayoutInput {
  /** Flash-mapped sections in placement order (DROM first: it carries the app descriptor). */
  readonly flash: readonly Section[];
  /** RAM sections (any order: they are placed in address order, as esptool sorts them). */
  readonly ram: readonly Section[];
  /** MMU page in bytes (64 KiB on every chip otasim tabulates). */
  readonly page: number;
  /** Apply esptool's ESP32 0x24 end-of-segment workaround. */
  readonly esp32Workaround: boolean;
}

export interface Layout {
  readonly segments: readonly PlacedSegment[];
  /** Image offset just after the last segment's data ("U" in facts §3.3). */
  readonly end: number;
}

/** Place `input`'s sections as esptool would. Pure arithmetic; no bytes are touched. */
export function layoutSegments(input: LayoutInput): Layout {
  const { page } = input;
  const out: PlacedSegment[] = [];
  const ram = input.ram.map((s) => ({ ...s })).sort((a, b) => a.loadAddr - b.loadAddr);
  let off = IMAGE_HEADER_SIZE;
  const place = (s: Section, zeroTail = 0): void => {
    out.push({ ...s, dataOffset: off + SEGMENT_HEADER_SIZE, zeroTail });
    off += SEGMENT_HEADER_SIZE + s.length;
  };
  for (const seg of input.flash) {
    for (;;) {
      const pad = paddingNeeded(seg.loadAddr, off, page);
      if (pad === 0) {
        const rem = (off + SEGMENT_HEADER_SIZE + seg.length) % page;
        const tail = input.esp32Workaround && rem < 0x24 ? 0x24 - rem : 0;
        place({ ...seg, length: seg.length + tail }, tail);
        break;
      }
      const first = ram[0];
      if (first !== undefined && pad > SEGMENT_HEADER_SIZE) {
        const take = Math.min(pad, first.length);
        place({ kind: first.kind, loadAddr: first.loadAddr, length: take });
        first.loadAddr += take;
        first.length -= take;
        if (first.length === 0) ram.shift();
      } else {
        place({ kind: 'padding', loadAddr: 0, length: pad });
      }
    }
  }
  for (const s of ram) place(s);
  return { segments: out, end: off };
}

/**
 * Data bytes of the padding segment needed before a flash segment loaded at `addr` when the next
 * segment header would go at image offset `off`; 0 when the segment is already congruent.
 * Same arithmetic as esptool `get_alignment_data_needed`, quirk included: when `off` sits just past a
 * page boundary the padding spans more than a page.
 */
export function paddingNeeded(addr: number, off: number, page: number): number {
  let pad = page - (off % page) + (addr % page) - SEGMENT_HEADER_SIZE;
  if (pad === 0 || pad === page) return 0;
  // The padding segment has an 8-byte header of its own.
  pad -= SEGMENT_HEADER_SIZE;
  if (pad < 0) pad += page;
  return pad === 0 ? page : pad;
}
