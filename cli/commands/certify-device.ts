/**
 * `otasim certify device --device-id ID [--http-port P] [--mqtt-port P] [--junit FILE] [--json FILE]
 * [--protocol paku-edge|paku-legacy] [--timeout 60s] [--virtual BEHAVIOUR]`: the device conformance
 * suite (issue 8). The harness is the OTA server and the broker; the device under test is a real
 * ESP32 pointed at them (the set-up is printed), or a virtual one started in this process. The table
 * goes to stdout. Exit 0 when every requirement passed (a claimed profile's warts are findings), 1 when
 * one failed, 2 for a usage error or a device that never connected within --timeout (one line).
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import type { Argv, CommandModule, Options } from 'yargs';
import { UsageError } from '../../protocol/errors.js';
import { PROTOCOL_PROFILES, type ProtocolProfile } from '../../protocol/topics.js';
import { BEHAVIOURS, type Behaviour } from '../../simulator/device/config.js';
import { CHIP_NAMES, type ChipName } from '../../simulator/esp32/index.js';
import { finishSuite } from '../../harness/certify/common/index.js';
import { certifyDevice, DeviceNotConnected, type BenchInfo } from '../../harness/certify/device/index.js';
import { EXIT, type CliContext } from '../context.js';
import { reportFiles, str, timeoutFlag } from './certify-flags.js';

/** Every flag of `otasim certify device`, in `--help` order. */
export const CERTIFY_DEVICE_FLAGS: Readonly<Record<string, Options>> = {
  'device-id': { type: 'string', demandOption: true, requiresArg: true, describe: 'id of the device under test (MQTT client id and topic level)' },
  'http-port': { type: 'number', requiresArg: true, describe: 'port of the harness\'s OTA file server [default: 8070; 0 = any, the default with --virtual]' },
  'mqtt-port': { type: 'number', requiresArg: true, describe: 'port of the harness\'s MQTT broker [default: 1884; 0 = any, the default with --virtual]' },
  host: { type: 'string', requiresArg: true, describe: 'address the device reaches this machine at [default: the first LAN IPv4; 127.0.0.1 with --virtual]' },
  protocol: { type: 'string', choices: [...PROTOCOL_PROFILES], default: 'paku-edge', describe: 'MQTT wire profile the device speaks' },
  'topic-prefix': { type: 'string', default: 'paku', requiresArg: true, describe: 'MQTT topic prefix the device uses' },
  virtual: { type: 'string', choices: [...BEHAVIOURS], requiresArg: true, describe: 'start a virtual device with this behaviour here (CI, demos) instead of waiting for a real one' },
  claims: { type: 'string', choices: [...BEHAVIOURS], requiresArg: true, describe: 'behaviour profile the device claims; its known warts are findings [default: --virtual\'s, else esp-idf]' },
  firmware: { type: 'string', requiresArg: true, describe: 'a real device\'s own app build (.bin): re-stamped with a new version for each offer' },
  chip: { type: 'string', choices: [...CHIP_NAMES], default: 'esp32', describe: 'chip of the virtual device' },
  timeout: { type: 'string', default: '60s', requiresArg: true, describe: 'how long the device has to connect, and each offer to settle: 500ms, 60s, 2m' },
  junit: { type: 'string', requiresArg: true, describe: 'write a JUnit XML report to this file' },
  json: { type: 'string', requiresArg: true, describe: 'write the JSON report to this file' },
};

function port(a: Record<string, unknown>, k: string, def: number): number {
  const v = a[k];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new UsageError(`--${k} ${String(v)}: expected a port number 0–65535`);
  return v;
}

/** The first non-internal IPv4 address of this machine, as a bench device on the LAN reaches it. */
function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const n of list ?? []) if (n.family === 'IPv4' && !n.internal) return n.address;
  }
  return '127.0.0.1';
}

