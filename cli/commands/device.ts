/**
 * `otasim device`: run one virtual ESP32 in the foreground against an OTA server and an MQTT broker
 * (issue 4 "One device on its own"), logging its state changes until SIGINT or SIGTERM. This is
 * what a firmware developer runs against staging. Flags come from one table (`DEVICE_FLAGS`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule, Options } from 'yargs';
import { Agent } from 'undici';
import { SystemClock } from '../../protocol/clock.js';
import { ConfigError, EspError, UsageError } from '../../protocol/errors.js';
import { PROTOCOL_PROFILES } from '../../protocol/topics.js';
import { chipForModel } from '../../server/http/models.js';
import { BEHAVIOURS, parseDeviceConfig, type DeviceConfigInput } from '../../simulator/device/config.js';
import type { DeviceObserver } from '../../simulator/device/ports.js';
import { DeviceRuntime } from '../../simulator/device/runtime.js';
import { provisionDevice } from '../../simulator/device/runtime-provision.js';
import { mqttUrlConnector } from '../../simulator/device/transport-mqtt.js';
import { deviceFaults, NO_FAULTS, parseFaultProfile, type FaultProfile } from '../../simulator/faults/index.js';
import { ImagePool, isChipName, keyDigest, verifyImage, type ChipName, type Esp32BuildConfig } from '../../simulator/esp32/index.js';
import type { CliContext } from '../context.js';

/** Environment variables read when the matching flag is absent (keeps secrets out of `ps`). */
export const DEVICE_ENV = { apiKey: 'OTASIM_API_KEY', mqttPassword: 'OTASIM_MQTT_PASSWORD' } as const;

/** Every flag of `otasim device`, in `--help` order. */
export const DEVICE_FLAGS: Readonly<Record<string, Options>> = {
  id: { type: 'string', demandOption: true, requiresArg: true, describe: 'device id: MQTT client id and topic level' },
  server: { type: 'string', demandOption: true, requiresArg: true, describe: 'OTA server base URL (check, download, update-status)' },
  broker: { type: 'string', requiresArg: true, describe: 'MQTT broker URL, mqtt://host:1883 (needed unless --mode poll --report-via http)' },
  mode: { type: 'string', choices: ['mqtt', 'poll'], default: 'mqtt', describe: 'offers by MQTT cmd/ota push, or by polling /api/firmware/check' },
  behaviour: { type: 'string', choices: [...BEHAVIOURS], default: 'esp-idf', describe: 'firmware behaviour: esp-idf (ideal client) or paku-core (the real firmware as built)' },
  faults: { type: 'string', requiresArg: true, describe: 'fault profile file (JSON or YAML)' },
  model: { type: 'string', default: 'esp32', requiresArg: true, describe: 'device_model the device reports and accepts' },
  chip: { type: 'string', requiresArg: true, describe: 'emulated chip (default: the one --model names, else esp32)' },
  version: { type: 'string', default: '1.0.0', requiresArg: true, describe: 'version of the factory image the device starts on' },
  image: { type: 'string', requiresArg: true, describe: 'start from this app image (.bin) instead of a built one' },
  'trusted-key': {
    type: 'string', array: true, requiresArg: true,
    describe: 'Secure Boot v2 public (or private) key PEM the chip trusts (repeatable): boot and every update check signatures; --image must be signed by one',
  },
  protocol: { type: 'string', choices: [...PROTOCOL_PROFILES], default: 'paku-edge', describe: 'MQTT wire profile' },
  'topic-prefix': { type: 'string', default: 'paku', requiresArg: true, describe: 'MQTT topic prefix' },
  'report-via': { type: 'string', choices: ['mqtt', 'http', 'both'], describe: 'where status and progress go (default: mqtt, or http in poll mode)' },
  'poll-interval-ms': { type: 'number', describe: 'poll mode: ms between checks (default 3600000)' },
  seed: { type: 'number', default: 0, describe: 'seed of every random draw (fault dice, backoff jitter)' },
  mac: { type: 'string', requiresArg: true, describe: 'Wi-Fi MAC AA:BB:CC:DD:EE:FF (default derived from --id)' },
  'api-key': { type: 'string', requiresArg: true, describe: `X-API-Key for update-status, if the server wants one (or $${DEVICE_ENV.apiKey})` },
  'mqtt-username': { type: 'string', requiresArg: true, describe: 'MQTT username' },
  'mqtt-password': { type: 'string', requiresArg: true, describe: `MQTT password (or $${DEVICE_ENV.mqttPassword})` },
  json: { type: 'boolean', default: false, describe: 'NDJSON lines (log, transition, wire) instead of text' },
};

