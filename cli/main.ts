import yargs from 'yargs';
import { OtasimError, UsageError } from '../protocol/errors.js';
import { EXIT, type CliContext } from './context.js';
import { commands } from './commands/index.js';

/**
 * Run the `otasim` CLI on `argv` and resolve to the exit code.
 * Errors never escape as stack traces: an otasim error prints as one line
 * (`otasim: CODE: message`) and exits 1, or 2 for usage errors.
 */
export async function main(argv: readonly string[], ctx: Omit<CliContext, 'setExitCode'> = process): Promise<number> {
  let exitCode: number = EXIT.OK;
  const context: CliContext = { stdout: ctx.stdout, stderr: ctx.stderr, setExitCode: (c) => { exitCode = c; } };
  const parser = yargs([...argv])
    .scriptName('otasim')
    .usage('$0 <command> [options]\n\nRehearse and certify ESP32 OTA rollouts.')
    .strict()
    .demandCommand(1, 'Name a command; see `otasim --help`.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  for (const make of commands) parser.command(make(context));
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (e) {
    return reportError(e, context);
  }
}

function reportError(e: unknown, ctx: CliContext): number {
  if (e instanceof UsageError) {
    ctx.stderr.write(`otasim: ${e.message}\nRun with --help for usage.\n`);
    return EXIT.USAGE;
  }
  if (e instanceof OtasimError) {
    ctx.stderr.write(`otasim: ${e.code}: ${e.message}\n`);
    return EXIT.FAIL;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    // File-system errors (ENOENT, EACCES, …) are the user's input: one line, no stack.
    // Node's messages already start with the code ("ENOENT: no such file …").
    const message = err.message.startsWith(`${err.code}:`) ? err.message : `${err.code}: ${err.message}`;
    ctx.stderr.write(`otasim: ${message}\n`);
    return EXIT.FAIL;
  }
  ctx.stderr.write(`otasim: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.FAIL;
}
