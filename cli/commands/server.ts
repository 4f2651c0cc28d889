/**
 * `otasim server`: run the OTA server until SIGINT or SIGTERM. Flags come from the server's one
 * config table (server/config.ts `SERVER_OPTIONS`), so `--help` and the config never disagree.
 * Logs are pino JSON lines on stdout; the line with `"msg":"otasim server listening on …"` says
 * where it listens.
 */
import type { Argv, CommandModule, Options } from 'yargs';
import { pino } from 'pino';
import { ConfigError, UsageError } from '../../protocol/errors.js';
import { SERVER_OPTIONS, resolveServerConfig, type ServerConfigInput } from '../../server/config.js';
import { OtaServer } from '../../server/index.js';
import type { CliContext } from '../context.js';

/** Environment variable read for the API key when `--api-key` is not given (keeps it out of `ps`). */
export const API_KEY_ENV = 'OTASIM_API_KEY';

/** The signals that stop the server cleanly. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function yargsOptions(): Record<string, Options> {
  const out: Record<string, Options> = {};
  for (const o of SERVER_OPTIONS) {
    out[o.flag] = {
      type: o.type,
      describe: o.describe,
      ...(o.default === undefined ? {} : { default: o.default }),
      ...(o.choices === undefined ? {} : { choices: [...o.choices] }),
      ...(o.type === 'string' ? { requiresArg: true } : {}),
    };
  }
  return out;
}

/** The config input from parsed flags (only flags the user gave or that have defaults). */
function configInput(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): ServerConfigInput {
  const input: Record<string, unknown> = {};
  for (const o of SERVER_OPTIONS) {
    const v = argv[o.flag];
    if (v !== undefined) input[o.key] = v;
  }
  if (input.apiKey === undefined && env[API_KEY_ENV] !== undefined && env[API_KEY_ENV] !== '') input.apiKey = env[API_KEY_ENV];
  return input as ServerConfigInput;
}

/** `otasim server [--port 8080] [--host H] [--data DIR | --database URL] [--broker embedded|URL] …` */
export function serverCommand(ctx: CliContext): CommandModule {
  return {
    command: 'server',
    describe: 'Run the OTA server: the seeds\' HTTP API, MQTT cmd/ota and collector, embedded store and broker',
    builder: (y: Argv) => y
      .options(yargsOptions())
      .example('$0 server', 'embedded PGlite in ./otasim-data and aedes on :1883; HTTP on 127.0.0.1:8080')
      .example(`${API_KEY_ENV}=$(openssl rand -hex 32) $0 server --host 0.0.0.0`, 'serve real devices on the LAN')
      .example('$0 server --database postgres://postgres@127.0.0.1/test --broker mqtt://127.0.0.1:1883', 'PostgreSQL and Mosquitto'),
    handler: async (argv) => {
      let config;
      try {
        config = resolveServerConfig(configInput(argv as Record<string, unknown>, process.env));
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
      const logger = pino({ level: config.logLevel, base: { name: 'otasim-server' } },
        { write: (line: string) => ctx.stdout.write(line) });
      const server = await OtaServer.create(config, { logger });
      const signal = await new Promise<string>((resolve) => {
        const onSignal = (s: string): void => {
          for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
          resolve(s);
        };
        for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
      });
      logger.info({ signal }, 'stopping');
      await server.close();
      logger.info('stopped');
      ctx.setExitCode(0);
    },
  };
}
