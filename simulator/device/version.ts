/**
 * Is an offered version newer than the running one? Versions are compared by their dotted numeric
 * core (`v1.2.10-rc1` → 1.2.10), the way the server orders `min_version`; versions without one
 * (commit-stamp builds, seed 000) cannot be ordered and count as newer only when they differ. Pure.
 */

function numericCore(v: string): number[] | null {
  const m = /^v?(\d+(?:\.\d+)*)/.exec(v.trim());
  return m?.[1] === undefined ? null : m[1].split('.').map(Number);
}

/** Negative, 0 or positive; null when either version has no numeric core. Missing parts count as 0. */
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

/** Whether `offered` is an upgrade from `running` (equal strings never are). */
export function isNewer(offered: string, running: string): boolean {
  if (offered === running) return false;
  const c = compareVersions(offered, running);
  return c === null ? true : c > 0;
}
