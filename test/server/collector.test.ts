import { describe } from 'vitest';
import { EmbeddedBroker, urlClientFactory } from '../../server/broker/index.js';
import { collectorSuite } from './collector.suite.js';
import { brokerTargets } from './mqtt-helpers.js';

for (const target of brokerTargets) {
  describe.skipIf(!target.available)(`collector subscribed over ${target.name}`, () => collectorSuite(target, 'subscription'));
}

describe('collector intercepting the embedded broker (devices over TCP)', () => collectorSuite({
  name: 'embedded aedes', available: true,
  open: async () => {
    const b = await EmbeddedBroker.create({ port: 0 });
    return { factory: urlClientFactory(b.url ?? ''), close: () => b.close(), embedded: b };
  },
}, 'embedded'));
