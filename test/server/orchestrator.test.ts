/**
 * The orchestrator publishes cmd/ota to exactly the devices it is given, with the workflow's
 * payload, over every broker (aedes memory, aedes TCP, Mosquitto).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { topics as makeTopics, type Topics } from '../../protocol/topics.js';
import { endClient, type MqttClientFactory } from '../../server/broker/index.js';
import { MAX_DEVICE_PACKET_BYTES, Orchestrator, devicePacketBytes, otaCommand, type OrchestratorOptions } from '../../server/mqtt/index.js';
import { uniquePrefix } from './mqtt-env.js';
import { brokerTargets, recordingLogger, until } from './mqtt-helpers.js';

const release = { version: '1.4.3', device_model: 'lilygo-t-display-s3-heater', checksum_sha256: 'ab'.repeat(32) };

describe('otaCommand', () => {
  it('is the workflow\'s {url, version, checksum}, the URL carrying device_model', () => {
    expect(otaCommand(release, 'https://example.org/ota/')).toEqual({
      url: 'https://example.org/ota/api/firmware/download/1.4.3?device_model=lilygo-t-display-s3-heater',
      version: '1.4.3',
      checksum: 'ab'.repeat(32),
    });
  });

  it('measures the packet the device receives (QoS 0: no packet id)', () => {
    // 1 fixed-header byte + 1 length byte + 2 topic-length bytes + 3 + 2.
    expect(devicePacketBytes('a/b', 'xy')).toBe(9);
    // Remaining length 128 needs a two-byte varint.
    expect(devicePacketBytes('t', 'x'.repeat(125))).toBe(1 + 2 + 128);
  });
});

for (const target of brokerTargets) {
  describe.skipIf(!target.available)(`orchestrator over ${target.name}`, () => {
    let broker: { factory: MqttClientFactory; close(): Promise<void> };
    let topics: Topics;
    let spy: MqttClient;
    let seen: IPublishPacket[];
    const open: Array<{ close(): Promise<void> }> = [];

    beforeEach(async () => {
      broker = await target.open();
      topics = makeTopics({ prefix: uniquePrefix('orch') });
      seen = [];
      // A stand-in for every device at once: subscribed at QoS 0, as paku-core subscribes.
      spy = await broker.factory({ reconnectPeriod: 0 }, (c) => c.on('message', (_t, _p, packet) => seen.push(packet)));
      await spy.subscribeAsync(`${topics.prefix}/#`, { qos: 1 });
    });
    afterEach(async () => {
      for (const o of open.splice(0)) await o.close();
      await endClient(spy, true);
      await broker.close();
    });

    const orchestrator = async (over: Partial<OrchestratorOptions> = {}): Promise<Orchestrator> => {
      const o = await Orchestrator.create({ clientFactory: broker.factory, topics, logger: recordingLogger().logger,
        downloadBaseUrl: 'http://10.0.0.5:8080', ...over });
      open.push(o);
      return o;
    };
    /** A QoS 1 publish through the same broker after the offer: once the spy has it, nothing else is on its way. */
    const fence = async (): Promise<void> => {
      const before = seen.length;
      await spy.publishAsync(`${topics.prefix}/fence`, 'fence', { qos: 1 });
      await until(() => seen.slice(before).some((p) => p.topic.endsWith('/fence')));
    };

    it('publishes one non-retained cmd/ota to each given device and to no other', async () => {
      const counts: string[] = [];
      const o = await orchestrator({ metrics: { countCommand: (outcome) => counts.push(outcome) } });
      const result = await o.offer(['ESP32-00000001', 'ESP32-00000003', 'ESP32-00000001'], release, { rollout: 'canary-10' });
      await fence();
      const commands = seen.filter((p) => p.topic.endsWith('/cmd/ota'));
      expect(result).toEqual({ published: ['ESP32-00000001', 'ESP32-00000003'], failed: [] });
      expect(commands.map((p) => p.topic).sort()).toEqual([topics.cmdOta('ESP32-00000001'), topics.cmdOta('ESP32-00000003')]);
      for (const p of commands) {
        expect(p.retain).toBe(false);
        expect(JSON.parse(p.payload.toString())).toEqual({
          url: 'http://10.0.0.5:8080/api/firmware/download/1.4.3?device_model=lilygo-t-display-s3-heater',
          version: '1.4.3', checksum: release.checksum_sha256,
        });
      }
      expect(counts).toEqual(['published', 'published']);
    });

    it('uses the legacy profile\'s devices/ topics when asked', async () => {
      topics = makeTopics({ prefix: topics.prefix, profile: 'paku-legacy' });
      const o = await orchestrator();
      await o.offer(['esp32_001'], release);
      await fence();
      expect(seen.filter((p) => p.topic.endsWith('/cmd/ota')).map((p) => p.topic)).toEqual([`${topics.prefix}/devices/esp32_001/cmd/ota`]);
    });

    it('refuses a device id that cannot be a topic level before publishing anything', async () => {
      const o = await orchestrator();
      await expect(o.offer(['ok-1', 'bad/id', 'ok-2'], release)).rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_TOPIC' });
      await expect(o.offer(['wild+card'], release)).rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_TOPIC' });
      await fence();
      expect(seen.filter((p) => p.topic.endsWith('/cmd/ota'))).toEqual([]);
    });

    it('refuses a command the device\'s 1 KiB buffer would drop, before publishing anything', async () => {
      const o = await orchestrator({ downloadBaseUrl: `http://example.org/${'x'.repeat(900)}` });
      await expect(o.offer(['d1'], release)).rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_PAYLOAD_TOO_LARGE' });
      await fence();
      expect(seen.filter((p) => p.topic.endsWith('/cmd/ota'))).toEqual([]);
      expect(devicePacketBytes(topics.cmdOta('d1'), JSON.stringify(otaCommand(release, 'http://10.0.0.5:8080'))))
        .toBeLessThanOrEqual(MAX_DEVICE_PACKET_BYTES);
    });

    it('delivers to a thousand devices with bounded publishes in flight', async () => {
      const o = await orchestrator({ maxInFlight: 16 });
      const ids = Array.from({ length: 1000 }, (_, i) => `ESP32-${i.toString(16).padStart(8, '0').toUpperCase()}`);
      const result = await o.offer(ids, release);
      expect(result.published).toEqual(ids);
      await fence();
      expect(new Set(seen.filter((p) => p.topic.endsWith('/cmd/ota')).map((p) => p.topic))).toEqual(new Set(ids.map((id) => topics.cmdOta(id))));
    });

    it('refuses to offer after close, with a typed error', async () => {
      const o = await orchestrator();
      await o.close();
      await expect(o.offer(['d1'], release)).rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_CLOSED' });
    });
  });
}

describe('orchestrator when the broker goes away', () => {
  it('reports the devices it could not reach as failed instead of waiting for a reconnect that may never come', async () => {
    const target = brokerTargets[0];
    if (!target) throw new Error('aedes in memory is always a target');
    const broker = await target.open();
    const counts: string[] = [];
    const o = await Orchestrator.create({ clientFactory: broker.factory, topics: makeTopics({ prefix: uniquePrefix('orch-gone') }),
      logger: recordingLogger().logger, downloadBaseUrl: 'http://10.0.0.5:8080', metrics: { countCommand: (x) => counts.push(x) } });
    await broker.close();
    const offered = o.offer(['d1', 'd2'], release);
    await o.close();
    const result = await offered;
    expect(result.published).toEqual([]);
    expect(result.failed.map((f) => [f.device_id, f.error.code])).toEqual([['d1', 'OTASIM_ERR_MQTT_PUBLISH'], ['d2', 'OTASIM_ERR_MQTT_PUBLISH']]);
    expect(counts).toEqual(['failed', 'failed']);
  });
});
