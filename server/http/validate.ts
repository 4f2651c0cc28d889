/**
 * Request validation with the protocol's zod schemas. A failure is a 422 `OTASIM_ERR_VALIDATION`
 * (the real service answers schema errors with 422, paku-protocol-facts §2.3) whose message names
 * every offending field.
 */
import type { z } from 'zod';
import { RequestError } from '../../protocol/errors.js';

/** Where a value came from, for messages. */
export type Where = 'query' | 'body' | 'path';

/** One line per issue: `body.target_filter.device_ids: expected array`. */
export function describeIssues(where: Where, error: z.ZodError): string {
  return error.issues.map((i) => {
    const path = [where, ...i.path.map(String)].join('.');
    return `${path}: ${i.message}`;
  }).join('; ');
}

/** Parse `value` with `schema`, or throw a 422 `RequestError` naming the fields. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: Where): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new RequestError(422, 'OTASIM_ERR_VALIDATION', describeIssues(where, r.error), { cause: r.error });
  return r.data;
}
