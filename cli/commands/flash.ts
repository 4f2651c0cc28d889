import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { flashInspectCommand } from './flash-inspect.js';

/** `otasim flash inspect`: whole flash images, examined as the device meets them at power-on. */
export function flashCommand(ctx: CliContext): CommandModule {
  return {
    command: 'flash',
    describe: 'Inspect whole ESP32 flash images (merged or dumped): what they hold and what would boot',
    builder: (y: Argv) => y
      .command(flashInspectCommand(ctx))
      .demandCommand(1, 'Name a flash command: inspect.'),
    handler: () => undefined,
  };
}
