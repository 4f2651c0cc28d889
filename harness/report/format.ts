/**
 * Small formatting rules every reporter shares, so the console table and the HTML page print the
 * same numbers the same way. Pure.
 */
import { compareVersions } from '../../protocol/versions.js';

/** `850 ms`, `12.4 s`, `3 min 05 s`; `–` for null. */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** `1,048,576` (thousands separated, locale-independent). */
export function fmtInt(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Versions in release order (semver where both parse, else text order), so charts stack old below new. */
export function sortVersions(versions: Iterable<string>): string[] {
  return [...versions].sort((a, b) => compareVersions(a, b) || a.localeCompare(b));
}

/** A file-name-safe form of a scenario name: `Canary 10/25/50` → `canary-10-25-50`. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 60) || 'scenario';
}

/** `key value, key value` for a record, largest value first; `none` when empty. */
export function fmtCounts(r: Readonly<Record<string, number>>): string {
  const e = Object.entries(r).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ');
}
