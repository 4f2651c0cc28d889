/** Placeholder registered so each owner edits only this file; replaced by the real command. */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../protocol/errors.js';
import type { CliContext } from '../context.js';

export function certifyDeviceCommand(_ctx: CliContext): CommandModule {
  return {
    command: 'device', describe: false,
    handler: () => { throw new UsageError('certify-device: not available in this build'); },
  };
}
