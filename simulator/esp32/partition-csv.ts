/**
 * Partition tables as gen_esp32part.py CSV: parse (CSV → table) and format (table → CSV).
 * Facts: esp-idf-ota-facts.md §1.7–§1.9 (gen_esp32part.py `from_csv`, `PartitionDefinition.from_csv`,
 * `parse_int`, `to_csv`, `verify`).
 */
import { PARTITION_ERR, PartitionTableError, type PartitionErrCode } from '../../protocol/errors.js';
import { parseIdfInt } from './partition-int.js';
import { subtypeKeywords, subtypeName, TYPE_KEYWORDS, typeName } from './partition-names.js';
import {
  BOOTLOADER_SUBTYPE, DATA_SUBTYPE, PART_FLAG, PART_TYPE, PARTITION_LABEL_LEN, PARTITION_TABLE_OFFSET,
  PARTITION_TABLE_SIZE, type Partition, type PartitionTable,
} from './partition-table.js';
import { isPrimaryPseudoEntry, offsetAlignment, verifyPartitionTable } from './partition-verify.js';

export interface PartitionCsvOptions {
  /** Flash offset of the table, bytes (gen_esp32part `--offset`; default 0x8000, a multiple of 0x1000). */
  readonly tableOffset?: number;
  /** Variables for `$NAME` / `${NAME}` expansion (the CLI passes the process environment). Default none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Append the MD5 entry when encoded (default true; gen_esp32part `--disable-md5sum` is false). */
  readonly md5?: boolean;
  /** Primary bootloader offset, bytes (`--primary-bootloader-offset`): places `bootloader,primary` and
   * sizes every bootloader entry. Chip-specific (0x1000 ESP32/S2, 0x0 C3/S3/…, 0x2000 C5/P4). */
  readonly primaryBootloaderOffset?: number;
  /** Recovery bootloader offset, bytes (`--recovery-bootloader-offset`). */
  readonly recoveryBootloaderOffset?: number;
  /** Secure boot scheme (`--secure`): `'v1'` needs app sizes on 64 KiB. */
  readonly secure?: 'v1' | 'v2';
  /** Flash size, bytes (`--flash-size`): the table must end within it. */
  readonly flashSize?: number;
  /** Apply gen_esp32part's table rules (default true; `--no-verify` is false). */
  readonly verify?: boolean;
}

/** A parsed CSV: the table, where each partition came from, and what gen_esp32part would warn. */
export interface ParsedPartitionCsv extends PartitionTable {
  /** 1-based CSV line of each partition. */
  readonly lines: readonly number[];
  readonly warnings: readonly string[];
}

/** Python `str.splitlines()` boundaries (it breaks on the \x1c–\x1e separators too). */
// eslint-disable-next-line no-control-regex -- Python's line boundaries include control characters
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
/** Python `str.strip()` whitespace. */
const PY_SPACE = '[\\s\\x1c-\\x1f\\x85]';
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');
const pyStrip = (s: string): string => s.replace(PY_STRIP, '');
/** `os.path.expandvars`: `$name` or `${name}`, name in ASCII word characters. */
const VAR = /\$(\w+|\{[^}]*\})/g;
const FLAG_NAMES: ReadonlyArray<readonly [string, number]> = [['encrypted', PART_FLAG.ENCRYPTED], ['readonly', PART_FLAG.READONLY]];
const U32 = 0xffffffff;
const hex = (n: number): string => `0x${n.toString(16)}`;

interface Row {
  line: number;
  label: string;
  type: number;
  subtype: number;
  /** null: automatic placement. */
  offset: number | null;
  /** Negative: an end address. */
  size: number;
  flags: number;
}

