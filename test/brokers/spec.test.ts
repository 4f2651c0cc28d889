/** Broker specs (pure) and the bad input openBroker refuses, each with a typed one-line error. */
import { describe, expect, it } from 'vitest';
import { openBroker, parseBrokerSpec } from '../../harness/brokers/index.js';
import { EmbeddedBroker } from '../../server/broker/index.js';

const image = (spec: string): [string | undefined, string | undefined] => {
  const s = parseBrokerSpec(spec);
  return s.kind === 'container' ? [s.image.repository, s.tag] : [undefined, undefined];
};

describe('parseBrokerSpec', () => {
  it('reads the embedded kinds, with tcp as an alias of aedes-tcp', () => {
    expect(parseBrokerSpec('memory')).toEqual({ kind: 'memory' });
    expect(parseBrokerSpec('aedes-tcp')).toEqual({ kind: 'aedes-tcp' });
    expect(parseBrokerSpec(' tcp ')).toEqual({ kind: 'aedes-tcp' });
  });

  it('keeps broker URLs as given, for every MQTT transport', () => {
    for (const url of ['mqtt://127.0.0.1:1883', 'mqtts://user:pw@broker.example:8883', 'ws://10.0.0.2:8080/mqtt', 'wss://b.example/mqtt']) {
      expect(parseBrokerSpec(url)).toEqual({ kind: 'url', url });
    }
  });

  it('names container images with their pinned tag unless a tag is given; hivemq and emqx have short names', () => {
    expect(image('container:eclipse-mosquitto')).toEqual(['eclipse-mosquitto', '2.0.20']);
    expect(image('container:eclipse-mosquitto:2.0.18')).toEqual(['eclipse-mosquitto', '2.0.18']);
    expect(image('container:emqx/emqx')).toEqual(['emqx/emqx', '5.8.6']);
    expect(image('container:emqx:5.7.0')).toEqual(['emqx/emqx', '5.7.0']);
    expect(image('container:hivemq')).toEqual(['hivemq/hivemq-ce', '2024.3']);
    expect(image('container:hivemq/hivemq-ce:2023.5')).toEqual(['hivemq/hivemq-ce', '2023.5']);
  });

  it.each([
    ['', /expected memory, aedes-tcp/],
    ['mosquitto', /expected memory, aedes-tcp, an mqtt:\/\/.*container:NAME \(eclipse-mosquitto, emqx\/emqx, hivemq\)/],
    ['http://127.0.0.1:1883', /scheme http: is not an MQTT transport/],
    ['mqtt://', /not a URL|names no host/],
    ['container:rabbitmq', /unknown container image "rabbitmq"; use one of eclipse-mosquitto, emqx\/emqx, hivemq/],
    ['container:eclipse-mosquitto:bad tag!', /"bad tag!" is not a Docker tag/],
  ])('refuses %j with a usage error that says what is accepted', (spec, message) => {
    let error: unknown;
    try {
      parseBrokerSpec(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'OTASIM_ERR_USAGE' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('openBroker: external URLs', () => {
  it('an unreachable URL fails at open, once, with a one-line connect error naming it', async () => {
    const gone = await EmbeddedBroker.create({ port: 0 });
    const url = gone.url ?? '';
    await gone.close(); // the port is now closed: ECONNREFUSED
    const error = await openBroker(url).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'MqttError', code: 'OTASIM_ERR_MQTT_CONNECT' });
    expect((error as Error).message).toContain(url);
    expect((error as Error).message).not.toContain('\n');
  });

  it('with probe: false, opens without connecting; the first client then gets the connect error', async () => {
    const gone = await EmbeddedBroker.create({ port: 0 });
    const url = gone.url ?? '';
    await gone.close();
    await using broker = await openBroker(url, { probe: false });
    expect(broker.url).toBe(url);
    await expect(broker.connector({ reconnectPeriod: 0 })).rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_CONNECT' });
  });

  it('keeps a password out of the label', async () => {
    await using target = await EmbeddedBroker.create({ port: 0 });
    const url = `mqtt://user:s3cret@127.0.0.1:${target.address?.port}`;
    await using broker = await openBroker(url);
    expect(broker.label).toBe(`broker at mqtt://user:***@127.0.0.1:${target.address?.port}`);
    expect(broker.url).toBe(url);
  });

  it('applies clientOptions under every client\'s own options', async () => {
    await using target = await EmbeddedBroker.create({ port: 0 });
    await using broker = await openBroker(target.url ?? '', { clientOptions: { clientId: 'from-defaults', keepalive: 17 } });
    const a = await broker.connector({ reconnectPeriod: 0 });
    const b = await broker.connector({ reconnectPeriod: 0, clientId: 'own' });
    expect([a.options.clientId, a.options.keepalive, b.options.clientId]).toEqual(['from-defaults', 17, 'own']);
    a.end(true);
    b.end(true);
  });
});
