/**
 * Build valid ESP32 app images (header, segments laid out as esptool elf2image does, checksum,
 * appended SHA-256) for tests, fleets and scenarios. Pure: the filler bytes come from a seeded
 * xorshift, the build date is an option, so equal options give equal bytes.
 * Facts: esp-idf-ota-facts.md §3 (esp_app_format.h, esptool bin_image.py).
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../../protocol/errors.js';
import { APP_DESC_SIZE, checkDescString, encodeAppDesc } from './app-desc.js';
import { hex, roundUp } from './bytes.js';
import { CHIPS, isChipName, type ChipName } from './chips.js';
import { CHECKSUM_INITIAL, foldXor, xorWords } from './image-checksum.js';
import {
  ESP_IMAGE_HEADER_MAGIC, HASH_LEN, IMAGE_HEADER_SIZE, WP_PIN_DISABLED, writeImageHeader, writeSegmentHeader,
} from './image-header.js';
import { layoutSegments, type Layout, type Section } from './image-layout.js';
import { buildProfile, type BuildProfile } from './image-profiles.js';

export interface BuildImageOptions {
  readonly chip: ChipName;
  /** `esp_app_desc_t.version`, ≤ 31 UTF-8 bytes. */
  readonly version: string;
  /** ≤ 31 bytes. Default "otasim-app". */
  readonly projectName?: string;
  /** Anti-rollback version, u32. Default 0. */
  readonly secureVersion?: number;
  /**
   * Approximate total image size in bytes, appended SHA-256 included; 1 KiB to 16 MiB, and no more than
   * the chip's IROM and DROM windows can map (about 7.3 MiB on esp32, 4 MiB on esp32c2, 8 MiB on
   * esp32c3/c6/h2/c61/h21/h4, 16 MiB elsewhere; ConfigError beyond).
   * Default 192 KiB. The result is roundUp(size, 16) bytes, or up to 48 bytes more on esp32 when esptool's
   * 0x24 end-of-segment workaround pads a flash segment.
   */
  readonly size?: number;
  /** ≤ 31 bytes. Default "v5.2.2" (the descriptor is written in the v5.2 layout either way). */
  readonly idfVersion?: string;
  /** `__DATE__`-style, ≤ 15 bytes. Default "Jan  1 2025" (the core has no clock). */
  readonly date?: string;
  /** `__TIME__`-style, ≤ 15 bytes. Default "00:00:00". */
  readonly time?: string;
  /** Seed (u32) for the filler bytes, so two builds differ only when asked. Default: FNV-1a of `version`. */
  readonly seed?: number;
  /** Header `min_chip_rev_full` (major×100+minor). Default 0. */
  readonly minChipRevFull?: number;
  /** Header `max_chip_rev_full`. Default: what ESP-IDF v5.2 writes for the chip where known, else 0xFFFF (unset). */
  readonly maxChipRevFull?: number;
}

export const DEFAULT_IMAGE_SIZE = 192 * 1024;
export const MIN_IMAGE_SIZE = 1024;
export const MAX_IMAGE_SIZE = 0x1000000;
/** Smallest IROM section the builder emits; smaller images carry no IROM segment. */
const MIN_IROM = 64;

/** Build an app image for `opts.chip`. Throws ConfigError (OTASIM_ERR_CONFIG) naming a bad option. */
export function buildAppImage(opts: BuildImageOptions): Uint8Array {
  const o = normalize(opts);
  const profile = buildProfile(o.chip);
  const target = roundUp(o.size, 16);
  // U = P − 4 makes the checksum land at P − 1 and the image end at P + 32 = target (facts §3.3).
  const wantEnd = target - HASH_LEN - 4;
  const layout = planLayout(profile, target, wantEnd);
  const checksumEnd = roundUp(layout.end + 1, 16);
  const out = new Uint8Array(checksumEnd + HASH_LEN);
  const words = new Int32Array(out.buffer);
  let state = o.seed === 0 ? 0x9e3779b9 : o.seed;
  for (const s of layout.segments) {
    writeSegmentHeader(out, s.dataOffset - 8, s.loadAddr, s.length);
    if (s.kind !== 'padding') state = fillWords(words, s.dataOffset >>> 2, (s.length - s.zeroTail) >>> 2, state);
  }
  const desc = layout.segments[0]!.dataOffset;
  out.fill(0, desc, desc + APP_DESC_SIZE);
  encodeAppDesc(out, desc, {
    secureVersion: o.secureVersion, version: o.version, projectName: o.projectName, time: o.time, date: o.date,
    idfVersion: o.idfVersion,
    elfSha256: createHash('sha256').update(`otasim-elf\0${o.chip}\0${o.projectName}\0${o.version}\0${o.seed}`).digest(),
  });
  const iram = layout.segments.find((s) => s.kind === 'iram') ?? layout.segments[0]!;
  writeImageHeader(out, {
    magic: ESP_IMAGE_HEADER_MAGIC, segmentCount: layout.segments.length, spiMode: 2 /* DIO */,
    spiSpeed: profile.spiSpeed, spiSize: 1 /* 2 MB */, entryAddr: iram.loadAddr + ((o.seed % (iram.length >>> 2)) << 2),
    wpPin: WP_PIN_DISABLED, spiPinDrv: [0, 0, 0], chipId: CHIPS[o.chip].chipId, minChipRev: Math.floor(o.minChipRevFull / 100),
    minChipRevFull: o.minChipRevFull, maxChipRevFull: o.maxChipRevFull, hashAppendedByte: 1,
  });
  let headerXor = 0;
  for (const s of layout.segments) headerXor ^= s.loadAddr ^ s.length;
  out[checksumEnd - 1] = foldXor(xorWords(out, IMAGE_HEADER_SIZE, layout.end) ^ headerXor) ^ CHECKSUM_INITIAL;
  out.set(createHash('sha256').update(out.subarray(0, checksumEnd)).digest(), checksumEnd);
  return out;
}

