/**
 * Every failure the HTTP API answers with is `{error: {code, message}}` (issue 3 "Bad input"),
 * with a status chosen here and only here from the error's class and code.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  ArtifactError, ConflictError, NotFoundError, OtasimError, RequestError, StoreError,
} from '../../protocol/errors.js';
import type { ErrorBody } from '../../protocol/payloads.js';

const ARTIFACT_STATUS: Record<string, number> = {
  OTASIM_ERR_ARTIFACT_TOO_LARGE: 413,
  OTASIM_ERR_ARTIFACT_KEY: 400,
  OTASIM_ERR_ARTIFACT_MISSING: 404,
  OTASIM_ERR_ARTIFACT_RANGE: 416,
};

/** Fastify's own 4xx errors, renamed into otasim's codes. */
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'OTASIM_ERR_UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'OTASIM_ERR_BODY_TOO_LARGE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'OTASIM_ERR_INVALID_JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'OTASIM_ERR_INVALID_JSON' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'OTASIM_ERR_UPLOAD_TOO_LARGE' },
  FST_PARTS_LIMIT: { status: 413, code: 'OTASIM_ERR_UPLOAD_TOO_LARGE' },
  FST_FILES_LIMIT: { status: 400, code: 'OTASIM_ERR_VALIDATION' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'OTASIM_ERR_UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'OTASIM_ERR_URI_TOO_LONG' },
  FST_ERR_BAD_URL: { status: 400, code: 'OTASIM_ERR_BAD_REQUEST' },
};

/** The status and body for `err`. Unknown errors are 500 with a message that leaks nothing. */
export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  const body = (code: string, message: string): ErrorBody => ({ error: { code, message } });
  if (err instanceof RequestError) return { status: err.status, body: body(err.code, err.message) };
  if (err instanceof ConflictError) return { status: 409, body: body(err.code, err.message) };
  if (err instanceof NotFoundError) return { status: 404, body: body(err.code, err.message) };
  if (err instanceof ArtifactError) return { status: ARTIFACT_STATUS[err.code] ?? 500, body: body(err.code, err.message) };
  if (err instanceof StoreError) {
    return { status: 503, body: body(err.code, 'the metadata store is unavailable; see the server log') };
  }
  if (err instanceof OtasimError) return { status: 500, body: body(err.code, err.message) };
  const fe = err as Partial<FastifyError>;
  const mapped = typeof fe.code === 'string' ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped !== undefined) return { status: mapped.status, body: body(mapped.code, fe.message ?? mapped.code) };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: body('OTASIM_ERR_BAD_REQUEST', fe.message ?? 'bad request') };
  }
  return { status: 500, body: body('OTASIM_ERR_INTERNAL', 'internal server error; see the server log') };
}

/** Fastify error handler: log server faults, answer with the error body. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply): void => {
    const { status, body } = errorResponse(err);
    if (status >= 500) log.error({ err, method: req.method, url: req.url }, 'request failed');
    else log.debug({ code: body.error.code, method: req.method, url: req.url }, body.error.message);
    void reply.code(status).type('application/json; charset=utf-8').send(body);
  };
}

/** Fastify not-found handler: unknown routes and wrong methods. */
export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): void {
  const body: ErrorBody = { error: { code: 'OTASIM_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } };
  void reply.code(404).send(body);
}
