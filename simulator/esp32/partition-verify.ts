/**
 * Table-level rules gen_esp32part.py applies before it writes a binary (`PartitionDefinition.verify`,
 * `PartitionTable.verify`, `verify_size_fits`, `to_binary`). Facts: esp-idf-ota-facts.md §1.5, §1.7.
 * The bootloader checks none of these; a CSV or a binary that breaks them would not come out of an
 * ESP-IDF build.
 */
import { PARTITION_ERR, PartitionTableError, type PartitionErrCode } from '../../protocol/errors.js';
import { subtypeKeywords, TYPE_KEYWORDS, typeName } from './partition-names.js';
import {
  DATA_SUBTYPE, maxPartitions, PART_FLAG, PART_TYPE, PARTITION_TABLE_OFFSET, PARTITION_TABLE_SIZE,
  type Partition, type PartitionTable,
} from './partition-table.js';

export interface VerifyPartitionOptions {
  /** Flash offset of the table, bytes (default 0x8000). Partitions may not start below
   * `tableOffset + 0x1000`, except the primary bootloader and partition_table entries. */
  readonly tableOffset?: number;
  /** Secure boot scheme (gen_esp32part `--secure`): `'v1'` needs app sizes on 64 KiB, else 4 KiB. */
  readonly secure?: 'v1' | 'v2';
  /** Flash size, bytes: when given, the table must end within it (`--flash-size`). */
  readonly flashSize?: number;
  /** CSV line of each partition, parallel to `partitions`, so messages can name it. */
  readonly lines?: readonly number[];
}

/** gen_esp32part `NVS_RW_MIN_PARTITION_SIZE`: a smaller NVS must be readonly. */
export const NVS_RW_MIN_SIZE = 0x3000;
/** The one size an otadata (or TEE otadata) partition may have. */
export const OTADATA_SIZE = 0x2000;

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Offset alignment per type (gen_esp32part `ALIGNMENT`): app 64 KiB, everything else 4 KiB. */
export function offsetAlignment(type: number): number {
  return type === PART_TYPE.APP ? 0x10000 : 0x1000;
}

/** The primary bootloader and primary partition_table entries: placed by options, not by the CSV. */
export function isPrimaryPseudoEntry(p: Pick<Partition, 'type' | 'subtype'>): boolean {
  return (p.type === PART_TYPE.BOOTLOADER || p.type === PART_TYPE.PARTITION_TABLE) && p.subtype === 0x00;
}

/**
 * Check `table` against gen_esp32part.py's rules, in its order: per partition (offset alignment, app
 * size alignment, readonly rules), then unique names, no overlap and nothing below the table's
 * sector, one otadata of exactly 0x2000 (same for tee_ota), the flash size, the entry count.
 * @returns warnings gen_esp32part would print (a name that is a type/subtype keyword of another kind).
 * @throws PartitionTableError naming the partition (and its CSV line when `lines` is given).
 */
