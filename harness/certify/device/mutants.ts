/**
 * Broken devices, to prove the device suite catches them (issue 8 "Mutants"). Each is the virtual
 * esp-idf device claiming esp-idf, changed only through a real seam: a behaviour-rule row, its
 * config, or a wrapper around one of its ports (what it publishes or receives over MQTT, what it
 * downloads over HTTP, an OTA call of its chip). `fails` lists the requirement ids the suite must
 * fail it on, and only those.
 */
import type { MqttClient } from 'mqtt';
import type { Dispatcher } from 'undici';
import type { BehaviourRules } from '../../../simulator/device/behaviour.js';
import type { MqttConnector } from '../../../simulator/device/ports.js';
import { CHIPS, type Esp32 } from '../../../simulator/esp32/index.js';
import type { VirtualVariant } from './virtual.js';

export interface DeviceMutant {
  readonly name: string;
  /** What is broken, in a sentence. */
  readonly broken: string;
  readonly variant: VirtualVariant;
  /** Requirement ids the suite fails it on, sorted. */
  readonly fails: readonly string[];
}

type Json = Record<string, unknown>;

/** Rewrite (or drop, with []) what the device publishes: `f(topic, payload)` gives the payloads to send instead. */
function onPublish(f: (topic: string, payload: Json) => Json[]): (c: MqttConnector) => MqttConnector {
  return (connector) => async (options) => {
    const client = await connector(options);
    const publish = client.publish.bind(client) as (t: string, p: string, o: object, cb?: (e?: Error) => void) => MqttClient;
    client.publish = ((topic: string, payload: string | Buffer, opts: object, cb?: (e?: Error) => void) => {
      let json: Json;
      try {
        json = JSON.parse(String(payload)) as Json;
      } catch {
        return publish(topic, String(payload), opts, cb);
      }
      const out = f(topic, json);
      if (out.length === 0) queueMicrotask(() => cb?.());
      out.forEach((p, i) => publish(topic, JSON.stringify(p), opts, i === out.length - 1 ? cb : undefined));
      return client;
    }) as MqttClient['publish'];
    return client;
  };
}

/** Rewrite the commands the device receives. */
function onReceive(f: (payload: Json) => Json): (c: MqttConnector) => MqttConnector {
  return (connector) => async (options) => {
    const client = await connector(options);
    const emit = client.emit.bind(client) as (event: string, ...args: unknown[]) => boolean;
    client.emit = ((event: string, ...args: unknown[]) => {
      if (event !== 'message') return emit(event, ...args);
      const [topic, payload, packet] = args as [string, Buffer, unknown];
      try {
        return emit(event, topic, Buffer.from(JSON.stringify(f(JSON.parse(payload.toString('utf8')) as Json))), packet);
      } catch {
        return emit(event, topic, payload, packet);
      }
    }) as MqttClient['emit'];
    return client;
  };
}

const isReply = (topic: string, kind: string): boolean => topic.endsWith(`/ota/${kind}`);
const isAnnounce = (topic: string, p: Json): boolean => topic.endsWith('/status') && !topic.includes('/ota/') && p.online === true;

/** A download whose image header names another chip is rewritten to name this one (the header check then passes). */
function ownChipId(chipId: number): (d: Dispatcher) => Dispatcher {
  return (inner) => ({
    request: async (opts: Dispatcher.RequestOptions) => {
      const res = await inner.request(opts);
      const body = res.body;
      async function* patched(): AsyncGenerator<Buffer> {
        let first = true;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          if (first && chunk.length >= 14 && chunk[0] === 0xe9 && (chunk[12]! | (chunk[13]! << 8)) !== chipId) {
            const c = Buffer.from(chunk);
            c[12] = chipId & 0xff;
            c[13] = chipId >> 8;
            first = false;
            yield c;
            continue;
          }
          first = false;
          yield chunk;
        }
      }
      return { ...res, body: patched() } as unknown as Dispatcher.ResponseData;
    },
  }) as unknown as Dispatcher;
}

const rules = (change: Partial<BehaviourRules>) => (base: BehaviourRules): BehaviourRules => ({ ...base, ...change });

