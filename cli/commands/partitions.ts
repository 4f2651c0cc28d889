import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { partitionsDecodeCommand } from './partitions-decode.js';
import { partitionsEncodeCommand } from './partitions-encode.js';

/** `otasim partitions decode|encode`: binary partition tables ⇄ gen_esp32part.py CSV. */
export function partitionsCommand(ctx: CliContext): CommandModule {
  return {
    command: 'partitions',
    describe: 'Decode and encode ESP32 partition tables (binary ⇄ gen_esp32part CSV)',
    builder: (y: Argv) => y
      .command(partitionsDecodeCommand(ctx))
      .command(partitionsEncodeCommand(ctx))
      .demandCommand(1, 'Name a partitions command: decode or encode.'),
    handler: () => undefined,
  };
}
