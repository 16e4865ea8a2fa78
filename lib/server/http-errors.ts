/**
 * Errors the routes throw to answer with a given status. The plugin's error handler turns
 * any {@link HttpError} into `{ statusCode, code, error, message }` (the `ErrorResponse`
 * schema) with its headers, and maps the library's own argument errors (codes
 * ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE) to 422: bad input is
 * always a 4xx, never a 500.
 */
import { UltraPerfError } from './lib.js';

export class HttpError extends UltraPerfError {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  constructor(statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

/** 413: an array or body past its cap; the message names the argument, the cap and what came. */
export function tooLarge(argument: string, cap: number, received: number, unit = 'items'): HttpError {
  return new HttpError(413, 'ERR_ULTRA_PERF_HTTP_TOO_LARGE', `${argument} holds ${received} ${unit}; the cap is ${cap}`);
}

/** 422: a request whose derived work (paths × steps, cells...) is past its cap, or a value the schema cannot express. */
export function unprocessable(argument: string, message: string): HttpError {
  return new HttpError(422, 'ERR_ULTRA_PERF_HTTP_UNPROCESSABLE', `${argument}: ${message}`);
}

/** 404 for a job or an object created over HTTP that is not (or no longer) there. */
export function notFound(kind: string, id: string): HttpError {
  return new HttpError(404, 'ERR_ULTRA_PERF_HTTP_NOT_FOUND', `no ${kind} with id ${JSON.stringify(id)}`);
}

/** 409: a kind of object is at its cap; delete one first. */
export function objectCapReached(kind: string, cap: number): HttpError {
  return new HttpError(409, 'ERR_ULTRA_PERF_HTTP_OBJECT_CAP', `${cap} ${kind} objects exist, the most this server holds; delete one first`);
}

/** 503 with Retry-After (seconds): the server is full of work, not broken. */
export function unavailable(reason: string, retryAfterSeconds: number): HttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new HttpError(503, 'ERR_ULTRA_PERF_HTTP_BUSY', `${reason}; retry after ${seconds} s`, { 'retry-after': String(seconds) });
}
