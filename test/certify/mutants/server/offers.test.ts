/** Server mutants that offer the wrong thing: targeting, sticky buckets, same version, downgrade. */
import { describeMutants } from './suite-on-mutants.js';

describeMutants('certify server: targeting and offer mutants', [
  'untargeted', 'group-ignored', 'rehash-per-rollout', 'rehash-per-request', 'same-version', 'downgrade',
]);
