/**
 * `otasim fleet`: thousands of virtual ESP32s from one process against a server and a broker
 * (issue 5). Live progress goes to stderr, raw events to `--events` (NDJSON, written first), and
 * the summary to stdout last. SIGINT or SIGTERM stop the fleet gracefully; the summary still prints.
 * Flags come from one table (`FLEET_FLAGS`).
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule, Options } from 'yargs';
import { ConfigError, UsageError } from '../../protocol/errors.js';
import { PROTOCOL_PROFILES, type ProtocolProfile } from '../../protocol/topics.js';
import { BEHAVIOURS, type Behaviour } from '../../simulator/device/config.js';
import {
  claimShard, composition, fleetKey, parseAutoShard, parseComposition, parseRate, parseShard, formatSummary, type RunOptions, type ShardClaim,
} from '../../simulator/fleet/index.js';
import { parseWorkers, runFleetOn } from '../../simulator/fleet/workers.js';
import type { CliContext } from '../context.js';

/** Every flag of `otasim fleet`, in `--help` order. */
export const FLEET_FLAGS: Readonly<Record<string, Options>> = {
  devices: { type: 'number', demandOption: true, describe: 'devices in the whole fleet (all shards)' },
  server: { type: 'string', demandOption: true, requiresArg: true, describe: 'OTA server base URL, or "embedded" (in this process, temp data)' },
  broker: { type: 'string', default: 'memory', requiresArg: true, describe: 'memory (embedded server, no sockets), tcp (embedded broker over TCP), or an mqtt://, mqtts://, ws:// URL' },
  model: { type: 'string', default: 'esp32', requiresArg: true, describe: 'device_model of every device (without --mix)' },
  version: { type: 'string', default: '1.0.0', requiresArg: true, describe: 'firmware version every device starts on (without --mix)' },
  mix: { type: 'string', requiresArg: true, describe: 'composition file (JSON/YAML): models, versions, groups, fault profiles' },
  behaviour: { type: 'string', choices: [...BEHAVIOURS], requiresArg: true, describe: 'firmware behaviour of every device (default esp-idf); a --mix with behaviours: decides instead' },
  ramp: { type: 'string', default: '2000/s', requiresArg: true, describe: 'devices started per second, e.g. 2000/s or 600/m' },
  shard: { type: 'string', default: '1/1', requiresArg: true, describe: 'run shard i of n (same flags on every host); auto/n: claim a free i through --shard-claim' },
  'shard-claim': { type: 'string', requiresArg: true, describe: 'with --shard auto/n: PostgreSQL URL where replicas claim their index (advisory locks)' },
  events: { type: 'string', requiresArg: true, describe: 'write every state change as NDJSON to this file (summary last)' },
  duration: { type: 'string', requiresArg: true, describe: 'stop after this long: 90s, 5m, 1h (default: until done or SIGINT)' },
  seed: { type: 'number', default: 0, describe: 'the one seed: composition, fault dice and jitter' },
  prefix: { type: 'string', default: 'sim', requiresArg: true, describe: 'device id prefix: ids are PREFIX-000000 …' },
  rollout: { type: 'string', requiresArg: true, describe: 'embedded server: upload this version and roll it out once all devices registered' },
  'image-size': { type: 'number', default: 1024 * 1024, describe: 'bytes of the --rollout image' },
  downloads: { type: 'number', default: 64, describe: 'concurrent downloads across the fleet' },
  'topic-prefix': { type: 'string', default: 'paku', requiresArg: true, describe: 'MQTT topic prefix' },
  protocol: { type: 'string', default: 'paku-edge', choices: [...PROTOCOL_PROFILES], requiresArg: true, describe: 'MQTT wire profile of devices and embedded server' },
  ca: { type: 'string', requiresArg: true, describe: 'PEM file of the CA devices trust for https:// servers and mqtts:// brokers' },
  json: { type: 'boolean', default: false, describe: 'print the summary as one JSON object' },
  workers: { type: 'string', default: 'auto', requiresArg: true, describe: 'worker processes for socket transports: N, or auto (1 unless the devices need more files than one process may open)' },
};

