import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { PARTITION_ERR, PartitionTableError } from '../../protocol/errors.js';
import { formatPartitionCsv } from '../../simulator/esp32/partition-csv.js';
import { subtypeName, typeName } from '../../simulator/esp32/partition-names.js';
import { decodePartitionTable, PART_FLAG, type DecodedPartitionTable } from '../../simulator/esp32/partition-table.js';
import { verifyPartitionTable } from '../../simulator/esp32/partition-verify.js';
import type { CliContext } from '../context.js';
import { cliFlashSize, cliNumber } from './partitions-args.js';

interface DecodeArgs {
  file: string;
  format: 'csv' | 'json';
  'flash-size'?: string;
  verify: boolean;
  offset: string;
}

/** `otasim partitions decode FILE`: a binary table, checked as the bootloader checks it, as CSV or JSON. */
export function partitionsDecodeCommand(ctx: CliContext): CommandModule<object, DecodeArgs> {
  return {
    command: 'decode <file>',
    describe: 'Decode a binary partition table (as the bootloader walks it) to CSV or JSON',
    builder: (y: Argv) => y
      .positional('file', { type: 'string', demandOption: true, describe: 'binary table: 0xC00 bytes, its 0x1000-byte sector, or shorter if terminated' })
      .option('format', { choices: ['csv', 'json'] as const, default: 'csv' as const, describe: 'output format' })
      .option('flash-size', { type: 'string', describe: 'refuse partitions past this flash size (e.g. 4MB, 0x400000)' })
      .option('verify', { type: 'boolean', default: false, describe: "also apply gen_esp32part's table rules (alignment, overlaps, otadata, …)" })
      .option('offset', { type: 'string', default: '0x8000', describe: 'table offset in flash, for --verify' })
      .example('$0 partitions decode partition-table.bin', 'print the table as gen_esp32part CSV')
      .example('$0 partitions decode pt.bin --format json --flash-size 4MB', 'JSON, refusing partitions past 4 MB') as unknown as Argv<DecodeArgs>,
    handler: async (argv) => {
      const flashSize = cliFlashSize(argv['flash-size']);
      const tableOffset = cliNumber('offset', argv.offset);
      const bytes = new Uint8Array(await readFile(argv.file));
      refuseCsv(bytes, argv.file);
      const table = decodePartitionTable(bytes, flashSize === undefined ? {} : { flashSize });
      if (argv.verify) {
        for (const w of verifyPartitionTable(table, { tableOffset, flashSize })) ctx.stderr.write(`otasim: warning: ${w}\n`);
      }
      ctx.stdout.write(argv.format === 'json' ? `${JSON.stringify(toJson(table), null, 2)}\n` : formatPartitionCsv(table));
    },
  };
}

/** A text file handed to `decode` gets a pointer to `encode` instead of "invalid magic". */
function refuseCsv(bytes: Uint8Array, file: string): void {
  if (bytes[0] === 0xaa) return;
  const head = Buffer.from(bytes.subarray(0, 512)).toString('utf8').replace(/^\uFEFF/, '');
  // eslint-disable-next-line no-control-regex -- text is what has no control bytes but tab, CR, LF
  if (head.includes(',') && !/[\x00-\x08\x0e-\x1f\ufffd]/.test(head)) {
    throw new PartitionTableError(`${file} looks like a CSV partition table, not a binary; convert it with `
      + '`otasim partitions encode`', { code: PARTITION_ERR.MAGIC, entry: 0 });
  }
}

/** The `--format json` document of a decoded table (`otasim flash inspect` reuses it). */
export function toJson(t: DecodedPartitionTable): { partitions: object[]; md5: string | null } {
  return {
    partitions: t.partitions.map((p) => ({
      label: p.label, type: p.type, subtype: p.subtype, offset: p.offset, size: p.size, flags: p.flags,
      typeName: typeName(p.type) ?? null, subtypeName: subtypeName(p.type, p.subtype) ?? null,
      flagNames: Object.entries(PART_FLAG).filter(([, bit]) => (p.flags & bit) !== 0).map(([k]) => k.toLowerCase()),
    })),
    md5: t.md5Digest,
  };
}
