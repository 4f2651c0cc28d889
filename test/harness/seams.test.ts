/**
 * The seams scenario runs act through, tested on their own: the scaled SystemClock, the network
 * partition gate on real HTTP and MQTT, and the embedded broker's outage switch.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../protocol/clock.js';
import { ConfigError } from '../../protocol/errors.js';
import { EmbeddedBroker } from '../../server/broker/index.js';
import { NetworkGate } from '../../harness/run/partition.js';
import { partitionDevices } from '../../harness/run/steps.js';
import { countBricked, runningVersions } from '../../harness/run/observe.js';
import { VirtualClock } from '../../protocol/clock.js';
import { Fleet } from '../../simulator/fleet/runner.js';
import { Flash } from '../../simulator/esp32/index.js';

describe('SystemClock with a scale', () => {
  it('runs timers in clock time: a 60 s timer fires, and then at least 60 s of clock time have passed', async () => {
    const clock = new SystemClock({ scale: 200 });
    const t0 = clock.now();
    const order: string[] = [];
    const fired = await new Promise<number>((resolve) => {
      clock.setTimer({ delay: 60_000 }, () => {
        order.push('60s');
        resolve(clock.now());
      });
      clock.setTimer({ delay: 30_000 }, () => order.push('30s'));
    });
    expect(fired - t0).toBeGreaterThanOrEqual(60_000);
    expect(order).toEqual(['30s', '60s']);
    expect(clock.scale).toBe(200);
    clock.close();
  }, 30_000);

  it('refuses a scale that is not a positive finite number', () => {
    expect(() => new SystemClock({ scale: 0 })).toThrow(ConfigError);
    expect(() => new SystemClock({ scale: Number.POSITIVE_INFINITY })).toThrow(ConfigError);
  });
});

describe('NetworkGate', () => {
  let server: Server;
  let url: string;
  const agent = new Agent();
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') {
        res.writeHead(200, { 'content-length': '1000000' });
        res.write(Buffer.alloc(1000)); // then nothing: the download hangs until aborted
        return;
      }
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await agent.close();
  });

  it('fails the HTTP of a cut-off device, aborts its download in flight, and leaves the others alone', async () => {
    const gate = new NetworkGate();
    const a = gate.dispatcher('dev-a', agent);
    const b = gate.dispatcher('dev-b', agent);
    const slow = await request(`${url}/slow`, { dispatcher: a });
    const body = slow.body.text();
    gate.cut(['dev-a']);
    await expect(body).rejects.toThrow(/network partition/);
    await expect(request(`${url}/`, { dispatcher: a })).rejects.toThrow(/network partition/);
    expect(await (await request(`${url}/`, { dispatcher: b })).body.text()).toBe('ok');
    gate.heal();
    expect(await (await request(`${url}/`, { dispatcher: a })).body.text()).toBe('ok');
    expect(gate.stats.failedRequests).toBe(2);
  });

  it('drops the MQTT session of a cut-off device and refuses its connects until healed', async () => {
    await using broker = await EmbeddedBroker.create();
    const gate = new NetworkGate();
    const connect = gate.connector((o) => broker.connect({ ...o, reconnectPeriod: 0 }));
    const a = await connect({ clientId: 'dev-a' });
    const b = await connect({ clientId: 'dev-b' });
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    gate.cut(['dev-a']);
    await closed;
    await expect(connect({ clientId: 'dev-a' })).rejects.toThrow(/network partition/);
    expect(b.connected).toBe(true);
    gate.heal();
    const again = await connect({ clientId: 'dev-a' });
    expect(again.connected).toBe(true);
    expect(gate.stats).toMatchObject({ droppedSessions: 1, refusedConnects: 1 });
    again.end(true);
    b.end(true);
  });

  it('picks the same share of devices for the same seed and step, and others for another seed', () => {
    const one = partitionDevices('sim', 0, 100, 0.3, 7, 2);
    expect(one).toHaveLength(30);
    expect(partitionDevices('sim', 0, 100, 0.3, 7, 2)).toEqual(one);
    expect(partitionDevices('sim', 0, 100, 0.3, 8, 2)).not.toEqual(one);
  });
});

describe('EmbeddedBroker outage', () => {
  it('drops every client and refuses connects (CONNACK 3) until it ends', async () => {
    await using broker = await EmbeddedBroker.create();
    const c = await broker.connect({ clientId: 'x', reconnectPeriod: 0 });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    expect(broker.setOutage(true)).toBe(1);
    await closed;
    await expect(broker.connect({ clientId: 'y', reconnectPeriod: 0 })).rejects.toThrow(/[Ss]erver unavailable|could not connect/);
    broker.setOutage(false);
    const d = await broker.connect({ clientId: 'y', reconnectPeriod: 0 });
    expect(d.connected).toBe(true);
    d.end(true);
  });
});

describe('Flash.copy', () => {
  it('shares mappings and duplicates owned sectors: writes on either side never reach the other', () => {
    const image = new Uint8Array(8192).fill(0x11);
    const flash = Flash.create(65_536, [{ addr: 0x4000, data: image }]);
    flash.write(0x1000, Uint8Array.of(1, 2, 3));
    const twin = flash.copy();
    expect(twin.mappings[0]?.data).toBe(image);
    expect([...twin.read(0x1000, 3)]).toEqual([1, 2, 3]);
    twin.erase(0x1000, 4096);
    twin.write(0x4000, Uint8Array.of(0));
    flash.write(0x1004, Uint8Array.of(9));
    expect([...flash.read(0x1000, 5)]).toEqual([1, 2, 3, 0xff, 9]);
    expect(flash.read(0x4000, 1)[0]).toBe(0x11);
    expect([...twin.read(0x1000, 5)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(twin.read(0x4000, 1)[0]).toBe(0);
    expect(image[0]).toBe(0x11);
  });
});

describe('bricked devices', () => {
  it('are the chips whose flash the bootloader can no longer boot from, read through a copy', async () => {
    const clock = new VirtualClock({ start: 1_700_000_000_000 });
    const agent = new Agent();
    // No server and no broker: the devices boot their factory image and keep retrying the network.
    const fleet = Fleet.create({
      devices: 4, serverUrl: 'http://127.0.0.1:9', clock, http: agent, rampPerSecond: 1000,
      mqtt: () => Promise.reject(new Error('no broker here')),
    });
    await clock.advanceAsync(2_000);
    expect(runningVersions(fleet)).toEqual({ '1.0.0': 4 });
    expect(countBricked(fleet)).toBe(0);
    // Erase every app partition of device 2: its next reset would find nothing to boot.
    const chip = fleet.chip(2);
    for (const p of chip?.partitions.filter((x) => x.type === 0x00) ?? []) chip?.flash.erase(p.offset, p.size);
    expect(countBricked(fleet)).toBe(1);
    // The device itself still runs from RAM: the inspection changed nothing on it.
    expect(runningVersions(fleet)).toEqual({ '1.0.0': 4 });
    await fleet.stop();
    await agent.close();
  });
});
