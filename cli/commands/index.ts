import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { imageCommand } from './image.js';
import { partitionsCommand } from './partitions.js';
import { flashCommand } from './flash.js';
import { serverCommand } from './server.js';
import { deviceCommand } from './device.js';
import { fleetCommand } from './fleet.js';
import { runCommand } from './run.js';
import { demoCommand } from './demo.js';
import { certifyCommand } from './certify.js';

/** Every top-level command, one module per file. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: ReadonlyArray<(ctx: CliContext) => CommandModule<any, any>> = [
  imageCommand,
  partitionsCommand,
  flashCommand,
  serverCommand,
  deviceCommand,
  fleetCommand,
  runCommand,
  demoCommand,
  certifyCommand,
];
