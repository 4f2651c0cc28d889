/**
 * Which ESP32-family chip a `device_model` names, so an upload can be checked with the
 * simulator's validator for that chip. Pure.
 *
 * device_model strings in the wild are chip names (`esp32`, `esp32-s3`, `esp32s3`, `esp32_c3`),
 * board-based PlatformIO environments (`lilygo-t-display-s3-heater`, `waveshare-s3-touch-lcd-43`,
 * paku-protocol-facts §2.8), or chip-plus-board names (`esp32-heater`, `esp32-ch340c-30pin`).
 */
import { isChipName, type ChipName } from '../../simulator/esp32/chips.js';

/** Board families whose chip is known (paku-protocol-facts §2.8 workflow inputs, §1.7). */
const BOARD_CHIPS: ReadonlyArray<readonly [RegExp, ChipName]> = [
  [/^lilygo-t-display-s3(?:$|-)/, 'esp32s3'],
  [/^waveshare-s3(?:$|-)/, 'esp32s3'],
];

/** What otasim knows about a model. */
export type ModelChip =
  /** An ESP32-family model whose chip is known: the upload must be built for it. */
  | { readonly kind: 'chip'; readonly chip: ChipName }
  /** A model naming no chip otasim recognises: any ESP32-family app image is accepted. */
  | { readonly kind: 'any' }
  /** Not an ESP32-family device (e.g. ESP8266): otasim cannot validate its images. */
  | { readonly kind: 'unsupported'; readonly family: string };

/**
 * The chip for `deviceModel`. `overrides` (config `modelChips`) win; then chip names with or
 * without a separator before the variant (`esp32-s3` = `esp32s3`), as the whole name or its first
 * part (`esp32-c3-mini` → esp32c3, `esp32-heater` → esp32); then known boards.
 */
export function chipForModel(deviceModel: string, overrides: Readonly<Record<string, ChipName>> = {}): ModelChip {
  const own = overrides[deviceModel];
  if (own !== undefined) return { kind: 'chip', chip: own };
  const lower = deviceModel.toLowerCase();
  if (/^esp8266(?:$|[-_.])/.test(lower) || /^esp8285(?:$|[-_.])/.test(lower)) return { kind: 'unsupported', family: 'esp8266' };
  const parts = lower.split(/[-_.]/).filter((p) => p.length > 0);
  const [first = '', second = ''] = parts;
  const joined = first + second;
  if (isChipName(joined) && joined !== first) return { kind: 'chip', chip: joined };
  if (isChipName(first)) return { kind: 'chip', chip: first };
  for (const [re, chip] of BOARD_CHIPS) if (re.test(lower)) return { kind: 'chip', chip };
  return { kind: 'any' };
}
