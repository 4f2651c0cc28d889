import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';

/** `otasim flash …`: placeholder until implemented. */
export function flashCommand(_ctx: CliContext): CommandModule {
  return {
    command: 'flash',
    describe: 'flash tools (not yet implemented)',
    handler: () => undefined,
  };
}
