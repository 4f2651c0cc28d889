/**
 * A command stays queued for its device until the device answers: the orchestrator publishes it
 * again when the device announces itself online without a result for it (AWS IoT Jobs, hawkBit).
 * Regression: after a server restart (its embedded broker with it) or a broker outage, a clean
 * session device missed its command, or its QoS 0 result was dropped, and the plan waited for an
 * outcome that never came (scenarios/server-restart.yaml: devices left on the old release).
 */
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../protocol/clock.js';
import { topics as makeTopics, type Topics } from '../../protocol/topics.js';
import { EmbeddedBroker, endClient } from '../../server/broker/index.js';
import { Orchestrator } from '../../server/mqtt/index.js';
import { unanswered } from '../../server/rollout/offer.js';
import { recordingLogger, until } from './mqtt-helpers.js';

const release = { version: '2.0.0', device_model: 'esp32', checksum_sha256: 'cd'.repeat(32) };
let broker: EmbeddedBroker;
let topics: Topics;
let clock: VirtualClock;
const open: Array<{ close(): Promise<void> } | MqttClient> = [];

beforeEach(async () => {
  broker = await EmbeddedBroker.create();
  topics = makeTopics({ prefix: 'reoffer' });
  clock = new VirtualClock();
});
afterEach(async () => {
  for (const o of open.splice(0)) await ('endAsync' in o ? endClient(o, true) : o.close());
  await broker.close();
});

async function orchestrator(maxRepeats?: number): Promise<Orchestrator> {
  const o = await Orchestrator.create({ clientFactory: broker.clientFactory, topics, logger: recordingLogger().logger,
    downloadBaseUrl: 'http://127.0.0.1:8080', clock, repeatAfterMs: 5_000, ...(maxRepeats === undefined ? {} : { maxRepeats }) });
  open.push(o);
  return o;
}

/** A paku-core-like device: clean session, cmd/ota at QoS 0; counts the commands it gets. */
async function device(id: string): Promise<{ c: MqttClient; commands: string[]; announce(version: string, retain?: boolean): Promise<void>; result(version: string): Promise<void> }> {
  const commands: string[] = [];
  const c = await broker.connect({ clientId: id, clean: true, reconnectPeriod: 0 }, (fresh) => fresh.on('message', (t, p) => {
    if (t === topics.cmdOta(id)) commands.push(p.toString());
  }));
  open.push(c);
  await c.subscribeAsync(topics.cmdOta(id), { qos: 0 });
  return {
    c, commands,
    announce: async (version, retain = false) => { await c.publishAsync(topics.edgeStatus(id), JSON.stringify({ online: true, device_id: id, firmware_version: version }), { qos: 1, retain }); },
    result: async (version) => { await c.publishAsync(topics.otaReply(id, 'result'), JSON.stringify({ current_version: '1.0.0', target_version: version, success: false, result_code: 2, message: 'Download failed' }), { qos: 1 }); },
  };
}

/** Let the device's result arrive, then the orchestrator's wait after an announcement run out. */
async function graceOver(c: MqttClient): Promise<void> {
  await settle(c);
  clock.advance(5_000);
}

/** Settle: a QoS 1 round trip through the broker after the last message. */
const settle = async (c: MqttClient): Promise<void> => { await c.publishAsync('reoffer/settle', 'x', { qos: 1 }); await new Promise((r) => setTimeout(r, 30)); };

describe('a command awaits its device\'s result', () => {
  it('a device that was offline when commanded gets the command when it announces itself', async () => {
    const o = await orchestrator();
    const r = await o.offer(['dev-1'], release);
    expect(r.published).toEqual(['dev-1']); // the broker took it; a clean-session device was not there to get it
    const d = await device('dev-1');
    expect(d.commands).toHaveLength(0);
    await d.announce('1.0.0');
    await settle(d.c);
    expect(d.commands).toHaveLength(0); // its result may still follow its announcement
    clock.advance(5_000);
    await until(() => d.commands.length === 1);
    expect(JSON.parse(d.commands[0] as string)).toMatchObject({ version: '2.0.0' });
    expect(o.awaiting).toBe(1);
  });

  it('a result ends the wait; an announcement of the version ends it too; neither is commanded again', async () => {
    const o = await orchestrator();
    const a = await device('dev-a');
    const b = await device('dev-b');
    await o.offer(['dev-a', 'dev-b'], release);
    await until(() => a.commands.length === 1 && b.commands.length === 1);
    await a.result('2.0.0');
    await b.announce('2.0.0');
    await until(() => o.awaiting === 0);
    await a.announce('1.0.0');
    await graceOver(a.c);
    await settle(a.c);
    expect([a.commands.length, b.commands.length]).toEqual([1, 1]);
  });

  it('a result right after the announcement (an image rolled back at boot) cancels the repeat', async () => {
    const o = await orchestrator();
    const d = await device('dev-rb');
    await o.offer(['dev-rb'], release);
    await until(() => d.commands.length === 1);
    await d.announce('1.0.0'); // the old image runs again
    await d.result('2.0.0'); // and says why
    await graceOver(d.c);
    await settle(d.c);
    expect(d.commands).toHaveLength(1);
    expect(o.awaiting).toBe(0);
  });

  it('a retained status (the broker replaying the last one) repeats nothing; repeats stop at maxRepeats', async () => {
    const d = await device('dev-r');
    await d.announce('1.0.0', true);
    const o = await orchestrator(2);
    await o.offer(['dev-r'], release);
    await until(() => d.commands.length === 1);
    await settle(d.c);
    expect(d.commands).toHaveLength(1); // the retained copy delivered at subscription did not count
    for (let i = 0; i < 4; i++) {
      await d.announce('1.0.0');
      await graceOver(d.c);
      await settle(d.c);
    }
    expect(d.commands).toHaveLength(3); // the offer and two repeats
  });

  it('a restarted server expects what its plans commanded: the unanswered devices get it when they come back', async () => {
    const state = { devices: { 'dev-x': { state: 'in_progress' }, 'dev-y': { state: 'success' }, 'dev-z': { state: 'offered' } } };
    expect(unanswered(state)).toEqual(['dev-x', 'dev-z']);
    expect(unanswered(null)).toEqual([]);
    const o = await orchestrator();
    o.expect(unanswered(state), release);
    const x = await device('dev-x');
    const y = await device('dev-y');
    await x.announce('1.0.0');
    await y.announce('1.0.0');
    await graceOver(y.c);
    await until(() => x.commands.length === 1);
    await settle(y.c);
    expect(y.commands).toHaveLength(0);
  });

  it('maxRepeats 0 turns repeats off', async () => {
    const o = await orchestrator(0);
    await o.offer(['dev-0'], release);
    const d = await device('dev-0');
    await d.announce('1.0.0');
    await graceOver(d.c);
    await settle(d.c);
    expect(d.commands).toHaveLength(0);
  });
});
