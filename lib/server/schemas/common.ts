/**
 * Schemas shared by every route, registered once with `app.addSchema` so the OpenAPI
 * document holds them as reusable components (`#/components/schemas/<$id>`). Route
 * modules reference them with `Type.Ref('ErrorResponse')` (the `$id` string), `ErrorRef` or `errorResponses()`.
 */
import { Type, type Static } from 'typebox';

/** Every 4xx/5xx body. `code` is stable (ERR_ULTRA_PERF_HTTP_*, FST_*, or a library error code). */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String(),
    error: Type.String({ description: 'the HTTP reason phrase' }),
    message: Type.String(),
  },
  { $id: 'ErrorResponse', additionalProperties: false },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

/** A job resource (202 answer and `GET jobs/:id`). */
export const JobView = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')]),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Optional(Type.String({ format: 'date-time' })),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    elapsedMs: Type.Optional(Type.Number({ description: 'running time so far or in all, ms' })),
    location: Type.String({ description: 'where to poll this job' }),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  },
  { $id: 'JobView', additionalProperties: false },
);
export type JobView = Static<typeof JobView>;

/**
 * References to the shared schemas, for route schemas (the OpenAPI document renders them as
 * `#/components/schemas/<$id>`). typebox 1.x's `Type.Ref` takes the `$id` string:
 * `Type.Ref(ErrorResponse)`, with the schema object, is not a reference.
 */
export const ErrorRef = Type.Ref('ErrorResponse');
export const JobRef = Type.Ref('JobView');

/**
 * `{ <status>: ErrorRef, ... }` for the error statuses a route answers, to spread into its
 * `schema.response`: `response: { 200: Body, ...errorResponses(400, 404, 422) }`.
 */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorRef> {
  const out: Record<number, typeof ErrorRef> = {};
  for (const status of statuses) out[status] = ErrorRef;
  return out;
}

/** The schemas plugin.ts registers with addSchema, in order. */
export const kSharedSchemas = [ErrorResponse, JobView];
