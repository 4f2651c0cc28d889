import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';

/** `otasim image …`: placeholder until implemented. */
export function imageCommand(_ctx: CliContext): CommandModule {
  return {
    command: 'image',
    describe: 'image tools (not yet implemented)',
    handler: () => undefined,
  };
}
