/**
 * Comparing firmware versions, one rule for the server (`min_version`, seed 002 upload query) and
 * the device (is an offer an upgrade?). Pure.
 * Versions in the wild are semver (`1.4.2`, `v1.2.0`), `git describe` output (`1.4.2-3-gabcdef`) or
 * commit-timestamp strings (`a1b2c3d-20251208-153045`, seed 000); only the first kind orders.
 */

/** The numeric core of a dotted version (`v1.2.10-rc1` → [1, 2, 10]), or null when it has none. */
export function numericCore(v: string): number[] | null {
  const m = /^v?(\d+(?:\.\d+)*)/.exec(v.trim());
  if (m === null || m[1] === undefined) return null;
  return m[1].split('.').map(Number);
}

/**
 * Compare two versions by their numeric cores: negative, 0 or positive; null when either has no
 * numeric core (they cannot be ordered). Missing components count as 0 (`1.2` = `1.2.0`).
 */
export function compareVersions(a: string, b: string): number | null {
  const x = numericCore(a);
  const y = numericCore(b);
  if (x === null || y === null) return null;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * Whether a device on `current` may take a release that needs `minVersion` (null = no minimum).
 * A version that cannot be ordered against the minimum is refused: a `min_version` is a
 * safety bound, and an unknown current version cannot prove it meets it.
 */
export function meetsMinVersion(current: string, minVersion: string | null): boolean {
  if (minVersion === null) return true;
  const c = compareVersions(current, minVersion);
  return c !== null && c >= 0;
}

/**
 * Whether `offered` is an upgrade from `running`: equal strings never are; versions that cannot
 * be ordered (no numeric core) count as newer only when they differ.
 */
export function isNewer(offered: string, running: string): boolean {
  if (offered === running) return false;
  const c = compareVersions(offered, running);
  return c === null ? true : c > 0;
}
