/**
 * Partition type and subtype keywords, as gen_esp32part.py spells them in CSV.
 * Facts: esp-idf-ota-facts.md §1.6 (gen_esp32part.py `TYPES` / `SUBTYPES`, esp_partition.h).
 *
 * Order matters: binary → CSV prints the first keyword whose value matches (gen_esp32part
 * `to_csv` → `lookup_keyword`), so the lists keep the generator's order.
 */

/** A keyword and the byte it stands for. */
export type Keyword = readonly [name: string, value: number];

/** Partition type keywords. gen_esp32part.py `TYPES` (bootloader/partition_table: v5.4+). */
export const TYPE_KEYWORDS: readonly Keyword[] = [
  ['bootloader', 0x02],
  ['partition_table', 0x03],
  ['app', 0x00],
  ['data', 0x01],
];

const range = (prefix: string, first: number, count: number): Keyword[] =>
  Array.from({ length: count }, (_, i): Keyword => [`${prefix}${i}`, first + i]);

/** Subtype keywords per type. gen_esp32part.py `SUBTYPES` plus its generated `ota_N` and `tee_N`. */
const SUBTYPE_KEYWORDS: ReadonlyMap<number, readonly Keyword[]> = new Map<number, readonly Keyword[]>([
  [0x02, [['primary', 0x00], ['ota', 0x01], ['recovery', 0x02]]],
  [0x03, [['primary', 0x00], ['ota', 0x01]]],
  [0x00, [['factory', 0x00], ['test', 0x20], ...range('ota_', 0x10, 16), ...range('tee_', 0x30, 2)]],
  [0x01, [
    ['ota', 0x00], ['phy', 0x01], ['nvs', 0x02], ['coredump', 0x03], ['nvs_keys', 0x04], ['efuse', 0x05],
    ['undefined', 0x06], ['esphttpd', 0x80], ['fat', 0x81], ['spiffs', 0x82], ['littlefs', 0x83],
    ['tee_ota', 0x90],
  ]],
]);

/** The subtype keywords of `type` (empty for custom types 0x04–0xFE). */
export function subtypeKeywords(type: number): readonly Keyword[] {
  return SUBTYPE_KEYWORDS.get(type) ?? [];
}

function nameOf(list: readonly Keyword[], value: number): string | undefined {
  return list.find(([, v]) => v === value)?.[0];
}

/** `'app'`, `'data'`, `'bootloader'`, `'partition_table'`, or undefined for other types. */
export function typeName(type: number): string | undefined {
  return nameOf(TYPE_KEYWORDS, type);
}

/** The subtype's keyword for its type (e.g. `'ota_3'`, `'nvs'`), or undefined when it has none. */
export function subtypeName(type: number, subtype: number): string | undefined {
  return nameOf(subtypeKeywords(type), subtype);
}
