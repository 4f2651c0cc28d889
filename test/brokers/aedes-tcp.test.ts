/** The broker suite on `aedes-tcp`: embedded aedes with a TCP listener on 127.0.0.1, a free port. */
import { describe, expect, it } from 'vitest';
import { openBroker } from '../../harness/brokers/index.js';
import { urlClientFactory } from '../../server/broker/index.js';
import { providerSuite } from './broker-suite.js';

describe('broker provider: aedes-tcp', () => {
  providerSuite(() => openBroker('aedes-tcp'));

  it('listens on 127.0.0.1 at the URL it reports, reachable by any MQTT client; `tcp` names the same provider', async () => {
    await using broker = await openBroker('tcp');
    expect(broker.kind).toBe('aedes-tcp');
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.embedded?.address?.port}`);
    const outside = await urlClientFactory(broker.url ?? '')({ reconnectPeriod: 0 });
    expect(broker.embedded?.connectedClients).toBe(1);
    outside.end(true);
  });
});