/** What to flash and how to point the device at the harness. */
function setup(b: BenchInfo): string {
  const u = new URL(b.mqttUrl);
  const replies = b.protocol === 'paku-edge' ? `${b.topicPrefix}/edge/${b.deviceId}/ota/{status,progress,result}` : `${b.topicPrefix}/devices/${b.deviceId}/ota/{status,progress,result}`;
  const cmd = b.protocol === 'paku-edge' ? `${b.topicPrefix}/edge/${b.deviceId}/cmd/ota` : `${b.topicPrefix}/devices/${b.deviceId}/cmd/ota`;
  return [
    'Device under test: flash your firmware (the same build as --firmware, version 1.0.0 or any lower than 2.0.0) with:',
    `  MQTT broker      ${u.hostname} port ${u.port} (plain TCP, no TLS, anonymous)`,
    `  MQTT client id   ${b.deviceId}`,
    `  OTA server       ${b.httpUrl} (downloads come from ${b.httpUrl}/fw/…; no API key)`,
    `  topics           subscribe ${cmd}; publish ${replies}; announce ${b.topicPrefix}/edge/${b.deviceId}/status (retained, firmware_version) with LWT {"online":false}`,
    '  firmware_version the version in esp_app_desc_t (PROJECT_VER), which the harness rewrites in every image it offers',
    'Then power the device on. Waiting for it to connect…',
    '',
  ].join('\n');
}

export function certifyDeviceCommand(ctx: CliContext): CommandModule {
  return {
    command: 'device',
    describe: 'Check a device (a real ESP32 or a virtual one) against the protocol: the harness is its server and broker',
    builder: (y: Argv) => y
      .options(CERTIFY_DEVICE_FLAGS)
      .example('$0 certify device --device-id ESP32-20E955A0 --firmware build/app.bin --junit device.xml', 'a real ESP32 on the bench')
      .example('$0 certify device --device-id sim-1 --virtual paku-core', 'a virtual paku-core device: its warts are listed as findings'),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const deviceId = str(a, 'device-id') ?? '';
      if (deviceId === '' || /[/+#]/.test(deviceId)) throw new UsageError(`--device-id ${JSON.stringify(deviceId)}: must be non-empty without / + #`);
      const virtual = str(a, 'virtual') as Behaviour | undefined;
      const timeoutMs = timeoutFlag(a, '60s');
      const firmwarePath = str(a, 'firmware');
      if (virtual === undefined && firmwarePath === undefined) throw new UsageError('a real device needs --firmware FILE (its own app build); or give --virtual esp-idf|paku-core');
      let firmware: { bytes: Uint8Array; source: string } | undefined;
      if (firmwarePath !== undefined) {
        try {
          firmware = { bytes: new Uint8Array(await readFile(firmwarePath)), source: firmwarePath };
        } catch (e) {
          throw new UsageError(`--firmware ${firmwarePath}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      const claims = (str(a, 'claims') ?? virtual ?? 'esp-idf') as Behaviour;
      let report;
      try {
        report = await certifyDevice({
          deviceId, protocol: (str(a, 'protocol') ?? 'paku-edge') as ProtocolProfile, topicPrefix: str(a, 'topic-prefix') ?? 'paku',
          httpPort: port(a, 'http-port', virtual === undefined ? 8070 : 0), mqttPort: port(a, 'mqtt-port', virtual === undefined ? 1884 : 0),
          host: str(a, 'host') ?? (virtual === undefined ? lanAddress() : '127.0.0.1'), timeoutMs, claims,
          ...(virtual === undefined ? {} : { virtual: { behaviour: virtual, chip: (str(a, 'chip') ?? 'esp32') as ChipName } }),
          ...(firmware === undefined ? {} : { firmware }),
          ...(virtual === undefined ? { onReady: (b: BenchInfo) => ctx.stdout.write(setup(b)) } : {}),
        });
      } catch (e) {
        // The device cannot be judged (it never came, a port is taken): one line, exit 2.
        const listen = e instanceof Error && 'code' in e && (e.code === 'EADDRINUSE' || e.code === 'EACCES');
        if (!(e instanceof DeviceNotConnected) && !(e instanceof UsageError) && !listen) throw e;
        ctx.stderr.write(`otasim: ${listen ? `cannot listen: ${(e as Error).message}` : (e as Error).message}\n`);
        ctx.setExitCode(EXIT.USAGE);
        return;
      }
      ctx.setExitCode(await finishSuite(report, reportFiles(a), ctx.stdout));
    },
  };
}
