/** Server mutants behind the broker seam: cmd/ota delivery and result collection. */
import { describeMutants } from './suite-on-mutants.js';

describeMutants('certify server: MQTT mutants', ['cmd-never-published', 'cmd-wrong-topic', 'drops-results']);