/**
 * Section sizes: DROM about a quarter of the image, DRAM ≈ size/48 (≤ 16 KiB), IRAM ≈ size/12 (≤ 64 KiB),
 * IROM the rest; its length is solved so the image ends where `wantEnd` says. Below about 64 KiB there is
 * no room for a page-aligned IROM, so DROM takes the rest instead.
 */
function planLayout(p: BuildProfile, target: number, wantEnd: number): Layout {
  const ram: Section[] = [
    { kind: 'dram', loadAddr: p.dram, length: clamp4(target / 48, 16, 16 * 1024) },
    { kind: 'iram', loadAddr: p.iram, length: clamp4(target / 12, 32, 64 * 1024) },
  ];
  const page = CHIPS[p.chip].mmuPageSize;
  const lay = (drom: number, irom: number | null): Layout => layoutSegments({
    flash: [
      { kind: 'drom', loadAddr: p.drom.start + 0x20, length: drom },
      ...(irom === null ? [] : [{ kind: 'irom' as const, loadAddr: p.irom.start + 0x20, length: irom }]),
    ],
    ram, page, esp32Workaround: p.chip === 'esp32',
  });
  let drom = Math.max(APP_DESC_SIZE, clamp4(target / 4, 0, Infinity));
  for (let attempt = 0; attempt < 3; attempt++) {
    const irom = MIN_IROM + wantEnd - lay(drom, MIN_IROM).end;
    if (irom < MIN_IROM) break;
    const excess = 0x20 + irom - (p.irom.end - p.irom.start);
    if (excess > 0) {
      drom += roundUp(excess, 4);
      continue;
    }
    return withDromAddr(p, lay(drom, irom), page, target);
  }
  const alone = lay(APP_DESC_SIZE, null);
  const flashOnly = APP_DESC_SIZE + wantEnd - alone.end;
  if (flashOnly < APP_DESC_SIZE || flashOnly + 0x20 > p.drom.end - p.drom.start) {
    throw new ConfigError(`size ${target} does not fit an ${p.chip} image (IROM window `
      + `${hex(p.irom.end - p.irom.start)} bytes, DROM window ${hex(p.drom.end - p.drom.start)} bytes)`);
  }
  return lay(flashOnly, null);
}

/** On chips whose IROM and DROM share one MMU, the linker puts rodata's pages after the code's. */
function withDromAddr(p: BuildProfile, layout: Layout, page: number, target: number): Layout {
  if (!p.sharedMmu) return checkDrom(p, layout, target);
  const irom = layout.segments.find((s) => s.kind === 'irom');
  const pages = irom === undefined ? 0 : Math.ceil((0x20 + irom.length) / page);
  const segments = layout.segments.map((s) => (s.kind === 'drom' ? { ...s, loadAddr: s.loadAddr + pages * page } : s));
  return checkDrom(p, { segments, end: layout.end }, target);
}

function checkDrom(p: BuildProfile, layout: Layout, target: number): Layout {
  const d = layout.segments[0]!;
  if (d.loadAddr + d.length > p.drom.end) {
    throw new ConfigError(`size ${target} is more than ${p.chip} can map: its IROM window holds `
      + `${hex(p.irom.end - p.irom.start)} bytes and its DROM window ${hex(p.drom.end - p.drom.start)}`);
  }
  return layout;
}

const clamp4 = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.floor(v / 4) * 4));

/** xorshift32 over whole words; returns the next state so segments continue one stream. */
function fillWords(w: Int32Array, from: number, count: number, seed: number): number {
  let x = seed | 0;
  const end = from + count;
  for (let i = from; i < end; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x;
  }
  return x;
}

type Normalized = Required<BuildImageOptions>;

function normalize(opts: BuildImageOptions): Normalized {
  const bad = (msg: string): never => {
    throw new ConfigError(`buildAppImage: ${msg}`);
  };
  if (!isChipName(opts.chip)) bad(`unknown chip "${String(opts.chip)}"`);
  const o: Normalized = {
    chip: opts.chip, version: opts.version, projectName: opts.projectName ?? 'otasim-app',
    secureVersion: opts.secureVersion ?? 0, size: opts.size ?? DEFAULT_IMAGE_SIZE,
    idfVersion: opts.idfVersion ?? 'v5.2.2', date: opts.date ?? 'Jan  1 2025', time: opts.time ?? '00:00:00',
    seed: opts.seed ?? fnv1a(opts.version), minChipRevFull: opts.minChipRevFull ?? 0,
    maxChipRevFull: opts.maxChipRevFull ?? buildProfile(opts.chip).maxChipRevFull,
  };
  const strings = [['version', o.version], ['projectName', o.projectName], ['idfVersion', o.idfVersion],
    ['date', o.date], ['time', o.time]] as const;
  for (const [name, s] of strings) {
    if (typeof s !== 'string') bad(`${name} must be a string`);
    const msg = checkDescString(name, s);
    if (msg !== null) bad(msg);
  }
  const intIn = (name: string, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) bad(`${name} ${v} is not an integer in [${lo}, ${hi}]`);
  };
  intIn('secureVersion', o.secureVersion, 0, 0xffffffff);
  intIn('size', o.size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE);
  intIn('seed', o.seed, 0, 0xffffffff);
  intIn('minChipRevFull', o.minChipRevFull, 0, 0xffff);
  intIn('maxChipRevFull', o.maxChipRevFull, 0, 0xffff);
  return o;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
