import { openPgliteHarness } from './store-harness.js';
import { storeSuite } from './store.suite.js';

storeSuite('PGlite (data directory)', () => openPgliteHarness(true));
