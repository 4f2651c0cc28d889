import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError, UsageError } from '../../protocol/errors.js';
import { CHIP_NAMES, type ChipName } from '../../simulator/esp32/chips.js';
import { buildAppImage, DEFAULT_IMAGE_SIZE, type BuildImageOptions } from '../../simulator/esp32/image-builder.js';
import { signImage } from '../../simulator/esp32/secure-boot.js';
import type { CliContext } from '../context.js';
import { cliSize, cliUint } from './image-args.js';

interface BuildArgs {
  chip: ChipName;
  version: string;
  project?: string;
  'secure-version'?: string;
  size?: string;
  sign?: string;
  seed?: string;
  'idf-version'?: string;
  date?: string;
  time?: string;
  'min-rev'?: string;
  'max-rev'?: string;
  output: string;
}

/** `otasim image build`: a valid app image laid out as esptool elf2image lays out real builds. */
export function imageBuildCommand(ctx: CliContext): CommandModule<object, BuildArgs> {
  return {
    command: 'build',
    describe: 'Build a valid ESP32 app image (esptool layout, checksum, SHA-256), optionally Secure Boot v2 signed',
    builder: (y: Argv) => y
      .version(false) // --version is the app's version here
      .option('chip', { choices: CHIP_NAMES, demandOption: true, describe: 'target chip' })
      .option('version', { type: 'string', demandOption: true, describe: 'esp_app_desc_t.version (≤ 31 bytes)' })
      .option('project', { type: 'string', describe: 'project name (≤ 31 bytes) [default: otasim-app]' })
      .option('secure-version', { type: 'string', describe: 'anti-rollback secure_version, 0 to 4294967295 [default: 0]' })
      .option('size', { type: 'string', describe: `approximate image size: N, 0xN, NKiB or NMiB, 1KiB to 16MiB [default: ${DEFAULT_IMAGE_SIZE / 1024}KiB]` })
      .option('sign', { type: 'string', describe: 'RSA-3072 or ECDSA private key PEM: append a Secure Boot v2 signature sector' })
      .option('seed', { type: 'string', describe: 'seed for the filler bytes, 0 to 4294967295 [default: derived from --version]' })
      .option('idf-version', { type: 'string', describe: 'esp_app_desc_t.idf_ver [default: v5.2.2]' })
      .option('date', { type: 'string', describe: 'build date, __DATE__ style [default: "Jan  1 2025"]' })
      .option('time', { type: 'string', describe: 'build time, __TIME__ style [default: 00:00:00]' })
      .option('min-rev', { type: 'string', describe: 'header min_chip_rev_full, major×100+minor [default: 0]' })
      .option('max-rev', { type: 'string', describe: 'header max_chip_rev_full [default: the chip\'s IDF v5.2 value, else 0xFFFF]' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'where to write the image' })
      .example('$0 image build --chip esp32 --version 1.2.0 -o app.bin', 'a 192 KiB esp32 app')
      .example('$0 image build --chip esp32s3 --version 2.0 --secure-version 3 --size 1.5MiB --sign key.pem -o app.bin', 'signed, anti-rollback 3') as unknown as Argv<BuildArgs>,
    handler: async (argv) => {
      if (argv.version === '') throw new UsageError('--version needs a value, e.g. --version 1.2.0');
      const opts: { -readonly [K in keyof BuildImageOptions]: BuildImageOptions[K] } = { chip: argv.chip, version: argv.version };
      if (argv.project !== undefined) opts.projectName = argv.project;
      if (argv['idf-version'] !== undefined) opts.idfVersion = argv['idf-version'];
      if (argv.date !== undefined) opts.date = argv.date;
      if (argv.time !== undefined) opts.time = argv.time;
      const ints: Array<[keyof BuildImageOptions, number | undefined]> = [
        ['secureVersion', cliUint('secure-version', argv['secure-version'], 0xffffffff)],
        ['size', cliSize('size', argv.size)],
        ['seed', cliUint('seed', argv.seed, 0xffffffff)],
        ['minChipRevFull', cliUint('min-rev', argv['min-rev'], 0xffff)],
        ['maxChipRevFull', cliUint('max-rev', argv['max-rev'], 0xffff)],
      ];
      for (const [k, v] of ints) if (v !== undefined) Object.assign(opts, { [k]: v });
      let image: Uint8Array;
      try {
        image = buildAppImage(opts);
      } catch (e) {
        // Every builder option comes from a flag here, so a refused option is a usage error.
        if (e instanceof ConfigError) throw new UsageError(e.message.replace(/^buildAppImage: /, ''), { cause: e });
        throw e;
      }
      const out = argv.sign === undefined ? image : signImage(image, await readFile(argv.sign, 'utf8'));
      await writeFile(argv.output, out);
      const signed = argv.sign === undefined ? '' : `, Secure Boot v2 signed (${out.length} bytes with the signature sector)`;
      ctx.stdout.write(`${argv.output}: ${argv.chip} app "${opts.projectName ?? 'otasim-app'}" ${argv.version}, `
        + `secure_version ${opts.secureVersion ?? 0}, ${image.length} bytes${signed}; file sha256 `
        + `${createHash('sha256').update(out).digest('hex')}\n`);
    },
  };
}
