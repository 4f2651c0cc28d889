/**
 * Option values of `otasim image` subcommands. Parsed in the handlers, not in yargs `coerce` (which
 * would wrap a UsageError into an untyped YError), so a bad value is a usage error: one line, exit 2.
 */
import { UsageError } from '../../protocol/errors.js';

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, kib: 1024, m: 1024 * 1024, mib: 1024 * 1024 };

/**
 * A byte count: `N`, `0xN`, or `N` with a `K`/`KiB` or `M`/`MiB` suffix (×1024, ×1048576), e.g.
 * `196608`, `192KiB`, `1.5MiB`. The result must be a whole number of bytes.
 */
export function cliSize(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const m = /^(0x[0-9a-f]+|\d+(?:\.\d+)?)\s*(k|kib|m|mib)?$/i.exec(s);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  const n = m?.[1] === undefined || unit === undefined ? NaN : Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`--${flag} ${s}: expected a byte count such as 196608, 0x30000, 192KiB or 1.5MiB`);
  }
  return n;
}

/** A non-negative integer option (decimal or 0x…) no larger than `max`. */
export function cliUint(flag: string, v: unknown, max: number): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new UsageError(`--${flag} ${s}: expected an integer from 0 to ${max}`);
  return n;
}
