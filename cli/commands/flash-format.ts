/**
 * How `otasim flash inspect` prints an inspection: the JSON document (its top-level keys are stable:
 * other tools read them) and the text summary. Images use `otasim image inspect --json`'s mapping
 * and the table uses `otasim partitions decode --format json`'s, so the three documents agree.
 */
import type { FlashInspection, OtadataCopyReport } from '../../simulator/esp32/flash-inspect.js';
import type { ImageInspection } from '../../simulator/esp32/app-image.js';
import { subtypeName, typeName } from '../../simulator/esp32/partition-names.js';
import { inspectJson } from './image-format.js';
import { toJson as tableJson } from './partitions-decode.js';

/** `--json`: chip, bootloader, partitionTable, otadata, apps, boots, bootReason, then the supporting detail. */
export function flashJson(r: FlashInspection): object {
  const t = r.partitionTable;
  const od = r.otadata;
  return {
    chip: r.chip,
    bootloader: { offset: r.bootloader.offset, size: r.bootloader.size, image: inspectJson(r.bootloader.image) },
    partitionTable: { offset: t.offset, ...(t.table === null ? { partitions: [], md5: null } : tableJson(t.table)), error: t.error },
    otadata: {
      label: od.partition?.label ?? null, offset: od.partition?.offset ?? null,
      copies: od.copies, active: od.active, error: od.error, wouldWrite: od.wouldWrite,
    },
    apps: r.apps.map(({ partition: p, image }) => ({
      label: p.label, subtype: p.subtype, subtypeName: subtypeName(p.type, p.subtype) ?? null, offset: p.offset, size: p.size,
      image: inspectJson(image),
    })),
    boots: r.boots?.label ?? null,
    bootReason: r.bootReason,
    bootFailure: r.bootFailure,
    bootLog: r.bootLog,
    chipSource: r.chipSource,
    flashSize: r.flashSize,
    flashSizeSource: r.flashSizeSource,
    fileSize: r.fileSize,
    notes: r.notes,
  };
}

const hx = (n: number): string => `0x${n.toString(16)}`;
const col = (s: string, w: number): string => s.padEnd(w);
const SOURCE = { option: 'given', 'bootloader-header': 'from the bootloader header', file: 'assumed' } as const;

/** One line: the verdict on an image, and what it holds. */
function imageLine(r: ImageInspection, kind: 'app' | 'bootloader'): string {
  if (!r.valid) return `INVALID ${kind} (${r.error?.code}: ${r.error?.message})`;
  const what = r.app === null ? '' : ` ${r.app.projectName} ${r.app.version}, secure_version ${r.app.secureVersion},`;
  const noDesc = kind === 'app' && r.app === null ? ' (no app descriptor: an OTA client refuses it)' : '';
  return `valid ${r.chip ?? 'unknown-chip'} ${kind},${what} ${r.size ?? '?'} bytes${noDesc}`;
}

const seqName = (seq: number): string => (seq === 0xffffffff ? 'erased' : `seq ${seq}`);

function copyLine(c: OtadataCopyReport): string {
  const seq = seqName(c.seq);
  const target = c.slot === null ? '' : `  → slot ${c.slot}${c.selects === null ? ' (no such partition)' : ` '${c.selects}'`}`;
  return `    [${c.copy}] ${col(seq, 14)}${col(c.stateName, 16)}crc ${c.crcOk ? 'ok ' : 'BAD'}  ${c.valid ? 'valid  ' : 'invalid'}${target}`;
}

/** A readable summary; the answer (what boots) is near the end, with the bootloader's reasons. */
export function flashText(file: string, r: FlashInspection): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => {
    lines.push(`${col(k, 13)}${v}`);
  };
  lines.push(`${file}: ${r.chip} flash image (chip ${r.chipSource === 'option' ? 'given' : 'from the bootloader header'}), `
    + `${r.flashSize / 1048576} MiB flash (${SOURCE[r.flashSizeSource]}), ${r.fileSize}-byte file`);
  row('bootloader', `${hx(r.bootloader.offset)}: ${imageLine(r.bootloader.image, 'bootloader')}`);
  const t = r.partitionTable;
  if (t.table === null) row('partitions', `${hx(t.offset)}: INVALID (${t.error?.code}: ${t.error?.message})`);
  else {
    row('partitions', `${hx(t.offset)}: ${t.table.partitions.length} partitions, ${t.table.md5Digest === null ? 'no MD5 entry' : `MD5 ${t.table.md5Digest}`}`);
    for (const p of t.table.partitions) {
      const kind = `${typeName(p.type) ?? hx(p.type)}/${subtypeName(p.type, p.subtype) ?? hx(p.subtype)}`;
      lines.push(`    ${col(p.label, 17)}${col(kind, 16)}${col(hx(p.offset), 11)}${hx(p.size)}`);
    }
  }
  const od = r.otadata;
  if (t.table === null) row('otadata', 'not located: the partition table is invalid');
  else if (od.error !== null) row('otadata', `unreadable (${od.error.code}: ${od.error.message})`);
  else if (od.partition === null) row('otadata', 'none in the table: the bootloader starts from factory');
  else {
    const active = od.active === null ? 'no active copy' : `active copy ${od.active}`;
    row('otadata', `${hx(od.partition.offset)} '${od.partition.label}': ${active}`);
    for (const c of od.copies) lines.push(copyLine(c));
  }
  if (r.apps.length > 0) lines.push('apps');
  for (const { partition: p, image } of r.apps) {
    lines.push(`    ${col(p.label, 17)}${col(subtypeName(p.type, p.subtype) ?? hx(p.subtype), 10)}${col(hx(p.offset), 11)}${imageLine(image, 'app')}`);
  }
  row('boots', r.boots === null ? `NOTHING (${r.bootFailure})` : `'${r.boots.label}' (${subtypeName(r.boots.type, r.boots.subtype) ?? hx(r.boots.subtype)} at ${hx(r.boots.offset)})`);
  lines.push(`    why: ${r.bootReason}`);
  for (const w of od.wouldWrite) {
    lines.push(`    the bootloader would rewrite otadata[${w.copy}]: ${seqName(w.before.seq)} ${w.before.state} → ${seqName(w.after.seq)} ${w.after.state} `
      + '(not written: inspect is read-only)');
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}
