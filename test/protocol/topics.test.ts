/** Topic names for both wire profiles (paku-protocol-facts §1.2; seed 003). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topics } from '../../protocol/topics.js';

describe('topics', () => {
  it('paku-edge is the default and matches real firmware ≥ 1.4.2', () => {
    const t = topics();
    expect(t.profile).toBe('paku-edge');
    expect(t.cmdOta('ESP32-20E955A0')).toBe('paku/edge/ESP32-20E955A0/cmd/ota');
    expect(t.otaReply('ESP32-20E955A0', 'progress')).toBe('paku/edge/ESP32-20E955A0/ota/progress');
    expect(t.edgeStatus('ESP32-20E955A0')).toBe('paku/edge/ESP32-20E955A0/status');
    expect(t.otaReplyFilter).toBe('paku/edge/+/ota/#');
    expect(t.edgeStatusFilter).toBe('paku/edge/+/status');
    expect(t.cmdOtaFilter).toBe('paku/edge/+/cmd/ota');
  });

  it('paku-legacy is the seeds\' documented layout; status stays on edge', () => {
    const t = topics({ profile: 'paku-legacy', prefix: 'site/a' });
    expect(t.cmdOta('d1')).toBe('site/a/devices/d1/cmd/ota');
    expect(t.otaReply('d1', 'result')).toBe('site/a/devices/d1/ota/result');
    expect(t.edgeStatus('d1')).toBe('site/a/edge/d1/status');
    expect(t.otaReplyFilter).toBe('site/a/devices/+/ota/#');
    expect(t.cmdOtaFilter).toBe('site/a/devices/+/cmd/ota');
    expect(t.parse('site/a/devices/d1/ota/result')).toEqual({ kind: 'ota', reply: 'result', deviceId: 'd1' });
    expect(t.parse('site/a/edge/d1/ota/result')).toBeUndefined();
  });

  it('parses what it builds, for every reply kind and any legal device id (property)', () => {
    for (const profile of ['paku-edge', 'paku-legacy'] as const) {
      const t = topics({ profile });
      fc.assert(fc.property(fc.string({ minLength: 1 }).filter((s) => !/[/+#\0]/.test(s)), fc.constantFrom('status', 'progress', 'result' as const),
        (id, reply) => {
          expect(t.parse(t.otaReply(id, reply))).toEqual({ kind: 'ota', reply, deviceId: id });
          expect(t.parse(t.edgeStatus(id))).toEqual({ kind: 'edge-status', deviceId: id });
        }));
    }
  });

  it('ignores topics that are not OTA replies or edge status, as collector.py does', () => {
    const t = topics();
    for (const s of ['paku/edge/d1/ota/other', 'paku/edge/d1/cmd/ota', 'paku/edge/d1/config/report', 'paku/edge//status',
      'paku/edge/d1/ota/result/x', 'other/edge/d1/status', 'pakux/edge/d1/status', 'paku/sensors/t/data', 'paku']) {
      expect(t.parse(s), s).toBeUndefined();
    }
  });

  it('refuses device ids and prefixes that would break topic levels', () => {
    const t = topics();
    for (const id of ['', 'a/b', 'a+', '#', 'a\0']) expect(() => t.cmdOta(id), id).toThrow(TypeError);
    for (const prefix of ['', '/paku', 'paku/', 'pa+ku', 'paku/#']) expect(() => topics({ prefix }), prefix).toThrow(TypeError);
  });
});
