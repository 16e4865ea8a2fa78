/**
 * Caps on the work one request may ask for and on what the server holds. A request past a
 * size cap is answered 413 (body bytes, array lengths) or 422 (derived work such as
 * paths × steps), with the cap named in the message; a full job queue is 503 with
 * `Retry-After`; too many objects of a kind is 409... see `http-errors.ts`.
 */
export interface ServerLimits {
  /** Largest request body in bytes (Fastify `bodyLimit`). */
  maxBodyBytes: number;
  /** Longest returns series accepted by VaR routes. */
  maxReturns: number;
  /** Most assets in a correlation matrix (assets × observations also capped by maxMatrixCells). */
  maxAssets: number;
  /** Most cells (assets × observations) in one correlation request. */
  maxMatrixCells: number;
  /** Most paths × steps in one Monte Carlo request. */
  maxPathSteps: number;
  /** Heavy jobs running at once (worker threads). */
  jobConcurrency: number;
  /** Heavy jobs waiting; past this the server answers 503 with Retry-After. */
  jobQueue: number;
  /** A request waits this long (ms) for its job before it gets 202 and a job resource to poll. */
  syncWaitMs: number;
  /** Finished jobs are kept this long (ms) for polling, and at most `maxJobsKept` of them. */
  jobTtlMs: number;
  maxJobsKept: number;
  /** Objects created over HTTP (order books, pools, connections): most per kind. */
  maxObjectsPerKind: number;
  /** Dashboard event streams (`GET stream`) open at once; past this the server answers 503. */
  maxStreams: number;
}

export const kDefaultLimits: Readonly<ServerLimits> = Object.freeze({
  maxBodyBytes: 1 << 20,
  maxReturns: 100_000,
  maxAssets: 500,
  maxMatrixCells: 2_000_000,
  maxPathSteps: 10_000_000,
  jobConcurrency: 2,
  jobQueue: 16,
  syncWaitMs: 2_000,
  jobTtlMs: 10 * 60_000,
  maxJobsKept: 256,
  maxObjectsPerKind: 64,
  maxStreams: 16,
});
