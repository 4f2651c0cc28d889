/**
 * Firmware trust end to end (issue 9 "Signed firmware", "Anti-rollback"): the server keeps a
 * signed image byte for byte and records which key signed it; a device that trusts that key
 * installs it, refuses a tampered copy whose plain checksums were forged, and reports the refusal
 * with its reason, which the server stores; a device whose eFuse holds secure_version 2 refuses
 * a release built with secure_version 1, and says so.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSignedImage, inspectImage, keyDigest, signImage } from '../../simulator/esp32/index.js';
import { repairImage } from '../../bench/fuzz/esp32-targets.js';
import { http, startServer, upload, SERVER_START_MS, type TestServer } from '../server/http-harness.js';
import { deviceRow, rollout, startDevice, until, updates } from '../device/e2e-kit.js';
import { image } from '../device/runtime-kit.js';

const pem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const trusted = pem();
const SIZE = 128 * 1024;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A signed image with one byte of segment data changed and its checksum and SHA-256 forged to match. */
function tampered(signed: Uint8Array): Uint8Array {
  const out = Uint8Array.from(signed);
  const seg = inspectImage(out).segments.at(-1);
  if (seg === undefined) throw new Error('no segment');
  const at = seg.dataOffset + (seg.length >> 1);
  out[at] = (out[at] ?? 0) ^ 0x5a;
  repairImage(out);
  return out;
}

let s: TestServer;
const good = signImage(image('2.0.0', { size: SIZE }), trusted);
const bad = tampered(signImage(image('2.0.1', { size: SIZE }), trusted));

beforeAll(async () => {
  s = await startServer({ topicPrefix: 'trust' });
  expect((await upload(s.url, '2.0.0', 'esp32', good, '&is_signed=true')).status).toBe(200);
  expect((await upload(s.url, '2.0.1', 'esp32', bad, '&is_signed=true')).status).toBe(200);
  expect((await upload(s.url, '2.0.2', 'esp32', image('2.0.2', { size: SIZE }), '&is_signed=true')).status).toBe(200);
  expect((await upload(s.url, '3.0.0', 'esp32', image('3.0.0', { size: SIZE, secureVersion: 1 }))).status).toBe(200);
  expect((await upload(s.url, '3.0.1', 'esp32', image('3.0.1', { size: SIZE, secureVersion: 2 }))).status).toBe(200);
}, SERVER_START_MS);
afterAll(async () => {
  await s?.[Symbol.asyncDispose]();
});

describe('signed firmware through the server', () => {
  it('the tampered copy still passes the plain image check: only the signature can catch it', () => {
    expect(inspectImage(bad).valid).toBe(true);
    const v = checkSignedImage(bad, inspectImage(bad).size ?? 0, { trustedKeyDigests: [keyDigest(trusted)] });
    expect(v.ok).toBe(false);
  });

  it('stores the signed image byte for byte and records the key that signed it', async () => {
    const dl = await http(s.url, 'GET', '/api/firmware/download/2.0.0?device_model=esp32');
    expect(dl.status).toBe(200);
    expect(hex(dl.bytes)).toBe(hex(good));
    const len = inspectImage(dl.bytes).size ?? 0;
    expect(checkSignedImage(dl.bytes, len, { trustedKeyDigests: [keyDigest(trusted)] }).ok).toBe(true);
    const rel = await s.server.store.getRelease('2.0.0', 'esp32');
    expect(rel?.is_signed).toBe(true);
    expect(rel?.metadata?.signature).toEqual({ verified: true, scheme: 'ecdsa-p256', key_digest: hex(keyDigest(trusted)), block: 0 });
  });

  it('records why an is_signed upload carries no verifying signature (tampered, or not signed at all)', async () => {
    expect((await s.server.store.getRelease('2.0.1', 'esp32'))?.metadata?.signature).toMatchObject({ verified: false, failure: 'signature-bad' });
    expect((await s.server.store.getRelease('2.0.2', 'esp32'))?.metadata?.signature).toMatchObject({ verified: false, failure: 'no-signature-sector' });
  });

  it('a device trusting the key refuses the tampered image, stays on its firmware and reports why; the server stores the reason', async () => {
    const build = { chip: 'esp32' as const, rollback: true, secureBoot: { trustedKeyDigests: [keyDigest(trusted)] } };
    await using dev = startDevice(s, { id: 'trust_tampered', image: signImage(image('1.0.0', { size: SIZE }), trusted), build });
    await until('registered', () => deviceRow(s, 'trust_tampered'));
    await rollout(s, 'trust-tampered', '2.0.1', 'esp32', ['trust_tampered']);
    const result = await until('failure result', () => dev.published('result').find((r) => r.success === false));
    expect(result).toMatchObject({ target_version: '2.0.1', current_version: '1.0.0', reason: 'validate_failed', esp_err: 'ESP_ERR_OTA_VALIDATE_FAILED' });
    expect(dev.rt.state.running).toMatchObject({ version: '1.0.0', otaState: 'VALID' });
    const rows = await until('stored failure', async () => (await updates(s, 'trust_tampered')).find((u) => u.status === 'failed'));
    expect(rows).toMatchObject({ firmware_version: '2.0.1' });
    expect(rows.error_message ?? '').not.toBe('');
  });
});

describe('anti-rollback through the server', () => {
  const build = { chip: 'esp32' as const, rollback: true, antiRollback: true };

  it('a device at secure_version 2 refuses a release built with secure_version 1, and reports the reason', async () => {
    await using dev = startDevice(s, { id: 'trust_sv', image: image('1.0.0', { size: SIZE, secureVersion: 2 }), build });
    await until('registered', () => deviceRow(s, 'trust_sv'));
    await rollout(s, 'trust-sv1', '3.0.0', 'esp32', ['trust_sv']);
    const result = await until('failure result', () => dev.published('result').find((r) => r.success === false));
    expect(result).toMatchObject({ target_version: '3.0.0', reason: 'secure_version', esp_err: 'ESP_ERR_OTA_SMALL_SEC_VER' });
    expect(dev.rt.state.running).toMatchObject({ version: '1.0.0' });
    const row = await until('stored failure', async () => (await updates(s, 'trust_sv')).find((u) => u.status === 'failed'));
    expect(row.firmware_version).toBe('3.0.0');
  });

  it('the same device takes a release at its own secure_version', async () => {
    await using dev = startDevice(s, { id: 'trust_sv2', image: image('1.0.0', { size: SIZE, secureVersion: 2 }), build });
    await until('registered', () => deviceRow(s, 'trust_sv2'));
    await rollout(s, 'trust-sv2', '3.0.1', 'esp32', ['trust_sv2']);
    await until('success', () => dev.published('result').find((r) => r.success === true));
    expect(dev.rt.state.running).toMatchObject({ version: '3.0.1', otaState: 'VALID', secureVersion: 2 });
  });
});
