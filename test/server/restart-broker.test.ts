/**
 * The embedded broker keeps across a restart what a real broker keeps (Mosquitto with persistence):
 * the sessions of clean-session-false clients, the QoS 1 messages queued for them, and retained
 * messages. Regression: a server restart mid-rollout lost every device session, so commands sent
 * before a device reconnected went to nobody (scenarios/server-restart.yaml ended in ERROR).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../server/broker/index.js';

let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'otasim-broker-state-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

/** Connect `clientId` in memory; messages go to `got` from the first packet on. */
async function client(b: EmbeddedBroker, clientId: string, clean: boolean, got: string[] = []): Promise<{ c: MqttClient; got: string[]; present: boolean }> {
  let present = false;
  const c = await b.connect({ clientId, clean, reconnectPeriod: 0, protocolVersion: 4 }, (fresh) => {
    fresh.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    fresh.on('connect', (ack) => { present = ack.sessionPresent; });
  });
  return { c, got, present };
}

const until = async (pred: () => boolean): Promise<void> => {
  while (!pred()) await new Promise((r) => setTimeout(r, 5));
};

describe('embedded broker state across a restart', () => {
  it('a persistent session, its queued QoS 1 messages and retained messages survive; a clean session does not', async () => {
    const file = join(dir, 'broker', 'state.json');
    const first = await EmbeddedBroker.create({ stateFile: file });
    const device = await client(first, 'dev-1', false);
    await device.c.subscribeAsync('paku/edge/dev-1/cmd/ota', { qos: 1 });
    const cleanOne = await client(first, 'dev-clean', true);
    await cleanOne.c.subscribeAsync('paku/edge/dev-clean/cmd/ota', { qos: 1 });
    await device.c.endAsync();
    await cleanOne.c.endAsync();
    const server = await client(first, 'server', true);
    await server.c.publishAsync('paku/edge/dev-1/cmd/ota', '{"version":"2.0.0"}', { qos: 1 });
    await server.c.publishAsync('paku/edge/dev-clean/cmd/ota', '{"version":"2.0.0"}', { qos: 1 });
    await server.c.publishAsync('paku/edge/dev-1/status', '{"online":true}', { qos: 1, retain: true });
    await server.c.endAsync();
    await first.close();

    const saved = JSON.parse(await readFile(file, 'utf8')) as { sessions: Array<{ client_id: string; outgoing: unknown[] }> };
    expect(saved.sessions.map((s) => [s.client_id, s.outgoing.length])).toEqual([['dev-1', 1]]);

    await using second = await EmbeddedBroker.create({ stateFile: file });
    const back = await client(second, 'dev-1', false);
    expect(back.present).toBe(true);
    await until(() => back.got.length > 0);
    expect(back.got).toEqual(['paku/edge/dev-1/cmd/ota {"version":"2.0.0"}']);
    const watcher = await client(second, 'watcher', true);
    await watcher.c.subscribeAsync('paku/edge/+/status', { qos: 0 });
    await until(() => watcher.got.length > 0);
    expect(watcher.got).toEqual(['paku/edge/dev-1/status {"online":true}']);
    const cleanBack = await client(second, 'dev-clean', true);
    expect(cleanBack.present).toBe(false);
    for (const x of [back, watcher, cleanBack]) await x.c.endAsync();
  });

  it('a message acknowledged by the device is not delivered again after the restart', async () => {
    const file = join(dir, 'state.json');
    const first = await EmbeddedBroker.create({ stateFile: file });
    const device = await client(first, 'dev-2', false);
    await device.c.subscribeAsync('t/dev-2', { qos: 1 });
    const server = await client(first, 'server', true);
    await server.c.publishAsync('t/dev-2', 'one', { qos: 1 });
    await until(() => device.got.length === 1);
    await new Promise((r) => setTimeout(r, 20)); // the device's PUBACK reaches the broker
    await device.c.endAsync();
    await server.c.endAsync();
    await first.close();
    await using second = await EmbeddedBroker.create({ stateFile: file });
    const back = await client(second, 'dev-2', false);
    expect(back.present).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(back.got).toEqual([]);
    await back.c.endAsync();
  });

  it('an unreadable state file is logged and ignored: the broker starts without sessions instead of failing', async () => {
    const file = join(dir, 'state.json');
    for (const junk of ['{not json', '{"version":2,"sessions":[]}']) {
      await writeFile(file, junk);
      await using b = await EmbeddedBroker.create({ stateFile: file });
      const c = await client(b, 'dev-3', false);
      expect(c.present).toBe(false);
      await c.c.endAsync();
    }
  });

  it('without a state file nothing is kept (the default, as a broker without persistence)', async () => {
    const first = await EmbeddedBroker.create();
    const device = await client(first, 'dev-4', false);
    await device.c.subscribeAsync('t/dev-4', { qos: 1 });
    await device.c.endAsync();
    await first.close();
    await using second = await EmbeddedBroker.create();
    const back = await client(second, 'dev-4', false);
    expect(back.present).toBe(false);
    await back.c.endAsync();
  });
});
