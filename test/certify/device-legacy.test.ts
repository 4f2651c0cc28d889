/**
 * The device suite on the `paku-legacy` wire profile (`paku/devices/{id}/…`, seed 003's payloads):
 * the same requirements, judged on the legacy topics and shapes.
 */
import { describe, expect, it } from 'vitest';
import { certifyDevice } from '../../harness/certify/device/index.js';

describe('otasim certify device --protocol paku-legacy', () => {
  it('passes the virtual esp-idf device speaking the legacy profile', async () => {
    const r = await certifyDevice({
      deviceId: 'esp32_legacy', protocol: 'paku-legacy', topicPrefix: 'paku', httpPort: 0, mqttPort: 0, host: '127.0.0.1',
      timeoutMs: 30_000, claims: 'esp-idf', virtual: { behaviour: 'esp-idf' },
    });
    expect(r.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(r.findings ?? []).toEqual([]);
  }, 120_000);
});
