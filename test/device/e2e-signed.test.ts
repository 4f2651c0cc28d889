/**
 * Signed firmware on one device (issue 4: "optionally check the signature with an embedded public
 * key"): a device whose eFuses trust one Secure Boot v2 key installs an update signed with it, and
 * refuses (and reports) an unsigned one and one signed by another key, staying on its firmware.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest, signImage } from '../../simulator/esp32/index.js';
import { startServer, upload, type TestServer } from '../server/http-harness.js';
import { deviceRow, rollout, startDevice, until } from './e2e-kit.js';
import { image } from './runtime-kit.js';

const pem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const trusted = pem();
const stranger = pem();
const SIZE = 128 * 1024;
const build = { chip: 'esp32' as const, rollback: true, secureBoot: { trustedKeyDigests: [keyDigest(trusted)] } };

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ topicPrefix: 'e2es' });
  expect((await upload(s.url, '2.0.0', 'esp32', signImage(image('2.0.0', { size: SIZE }), trusted), '&is_signed=true')).status).toBe(200);
  expect((await upload(s.url, '3.0.0', 'esp32', image('3.0.0', { size: SIZE }))).status).toBe(200);
  expect((await upload(s.url, '4.0.0', 'esp32', signImage(image('4.0.0', { size: SIZE }), stranger), '&is_signed=true')).status).toBe(200);
});
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
});

describe('a device that trusts one signing key', () => {
  it('installs an update signed with that key', async () => {
    await using dev = startDevice(s, { id: 'signed_ok', image: signImage(image('1.0.0', { size: SIZE }), trusted), build });
    await until('registered', () => deviceRow(s, 'signed_ok'));
    await rollout(s, 'signed-ok', '2.0.0', 'esp32', ['signed_ok']);
    await until('success', () => dev.published('result').find((r) => r.success === true));
    expect(dev.rt.state.running).toMatchObject({ version: '2.0.0', otaState: 'VALID' });
  });

  it.each([['3.0.0', 'unsigned'], ['4.0.0', 'signed by another key']])('refuses %s (%s) and stays on its firmware', async (version, _what) => {
    const id = `signed_refuse_${version.replace(/\./g, '')}`;
    await using dev = startDevice(s, { id, image: signImage(image('1.0.0', { size: SIZE }), trusted), build });
    await until('registered', () => deviceRow(s, id));
    await rollout(s, `refuse-${version}`, version, 'esp32', [id]);
    const result = await until('failure result', () => dev.published('result').find((r) => r.success === false));
    expect(result).toMatchObject({ target_version: version, current_version: '1.0.0', reason: 'validate_failed', esp_err: 'ESP_ERR_OTA_VALIDATE_FAILED' });
    expect(dev.rt.state.running).toMatchObject({ version: '1.0.0', partition: 'app0', otaState: 'VALID' });
  });
});