/** A MAC in Espressif's OUI (24:0A:C4) whose last three bytes come from the id: stable per device. */
export function macFor(id: string): string {
  const h = createHash('sha256').update(id).digest();
  return ['24', '0A', 'C4', ...[0, 1, 2].map((i) => (h[i] as number).toString(16).toUpperCase().padStart(2, '0'))].join(':');
}

function str(argv: Record<string, unknown>, k: string): string | undefined {
  const v = argv[k];
  return typeof v === 'string' ? v : undefined;
}

function chipOf(model: string, flag: string | undefined): ChipName {
  if (flag !== undefined) {
    if (!isChipName(flag)) throw new UsageError(`--chip ${flag} is not a chip otasim emulates (esp32, esp32s3, esp32c3, …)`);
    return flag;
  }
  const m = chipForModel(model);
  if (m.kind === 'unsupported') throw new UsageError(`--model ${model} is an ${m.family} device; otasim emulates the ESP32 family only`);
  return m.kind === 'chip' ? m.chip : 'esp32';
}

function observer(ctx: CliContext, id: string, json: boolean): DeviceObserver {
  const iso = (at: number): string => new Date(at).toISOString();
  if (json) {
    const line = (o: object): unknown => ctx.stdout.write(`${JSON.stringify(o)}\n`);
    return {
      log: (message, at) => line({ t: iso(at), device: id, kind: 'log', message }),
      transition: (n) => line({ t: iso(n.at), device: id, kind: 'transition', from: n.from, to: n.to, event: n.event }),
      wire: (w, at) => line({ t: iso(at), device: id, kind: 'wire', via: w.kind, ...(w.kind === 'mqtt'
        ? { topic: w.topic, payload: w.payload, retain: w.retain }
        : { method: w.method, url: w.url, ...(w.body === undefined ? {} : { body: w.body }) }) }),
    };
  }
  return { log: (message, at) => ctx.stdout.write(`${iso(at)} ${id} ${message}\n`) };
}

