/** How `otasim image inspect` prints an inspection: the JSON document and the text summary. */
import type { ImageInspection } from '../../simulator/esp32/app-image.js';

/** `--json`: exactly these keys, in this order. Null where the walk stopped before the value was read. */
export interface InspectJson {
  valid: boolean;
  error: { code: string; message: string } | null;
  chip: string | null;
  chipId: number | null;
  entryAddr: number | null;
  segments: Array<{ loadAddr: number; length: number }>;
  checksum: { stored: number; computed: number; ok: boolean } | null;
  sha256: { appended: string | null; ok: boolean } | null;
  app: {
    version: string; projectName: string; secureVersion: number; idfVersion: string; date: string; time: string;
    elfSha256: string;
  } | null;
  size: number | null;
}

export function inspectJson(r: ImageInspection): InspectJson {
  const a = r.app;
  return {
    valid: r.valid,
    error: r.error === null ? null : { code: r.error.code, message: r.error.message },
    chip: r.chip,
    chipId: r.header?.chipId ?? null,
    entryAddr: r.header?.entryAddr ?? null,
    segments: r.segments.map((s) => ({ loadAddr: s.loadAddr, length: s.length })),
    checksum: r.checksum === null ? null : { stored: r.checksum.stored, computed: r.checksum.computed, ok: r.checksum.ok },
    sha256: r.sha256 === null ? null : { appended: r.sha256.appended, ok: r.sha256.ok },
    app: a === null ? null : {
      version: a.version, projectName: a.projectName, secureVersion: a.secureVersion, idfVersion: a.idfVersion,
      date: a.date, time: a.time, elfSha256: a.elfSha256,
    },
    size: r.size,
  };
}

const hx = (n: number, w: number): string => `0x${n.toString(16).padStart(w, '0')}`;
const rev = (full: number): string => (full === 0xffff ? 'any' : `v${Math.floor(full / 100)}.${full % 100}`);

/** A readable multi-line summary of what was read; the verdict is on the first line. */
export function inspectText(file: string, fileSize: number, r: ImageInspection, bootloader: boolean): string {
  const kind = bootloader ? 'bootloader' : 'app';
  const lines = [r.valid
    ? `${file}: valid ${r.chip ?? 'unknown-chip'} ${kind} image, ${r.size ?? fileSize} bytes`
    : `${file}: INVALID ${kind} image (${r.error?.code}: ${r.error?.message})`];
  const row = (k: string, v: string): void => {
    lines.push(`  ${k.padEnd(11)}${v}`);
  };
  const h = r.header;
  if (h !== null) {
    row('chip', `${r.chip ?? 'unknown'} (chip id ${h.chipId}), revisions ${rev(h.minChipRevFull)} to ${rev(h.maxChipRevFull)}`);
    row('entry', hx(h.entryAddr, 8));
    row('flash', `mode ${h.spiMode}, speed nibble ${hx(h.spiSpeed, 1)}, size nibble ${h.spiSize}`);
  }
  if (h !== null || r.segments.length > 0) {
    row('segments', `${r.segments.length}${h !== null && h.segmentCount !== r.segments.length ? ` of ${h.segmentCount} read` : ''}`);
    r.segments.forEach((s, i) => {
      lines.push(`    ${String(i).padStart(2)}  load ${hx(s.loadAddr, 8)}  len ${hx(s.length, 6)} (${s.length} B)  at ${hx(s.dataOffset, 6)}${s.loadAddr === 0 ? '  padding' : ''}`);
    });
  }
  if (r.checksum !== null) {
    const c = r.checksum;
    row('checksum', `${hx(c.stored, 2)} stored, ${hx(c.computed, 2)} computed: ${c.ok ? 'ok' : 'MISMATCH'}`);
  }
  if (r.sha256 !== null) {
    const s = r.sha256;
    row('sha256', s.appended === null ? 'none appended (hash_appended = 0)' : `${s.appended}: ${s.ok ? 'ok' : `MISMATCH (computed ${s.computed})`}`);
  }
  if (r.signature !== null) row('signature', `block ${r.signature.index} (${r.signature.scheme}) verifies`);
  if (!bootloader && (r.checksum !== null || r.app !== null)) {
    const a = r.app;
    if (a === null) row('app desc', 'none (no esp_app_desc_t magic at 0x20): an OTA client refuses this as an app');
    else {
      row('app', `${a.projectName} ${a.version}, secure_version ${a.secureVersion}`);
      row('built', `${a.date} ${a.time}, ESP-IDF ${a.idfVersion}`);
      row('elf sha256', a.elfSha256);
    }
  }
  return `${lines.join('\n')}\n`;
}
