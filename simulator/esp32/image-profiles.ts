/**
 * Per-chip choices the image builder makes: where its sections load and a few header bytes.
 *
 * - IROM/DROM windows come from chips.ts (soc.h). For chips otasim has not tabulated (esp32c2, h2, p4,
 *   c61, c5, h21, h4, s31) the builder uses ESP32-C6-style placeholder windows, IROM 0x42000000 and
 *   DROM 0x42800000, 8 MiB each. The verifier skips the MMU check for those chips, and the
 *   placeholder layout is still page-congruent, so the image would stay valid under any MMU page up to 64 KiB.
 * - RAM load addresses are those of real ESP-IDF v5.2.2 builds (fixtures) for esp32 and esp32s3 and of
 *   esptool's blink test image for esp32s2; elsewhere they are plausible SRAM addresses. ESP-IDF does
 *   not check an app's RAM addresses when it verifies an image.
 * - `sharedMmu`: on S3/C3-class chips code and rodata share one MMU, so the linker puts DROM's virtual
 *   pages after IROM's (the esp32s3 fixture: IROM 0x42000020, DROM 0x3c020020).
 * - `spiSpeed`: the header nibble IDF's default menuconfig writes (esp32 fixture 40 MHz = 0, esp32s3
 *   fixture 80 MHz = 0xF); flash size is always written as 2 MB (nibble 1), as in both fixtures.
 * - `maxChipRevFull`: what IDF v5.2.2 wrote in the fixtures (esp32 399, esp32s3 99); elsewhere 0xFFFF,
 *   esptool's default, which the bootloader treats as "no maximum".
 */
import { CHIPS, type AddrRange, type ChipName } from './chips.js';

export interface BuildProfile {
  readonly chip: ChipName;
  readonly irom: AddrRange;
  readonly drom: AddrRange;
  readonly dram: number;
  readonly iram: number;
  readonly sharedMmu: boolean;
  readonly spiSpeed: number;
  readonly maxChipRevFull: number;
}

const PLACEHOLDER_IROM: AddrRange = { start: 0x42000000, end: 0x42800000 };
const PLACEHOLDER_DROM: AddrRange = { start: 0x42800000, end: 0x43000000 };

type Ram = Pick<BuildProfile, 'dram' | 'iram' | 'sharedMmu' | 'spiSpeed' | 'maxChipRevFull'>;

const RAM: Partial<Record<ChipName, Ram>> = {
  esp32: { dram: 0x3ffb0000, iram: 0x40080000, sharedMmu: false, spiSpeed: 0x0, maxChipRevFull: 399 },
  esp32s2: { dram: 0x3ffbde90, iram: 0x40022000, sharedMmu: false, spiSpeed: 0xf, maxChipRevFull: 0xffff },
  esp32s3: { dram: 0x3fc8eb00, iram: 0x40374000, sharedMmu: true, spiSpeed: 0xf, maxChipRevFull: 99 },
  esp32c3: { dram: 0x3fc80000, iram: 0x40380000, sharedMmu: true, spiSpeed: 0xf, maxChipRevFull: 0xffff },
};

const RISCV_DEFAULT: Ram = { dram: 0x40810000, iram: 0x40800000, sharedMmu: true, spiSpeed: 0xf, maxChipRevFull: 0xffff };

/** The builder's layout choices for `chip`. */
export function buildProfile(chip: ChipName): BuildProfile {
  const c = CHIPS[chip];
  const ram = RAM[chip] ?? RISCV_DEFAULT;
  return {
    chip, irom: c.irom ?? PLACEHOLDER_IROM, drom: c.drom ?? PLACEHOLDER_DROM, ...ram,
  };
}
