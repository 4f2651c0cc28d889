/**
 * Per-chip choices the image builder makes: where its sections load and a few header bytes.
 *
 * - IROM/DROM windows come from chips.ts (soc.h) where it has them. For the chips it leaves null
 *   (esp32c2, h2, p4, c61, c5, h21, h4, s31) the builder takes the windows from esptool's target tables
 *   (esptool-js 0.7.0 `lib/targets/*.js`: IROM_MAP_*, DROM_MAP_* and MEMORY_MAP). Unified windows (c5, p4,
 *   s31) are given as the same range for both. The verifier skips the MMU check for these chips, and the
 *   layout stays page-congruent, so the image would also pass with any MMU page up to 64 KiB.
 * - RAM load addresses: real ESP-IDF v5.2.2 builds (fixtures) for esp32 and esp32s3, esptool's blink test
 *   image for esp32s2; elsewhere the start of a DRAM/IRAM range in esptool's MEMORY_MAP, chosen outside
 *   the flash windows. ESP-IDF does not check an app's RAM addresses when it verifies an image.
 * - `sharedMmu`: where code and rodata share one MMU (S3/C3 and the RISC-V chips), the linker puts DROM's
 *   virtual pages after IROM's (the esp32s3 fixture: IROM 0x42000020, DROM 0x3c020020).
 * - `spiSpeed`: the header nibble of the fixtures (esp32 40 MHz = 0, esp32s3 80 MHz = 0xF); flash size
 *   is always written as 2 MB (nibble 1), as in both fixtures.
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

type Row = Omit<BuildProfile, 'chip' | 'irom' | 'drom'> & {
  /** Windows used only where chips.ts has none. */
  readonly windows?: { readonly irom: AddrRange; readonly drom: AddrRange };
};

const w = (irom: [number, number], drom: [number, number]): Row['windows'] =>
  ({ irom: { start: irom[0], end: irom[1] }, drom: { start: drom[0], end: drom[1] } });
const riscv = { sharedMmu: true, spiSpeed: 0xf, maxChipRevFull: 0xffff } as const;

const ROWS: Readonly<Record<ChipName, Row>> = {
  esp32: { dram: 0x3ffb0000, iram: 0x40080000, sharedMmu: false, spiSpeed: 0x0, maxChipRevFull: 399 },
  esp32s2: { dram: 0x3ffbde90, iram: 0x40022000, sharedMmu: false, spiSpeed: 0xf, maxChipRevFull: 0xffff },
  esp32s3: { dram: 0x3fc8eb00, iram: 0x40374000, sharedMmu: true, spiSpeed: 0xf, maxChipRevFull: 99 },
  esp32c3: { dram: 0x3fc80000, iram: 0x4037c000, ...riscv },
  esp32c2: { dram: 0x3fca0000, iram: 0x4037c000, ...riscv, windows: w([0x42000000, 0x42400000], [0x3c000000, 0x3c400000]) },
  esp32c6: { dram: 0x40810000, iram: 0x40800000, ...riscv },
  esp32h2: { dram: 0x40810000, iram: 0x40800000, ...riscv, windows: w([0x42000000, 0x42800000], [0x42800000, 0x43000000]) },
  esp32p4: { dram: 0x4ff10000, iram: 0x4ff00000, ...riscv, windows: w([0x40000000, 0x4c000000], [0x40000000, 0x4c000000]) },
  esp32c61: { dram: 0x40810000, iram: 0x40800000, ...riscv, windows: w([0x42000000, 0x42800000], [0x42800000, 0x43000000]) },
  esp32c5: { dram: 0x40810000, iram: 0x40800000, ...riscv, windows: w([0x42000000, 0x44000000], [0x42000000, 0x44000000]) },
  esp32h21: { dram: 0x40810000, iram: 0x40800000, ...riscv, windows: w([0x42000000, 0x42800000], [0x42800000, 0x43000000]) },
  esp32h4: { dram: 0x40820000, iram: 0x40810000, ...riscv, windows: w([0x42000000, 0x42800000], [0x42800000, 0x43000000]) },
  esp32s31: { dram: 0x2f010000, iram: 0x2f000000, ...riscv, windows: w([0x40000000, 0x54000000], [0x40000000, 0x54000000]) },
};

/** The builder's layout choices for `chip`. */
export function buildProfile(chip: ChipName): BuildProfile {
  const c = CHIPS[chip];
  const { windows, ...row } = ROWS[chip];
  const irom = c.irom ?? windows?.irom;
  const drom = c.drom ?? windows?.drom;
  if (irom === undefined || drom === undefined) throw new Error(`image-profiles: no flash windows for ${chip}`);
  return { chip, irom, drom, ...row };
}
