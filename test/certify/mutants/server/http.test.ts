/** Server mutants behind the HTTP seam: downloads, the API key and bad input. */
import { describeMutants } from './suite-on-mutants.js';

describeMutants('certify server: download, auth and bad-input mutants', [
  'ignores-range', 'wrong-checksum-header', 'wrong-content-length', 'accepts-wrong-key', 'no-auth-on-update-status', 'html-500-on-bad-input',
]);
