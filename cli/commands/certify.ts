/**
 * `otasim certify server|device`: the conformance suites (issue 8). Each subcommand lives in its
 * own module.
 */
import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { certifyServerCommand } from './certify-server.js';
import { certifyDeviceCommand } from './certify-device.js';

export function certifyCommand(ctx: CliContext): CommandModule {
  return {
    command: 'certify <suite>',
    describe: 'run a conformance suite against an OTA server or a device',
    builder: (y) => y.command(certifyServerCommand(ctx)).command(certifyDeviceCommand(ctx)).demandCommand(1, 'Name a suite: server or device.'),
    handler: () => {},
  };
}
