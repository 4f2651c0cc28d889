/**
 * HTTP byte ranges for firmware downloads: `Range` (RFC 9110 §14.2), `If-Range` (§13.1.5) and
 * `Content-Range` (§14.4). Pure.
 *
 * The server answers one satisfiable range with 206. It answers a request whose ranges are all
 * unsatisfiable with 416. A Range it cannot parse, with another unit or with several satisfiable
 * ranges, is ignored (full 200), as §14.2 allows: serving `multipart/byteranges` buys a firmware
 * client nothing. Range only applies to GET (§14.2: ignored for other methods, HEAD included).
 */

/** What to send for a request. `end` is inclusive, as in `Content-Range`. */
export type RangeDecision =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const FULL: RangeDecision = Object.freeze({ kind: 'full' });

/** Decide what a `Range` header asks of a representation of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return FULL;
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (m === null || m[1] === undefined) return FULL;
  const satisfiable: { start: number; end: number }[] = [];
  let any = false;
  for (const raw of m[1].split(',')) {
    const spec = raw.trim();
    if (spec === '') continue; // §5.6.1: empty list elements are allowed and ignored
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (r === null) return FULL;
    const [, a = '', b = ''] = r;
    if (a === '' && b === '') return FULL;
    any = true;
    if (a === '') {
      // suffix-range: the last N bytes
      const n = Number(b);
      if (n > 0 && size > 0) satisfiable.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(a);
    const last = b === '' ? Number.POSITIVE_INFINITY : Number(b);
    if (last < start) return FULL; // invalid range-spec: ignore the whole header
    if (start < size) satisfiable.push({ start, end: Math.min(last, size - 1) });
  }
  if (!any) return FULL;
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  if (satisfiable.length > 1) return FULL;
  const only = satisfiable[0] as { start: number; end: number };
  return { kind: 'partial', start: only.start, end: only.end };
}

/** The current validators of a representation. */
export interface Validators {
  /** Strong entity tag, quotes included: `"<sha256>"`. */
  readonly etag: string;
  /** Last modification, in ms since the epoch (compared at one-second precision). */
  readonly lastModified: number;
}

/**
 * Whether an `If-Range` lets the Range apply (§13.1.5): an entity tag must match strongly (a weak
 * tag never does); an HTTP-date must equal Last-Modified exactly. Absent → true.
 */
export function ifRangeAllows(header: string | undefined, v: Validators): boolean {
  if (header === undefined) return true;
  const h = header.trim();
  if (h.startsWith('W/')) return false;
  if (h.startsWith('"')) return h === v.etag;
  const t = Date.parse(h);
  if (Number.isNaN(t)) return false;
  return Math.floor(t / 1000) === Math.floor(v.lastModified / 1000);
}

/** Whether `If-None-Match` matches the current entity tag (weak comparison, §13.1.2), for 304. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque);
}

/** `Content-Range` for a partial response: `bytes start-end/size`. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** `Content-Range` for a 416 response: `bytes * /size` without the space (§14.4). */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
