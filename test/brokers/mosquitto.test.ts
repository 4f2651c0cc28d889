/**
 * The broker suite on an external URL: the real Mosquitto at MQTT_URL (the machine's service by
 * default). Skips with mqtt-env's one-line notice when no broker answers there.
 */
import { describe, expect, it } from 'vitest';
import { openBroker } from '../../harness/brokers/index.js';
import { mosquitto } from '../server/mqtt-env.js';
import { providerSuite } from './broker-suite.js';

describe.skipIf(!mosquitto.reachable)(`broker provider: URL (Mosquitto at ${mosquitto.url})`, () => {
  providerSuite(() => openBroker(mosquitto.url));

  it('leaves an external broker running at close', async () => {
    const first = await openBroker(mosquitto.url);
    expect(first.kind).toBe('url');
    expect(first.embedded).toBeNull();
    await first.close();
    await using again = await openBroker(mosquitto.url); // the probe connects again: still up
    expect(again.url).toBe(mosquitto.url);
  });
});
