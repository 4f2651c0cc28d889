/**
 * `esp_app_desc_t`: the 256-byte app descriptor at image offset 0x20 (start of segment 0).
 * ESP-IDF components/esp_app_format/include/esp_app_desc.h; esp-idf-ota-facts.md §3.5.
 */
import { EspError } from '../../protocol/errors.js';
import { cString, putU32, toHex, u32, utf8Bytes, utf8Decode } from './bytes.js';

/** `ESP_APP_DESC_MAGIC_WORD` (esp_app_desc.h). */
export const ESP_APP_DESC_MAGIC = 0xabcd5432;
/** Image offset of `esp_app_desc_t` (24-byte header + 8-byte segment header). */
export const APP_DESC_OFFSET = 0x20;
/** `sizeof(esp_app_desc_t)`. */
export const APP_DESC_SIZE = 256;

/** Field offsets within the descriptor (esp_app_desc.h). */
const F = {
  magic: 0, secureVersion: 4, version: 16, projectName: 48, time: 80, date: 96, idfVersion: 112, elfSha256: 144,
} as const;

/** Field sizes in bytes; strings hold at most size − 1 bytes plus a NUL. */
export const APP_DESC_FIELD_SIZE = { version: 32, projectName: 32, time: 16, date: 16, idfVersion: 32 } as const;

/** `esp_app_desc_t`, decoded. */
export interface AppDesc {
  /** Anti-rollback version (u32). */
  readonly secureVersion: number;
  readonly version: string;
  readonly projectName: string;
  /** `__TIME__` of the build, e.g. "16:23:40" (may be empty). */
  readonly time: string;
  /** `__DATE__` of the build, e.g. "Jul 25 2024" (may be empty). */
  readonly date: string;
  readonly idfVersion: string;
  /** Hex of `app_elf_sha256` (64 chars). */
  readonly elfSha256: string;
}

/**
 * Decode the app descriptor at image offset 0x20, or return null when its magic word is absent
 * (ESP-IDF `esp_ota_get_partition_description` then returns ESP_ERR_NOT_FOUND).
 * Throws EspError(ESP_ERR_INVALID_SIZE) when `bytes` is shorter than 0x120 (offset + 256).
 */
export function readAppDesc(bytes: Uint8Array): AppDesc | null {
  const need = APP_DESC_OFFSET + APP_DESC_SIZE;
  if (bytes.length < need) {
    throw new EspError('ESP_ERR_INVALID_SIZE',
      `app descriptor needs ${need} bytes (0x20 + 256), image has ${bytes.length}`);
  }
  const o = APP_DESC_OFFSET;
  if (u32(bytes, o + F.magic) !== ESP_APP_DESC_MAGIC) return null;
  return {
    secureVersion: u32(bytes, o + F.secureVersion),
    version: cString(bytes, o + F.version, APP_DESC_FIELD_SIZE.version),
    projectName: cString(bytes, o + F.projectName, APP_DESC_FIELD_SIZE.projectName),
    time: cString(bytes, o + F.time, APP_DESC_FIELD_SIZE.time),
    date: cString(bytes, o + F.date, APP_DESC_FIELD_SIZE.date),
    idfVersion: cString(bytes, o + F.idfVersion, APP_DESC_FIELD_SIZE.idfVersion),
    elfSha256: toHex(bytes.subarray(o + F.elfSha256, o + F.elfSha256 + 32)),
  };
}

/** What {@link encodeAppDesc} writes. Strings are UTF-8 and must fit their field with a NUL. */
export interface AppDescFields {
  readonly secureVersion: number;
  readonly version: string;
  readonly projectName: string;
  readonly time: string;
  readonly date: string;
  readonly idfVersion: string;
  /** 32 bytes. */
  readonly elfSha256: Uint8Array;
}

/** Null when `s` fits its field (UTF-8, with room for the NUL), else a message saying why not. */
export function checkDescString(name: keyof typeof APP_DESC_FIELD_SIZE, s: string): string | null {
  const max = APP_DESC_FIELD_SIZE[name] - 1;
  const bytes = utf8Bytes(s);
  if (bytes.includes(0)) return `${name} contains a NUL character, which would end the C string early`;
  if (utf8Decode(bytes) !== s) return `${name} is not well-formed Unicode (a lone surrogate?)`;
  return bytes.length > max ? `${name} "${s}" is ${bytes.length} bytes; esp_app_desc_t holds at most ${max}` : null;
}

/**
 * Write a v5.2-layout descriptor (reserved bytes and bytes 176..255 zero) into `out` at `off`.
 * The caller has validated the strings with {@link checkDescString}; `out[off, off+256)` must be zero.
 */
export function encodeAppDesc(out: Uint8Array, off: number, d: AppDescFields): void {
  putU32(out, off + F.magic, ESP_APP_DESC_MAGIC);
  putU32(out, off + F.secureVersion, d.secureVersion >>> 0);
  out.set(utf8Bytes(d.version), off + F.version);
  out.set(utf8Bytes(d.projectName), off + F.projectName);
  out.set(utf8Bytes(d.time), off + F.time);
  out.set(utf8Bytes(d.date), off + F.date);
  out.set(utf8Bytes(d.idfVersion), off + F.idfVersion);
  out.set(d.elfSha256.subarray(0, 32), off + F.elfSha256);
}
