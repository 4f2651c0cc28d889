import { describe, it } from 'vitest';
import { openPgHarness, postgresReachable } from './store-harness.js';
import { storeSuite } from './store.suite.js';

const reachable = await postgresReachable('store-pg');
if (reachable) storeSuite('PostgreSQL (unique schema)', openPgHarness);
else describe.skip('Store: PostgreSQL', () => it('needs PostgreSQL', () => {}));
