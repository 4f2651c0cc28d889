/**
 * `GET` and `HEAD /api/firmware/download/{version}[?device_model=…]` (seed 002 "Download Firmware";
 * paku-protocol-facts §2.4.2). Headers as the real service sends them — `X-Firmware-Version`,
 * `X-Checksum-SHA256`, an explicit `Content-Length` (the device rejects a response without one,
 * facts §4.3), `Content-Disposition: attachment; filename="<model>_<version>.bin"` — plus a strong
 * `ETag` (the SHA-256) and `Last-Modified` (upload time) so `Range`/`If-Range` resume works
 * (server/http/range.ts). The release comes from the OfferCache; the body from the verified
 * in-memory ArtifactCache, or streamed from the artifact store for images too large to hold.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { RequestError } from '../../../protocol/errors.js';
import { FirmwareDownloadQuery, Slug, type ErrorBody } from '../../../protocol/payloads.js';
import type { ReleaseRow } from '../../store/store.js';
import type { HttpDeps } from '../deps.js';
import { contentRange, ifNoneMatchHits, ifRangeAllows, parseRange, unsatisfiedRange } from '../range.js';
import { parseInput } from '../validate.js';
import type { ArtifactCache } from '../artifact-cache.js';
import type { OfferCache } from '../offer-cache.js';

const Params = z.strictObject({ version: Slug });

/** A header sent more than once is ambiguous: treat it as absent (If-Range) or invalid (Range). */
const oneHeader = (h: string | string[] | undefined): string | undefined => (Array.isArray(h) ? undefined : h);

function setCommonHeaders(reply: FastifyReply, r: ReleaseRow, etag: string): void {
  void reply.headers({
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${r.device_model}_${r.version}.bin"`,
    'x-firmware-version': r.version,
    'x-checksum-sha256': r.checksum_sha256,
    'accept-ranges': 'bytes',
    etag,
    'last-modified': r.created_at.toUTCString(),
  });
}

export function downloadRoute(app: FastifyInstance, deps: HttpDeps, cache: ArtifactCache, releases: OfferCache): void {
  const { artifacts } = deps;
  app.route({
    method: ['GET', 'HEAD'],
    url: '/api/firmware/download/:version',
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const { version } = parseInput(Params, req.params, 'path');
      const q = parseInput(FirmwareDownloadQuery, req.query, 'query');
      const release = await releases.release(version, q.device_model);
      if (release === undefined) {
        throw new RequestError(404, 'OTASIM_ERR_NOT_FOUND', q.device_model === undefined
          ? `firmware version ${version} not found` : `firmware version ${version} for ${q.device_model} not found`);
      }
      const size = release.file_size;
      const etag = `"${release.checksum_sha256}"`;
      setCommonHeaders(reply, release, etag);
      if (ifNoneMatchHits(oneHeader(req.headers['if-none-match']), etag)) return reply.code(304).send();
      const rangeHeader = req.method === 'GET' && ifRangeAllows(oneHeader(req.headers['if-range']), { etag, lastModified: release.created_at.getTime() })
        ? req.headers.range : undefined;
      const decision = parseRange(rangeHeader, size);
      if (decision.kind === 'unsatisfiable') {
        const body: ErrorBody = { error: { code: 'OTASIM_ERR_RANGE_NOT_SATISFIABLE', message: `range "${rangeHeader ?? ''}" is outside the ${size}-byte image` } };
        return reply.code(416).header('content-range', unsatisfiedRange(size)).type('application/json; charset=utf-8').send(body);
      }
      const [start, end] = decision.kind === 'partial' ? [decision.start, decision.end] : [0, size - 1];
      if (decision.kind === 'partial') void reply.code(206).header('content-range', contentRange(start, end, size));
      void reply.header('content-length', String(end - start + 1));
      if (req.method === 'HEAD') return reply.send();
      if (size === 0) return reply.send(Buffer.alloc(0));
      if (cache.cacheable(size)) {
        const bytes = await cache.get(release.file_path, release.checksum_sha256, size);
        return reply.send(bytes.subarray(start, end + 1));
      }
      return reply.send((await artifacts.read(release.file_path, { start, end })).stream);
    },
  });
}