/**
 * Parse a gen_esp32part.py CSV (`Name, Type, SubType, Offset, Size, Flags`) into a table.
 * Per line: `$VAR` expansion, strip, skip blank and `#` lines, missing trailing fields empty.
 * Numbers take K/M suffixes and Python `int(x, 0)` forms; type/subtype take keywords in any case.
 * Empty offset = automatic (app on 64 KiB, others on 4 KiB, after the previous partition); a
 * negative size is an end address; an empty subtype is 0x06 (an error for app). Names longer than
 * 16 bytes are cut to 16, as the generator does, with a warning. Then the table rules of
 * {@link verifyPartitionTable} (unless `verify: false`).
 * @throws PartitionTableError naming the line and the problem, e.g.
 *   `line 5: partition 'ota_0' at 0x110000 overlaps 'nvs' (0x9000–0x110fff)`.
 */
export function parsePartitionCsv(text: string, opts: PartitionCsvOptions = {}): ParsedPartitionCsv {
  const tableOffset = opts.tableOffset ?? PARTITION_TABLE_OFFSET;
  checkOptions(tableOffset, opts);
  const rows: Row[] = [];
  const warnings: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(LINE_BREAK);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const unknown: string[] = [];
    const line = pyStrip(raw.replace(VAR, (whole, name: string) => {
      const key = name.startsWith('{') ? name.slice(1, -1) : name;
      const value = opts.env?.[key];
      if (value === undefined) unknown.push(whole);
      return value ?? whole;
    }));
    if (line === '' || line.startsWith('#')) return;
    if (unknown.length > 0) fail(lineNo, PARTITION_ERR.CSV, `${unknown[0]} is not set (unknown variable)`);
    rows.push(parseRow(line, lineNo, tableOffset, opts, warnings));
  });
  place(rows, tableOffset);
  const table: ParsedPartitionCsv = {
    partitions: rows.map((r): Partition => ({ label: r.label, type: r.type, subtype: r.subtype, offset: r.offset ?? 0,
      size: r.size, flags: r.flags })),
    md5: opts.md5 ?? true,
    lines: rows.map((r) => r.line),
    warnings,
  };
  if (opts.verify ?? true) {
    warnings.push(...verifyPartitionTable(table, { tableOffset, secure: opts.secure, flashSize: opts.flashSize, lines: table.lines }));
  }
  return table;
}

function fail(line: number, code: PartitionErrCode, msg: string): never {
  throw new PartitionTableError(`line ${line}: ${msg}`, { code, line });
}

function checkOptions(tableOffset: number, opts: PartitionCsvOptions): void {
  if (!Number.isInteger(tableOffset) || tableOffset < 0 || tableOffset > U32 || tableOffset % 0x1000 !== 0) {
    throw new PartitionTableError(`table offset ${Number.isInteger(tableOffset) ? hex(tableOffset) : tableOffset} must be a `
      + 'multiple of 0x1000 within 32 bits', { code: PARTITION_ERR.ALIGN });
  }
  const boot = opts.primaryBootloaderOffset;
  if (boot !== undefined && !(Number.isInteger(boot) && boot >= 0 && boot < tableOffset)) {
    throw new PartitionTableError(`primary bootloader offset ${Number.isInteger(boot) ? hex(boot) : boot} must lie below `
      + `the table offset ${hex(tableOffset)}`,
      { code: PARTITION_ERR.OVERLAP });
  }
}

function parseRow(line: string, lineNo: number, tableOffset: number, opts: PartitionCsvOptions, warnings: string[]): Row {
  const f = `${line},,,,`.split(',').map(pyStrip);
  const [name = '', typeText = '', subtypeText = '', offsetText = '', sizeText = '', flagText = ''] = f;
  const label = storedLabel(name, lineNo, warnings);
  if (typeText === '') fail(lineNo, PARTITION_ERR.CSV, `partition '${name}' has an empty type (app, data, or a number)`);
  const type = byteField(lineNo, 'type', typeText, TYPE_KEYWORDS);
  let subtype: number;
  if (subtypeText === '') {
    if (type === PART_TYPE.APP) fail(lineNo, PARTITION_ERR.CSV, `app partition '${name}' needs a subtype (factory, ota_N, test)`);
    subtype = DATA_SUBTYPE.UNDEFINED;
  } else {
    subtype = byteField(lineNo, 'subtype', subtypeText, subtypeKeywords(type));
  }
  const offset = rowOffset(lineNo, type, subtype, offsetText, tableOffset, opts);
  const size = rowSize(lineNo, name, type, sizeText, tableOffset, opts);
  let flags = 0;
  for (const flag of flagText.split(':')) {
    const known = FLAG_NAMES.find(([k]) => k === flag);
    if (known) flags |= known[1];
    else if (flag !== '') fail(lineNo, PARTITION_ERR.CSV, `unknown flag '${flag}' (known: encrypted, readonly; join with ':')`);
  }
  return { line: lineNo, label, type, subtype, offset, size, flags };
}

