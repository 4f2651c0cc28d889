import { readFile, writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { PartitionTableError } from '../../protocol/errors.js';
import { decodeCsvBytes, parsePartitionCsv } from '../../simulator/esp32/partition-csv.js';
import { decodePartitionTable, encodePartitionTable } from '../../simulator/esp32/partition-table.js';
import type { CliContext } from '../context.js';
import { cliBootloaderOffset, cliFlashSize, cliNumber } from './partitions-args.js';

interface EncodeArgs {
  csv: string;
  output: string;
  offset: string;
  md5: boolean;
  verify: boolean;
  'flash-size'?: string;
  'primary-bootloader-offset'?: string;
  'recovery-bootloader-offset'?: string;
  secure?: 'v1' | 'v2';
}

/** `otasim partitions encode CSV -o FILE`: gen_esp32part.py's CSV → binary, byte for byte. */
export function partitionsEncodeCommand(ctx: CliContext): CommandModule<object, EncodeArgs> {
  return {
    command: 'encode <csv>',
    describe: 'Encode a gen_esp32part CSV to the 0xC00-byte binary table ESP-IDF would flash',
    builder: (y: Argv) => y
      .positional('csv', { type: 'string', demandOption: true, describe: 'partition CSV (Name, Type, SubType, Offset, Size, Flags); $VARs expand from the environment' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'where to write the binary table' })
      .option('offset', { type: 'string', default: '0x8000', describe: 'table offset in flash (CONFIG_PARTITION_TABLE_OFFSET)' })
      .option('md5', { type: 'boolean', default: true, describe: 'append the MD5 entry; --no-md5 leaves it out (gen_esp32part --disable-md5sum)' })
      .option('verify', { type: 'boolean', default: true, describe: "apply gen_esp32part's table rules; --no-verify skips them" })
      .option('flash-size', { type: 'string', describe: 'refuse a table that ends past this flash size (e.g. 4MB)' })
      .option('primary-bootloader-offset', { type: 'string', describe: 'bootloader offset, or a chip name (esp32 → 0x1000, esp32s3 → 0x0); needed by bootloader entries' })
      .option('recovery-bootloader-offset', { type: 'string', describe: 'recovery bootloader offset' })
      .option('secure', { choices: ['v1', 'v2'] as const, describe: 'secure boot scheme: v1 needs app sizes on 64 KiB' })
      .example('$0 partitions encode partitions.csv -o partition-table.bin', 'as an ESP-IDF build would')
      .example('$0 partitions encode partitions.csv -o pt.bin --offset 0x9000 --no-md5', 'table moved, no MD5 entry') as unknown as Argv<EncodeArgs>,
    handler: async (argv) => {
      const opts = {
        tableOffset: cliNumber('offset', argv.offset), flashSize: cliFlashSize(argv['flash-size']),
        primaryBootloaderOffset: cliBootloaderOffset(argv['primary-bootloader-offset']),
        recoveryBootloaderOffset: cliNumber('recovery-bootloader-offset', argv['recovery-bootloader-offset']),
      };
      let text: string;
      try {
        text = decodeCsvBytes(new Uint8Array(await readFile(argv.csv)));
      } catch (e) {
        if (!(e instanceof PartitionTableError)) throw e;
        throw new PartitionTableError(`${argv.csv}: ${e.message}${e.code === 'OTASIM_ERR_PARTITION_MAGIC' ? '; decode it with `otasim partitions decode`' : ''}`,
          { code: e.code, cause: e });
      }
      const table = parsePartitionCsv(text, { ...opts, env: process.env, md5: argv.md5, verify: argv.verify, secure: argv.secure });
      for (const w of table.warnings) ctx.stderr.write(`otasim: warning: ${w}\n`);
      const bin = encodePartitionTable(table);
      await writeFile(argv.output, bin);
      const md5 = decodePartitionTable(bin).md5Digest;
      ctx.stdout.write(`${argv.output}: ${table.partitions.length} partitions, ${bin.length} bytes, `
        + `${md5 === null ? 'no MD5 entry' : `MD5 ${md5}`}\n`);
    },
  };
}
