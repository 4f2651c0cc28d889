import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { imageBuildCommand } from './image-build.js';
import { imageInspectCommand } from './image-inspect.js';

/** `otasim image inspect|build`: ESP32 app images, verified and built as ESP-IDF and esptool do. */
export function imageCommand(ctx: CliContext): CommandModule {
  return {
    command: 'image',
    describe: 'Inspect (verify) and build ESP32 app images',
    builder: (y: Argv) => y
      .command(imageInspectCommand(ctx))
      .command(imageBuildCommand(ctx))
      .demandCommand(1, 'Name an image command: inspect or build.'),
    handler: () => undefined,
  };
}
