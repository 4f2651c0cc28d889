/**
 * Option values shared by `otasim partitions` subcommands: numbers as gen_esp32part.py reads them.
 * They are parsed in the handlers, not in yargs `coerce` (which would wrap a UsageError into an
 * untyped YError), so a bad value is a usage error: one line, exit 2.
 */
import { UsageError } from '../../protocol/errors.js';
import { CHIPS, type ChipName } from '../../simulator/esp32/chips.js';
import { parseIdfInt } from '../../simulator/esp32/partition-int.js';

/** A CLI number in gen_esp32part's forms: decimal, 0x…, 0o…, 0b…, with an optional K or M suffix. */
export function cliNumber(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const r = parseIdfInt(String(v));
  if (!r.ok || r.value < 0n || r.value > 0xffffffffn) {
    throw new UsageError(`--${flag} ${String(v)}: expected a byte count or address such as 0x8000, 32K or 4M`);
  }
  return Number(r.value);
}

/** `--flash-size`: `4MB` (as gen_esp32part spells it) or any {@link cliNumber} form. */
export function cliFlashSize(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const mb = /^(\d+)\s*MB$/i.exec(String(v));
  if (mb) return Number(mb[1]) * 1024 * 1024;
  return cliNumber('flash-size', v);
}

/** `--primary-bootloader-offset`: an address, or a chip name for its ROM's bootloader offset. */
export function cliBootloaderOffset(v: unknown): number | undefined {
  if (typeof v === 'string' && v in CHIPS) return CHIPS[v as ChipName].bootloaderOffset;
  return cliNumber('primary-bootloader-offset', v);
}