/** `otasim device --id ID --server URL --broker URL [--mode mqtt|poll] [--faults FILE] …` */
export function deviceCommand(ctx: CliContext): CommandModule {
  return {
    command: 'device',
    describe: 'Run one virtual ESP32 OTA client in the foreground against a server and broker; logs its state changes',
    // `--version` names the firmware the device starts on here (the flag), not otasim's own.
    builder: (y: Argv) => y
      .version(false)
      .options(DEVICE_FLAGS)
      .example('$0 device --id esp32_001 --server http://127.0.0.1:8080 --broker mqtt://127.0.0.1:1883', 'an ESP32 on 1.0.0 waiting for cmd/ota')
      .example('$0 device --id esp32_002 --server https://staging.example/ota --mode poll --poll-interval-ms 60000', 'poll /api/firmware/check every minute')
      .example('$0 device --id esp32_003 --server URL --broker URL --faults crash-1.2.1.yaml', 'the new image crashes as the profile says'),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const id = str(a, 'id') as string;
      const model = str(a, 'model') ?? 'esp32';
      const input: DeviceConfigInput = {
        deviceId: id, deviceModel: model, mac: str(a, 'mac') ?? macFor(id), seed: a.seed as number,
        mode: a.mode as 'mqtt' | 'poll', behaviour: a.behaviour as DeviceConfigInput['behaviour'], protocol: a.protocol as DeviceConfigInput['protocol'], topicPrefix: str(a, 'topic-prefix') ?? 'paku',
        ...(str(a, 'report-via') === undefined ? {} : { reportVia: str(a, 'report-via') as 'mqtt' | 'http' | 'both' }),
        ...(a['poll-interval-ms'] === undefined ? {} : { pollIntervalMs: a['poll-interval-ms'] as number }),
      };
      let config;
      try {
        config = parseDeviceConfig(input);
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
      const broker = str(a, 'broker');
      if (broker === undefined && (config.mode === 'mqtt' || config.reportVia !== 'http')) {
        throw new UsageError('--broker is required unless --mode poll --report-via http');
      }
      const faultsFile = str(a, 'faults');
      const profile: FaultProfile = faultsFile === undefined ? NO_FAULTS : parseFaultProfile(await readFile(faultsFile, 'utf8'), 'auto', faultsFile);
      const imageFile = str(a, 'image');
      const image = imageFile === undefined ? undefined : new Uint8Array(await readFile(imageFile));
      const chipName = chipOf(model, str(a, 'chip'));
      const build = await secureBuild(chipName, (a['trusted-key'] as string[] | undefined) ?? [], image);
      const chip = provisionDevice({
        chip: chipName, version: str(a, 'version') ?? '1.0.0', pool: new ImagePool(),
        slotBytes: deviceFaults(profile, config.seed, id).slotBytes(), ...(image === undefined ? {} : { image }),
        ...(build === undefined ? {} : { build }),
      });
      const password = str(a, 'mqtt-password') ?? process.env[DEVICE_ENV.mqttPassword];
      const username = str(a, 'mqtt-username');
      const http = new Agent({ keepAliveTimeout: 4_000 });
      const clock = new SystemClock();
      const rt = DeviceRuntime.create({
        config, faults: profile, serverUrl: str(a, 'server') as string,
        apiKey: str(a, 'api-key') ?? process.env[DEVICE_ENV.apiKey] ?? null,
      }, {
        clock, http, chip, observer: observer(ctx, id, a.json === true),
        ...(broker === undefined ? {} : {
          mqtt: mqttUrlConnector(broker, { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) }),
        }),
      });
      rt.start();
      const signal = await new Promise<string>((resolve) => {
        const on = (s: string): void => {
          process.off('SIGINT', on);
          process.off('SIGTERM', on);
          resolve(s);
        };
        process.on('SIGINT', on);
        process.on('SIGTERM', on);
      });
      ctx.stderr.write(`otasim device ${id}: ${signal}, stopping\n`);
      await rt.stop();
      clock.close();
      await http.close();
      ctx.setExitCode(0);
    },
  };
}

/**
 * The chip's build with Secure Boot v2 when `--trusted-key` is given: the eFuse digests of those keys;
 * the bootloader then checks the factory image too, so it must be signed by one of them (checked
 * here, so the user gets a clear message instead of a device that never boots).
 */
async function secureBuild(chip: ChipName, keyFiles: readonly string[], image: Uint8Array | undefined): Promise<Esp32BuildConfig | undefined> {
  if (keyFiles.length === 0) return undefined;
  const trustedKeyDigests = await Promise.all(keyFiles.map(async (f) => keyDigest(await readFile(f, 'utf8'))));
  if (image === undefined) {
    throw new UsageError('--trusted-key needs --image SIGNED.bin: a Secure Boot device boots only signed firmware (make one with `otasim image build --sign KEY.pem`)');
  }
  try {
    verifyImage(image, { chip, signature: { trustedKeyDigests } });
  } catch (e) {
    if (e instanceof EspError) throw new UsageError(`--image is not signed by a --trusted-key: ${e.message}`, { cause: e });
    throw e;
  }
  return { chip, rollback: true, secureBoot: { trustedKeyDigests } };
}
