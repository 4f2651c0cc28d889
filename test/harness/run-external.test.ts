/**
 * A scenario against an OTA server the run does not own, as a staging rehearsal runs: the server
 * at a URL with its admin key (read from the environment through `${VAR}`), the devices on that
 * server's broker by URL. The harness only has the admin API and the broker, as it would there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario, preflight, runScenario } from '../../harness/index.js';
import { SERVER_START_MS, startServer, TEST_KEY, type TestServer } from '../server/http-harness.js';

describe('a scenario against an external server', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer();
  }, SERVER_START_MS);
  afterAll(async () => {
    await srv[Symbol.asyncDispose]();
  });

  it('runs through the admin API and the server\'s broker URL, and passes', async () => {
    const s = parseScenario(`name: staging
certifies: "a full rollout on a server reached by URL"
environment:
  server: { url: "${srv.url}", api_key: "\${OTASIM_TEST_STAGING_KEY}" }
  broker: "${srv.server.mqttUrl ?? ''}"
fleet: { size: 12, prefix: ext, device: { boot_ms: 50, self_test_ms: 300, reboot_delay_ms: 200 } }
firmware:
  - { id: good, version: 2.0.0, size: 32KiB }
steps:
  - upload: good
  - rollout: { name: all, firmware: good, target: all }
  - wait: { for: { rollout: all, state: completed }, timeout: 2m }
assert:
  versions: { "2.0.0": "== 100%" }
  success_rate: "== 100%"
  rollout: { all: completed }
`, 'staging.yaml', { env: { OTASIM_TEST_STAGING_KEY: TEST_KEY } });
    await preflight(s);
    const r = await runScenario(s, { quiet: true });
    expect(r.error).toBeUndefined();
    expect(r.verdict).toBe('pass');
    expect(r.clock).toBe('wall');
    // The server's own record agrees with the chips.
    const devices = await srv.server.store.devicesOfModel('esp32');
    expect(devices.filter((d) => d.device_id.startsWith('ext-') && d.current_firmware_version === '2.0.0')).toHaveLength(12);
  }, 120_000);

  it('refuses a wrong key at preflight, before anything starts', async () => {
    const s = parseScenario(`name: wrong-key
certifies: "x"
environment: { server: { url: "${srv.url}", api_key: nope }, broker: "${srv.server.mqttUrl ?? ''}" }
fleet: { size: 1 }
`, 'wrong-key.yaml');
    await expect(preflight(s)).rejects.toThrow(/wrong-key\.yaml: environment\.server: the OTA server is not usable: .*401/);
  });
});