export function verifyPartitionTable(table: PartitionTable, opts: VerifyPartitionOptions = {}): string[] {
  const tableOffset = opts.tableOffset ?? PARTITION_TABLE_OFFSET;
  const ps = table.partitions;
  const where = (i: number): string => {
    const line = opts.lines?.[i];
    const label = ps[i]?.label ?? '';
    return line === undefined ? `partition ${i} '${label}'` : `line ${line}: partition '${label}'`;
  };
  const fail = (i: number | undefined, code: PartitionErrCode, msg: string): never => {
    const line = i === undefined ? undefined : opts.lines?.[i];
    throw new PartitionTableError(i === undefined ? msg : `${where(i)} ${msg}`,
      { code, ...(line === undefined ? (i === undefined ? {} : { entry: i }) : { line }) });
  };
  const warnings: string[] = [];
  ps.forEach((p, i) => warnings.push(...checkOne(p, i, opts.secure, fail, where)));

  const firstIndex = new Map<string, number>();
  ps.forEach((p, i) => {
    const first = firstIndex.get(p.label);
    if (first !== undefined) {
      const line = opts.lines?.[first];
      fail(i, PARTITION_ERR.DUPLICATE, `has the same name as ${line === undefined ? `partition ${first}` : `line ${line}`}; `
        + 'partition names must be unique');
    }
    firstIndex.set(p.label, i);
  });

  const byOffset = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p.offset - b.p.offset);
  const tableEnd = tableOffset + PARTITION_TABLE_SIZE;
  let last: { p: Partition; i: number } | undefined;
  for (const cur of byOffset) {
    if (cur.p.offset < tableEnd && !isPrimaryPseudoEntry(cur.p)) {
      fail(cur.i, PARTITION_ERR.OVERLAP, `starts at ${hex(cur.p.offset)}, below ${hex(tableEnd)}: the partition table `
        + `occupies ${hex(tableOffset)}–${hex(tableEnd - 1)}`);
    }
    if (last && cur.p.offset < last.p.offset + last.p.size) {
      fail(cur.i, PARTITION_ERR.OVERLAP, `at ${hex(cur.p.offset)} overlaps '${last.p.label}' `
        + `(${hex(last.p.offset)}–${hex(last.p.offset + last.p.size - 1)})`);
    }
    last = cur;
  }

  for (const [subtype, what] of [[DATA_SUBTYPE.OTA, 'otadata'], [DATA_SUBTYPE.TEE_OTA, 'TEE otadata']] as const) {
    const found = ps.map((p, i) => ({ p, i })).filter(({ p }) => p.type === PART_TYPE.DATA && p.subtype === subtype);
    if (found.length > 1) fail(found[1]?.i, PARTITION_ERR.OTADATA, `is a second ${what} partition; only one is allowed`);
    const one = found[0];
    if (one && one.p.size !== OTADATA_SIZE) {
      fail(one.i, PARTITION_ERR.OTADATA, `is ${hex(one.p.size)} bytes; an ${what} partition must be exactly 0x2000`);
    }
  }

  if (opts.flashSize !== undefined && last) {
    const end = last.p.offset + last.p.size;
    if (end > opts.flashSize) {
      fail(last.i, PARTITION_ERR.BOUNDS, `ends at ${hex(end)}, past the ${hex(opts.flashSize)}-byte flash`);
    }
  }
  if (ps.length > maxPartitions(table.md5)) {
    fail(undefined, PARTITION_ERR.TOO_MANY, `${ps.length} partitions do not fit: the table holds at most `
      + `${maxPartitions(table.md5)}${table.md5 ? ' with the MD5 entry' : ' without the MD5 entry'}`);
  }
  return warnings;
}

type Fail = (i: number | undefined, code: PartitionErrCode, msg: string) => never;

function checkOne(p: Partition, i: number, secure: 'v1' | 'v2' | undefined, fail: Fail, where: (i: number) => string): string[] {
  const align = offsetAlignment(p.type);
  if (p.offset % align !== 0) fail(i, PARTITION_ERR.ALIGN, `offset ${hex(p.offset)} is not aligned to ${hex(align)}`);
  if (p.type === PART_TYPE.APP) {
    const sizeAlign = secure === 'v1' ? 0x10000 : 0x1000;
    if (p.size % sizeAlign !== 0) fail(i, PARTITION_ERR.ALIGN, `size ${hex(p.size)} is not a multiple of ${hex(sizeAlign)}`);
  }
  const warnings: string[] = [];
  const asType = TYPE_KEYWORDS.find(([k]) => k === p.label);
  if (asType && asType[1] !== p.type) {
    warnings.push(`${where(i)} is named like the type '${p.label}' but has type ${hex(p.type)}`);
  }
  const ownKeyword = subtypeKeywords(p.type).find(([k]) => k === p.label);
  const anySubtypeKeyword = [0x00, 0x01, 0x02, 0x03].some((t) => subtypeKeywords(t).some(([k]) => k === p.label));
  if (anySubtypeKeyword && ownKeyword?.[1] !== p.subtype) {
    warnings.push(`${where(i)} is named like a subtype but is ${typeName(p.type) ?? hex(p.type)}/${hex(p.subtype)}`);
  }
  const readonly = (p.flags & PART_FLAG.READONLY) !== 0;
  if (p.type === PART_TYPE.DATA && readonly && (p.subtype === DATA_SUBTYPE.OTA || p.subtype === DATA_SUBTYPE.COREDUMP)) {
    fail(i, PARTITION_ERR.READONLY, `is ${p.subtype === DATA_SUBTYPE.OTA ? 'otadata' : 'coredump'}, which is always `
      + 'read-write; remove the readonly flag');
  }
  if (p.type === PART_TYPE.DATA && p.subtype === DATA_SUBTYPE.NVS && p.size < NVS_RW_MIN_SIZE && !readonly) {
    fail(i, PARTITION_ERR.READONLY, `is an NVS of ${hex(p.size)} bytes; a read-write NVS needs at least 0x3000, `
      + 'so flag it readonly or make it larger');
  }
  return warnings;
}