/** The catalogue. */
export const DEVICE_MUTANTS: readonly DeviceMutant[] = [
  {
    name: 'success-before-reboot', broken: 'reports success as soon as the boot partition is set, before it restarts',
    // Its success for the image whose self-test then fails is false: that image is rolled back after it.
    variant: { rules: rules({ resultBeforeReboot: true }) }, fails: ['DEV-BOOT-001', 'DEV-RESULT-001', 'DEV-RESULT-002'],
  },
  {
    name: 'skips-sha', broken: 'ignores the offer\'s checksum, so it never compares the SHA-256',
    variant: { mqtt: onReceive(({ checksum: _, ...rest }) => rest) }, fails: ['DEV-SHA-001', 'DEV-SHA-002'],
  },
  {
    name: 'never-marks-valid', broken: 'never calls esp_ota_mark_app_valid_cancel_rollback, so the bootloader rolls the update back at the next reset',
    variant: { chip: (chip: Esp32) => { chip.markAppValidCancelRollback = () => {}; } },
    // Still PENDING_VERIFY, the next esp_ota_begin is refused (ESP_ERR_OTA_ROLLBACK_INVALID_STATE) until a reset rolls it back.
    fails: ['DEV-BOOT-002', 'DEV-HTTP-001', 'DEV-MQTT-001', 'DEV-NET-001', 'DEV-OTA-002'],
  },
  {
    name: 'accepts-downgrade', broken: 'takes an offer older than the running version',
    variant: { config: { allowDowngrade: true } }, fails: ['DEV-VER-001'],
  },
  {
    name: 'no-resume', broken: 'claims esp-idf but cannot resume a cut download',
    variant: { rules: rules({ resume: false }) }, fails: ['DEV-NET-001'],
  },
  {
    name: 'progress-backwards', broken: 'reports 50 % as 20 %, so progress goes backwards',
    variant: { mqtt: onPublish((t, p) => [isReply(t, 'progress') && p.percent === 50 ? { ...p, percent: 20 } : p]) }, fails: ['DEV-REPORT-002'],
  },
  {
    name: 'wrong-version', broken: 'announces a build-suffixed version (git describe) instead of the one it installed',
    variant: { mqtt: onPublish((t, p) => [isAnnounce(t, p) && p.firmware_version !== '1.0.0' ? { ...p, firmware_version: `${String(p.firmware_version)}-3-gabcdef` } : p]) },
    fails: ['DEV-BOOT-002', 'DEV-RESULT-002'],
  },
  {
    name: 'no-result', broken: 'never publishes a success result',
    variant: { mqtt: onPublish((t, p) => (isReply(t, 'result') && p.success === true ? [] : [p])) }, fails: ['DEV-REPORT-004'],
  },
  {
    name: 'double-result', broken: 'publishes every result twice',
    variant: { mqtt: onPublish((t, p) => (isReply(t, 'result') ? [p, p] : [p])) }, fails: ['DEV-REPORT-001'],
  },
  {
    name: 'writes-running-slot', broken: 'writes the update to the partition it runs from',
    variant: { chip: (chip: Esp32) => { chip.getNextUpdatePartition = () => chip.getRunningPartition(); } },
    // esp_ota_begin refuses the running partition (ESP_ERR_OTA_PARTITION_CONFLICT): no update ever lands.
    fails: ['DEV-HTTP-001', 'DEV-MQTT-001', 'DEV-MQTT-002', 'DEV-NET-001', 'DEV-OTA-001', 'DEV-OTA-002', 'DEV-SHA-001'],
  },
  {
    name: 'ignores-chip', broken: 'does not check the chip id in the image header, so it writes an image for another chip',
    variant: { http: ownChipId(CHIPS.esp32.chipId) }, fails: ['DEV-IMG-002'],
  },
  {
    name: 'no-self-test', broken: 'claims esp-idf but marks a new image valid before any self-test',
    variant: { rules: rules({ selfTest: false }) }, fails: ['DEV-BOOT-001'],
  },
  {
    name: 'clean-session', broken: 'claims esp-idf but subscribes at QoS 0 with a clean session',
    variant: { rules: rules({ cleanSession: true, subscribeQos: 0 }) }, fails: ['DEV-MQTT-002'],
  },
  {
    name: 'blocking-download', broken: 'claims esp-idf but stops servicing MQTT while it downloads',
    variant: { rules: rules({ mqttDuringDownload: false }) }, fails: ['DEV-MQTT-001'],
  },
  {
    name: 'strict-200', broken: 'claims esp-idf but takes only a 200',
    variant: { rules: rules({ strictDownload: true }) }, fails: ['DEV-HTTP-001'],
  },
];
