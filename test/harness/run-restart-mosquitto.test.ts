/**
 * A server restart in the middle of updates, with the devices and the server on a broker that
 * does not restart with it (the machine's Mosquitto at MQTT_URL): sessions survive, so offers and
 * results sent around the restart are not lost and every device ends on the new release.
 * Skips with one line when MQTT_URL is unset or unreachable.
 */
import { describe, expect, it } from 'vitest';
import { openBroker } from '../../harness/brokers/index.js';
import { parseScenario, runScenario } from '../../harness/index.js';

const url = process.env.MQTT_URL;
let reachable = false;
if (url !== undefined) {
  try {
    await (await openBroker(url)).close();
    reachable = true;
  } catch { /* reported below */ }
}
if (!reachable) process.stderr.write(`run-restart-mosquitto: MQTT_URL ${url ?? '(unset)'} is not reachable; skipping\n`);

describe.skipIf(!reachable)('server restart with an external broker', () => {
  it('restarts mid-update and every device still ends on 2.0.0', async () => {
    const prefix = `otasim-restart-${process.pid}-${Date.now()}`;
    const r = await runScenario(parseScenario(`name: restart-external-broker
certifies: "a server restart mid-update loses nothing when the broker outlives it"
time_scale: 10
environment: { broker: "${url}", topic_prefix: ${prefix} }
fleet: { size: 30, prefix: rx${process.pid % 1000} }
firmware:
  - { id: good, version: 2.0.0, size: 128KiB }
steps:
  - upload: good
  - rollout: { name: all, firmware: good, target: all }
  - wait: { for: { outcomes: ">= 3" }, timeout: 3m }
  - fault: { server_restart: { down: 2s } }
  - wait: { for: { rollout: all, state: completed }, timeout: 5m }
assert:
  versions: { "2.0.0": "== 100%" }
  bricked: 0
`, 'restart-mosquitto.yaml'), { quiet: true });
    expect(r.error, JSON.stringify({ errors: r.fleet.errors, counts: r.fleet.counts })).toBeUndefined();
    expect(r.verdict).toBe('pass');
    expect(r.events.filter((e) => e.kind === 'fault').map((e) => e.detail)).toEqual(['server restart: closing', 'server restart: listening again']);
  }, 120_000);
});
