/** Pure pieces of the server: config resolution, device_model → chip, version ordering, offer selection. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError } from '../../protocol/errors.js';
import { DEFAULT_API_KEY, SERVER_OPTIONS, resolveServerConfig } from '../../server/config.js';
import { chipForModel } from '../../server/http/models.js';
import { errorResponse } from '../../server/http/errors.js';
import { wantsJson } from '../../server/http/routes/ops.js';
import { compareVersions, meetsMinVersion } from '../../protocol/versions.js';
import { decidingRollout, devicesToOffer, type OfferRule } from '../../server/rollout/offer.js';
import { ArtifactError, ConflictError, NotFoundError, RequestError, StoreError } from '../../protocol/errors.js';

describe('resolveServerConfig', () => {
  it('defaults: the real service\'s port, embedded store and broker, a warned default key', () => {
    const c = resolveServerConfig();
    expect(c).toMatchObject({
      port: 8080, host: '127.0.0.1', data: './otasim-data', database: null, broker: 'embedded', mqttPort: 1883,
      apiKey: DEFAULT_API_KEY, apiKeyDefaulted: true, topicPrefix: 'paku', protocol: 'paku-edge', bucketing: 'device',
      maxUploadBytes: 16 * 1024 * 1024, statusRequiresKey: false, modelChips: {},
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(resolveServerConfig({ apiKey: 'a-real-key' }).apiKeyDefaulted).toBe(false);
  });

  it('every option in the table names a config key and has help text', () => {
    const keys = Object.keys(resolveServerConfig());
    for (const o of SERVER_OPTIONS) {
      expect(keys).toContain(o.key);
      expect(o.describe.length).toBeGreaterThan(5);
    }
  });

  it('model chips from NAME=CHIP strings or a record', () => {
    expect(resolveServerConfig({ modelChips: ['my-board=esp32s3'] }).modelChips).toEqual({ 'my-board': 'esp32s3' });
    expect(resolveServerConfig({ modelChips: { b: 'esp32c3' } }).modelChips).toEqual({ b: 'esp32c3' });
  });

  it.each([
    [{ port: -1 }, /port/], [{ port: 1.5 }, /port/], [{ mqttPort: 65536 }, /mqtt-port/], [{ apiKey: 'short' }, /8 characters/],
    [{ broker: 'nope' }, /broker/], [{ broker: 'http://x' }, /broker/], [{ database: 'mysql://x' }, /database/],
    [{ topicPrefix: 'a/+' }, /topic-prefix/], [{ topicPrefix: '/a' }, /topic-prefix/], [{ maxUploadBytes: 10 }, /max-upload/],
    [{ modelChips: ['x'] }, /NAME=CHIP/], [{ modelChips: ['x=esp99'] }, /unknown chip/], [{ modelChips: ['../x=esp32'] }, /slug/],
    [{ protocol: 'zigbee' as never }, /protocol/], [{ publicUrl: 'ftp://x' }, /public-url/], [{ databaseSchema: 'Bad-Name' }, /schema/],
  ])('refuses %j with a ConfigError naming the field', (input, re) => {
    expect(() => resolveServerConfig(input)).toThrow(ConfigError);
    expect(() => resolveServerConfig(input)).toThrow(re);
  });
});

describe('chipForModel', () => {
  it.each([
    ['esp32', 'esp32'], ['ESP32', 'esp32'], ['esp32-s3', 'esp32s3'], ['esp32s3', 'esp32s3'], ['esp32_s3', 'esp32s3'],
    ['esp32-c3', 'esp32c3'], ['esp32c6-devkit', 'esp32c6'], ['esp32-c3-mini', 'esp32c3'], ['esp32-heater', 'esp32'],
    ['esp32-ch340c-30pin', 'esp32'], ['lilygo-t-display-s3', 'esp32s3'], ['lilygo-t-display-s3-heater-emu', 'esp32s3'],
    ['waveshare-s3-touch-lcd-43', 'esp32s3'], ['esp32-h2', 'esp32h2'], ['esp32-p4', 'esp32p4'],
  ])('%s → %s', (model, chip) => {
    expect(chipForModel(model)).toEqual({ kind: 'chip', chip });
  });
  it('ESP8266 models are unsupported; unknown boards accept any ESP32 chip; overrides win', () => {
    expect(chipForModel('esp8266-wired-sensors')).toEqual({ kind: 'unsupported', family: 'esp8266' });
    expect(chipForModel('esp8266')).toEqual({ kind: 'unsupported', family: 'esp8266' });
    expect(chipForModel('my-custom-board')).toEqual({ kind: 'any' });
    expect(chipForModel('my-custom-board', { 'my-custom-board': 'esp32c3' })).toEqual({ kind: 'chip', chip: 'esp32c3' });
    expect(chipForModel('esp32', { esp32: 'esp32s2' })).toEqual({ kind: 'chip', chip: 'esp32s2' });
  });
});

describe('versions', () => {
  it('orders numeric cores; unorderable versions compare as null', () => {
    expect(compareVersions('1.2.10', '1.2.9')).toBe(1);
    expect(compareVersions('v1.2', '1.2.0')).toBe(0);
    expect(compareVersions('1.4.2-3-gabcdef', '1.4.2')).toBe(0);
    expect(compareVersions('0.9', '1.0.0')).toBe(-1);
    expect(compareVersions('a1b2c3d-20251208-153045', '1.0.0')).toBeNull();
    expect(meetsMinVersion('1.0.0', null)).toBe(true);
    expect(meetsMinVersion('unknown', '1.0.0')).toBe(false);
    expect(meetsMinVersion('1.0.1', '1.0.0')).toBe(true);
  });
  it('compareVersions is antisymmetric and reflexive on dotted numbers', () => {
    const v = fc.array(fc.nat(999), { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
    fc.assert(fc.property(v, v, (a, b) => {
      expect(compareVersions(a, a)).toBe(0);
      expect(compareVersions(a, b)).toBe(-(compareVersions(b, a) as number) || 0);
    }));
  });
});

describe('offer selection', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const r = (id: number, over: Partial<OfferRule> = {}): OfferRule => ({
    id, device_model: 'esp32', firmware_version: `1.${id}.0`, target_type: 'all', target_filter: null,
    rollout_percentage: 100, is_active: true, created_at: at(id), ...over,
  });
  const dev = { device_id: 'd1', device_model: 'esp32', current_firmware_version: '1.0.0' };

  it('the newest active rollout that targets the device decides', () => {
    expect(decidingRollout(dev, [r(1), r(2), r(3, { is_active: false })])?.id).toBe(2);
    expect(decidingRollout(dev, [r(1), r(2, { rollout_percentage: 0 })])?.id).toBe(1);
    expect(decidingRollout(dev, [r(1, { device_model: 'esp32s3' })])).toBeUndefined();
    expect(decidingRollout(dev, [r(5, { created_at: at(1) }), r(4, { created_at: at(1) })])?.id).toBe(5);
  });

  it('a push goes only to devices this rollout decides for, not on its version, meeting min_version', () => {
    const devices = [
      { ...dev, device_id: 'a' }, { ...dev, device_id: 'b', current_firmware_version: '1.1.0' },
      { ...dev, device_id: 'c', current_firmware_version: '0.1.0' }, { ...dev, device_id: 'e', device_model: 'esp32s3' },
    ];
    const one = r(1);
    expect(devicesToOffer(one, { version: '1.1.0', min_version: '1.0.0' }, devices, [one], meetsMinVersion).map((d) => d.device_id)).toEqual(['a']);
    // A newer rollout decides for everyone: the older one pushes to nobody.
    expect(devicesToOffer(one, { version: '1.1.0', min_version: null }, devices, [one, r(2)], meetsMinVersion)).toEqual([]);
    expect(devicesToOffer(r(1, { is_active: false }), { version: '1.1.0', min_version: null }, devices, [], meetsMinVersion)).toEqual([]);
  });
});

describe('error mapping', () => {
  it('each error class maps to one status with the {error:{code,message}} body; unknown errors leak nothing', () => {
    expect(errorResponse(new RequestError(422, 'OTASIM_ERR_VALIDATION', 'm'))).toEqual({ status: 422, body: { error: { code: 'OTASIM_ERR_VALIDATION', message: 'm' } } });
    expect(errorResponse(new ConflictError('OTASIM_ERR_DUPLICATE_ROLLOUT', 'x')).status).toBe(409);
    expect(errorResponse(new NotFoundError('x')).status).toBe(404);
    expect(errorResponse(new ArtifactError('OTASIM_ERR_ARTIFACT_MISSING', 'x')).status).toBe(404);
    expect(errorResponse(new ArtifactError('OTASIM_ERR_ARTIFACT_IO', 'x')).status).toBe(500);
    const store = errorResponse(new StoreError('password=secret leaked', { code: 'OTASIM_ERR_STORE_UNREACHABLE' }));
    expect(store.status).toBe(503);
    expect(store.body.error.message).not.toMatch(/secret/);
    const boom = errorResponse(new TypeError('internal detail at /home/x'));
    expect(boom).toEqual({ status: 500, body: { error: { code: 'OTASIM_ERR_INTERNAL', message: expect.not.stringMatching(/home/) } } });
  });
  it('/metrics content negotiation', () => {
    expect(wantsJson(undefined)).toBe(false);
    expect(wantsJson('*/*')).toBe(false);
    expect(wantsJson('application/json')).toBe(true);
    expect(wantsJson('text/plain, application/json')).toBe(false);
    expect(wantsJson('application/json;q=0.9, text/plain')).toBe(true);
  });
});
