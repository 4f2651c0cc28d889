/**
 * The admin `X-API-Key` check (seed 001 "All admin endpoints require X-API-Key header").
 * A missing or wrong key is 401 (paku-protocol-facts §2.2). Unlike the real service's `!=`, the
 * comparison is constant-time: both sides are hashed to 32-byte SHA-256 digests, so
 * `crypto.timingSafeEqual` always compares equal lengths and the key's length does not leak.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { RequestError } from '../../protocol/errors.js';

/** The request header carrying the key (case-insensitive on the wire; Node lower-cases it). */
export const API_KEY_HEADER = 'x-api-key';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A request check that throws a `RequestError` to refuse the request. */
export type Guard = (req: FastifyRequest) => void;

/** A checker bound to one key: throws a 401 `RequestError` unless the request carries it. */
export function apiKeyCheck(apiKey: string): Guard {
  const expected = digest(apiKey);
  return (req) => {
    const got = req.headers[API_KEY_HEADER];
    // A repeated header arrives as an array: never a match.
    const ok = typeof got === 'string' && timingSafeEqual(digest(got), expected);
    if (!ok) {
      throw new RequestError(401, 'OTASIM_ERR_UNAUTHORIZED',
        got === undefined ? 'missing X-API-Key header; admin routes need the server\'s API key'
          : 'invalid API key; send the key the server was started with (--api-key)');
    }
  };
}

/** The request header carrying a device's token. */
export const DEVICE_TOKEN_HEADER = 'x-device-token';
/** The request header naming the device on routes whose URL does not (the download). */
export const DEVICE_ID_HEADER = 'x-device-id';

/**
 * A device's token: HMAC-SHA256(secret, "otasim-device-token\0" + device_id) as base64url
 * (43 characters). Derived rather than stored, so nothing is written per device, a token survives
 * a store reset, and rotating the secret revokes every token at once; the admin route
 * `GET /api/admin/devices/{device_id}/token` hands it out for provisioning.
 */
export function deviceToken(secret: string, deviceId: string): string {
  return createHmac('sha256', secret).update(`otasim-device-token\u0000${deviceId}`, 'utf8').digest('base64url');
}

/** Where each device route names its device: the query, the path, or (download) a header. */
export const DEVICE_ROUTES: Readonly<Record<string, 'query' | 'params' | 'header'>> = {
  '/api/firmware/check': 'query',
  '/api/device/:device_id/update-status': 'params',
  '/api/firmware/download/:version': 'header',
};

/** The device id a device-route request names, or undefined (absent, repeated, not text). */
export function deviceIdOf(req: FastifyRequest, where: 'query' | 'params' | 'header'): string | undefined {
  const v = where === 'header' ? req.headers[DEVICE_ID_HEADER]
    : ((where === 'query' ? req.query : req.params) as Record<string, unknown> | undefined)?.device_id;
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * A checker for device routes: throws a 401 `RequestError` unless the request names its device
 * and carries that device's token. Compared as the API key is: equal-length digests, constant time.
 */
export function deviceTokenCheck(secret: string): (req: FastifyRequest, deviceId: string | undefined) => void {
  return (req, deviceId) => {
    const got = req.headers[DEVICE_TOKEN_HEADER];
    if (deviceId === undefined) {
      throw new RequestError(401, 'OTASIM_ERR_UNAUTHORIZED',
        `this server requires device tokens: name the device (${DEVICE_ID_HEADER} header on downloads) and send its ${DEVICE_TOKEN_HEADER}`);
    }
    const ok = typeof got === 'string' && timingSafeEqual(digest(got), digest(deviceToken(secret, deviceId)));
    if (!ok) {
      throw new RequestError(401, 'OTASIM_ERR_UNAUTHORIZED', got === undefined
        ? `missing ${DEVICE_TOKEN_HEADER} header; this server requires device tokens (--device-tokens required)`
        : `invalid device token for "${deviceId}"; provision the token from GET /api/admin/devices/{device_id}/token`);
    }
  };
}
