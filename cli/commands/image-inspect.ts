import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { inspectImage, type VerifyOptions } from '../../simulator/esp32/app-image.js';
import { CHIP_NAMES, type ChipName } from '../../simulator/esp32/chips.js';
import { keyDigest } from '../../simulator/esp32/secure-boot.js';
import { EXIT, type CliContext } from '../context.js';
import { cliSize, cliUint } from './image-args.js';
import { inspectJson, inspectText } from './image-format.js';

interface InspectArgs {
  file: string;
  json: boolean;
  chip?: ChipName;
  'chip-revision'?: string;
  'partition-size'?: string;
  bootloader: boolean;
  signed: boolean;
  'trusted-key'?: string[];
}

/**
 * `otasim image inspect FILE`: verify an image as `esp_image_verify` does and report what it holds.
 * Exit 0 when valid, 1 when not (text mode also prints `otasim: CODE: message` on stderr; JSON mode
 * keeps stderr empty and puts the error in the document), 2 on a usage error.
 */
export function imageInspectCommand(ctx: CliContext): CommandModule<object, InspectArgs> {
  return {
    command: 'inspect <file>',
    describe: 'Verify an ESP32 app (or bootloader) image as ESP-IDF does and show its header, segments and app descriptor',
    builder: (y: Argv) => y
      .positional('file', { type: 'string', demandOption: true, describe: 'the image (.bin), optionally followed by unused partition bytes' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON document instead of text' })
      .option('chip', { choices: CHIP_NAMES, describe: 'the device\'s chip: another chip_id is ESP_FAIL (default: any known chip)' })
      .option('chip-revision', { type: 'string', describe: 'the device\'s revision as major×100+minor, e.g. 301 for v3.1 (default 0, no max check)' })
      .option('partition-size', { type: 'string', describe: 'the partition\'s size (e.g. 1MiB): an image that does not fit is invalid' })
      .option('bootloader', { type: 'boolean', default: false, describe: 'verify as a 2nd-stage bootloader (hash not required, no app descriptor)' })
      .option('signed', { type: 'boolean', default: false, describe: 'check the Secure Boot v2 signature sector instead of the plain hash' })
      .option('trusted-key', { type: 'string', array: true, describe: 'public key PEM whose digest eFuse holds (implies --signed; repeatable)' })
      .example('$0 image inspect build/app.bin', 'verify and summarise')
      .example('$0 image inspect app.bin --json --chip esp32s3 --partition-size 1MiB', 'as an esp32s3 OTA slot would, as JSON')
      .example('$0 image inspect bootloader.bin --bootloader --trusted-key pub.pem', 'a Secure Boot v2 signed bootloader') as unknown as Argv<InspectArgs>,
    handler: async (argv) => {
      const opts: { -readonly [K in keyof VerifyOptions]: VerifyOptions[K] } = { bootloader: argv.bootloader };
      if (argv.chip !== undefined) opts.chip = argv.chip;
      const rev = cliUint('chip-revision', argv['chip-revision'], 0xffff);
      if (rev !== undefined) opts.chipRevision = rev;
      const part = cliSize('partition-size', argv['partition-size']);
      if (part !== undefined) opts.partitionSize = part;
      const keys = argv['trusted-key'] ?? [];
      if (keys.length > 0) {
        opts.signature = { trustedKeyDigests: await Promise.all(keys.map(async (k) => keyDigest(await readFile(k, 'utf8')))) };
      } else if (argv.signed) opts.signature = {};
      const bytes = new Uint8Array(await readFile(argv.file));
      const r = inspectImage(bytes, opts);
      if (argv.json) ctx.stdout.write(`${JSON.stringify(inspectJson(r), null, 2)}\n`);
      else {
        ctx.stdout.write(inspectText(argv.file, bytes.length, r, argv.bootloader));
        if (r.error !== null) ctx.stderr.write(`otasim: ${r.error.code}: ${r.error.message}\n`);
      }
      ctx.setExitCode(r.valid ? EXIT.OK : EXIT.FAIL);
    },
  };
}