/** The label as stored: UTF-8, cut to 16 bytes like the generator's `16s` pack. */
function storedLabel(name: string, lineNo: number, warnings: string[]): string {
  if (name.includes('\0')) fail(lineNo, PARTITION_ERR.LABEL, 'the name contains a NUL byte, which would end the stored label early');
  const bytes = new TextEncoder().encode(name);
  if (bytes.length <= PARTITION_LABEL_LEN) return name;
  let cut: string;
  try {
    cut = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, PARTITION_LABEL_LEN));
  } catch {
    return fail(lineNo, PARTITION_ERR.LABEL, `name '${name}' is ${bytes.length} bytes and its first 16 end inside a `
      + 'character; shorten it to 16 bytes');
  }
  warnings.push(`line ${lineNo}: name '${name}' is ${bytes.length} bytes; the table stores its first 16, '${cut}'`);
  return cut;
}

function intField(lineNo: number, what: string, text: string, keywords: Parameters<typeof parseIdfInt>[1] = []): number {
  const r = parseIdfInt(text, keywords);
  if (!r.ok) return fail(lineNo, PARTITION_ERR.CSV, `${what}: ${r.reason}`);
  if (r.value > BigInt(U32) || r.value < -BigInt(U32)) fail(lineNo, PARTITION_ERR.RANGE, `${what} ${text} does not fit in 32 bits`);
  return Number(r.value);
}

function byteField(lineNo: number, what: string, text: string, keywords: Parameters<typeof parseIdfInt>[1]): number {
  const n = intField(lineNo, what, text, keywords);
  if (n < 0 || n > 0xff) fail(lineNo, PARTITION_ERR.RANGE, `${what} ${text} is outside 0..0xff`);
  return n;
}

function rowOffset(lineNo: number, type: number, subtype: number, text: string, tableOffset: number, opts: PartitionCsvOptions): number | null {
  if (type === PART_TYPE.BOOTLOADER && subtype === BOOTLOADER_SUBTYPE.PRIMARY) {
    return opts.primaryBootloaderOffset ?? fail(lineNo, PARTITION_ERR.CSV, 'the primary bootloader entry takes its offset '
      + 'from the primary bootloader offset option (gen_esp32part --primary-bootloader-offset); none was given');
  }
  if (type === PART_TYPE.BOOTLOADER && subtype === BOOTLOADER_SUBTYPE.RECOVERY) {
    return opts.recoveryBootloaderOffset ?? fail(lineNo, PARTITION_ERR.CSV, 'the recovery bootloader entry takes its '
      + 'offset from the recovery bootloader offset option (--recovery-bootloader-offset); none was given');
  }
  if (type === PART_TYPE.PARTITION_TABLE && subtype === 0x00) return tableOffset;
  if (text === '') return null;
  const n = intField(lineNo, 'offset', text);
  if (n < 0) fail(lineNo, PARTITION_ERR.RANGE, `offset ${text} is negative`);
  return n;
}

function rowSize(lineNo: number, name: string, type: number, text: string, tableOffset: number, opts: PartitionCsvOptions): number {
  if (type === PART_TYPE.BOOTLOADER) {
    const boot = opts.primaryBootloaderOffset ?? fail(lineNo, PARTITION_ERR.CSV, 'a bootloader entry is sized '
      + 'table offset − primary bootloader offset, and no primary bootloader offset was given');
    return tableOffset - boot;
  }
  if (type === PART_TYPE.PARTITION_TABLE) return PARTITION_TABLE_SIZE;
  if (text === '') fail(lineNo, PARTITION_ERR.CSV, `partition '${name}' has an empty size`);
  return intField(lineNo, 'size', text);
}