/** `90s`, `5m`, `1h`, `250ms`, or a bare number of seconds → ms. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null) throw new UsageError(`--duration ${text}: expected e.g. 90s, 5m, 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

function str(a: Record<string, unknown>, k: string): string | undefined {
  return typeof a[k] === 'string' ? a[k] : undefined;
}

async function options(a: Record<string, unknown>): Promise<RunOptions> {
  const devices = a.devices as number;
  if (!Number.isInteger(devices) || devices < 1) throw new UsageError(`--devices ${String(a.devices)}: expected a whole number ≥ 1`);
  const mix = str(a, 'mix');
  let comp;
  try {
    comp = mix === undefined
      ? composition({ models: { [str(a, 'model') ?? 'esp32']: 1 }, versions: { [str(a, 'version') ?? '1.0.0']: 1 } }, 'flags')
      : parseComposition(await readFile(mix, 'utf8'), mix);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
  const behaviour = str(a, 'behaviour') as Behaviour | undefined;
  // --behaviour sets every device, unless the mix draws behaviours itself.
  if (behaviour !== undefined && comp.behaviours === null) comp = Object.freeze({ ...comp, behaviours: [{ name: behaviour, cum: 1 }] });
  const duration = str(a, 'duration');
  const rollout = str(a, 'rollout');
  const caFile = str(a, 'ca');
  const ca = caFile === undefined ? undefined : await readFile(caFile, 'utf8');
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca ${caFile}: expected a PEM file with at least one CERTIFICATE`);
  return {
    devices, server: str(a, 'server') as string, broker: str(a, 'broker') ?? 'memory', composition: comp,
    prefix: str(a, 'prefix') ?? 'sim', seed: a.seed as number, shard: parseShard(str(a, 'shard') ?? '1/1'),
    rampPerSecond: parseRate(str(a, 'ramp') ?? '2000/s'), downloads: a.downloads as number, imageBytes: a['image-size'] as number,
    topicPrefix: str(a, 'topic-prefix') ?? 'paku', protocol: (str(a, 'protocol') ?? 'paku-edge') as ProtocolProfile,
    ...(duration === undefined ? {} : { durationMs: parseDuration(duration) }), ...(rollout === undefined ? {} : { rollout }),
    ...(ca === undefined ? {} : { ca }),
  };
}

/**
 * `--shard auto/n`: claim the lowest free index through `--shard-claim` (simulator/fleet/shard-claim.ts),
 * for replicas that all run the same command; null for a fixed `i/n`.
 */
async function claimFor(a: Record<string, unknown>): Promise<ShardClaim | null> {
  const text = str(a, 'shard') ?? '1/1';
  const count = parseAutoShard(text);
  const url = str(a, 'shard-claim');
  if (count === null) {
    if (url !== undefined) throw new UsageError('--shard-claim needs --shard auto/n');
    return null;
  }
  if (url === undefined) throw new UsageError(`--shard ${text} needs --shard-claim postgres://… (where replicas claim their index)`);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`--shard-claim ${url}: expected a postgres:// URL`);
  return claimShard(url, count, fleetKey(str(a, 'prefix') ?? 'sim', a.devices as number, count));
}

/** `otasim fleet --devices N --server URL|embedded --broker memory|URL …` */
export function fleetCommand(ctx: CliContext): CommandModule {
  return {
    command: 'fleet',
    describe: 'Run thousands of virtual ESP32s against a server and broker: live progress, NDJSON events, a summary',
    builder: (y: Argv) => y
      .version(false)
      .options(FLEET_FLAGS)
      .example('$0 fleet --devices 2000 --server embedded --rollout 2.0.0', '2,000 devices update to 2.0.0 over the in-memory broker')
      .example('$0 fleet --devices 20000 --server http://ota:8080 --broker mqtt://127.0.0.1:1883 --shard 1/2 --events a.ndjson', 'half a fleet against real services'),
    handler: async (argv) => {
      const claim = await claimFor(argv as Record<string, unknown>);
      if (claim !== null) ctx.stderr.write(`otasim fleet: claimed shard ${claim.shard.index}/${claim.shard.count}\n`);
      const o = await options(claim === null ? argv as Record<string, unknown>
        : { ...argv, shard: `${claim.shard.index}/${claim.shard.count}` }).catch(async (e: unknown) => {
        await claim?.release();
        throw e;
      });
      const file = str(argv as Record<string, unknown>, 'events');
      const events = file === undefined ? undefined : createWriteStream(file);
      const stop = new AbortController();
      const on = (sig: string): void => {
        ctx.stderr.write(`otasim fleet: ${sig}, stopping\n`);
        stop.abort();
      };
      process.once('SIGINT', on);
      process.once('SIGTERM', on);
      // A claim lost mid-run (PostgreSQL gone) frees the index for another replica: stop rather than run it twice.
      let lostClaim: Error | undefined;
      void claim?.lost.then((e) => {
        lostClaim = e;
        ctx.stderr.write(`otasim fleet: lost the shard claim (${e.message}), stopping\n`);
        stop.abort();
      });
      try {
        const stderr = process.stderr as unknown as { isTTY?: boolean };
        const workers = parseWorkers(str(argv as Record<string, unknown>, 'workers') ?? 'auto');
        const summary = await runFleetOn(o, workers, {
          stderr: { write: (s: string) => ctx.stderr.write(s), isTTY: stderr.isTTY === true },
          signal: stop.signal, ...(events === undefined ? {} : { events }),
        });
        ctx.stdout.write(argv.json === true ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
        ctx.setExitCode(lostClaim === undefined ? 0 : 1);
      } finally {
        process.off('SIGINT', on);
        process.off('SIGTERM', on);
        await claim?.release();
      }
    },
  };
}
