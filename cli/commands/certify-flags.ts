/** Flag readers both certify commands share. */
import { UsageError } from '../../protocol/errors.js';
import type { ReportFiles } from '../../harness/certify/common/index.js';
import { parseDuration } from './fleet.js';

/** A string flag's value, or undefined when absent. */
export function str(a: Record<string, unknown>, k: string): string | undefined {
  const v = a[k];
  return typeof v === 'string' ? v : undefined;
}

/** `--timeout` in ms (at least 100), `fallback` when absent. */
export function timeoutFlag(a: Record<string, unknown>, fallback: string): number {
  const text = str(a, 'timeout') ?? fallback;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new UsageError(`--timeout ${text}: expected e.g. 500ms, 10s, 2m`);
  }
  if (ms < 100) throw new UsageError(`--timeout ${text}: at least 100ms`);
  return ms;
}

/** The `--junit` and `--json` files asked for. */
export function reportFiles(a: Record<string, unknown>): ReportFiles {
  const junit = str(a, 'junit');
  const json = str(a, 'json');
  return { ...(junit === undefined ? {} : { junit }), ...(json === undefined ? {} : { json }) };
}