/** gen_esp32part `from_csv` fix-up: automatic offsets, end-address sizes, CSV order = flash order. */
function place(rows: Row[], tableOffset: number): void {
  let lastEnd = tableOffset + PARTITION_TABLE_SIZE;
  let prev: Row | undefined;
  for (const r of rows) {
    if (isPrimaryPseudoEntry(r)) continue;
    if (r.offset !== null && r.offset < lastEnd) {
      const what = `partition '${r.label}' at ${hex(r.offset)}`;
      if (!prev) fail(r.line, PARTITION_ERR.OVERLAP, `${what} overlaps the partition table (${hex(tableOffset)}–`
        + `${hex(lastEnd - 1)}); use ${hex(lastEnd)} or higher`);
      if (r.offset >= (prev.offset ?? 0)) fail(r.line, PARTITION_ERR.OVERLAP, `${what} overlaps '${prev.label}' `
        + `(${hex(prev.offset ?? 0)}–${hex(lastEnd - 1)})`);
      fail(r.line, PARTITION_ERR.OVERLAP, `${what} lies before the end of the previous partition '${prev.label}' `
        + `(${hex(lastEnd)}); list partitions in flash order`);
    }
    if (r.offset === null) {
      const align = offsetAlignment(r.type);
      r.offset = Math.ceil(lastEnd / align) * align;
    }
    if (r.size < 0) {
      const end = -r.size;
      r.size = end - r.offset;
      if (r.size < 0) fail(r.line, PARTITION_ERR.RANGE, `end address ${hex(end)} lies before the offset ${hex(r.offset)}`);
    }
    if (r.offset > U32 || r.offset + r.size > U32 + 1) {
      fail(r.line, PARTITION_ERR.RANGE, `partition '${r.label}' at ${hex(r.offset)} size ${hex(r.size)} ends past the `
        + '32-bit address space');
    }
    lastEnd = r.offset + r.size;
    prev = r;
  }
}

/** Characters that would not survive a trip through CSV (gen_esp32part writes names verbatim). */
function csvUnsafe(label: string): string | undefined {
  if (label.includes(',') || LINE_BREAK.test(label)) return 'a comma or line break';
  if (label.startsWith('#')) return 'a leading #';
  if (pyStrip(label) !== label) return 'leading or trailing white space';
  if (/\$(\w|\{)/.test(label)) return 'a $ that would expand as a variable';
  return undefined;
}

function sizeText(n: number): string {
  if (n % 0x100000 === 0) return `${n / 0x100000}M`;
  if (n % 0x400 === 0) return `${n / 0x400}K`;
  return hex(n);
}

/**
 * Write a table as gen_esp32part.py `to_csv` does for binary input: two header comments, then
 * `name,type,subtype,offset,size,flags` with keywords where they exist (else decimal), offsets in
 * hex, sizes as `NM`/`NK` when whole, else hex. Flag bits other than encrypted/readonly are dropped,
 * as the generator drops them.
 * @throws PartitionTableError when a label cannot be written to CSV (a comma, a leading `#`, …).
 */
export function formatPartitionCsv(table: PartitionTable): string {
  const rows = table.partitions.map((p, i) => {
    const bad = csvUnsafe(p.label);
    if (bad) {
      throw new PartitionTableError(`partition ${i} label '${p.label}' has ${bad} and cannot be written to CSV; `
        + 'use JSON output', { code: PARTITION_ERR.LABEL, entry: i });
    }
    const flags = FLAG_NAMES.filter(([, bit]) => (p.flags & bit) !== 0).map(([k]) => k).join(':');
    return [p.label, typeName(p.type) ?? String(p.type), subtypeName(p.type, p.subtype) ?? String(p.subtype),
      hex(p.offset), sizeText(p.size), flags].join(',');
  });
  return ['# ESP-IDF Partition Table', '# Name, Type, SubType, Offset, Size, Flags', ...rows].join('\n') + '\n';
}

export { decodeCsvBytes } from './partition-csv-bytes.js';
