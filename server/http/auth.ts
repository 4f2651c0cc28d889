/**
 * The admin `X-API-Key` check (seed 001 "All admin endpoints require X-API-Key header").
 * A missing or wrong key is 401 (paku-protocol-facts §2.2). Unlike the real service's `!=`, the
 * comparison is constant-time: both sides are hashed to 32-byte SHA-256 digests, so
 * `crypto.timingSafeEqual` always compares equal lengths and the key's length does not leak.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
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
