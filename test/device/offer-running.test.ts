/**
 * An offer of the version a device already runs (a command repeated after a broker outage or a
 * server restart): the esp-idf device flashes nothing and reports the job as done, its version
 * announced again, rather than a `not_newer` failure that a server counts as a failed update.
 */
import { describe, expect, it } from 'vitest';
import { UpdateStatusBody } from '../../protocol/payloads.js';
import { parseDeviceConfig } from '../../simulator/device/index.js';
import { offerFromCheck, offerFromCommand } from '../../simulator/device/offer.js';
import { Loopback, fileServer, image, sha256 } from './loopback.js';

const IMG = image('1.1.0');
const OFFER = { url: '/fw/1.1.0', version: '1.1.0', checksum: sha256(IMG) };
const server = fileServer({ '/fw/1.1.0': IMG, '/fw/1.0.0': image('1.0.0') });
const results = (d: Loopback): Array<Record<string, unknown>> =>
  d.published.filter((p) => p.topic.endsWith('/ota/result')).map((p) => JSON.parse(p.payload) as Record<string, unknown>);

describe('an offer of the running version', () => {
  it('is read as a job already done; an older version is still refused as not newer', () => {
    const config = parseDeviceConfig({ deviceId: 'd1', mac: 'AA:BB:CC:00:00:01' });
    expect(offerFromCommand(config, '1.1.0', JSON.stringify(OFFER))).toMatchObject({ alreadyRunning: true, target: '1.1.0' });
    expect(offerFromCommand(config, '1.1.0', JSON.stringify({ ...OFFER, version: '1.0.0' }))).toMatchObject({ refused: 'not_newer' });
    // allowDowngrade (a forced install) flashes the same version again.
    expect(offerFromCommand(parseDeviceConfig({ ...config, allowDowngrade: true }), '1.1.0', JSON.stringify(OFFER))).toMatchObject({ url: '/fw/1.1.0' });
    const check = JSON.stringify({ update_available: true, latest_version: '1.1.0', download_url: '/fw/1.1.0', checksum_sha256: OFFER.checksum });
    expect(offerFromCheck(config, '1.1.0', 200, check)).toMatchObject({ alreadyRunning: true });
  });

  it('a repeated command after an update: no second download, a success result and the version announced again', () => {
    const d = new Loopback({ server }).start();
    d.offer(OFFER);
    expect(d.running).toBe('ota_1:1.1.0');
    const downloads = d.requests.length;
    const before = d.statusLog.length;
    d.offer(OFFER);
    expect(d.requests).toHaveLength(downloads);
    expect(d.statusLog.slice(before)).toEqual(['edge running 1.1.0', 'ota/result ok 1.1.0']);
    expect(results(d).at(-1)).toMatchObject({ success: true, result_code: 0, current_version: '1.1.0', target_version: '1.1.0' });
    expect(d.running).toBe('ota_1:1.1.0');
    expect(d.state.phase).toBe('idle');
    expect(d.state.nvs.jobs).toBe(1);
  });

  it('over HTTP the report is a success for the running version', () => {
    const d = new Loopback({ server, config: { reportVia: 'both' } }).start();
    d.offer({ url: '/fw/1.0.0', version: '1.0.0' });
    expect(d.requests).toHaveLength(0);
    const body = d.httpReports.at(-1);
    expect(UpdateStatusBody.safeParse(body).success).toBe(true);
    expect(body).toMatchObject({ firmware_version: '1.0.0', status: 'success', progress_percent: 100 });
    expect(results(d)).toEqual([expect.objectContaining({ success: true, current_version: '1.0.0', target_version: '1.0.0' })]);
  });

  it('a polling device offered its own version checks again later without reporting anything', () => {
    const d = new Loopback({
      server, config: { mode: 'poll', pollIntervalMs: 60_000 },
      check: () => ({ status: 200, body: JSON.stringify({ update_available: true, latest_version: '1.0.0', download_url: '/fw/1.0.0' }) }),
    }).start(200_000);
    expect(d.requests).toHaveLength(0);
    expect(d.httpReports).toHaveLength(0);
    expect(d.lines.some((l) => l.includes('already runs'))).toBe(true);
  });

  it('paku-core has no version check (facts §4.1): it flashes its own version again, so the server must not offer it', () => {
    const d = new Loopback({ server, config: { behaviour: 'paku-core' } }).start();
    d.offer({ url: '/fw/1.0.0', version: '1.0.0' });
    expect(d.requests.length).toBeGreaterThan(0);
  });
});
