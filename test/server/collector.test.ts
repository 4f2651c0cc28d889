import { describe } from 'vitest';
import { collectorSuite } from './collector.suite.js';
import { brokerTargets } from './mqtt-helpers.js';

for (const target of brokerTargets) {
  describe.skipIf(!target.available)(`collector over ${target.name}`, () => collectorSuite(target));
}
