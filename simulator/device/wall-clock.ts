/**
 * The device's wall-clock text: `YYYY-MM-DDTHH:MM:SS+00:00`, the shape paku-core's timestamps take
 * (paku-protocol-facts §1.4), in UTC. Device time = runtime time + clock-skew fault. Pure.
 */

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Format `ms` since the Unix epoch; `""` (never synced) when it is not a representable date. */
export function deviceTimestamp(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) return '';
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00:00`;
}
