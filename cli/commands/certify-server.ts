/**
 * `otasim certify server --url URL --api-key K [--broker URL] …`: the server conformance suite
 * (issue 8). The table goes to stdout, `--junit`/`--json` to files. Exit 0 when every requirement
 * passed, 1 when one failed (or could not run), 2 for a usage error — bad flags, or a server the
 * suite cannot judge (unreachable, API key rejected, broker unreachable), said in one line.
 */
import type { Argv, CommandModule, Options } from 'yargs';
import { UsageError } from '../../protocol/errors.js';
import { PROTOCOL_PROFILES, type ProtocolProfile } from '../../protocol/topics.js';
import { finishSuite } from '../../harness/certify/common/index.js';
import { certifyServer } from '../../harness/certify/server/index.js';
import { EXIT, type CliContext } from '../context.js';
import { reportFiles, str, timeoutFlag } from './certify-flags.js';

/** Every flag of `otasim certify server`, in `--help` order. */
export const CERTIFY_SERVER_FLAGS: Readonly<Record<string, Options>> = {
  url: { type: 'string', demandOption: true, requiresArg: true, describe: 'base URL of the OTA server under test' },
  'api-key': { type: 'string', demandOption: true, requiresArg: true, describe: 'its admin X-API-Key' },
  broker: { type: 'string', requiresArg: true, describe: 'the server\'s MQTT broker (mqtt://host:port); without it the MQTT requirements skip' },
  protocol: { type: 'string', choices: [...PROTOCOL_PROFILES], default: 'paku-edge', describe: 'MQTT wire profile the server speaks' },
  'topic-prefix': { type: 'string', default: 'paku', requiresArg: true, describe: 'MQTT topic prefix the server uses' },
  junit: { type: 'string', requiresArg: true, describe: 'write a JUnit XML report to this file' },
  json: { type: 'string', requiresArg: true, describe: 'write the JSON report to this file' },
  timeout: { type: 'string', default: '10s', requiresArg: true, describe: 'per request, and for MQTT effects: 500ms, 10s, 1m' },
  devices: { type: 'number', default: 200, describe: 'devices in the virtual canary fleet' },
};

function checkUrl(flag: string, value: string, schemes: readonly string[]): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`--${flag} ${value}: not a URL`);
  }
  if (!schemes.includes(u.protocol)) throw new UsageError(`--${flag} ${value}: use ${schemes.join(' or ')}`);
  return value;
}

export function certifyServerCommand(ctx: CliContext): CommandModule {
  return {
    command: 'server',
    describe: 'Check an OTA server against the protocol: requirement ids, a table, JUnit/JSON reports',
    builder: (y: Argv) => y
      .version(false)
      .options(CERTIFY_SERVER_FLAGS)
      .example('$0 certify server --url http://staging:8080 --api-key $KEY --junit certify.xml', 'HTTP requirements; MQTT ones skip')
      .example('$0 certify server --url http://127.0.0.1:8080 --api-key $KEY --broker mqtt://127.0.0.1:1883', 'every requirement'),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const url = checkUrl('url', str(a, 'url') ?? '', ['http:', 'https:']);
      const broker = str(a, 'broker');
      if (broker !== undefined) checkUrl('broker', broker, ['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:']);
      const devices = a.devices as number;
      if (!Number.isInteger(devices) || devices < 20 || devices > 10_000) throw new UsageError(`--devices ${String(a.devices)}: expected a whole number from 20 to 10000`);
      const timeoutMs = timeoutFlag(a, '10s');
      let report;
      try {
        report = await certifyServer({
          url, apiKey: str(a, 'api-key') ?? '', protocol: (str(a, 'protocol') ?? 'paku-edge') as ProtocolProfile,
          topicPrefix: str(a, 'topic-prefix') ?? 'paku', timeoutMs, devices, ...(broker === undefined ? {} : { broker }),
        });
      } catch (e) {
        // The server cannot be judged: one line, exit 2, no usage hint (the flags were fine).
        if (!(e instanceof UsageError)) throw e;
        ctx.stderr.write(`otasim: ${e.message}\n`);
        ctx.setExitCode(EXIT.USAGE);
        return;
      }
      ctx.setExitCode(await finishSuite(report, reportFiles(a), ctx.stdout));
    },
  };
}
