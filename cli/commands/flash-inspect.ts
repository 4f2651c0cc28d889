import { readFile, stat } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError, FlashImageError, UsageError } from '../../protocol/errors.js';
import { CHIP_NAMES, type ChipName } from '../../simulator/esp32/chips.js';
import { MAX_FLASH_SIZE } from '../../simulator/esp32/flash-detect.js';
import { inspectFlash, type FlashInspectOptions, type FlashInspection } from '../../simulator/esp32/flash-inspect.js';
import { keyDigest } from '../../simulator/esp32/secure-boot.js';
import { EXIT, type CliContext } from '../context.js';
import { flashJson, flashText } from './flash-format.js';
import { cliFlashSize, cliNumber } from './partitions-args.js';

interface InspectArgs {
  file: string;
  json: boolean;
  chip?: ChipName;
  'table-offset': string;
  'flash-size'?: string;
  rollback: boolean;
  'trusted-key'?: string[];
}

/**
 * `otasim flash inspect FILE`: what a merged (or read-back) flash image holds and what its bootloader
 * would boot. Exit 0 when something boots; 1 when nothing does (the report still prints; text mode
 * adds `otasim: OTASIM_ERR_FLASH_NO_BOOT: …` on stderr) or the file cannot be examined; 2 on a usage error.
 */
export function flashInspectCommand(ctx: CliContext): CommandModule<object, InspectArgs> {
  return {
    command: 'inspect <file>',
    describe: 'Show the bootloader, partition table, otadata and apps of a flash image written at 0x0, and what would boot',
    builder: (y: Argv) => y
      .positional('file', { type: 'string', demandOption: true, describe: 'esptool merge_bin output or a read_flash dump, starting at address 0x0' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON document instead of text' })
      .option('chip', { choices: CHIP_NAMES, describe: 'the chip (default: the chip id of the bootloader header at 0x1000, 0x0 or 0x2000)' })
      .option('table-offset', { type: 'string', default: '0x8000', describe: 'partition table offset (CONFIG_PARTITION_TABLE_OFFSET)' })
      .option('flash-size', { type: 'string', describe: 'flash size the bootloader assumes, e.g. 4MB (default: from the bootloader header, as the bootloader reads it)' })
      .option('rollback', { type: 'boolean', default: true, describe: 'the bootloader has CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE; --no-rollback boots NEW and PENDING_VERIFY as they are' })
      .option('trusted-key', { type: 'string', array: true, describe: 'Secure Boot v2 public key PEM whose digest eFuse holds: signatures replace the hash (repeatable)' })
      .example('$0 flash inspect merged.bin', 'what boots, and why')
      .example('$0 flash inspect dump.bin --json --flash-size 8MB', 'a read_flash dump, as JSON') as unknown as Argv<InspectArgs>,
    handler: async (argv) => {
      const opts: { -readonly [K in keyof FlashInspectOptions]: FlashInspectOptions[K] } = { rollback: argv.rollback };
      if (argv.chip !== undefined) opts.chip = argv.chip;
      const tableOffset = cliNumber('table-offset', argv['table-offset']) ?? 0x8000;
      if (tableOffset % 0x1000 !== 0) throw new UsageError(`--table-offset ${argv['table-offset']}: must be a multiple of 0x1000`);
      opts.tableOffset = tableOffset;
      const flashSize = cliFlashSize(argv['flash-size']);
      if (flashSize !== undefined) {
        if (flashSize === 0 || flashSize % 0x1000 !== 0 || flashSize > MAX_FLASH_SIZE) {
          throw new UsageError(`--flash-size ${argv['flash-size']}: expected a multiple of 4 KiB up to 128MB, e.g. 4MB`);
        }
        opts.flashSize = flashSize;
      }
      const keys = argv['trusted-key'] ?? [];
      if (keys.length > 0) {
        opts.secureBoot = { trustedKeyDigests: await Promise.all(keys.map(async (k) => keyDigest(await readFile(k, 'utf8')))) };
      }
      // Refuse a huge file before reading it into memory.
      const { size } = await stat(argv.file);
      if (size > MAX_FLASH_SIZE) {
        throw new FlashImageError('OTASIM_ERR_FLASH_TOO_LARGE', `${argv.file} is ${size} bytes, more than the largest ESP32 flash (128 MiB)`);
      }
      const bytes = new Uint8Array(await readFile(argv.file));
      let r: FlashInspection;
      try {
        r = inspectFlash(bytes, opts);
      } catch (e) {
        // Every option comes from a flag here, so a refused option is a usage error.
        if (e instanceof ConfigError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
      if (argv.json) ctx.stdout.write(`${JSON.stringify(flashJson(r), null, 2)}\n`);
      else {
        ctx.stdout.write(flashText(argv.file, r));
        if (r.boots === null) {
          const e = new FlashImageError('OTASIM_ERR_FLASH_NO_BOOT', `nothing boots (${r.bootFailure}): ${r.bootLog.at(-1) ?? ''}`);
          ctx.stderr.write(`otasim: ${e.code}: ${e.message}\n`);
        }
      }
      ctx.setExitCode(r.boots === null ? EXIT.FAIL : EXIT.OK);
    },
  };
}
