/** The broker suite on `memory`: embedded aedes over in-memory duplex streams. */
import { describe, expect, it } from 'vitest';
import { openBroker } from '../../harness/brokers/index.js';
import { providerSuite } from './broker-suite.js';

describe('broker provider: memory', () => {
  providerSuite(() => openBroker('memory'));

  it('runs aedes in this process with no listener, and stops it at close', async () => {
    const broker = await openBroker('memory');
    expect(broker.kind).toBe('memory');
    expect(broker.embedded?.address).toBeNull();
    const client = await broker.connector({ reconnectPeriod: 0 });
    expect(broker.embedded?.connectedClients).toBe(1);
    const gone = new Promise<void>((r) => client.once('close', () => r()));
    await broker.close();
    await gone;
    await broker.close(); // idempotent
    await expect(broker.connector({ reconnectPeriod: 0 })).rejects.toMatchObject({ code: 'OTASIM_ERR_MQTT_CONNECT' });
    client.end(true);
  });
});
