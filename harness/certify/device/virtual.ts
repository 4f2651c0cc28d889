/**
 * A virtual device under test: the simulator's device runtime on the emulated ESP32, reaching the
 * bench's broker over TCP and its file server over HTTP, as a real board would. A variant (a
 * mutant of the catalogue) changes it only through real seams: a behaviour-rule row, its config,
 * or wrappers around its ports (the MQTT connector, the HTTP dispatcher, the chip).
 */
import { Agent, type Dispatcher } from 'undici';
import { SystemClock } from '../../../protocol/clock.js';
import { BEHAVIOUR_RULES, type BehaviourRules } from '../../../simulator/device/behaviour.js';
import { faultProfile } from '../../../simulator/faults/index.js';
import type { Behaviour, DeviceConfigInput } from '../../../simulator/device/config.js';
import type { MqttConnector } from '../../../simulator/device/ports.js';
import { DeviceRuntime } from '../../../simulator/device/runtime.js';
import { provisionDevice } from '../../../simulator/device/runtime-provision.js';
import { mqttUrlConnector } from '../../../simulator/device/transport-mqtt.js';
import { ImagePool, type ChipName, type Esp32 } from '../../../simulator/esp32/index.js';
import type { ProtocolProfile } from '../../../protocol/topics.js';

/** How a variant differs from the named profile's firmware. */
export interface VirtualVariant {
  /** A rule row of its own (e.g. the esp-idf row with one field changed). */
  readonly rules?: (base: BehaviourRules) => BehaviourRules;
  /** Config fields of its own. */
  readonly config?: Partial<DeviceConfigInput>;
  /** Wrap the MQTT connector (what the device sends and receives). */
  readonly mqtt?: (connector: MqttConnector) => MqttConnector;
  /** Wrap the HTTP dispatcher (what the device downloads). */
  readonly http?: (dispatcher: Dispatcher) => Dispatcher;
  /** Change the chip after provisioning (e.g. an OTA call that misbehaves). */
  readonly chip?: (chip: Esp32) => void;
}

export interface VirtualDeviceOptions {
  readonly deviceId: string;
  readonly behaviour: Behaviour;
  readonly protocol: ProtocolProfile;
  readonly topicPrefix: string;
  readonly chip: ChipName;
  /** Version of the factory image it starts on. */
  readonly version: string;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  /** A version whose self-test fails when it first boots (the suite's DEV-BOOT-001 offer). */
  readonly selfTestFails: string;
  readonly variant?: VirtualVariant;
}

/** Firmware timings short enough for a suite that runs in seconds; keepalive 2 s so a short stall can outlast it. */
export const VIRTUAL_TIMINGS: Partial<DeviceConfigInput> = {
  bootMs: 10, selfTestMs: 30, rebootDelayMs: 50, powerRestoreMs: 800, watchdogMs: 100, keepaliveS: 2,
  downloadBackoff: { baseMs: 50, maxMs: 300, jitter: 0.5 },
  mqttBackoff: { baseMs: 50, maxMs: 300, jitter: 0.5 },
};

/** A running virtual device; `await using` stops it. */
export class VirtualDevice implements AsyncDisposable {
  private constructor(readonly runtime: DeviceRuntime, private readonly agent: Agent) {}

  static start(o: VirtualDeviceOptions, pool = new ImagePool()): VirtualDevice {
    const v = o.variant ?? {};
    const agent = new Agent({ keepAliveTimeout: 100 });
    const chip = provisionDevice({ chip: o.chip, version: o.version, pool });
    v.chip?.(chip);
    const connector = mqttUrlConnector(o.mqttUrl, { log: () => {} });
    const rules = v.rules?.(BEHAVIOUR_RULES[o.behaviour]);
    const rt = DeviceRuntime.create({
      config: { deviceId: o.deviceId, mac: 'AA:BB:CC:00:C0:01', behaviour: o.behaviour, protocol: o.protocol, topicPrefix: o.topicPrefix, ...VIRTUAL_TIMINGS, ...v.config },
      faults: faultProfile({ faults: [{ kind: 'self_test_fail', version: o.selfTestFails }] }),
      serverUrl: o.httpUrl,
      stallTimeoutMs: 30_000,
      ...(rules === undefined ? {} : { rules }),
    }, { clock: new SystemClock(), http: v.http?.(agent) ?? agent, mqtt: v.mqtt?.(connector) ?? connector, chip });
    rt.start();
    return new VirtualDevice(rt, agent);
  }

  /** Pull the plug; power comes back after the configured delay. */
  powerCut(): void {
    this.runtime.powerCut();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.runtime.stop();
    await this.agent.close();
  }
}
