/**
 * Merged flash images for the flash-inspect tests, laid out as `esptool merge_bin` lays them out:
 * each part at its address, 0xFF in the gaps, the file ending after the last part; with
 * `flashSize`, the bootloader header's flash-size nibble is rewritten as `merge_bin --flash_size` does.
 */
import { OtaImgState, encodeOtaEntry, makeOtaEntry } from '../../simulator/esp32/otadata.js';
import { fixture } from '../fixtures.js';

/** spi_size nibble values (facts §3.1). */
const SIZE_NIBBLE: Readonly<Record<string, number>> = { '1MB': 0, '2MB': 1, '4MB': 2, '8MB': 3, '16MB': 4 };

export function mergeBin(parts: ReadonlyArray<readonly [number, Uint8Array]>, opts: { flashSize?: string; bootloaderAt?: number } = {}): Uint8Array {
  const end = Math.max(...parts.map(([at, b]) => at + b.length));
  const out = new Uint8Array(end).fill(0xff);
  for (const [at, b] of parts) out.set(b, at);
  if (opts.flashSize !== undefined) {
    const at = opts.bootloaderAt ?? 0x1000;
    const nibble = SIZE_NIBBLE[opts.flashSize];
    if (nibble === undefined) throw new Error(`unknown flash size ${opts.flashSize}`);
    out[at + 3] = ((out[at + 3] ?? 0) & 0x0f) | (nibble << 4);
  }
  return out;
}

export const fx = {
  bootloader: (): Uint8Array => fixture('bootloader/esptool-test_esp32_bootloader_no-sha256.bin'),
  arduinoTable: (): Uint8Array => fixture('partition/arduino-default_8MB_partitions.bin'),
  singleAppTable: (): Uint8Array => fixture('partition/idf-default-singleapp_partition-table.bin'),
  bootApp0: (): Uint8Array => fixture('otadata/arduino_boot_app0.bin'),
  helloEsp32: (): Uint8Array => fixture('app/idf-v5.2.2_esp32_hello_world.bin'),
};

/** The Arduino 8 MB layout: otadata at 0xE000, app0 (ota_0) at 0x10000, app1 (ota_1) at 0x340000. */
export const ARDUINO = { otadata: 0xe000, app0: 0x10000, app1: 0x340000 } as const;

/** Arduino's boot_app0.bin with copy 0 replaced by `{ seq, state }` (copy 1 keeps seq 0). */
export function otadataWith(seq: number, state: number = OtaImgState.UNDEFINED): Uint8Array {
  const od = fx.bootApp0().slice();
  od.fill(0xff, 0, 0x1000);
  od.set(encodeOtaEntry(makeOtaEntry(seq, state)), 0);
  return od;
}

/**
 * An Arduino-style ESP32 image as `esptool merge_bin --flash_size 8MB` would write it: the real
 * bootloader, the 8 MB table, boot_app0.bin (or `otadata`) and the IDF hello_world app in app0.
 */
export function arduinoImage(opts: { otadata?: Uint8Array; flashSize?: string | null } = {}): Uint8Array {
  const flashSize = opts.flashSize === undefined ? '8MB' : opts.flashSize;
  return mergeBin([
    [0x1000, fx.bootloader()], [0x8000, fx.arduinoTable()], [ARDUINO.otadata, opts.otadata ?? fx.bootApp0()],
    [ARDUINO.app0, fx.helloEsp32()],
  ], flashSize === null ? {} : { flashSize });
}
