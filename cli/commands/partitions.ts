import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';

/** `otasim partitions …`: placeholder until implemented. */
export function partitionsCommand(_ctx: CliContext): CommandModule {
  return {
    command: 'partitions',
    describe: 'partitions tools (not yet implemented)',
    handler: () => undefined,
  };
}
