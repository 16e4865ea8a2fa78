/**
 * Heavy work off the event loop. Jobs run in worker threads (piscina): at most
 * `limits.jobConcurrency` at once, at most `limits.jobQueue` waiting, and past that `submit`
 * throws a 503 whose Retry-After comes from recent job durations. A request waits up to
 * `limits.syncWaitMs` for its job and then answers 202 with a job resource to poll
 * (`GET jobs/:id`); a job can be cancelled (`DELETE jobs/:id`: a queued one leaves the queue,
 * a running one has its worker thread stopped). Finished jobs are kept `jobTtlMs`, at most
 * `maxJobsKept` of them (the oldest go first).
 *
 * Only the workloads named in `workloads/index.ts` can run (or those of a
 * `workloadsModule` the server's owner passes in code).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { FastifyReply } from 'fastify';
import { Piscina } from 'piscina';

import { HttpError, notFound, unavailable } from './http-errors.js';
import type { JobOutcome, JobTask } from './job-worker.js';
import type { ServerLimits } from './limits.js';
import type { JobView } from './schemas/common.js';
import { kApiPrefix } from './types.js';
import { kWorkloads, type Workload } from './workloads/index.js';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Job {
  readonly id: string;
  readonly kind: string;
  state: JobState;
  readonly createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  result?: unknown;
  error?: { code: string; message: string };
  /** Settles when the job finishes, fails or is cancelled; never rejects. */
  readonly done: Promise<void>;
}

export interface JobStats {
  running: number;
  queued: number;
  completed: number;
  failed: number;
  /** Submissions refused with 503 because the queue was full or the runner closing. */
  rejected: number;
  /** Requests small enough to run on the event loop instead (runInline), not counted above. */
  inline: number;
  cancelled: number;
  /** Finished jobs still kept for polling. */
  kept: number;
  /** Mean time the last (up to 32) completed jobs' workloads ran (ms, thread start-up excluded); 0 before the first. */
  meanRunMs: number;
}

export interface JobRunnerOptions {
  /**
   * The workloads jobs may name (default: the built-in `kWorkloads`). Names are checked here,
   * on submit; the functions run in worker threads, which take them from `workloadsModule`.
   */
  workloads?: Readonly<Record<string, Workload>>;
  /**
   * The module (file URL) the worker threads import to find `workloads`: it must export
   * them as `kWorkloads`. Needed with `workloads` (functions cannot cross a thread
   * boundary); default: the built-in table bundled with the worker.
   */
  workloadsModule?: URL | string;
}

interface Entry extends Job {
  input: unknown;
  settle: () => void;
  abort?: AbortController;
  /** Why the runner stopped it, when it did (cancel or close). */
  stopped?: 'cancelled' | 'closing';
}

const kDurationsKept = 32;

/** Where the worker entry lives: the source wrapper when running from lib/*.ts, else beside this bundle. */
function workerEntry(): string {
  const here = import.meta.url;
  const name = here.endsWith('.ts') ? './job-worker-source.mjs' : here.endsWith('.cjs') ? './server-worker.cjs' : './server-worker.js';
  const entry = new URL(name, here);
  if (!existsSync(entry)) {
    throw new Error(`the job runner needs its worker entry ${fileURLToPath(entry)}, which is missing: copy it from ultra-performance's dist/ when bundling`);
  }
  return fileURLToPath(entry);
}

export class JobRunner {
  readonly #limits: ServerLimits;
  readonly #workloads: Readonly<Record<string, Workload>>;
  readonly #module: string | undefined;
  readonly #jobs = new Map<string, Entry>();
  readonly #queue: Entry[] = [];
  /** Finished job ids in the order they finished (eviction order); stale ids are skipped. */
  readonly #finished: string[] = [];
  readonly #durations: number[] = [];
  readonly #sweeper: NodeJS.Timeout;
  #pool: Piscina | undefined;
  #running = 0;
  #closing = false;
  #stats = { completed: 0, failed: 0, cancelled: 0, rejected: 0, inline: 0 };

  constructor(limits: ServerLimits, options: JobRunnerOptions = {}) {
    this.#limits = limits;
    if (options.workloads !== undefined && options.workloadsModule === undefined) {
      throw Object.assign(new TypeError('Expected options.workloadsModule (the module the worker threads load the workloads from) with options.workloads but received undefined'), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    this.#workloads = options.workloads ?? kWorkloads;
    const module = options.workloadsModule;
    this.#module = module === undefined ? undefined : String(module);
    // Evicts expired finished jobs even when nobody submits or lists.
    this.#sweeper = setInterval(() => this.#evict(), Math.min(limits.jobTtlMs, 60_000));
    this.#sweeper.unref();
  }

  /**
   * Runs a named workload on the calling thread, for work too small to pay a thread hop
   * (limits.inlineWorkUnits): the same names and the same answer as a job; a failure is a
   * 422 carrying the workload's error code, as a failed job's is.
   */
  async runInline<T>(kind: string, input: unknown): Promise<T> {
    if (!Object.hasOwn(this.#workloads, kind)) throw new HttpError(422, 'ERR_ULTRA_PERF_HTTP_UNKNOWN_WORKLOAD', `no workload named ${JSON.stringify(kind)}`);
    this.#stats.inline++;
    try {
      return (await (this.#workloads[kind] as (input: unknown) => unknown)(input)) as T;
    } catch (err) {
      throw new HttpError(422, (err as { code?: string }).code ?? 'ERR_ULTRA_PERF_HTTP_JOB_FAILED', (err as Error).message);
    }
  }

  /** Queues a named workload. Throws 422 for an unknown name, 503 (Retry-After) when the queue is full. */
  submit(kind: string, input: unknown): Job {
    if (!Object.hasOwn(this.#workloads, kind)) throw new HttpError(422, 'ERR_ULTRA_PERF_HTTP_UNKNOWN_WORKLOAD', `no workload named ${JSON.stringify(kind)}`);
    if (this.#closing) {
      this.#stats.rejected++;
      throw unavailable('the server is shutting down', 5);
    }
    if (this.#queue.length >= this.#limits.jobQueue) {
      this.#stats.rejected++;
      throw unavailable(`${this.#running} jobs running and ${this.#queue.length} waiting, the most this server queues`, this.retryAfterSeconds());
    }
    this.#evict();
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const job: Entry = { id: `job-${randomUUID()}`, kind, state: 'queued', createdAt: Date.now(), input, done, settle };
    this.#jobs.set(job.id, job);
    this.#queue.push(job);
    this.#pump();
    return job;
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  /** Every job still known (running, queued, and finished ones kept), oldest first. */
  list(): Job[] {
    this.#evict();
    return [...this.#jobs.values()];
  }

  /** True when one more submit would be refused (a full queue or a closing runner): `/readyz` reports it. */
  full(): boolean {
    return this.#closing || this.#queue.length >= this.#limits.jobQueue;
  }

  stats(): JobStats {
    return { ...this.#stats, running: this.#running, queued: this.#queue.length, kept: this.#jobs.size - this.#running - this.#queue.length, meanRunMs: this.#meanRunMs() };
  }

  /**
   * Seconds until the queue likely has room: the time left for the running job nearest to
   * its end, judged by the mean of recent running times (at least 1 s; 1 s before any job
   * completed).
   */
  retryAfterSeconds(): number {
    const mean = this.#meanRunMs();
    if (mean === 0) return 1;
    const now = Date.now();
    let soonest = mean;
    for (const job of this.#jobs.values()) {
      if (job.state === 'running' && job.startedAt !== undefined) soonest = Math.min(soonest, Math.max(0, mean - (now - job.startedAt)));
    }
    return Math.max(1, Math.ceil(soonest / 1000));
  }

  /**
   * Cancels `id`: a queued job leaves the queue, a running one has its worker thread
   * stopped; both end `cancelled`. A finished job is forgotten. Returns the job as it ends;
   * throws 404 for an unknown id.
   */
  cancel(id: string): Job {
    const job = this.#jobs.get(id);
    if (job === undefined) throw notFound('job', id);
    if (job.state === 'queued') {
      this.#queue.splice(this.#queue.indexOf(job), 1);
      this.#finish(job, 'cancelled');
    } else if (job.state === 'running') {
      job.stopped = 'cancelled';
      job.abort?.abort(new Error('cancelled'));
      // The worker's rejection settles it; the view says cancelled from now on.
      job.state = 'cancelled';
    } else {
      this.#jobs.delete(id);
    }
    return job;
  }

  /** The job resource as the API shows it (`withResult: false` leaves the result out, for lists). */
  view(job: Job, withResult = true): JobView {
    const end = job.finishedAt ?? Date.now();
    return {
      id: job.id,
      kind: job.kind,
      state: job.state,
      createdAt: new Date(job.createdAt).toISOString(),
      ...(job.startedAt !== undefined && { startedAt: new Date(job.startedAt).toISOString(), elapsedMs: end - job.startedAt }),
      ...(job.finishedAt !== undefined && { finishedAt: new Date(job.finishedAt).toISOString() }),
      location: `${kApiPrefix}/jobs/${job.id}`,
      ...(withResult && job.state === 'done' && { result: job.result }),
      ...(job.error !== undefined && { error: job.error }),
    };
  }

  /**
   * Waits up to `syncWaitMs` for `job`: returns its result when it finished (throws its error
   * as a 4xx/5xx when it failed), or sends 202 with the job resource and returns undefined.
   */
  async wait<T>(job: Job, reply: FastifyReply, waitMs = this.#limits.syncWaitMs): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([job.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    if (job.state === 'done') return job.result as T;
    if (job.state === 'failed') {
      const status = (job as Entry).error?.code === 'ERR_ULTRA_PERF_HTTP_JOB_CRASHED' ? 500 : 422;
      throw new HttpError(status, job.error?.code ?? 'ERR_ULTRA_PERF_HTTP_JOB_FAILED', job.error?.message ?? `job ${job.id} failed`);
    }
    if (job.state === 'cancelled') {
      if ((job as Entry).stopped === 'closing') throw unavailable('the server is shutting down', 5);
      throw new HttpError(409, 'ERR_ULTRA_PERF_HTTP_JOB_CANCELLED', `job ${job.id} was cancelled`);
    }
    const view = this.view(job);
    void reply.code(202).header('location', view.location).send(view);
    return undefined;
  }

  #meanRunMs(): number {
    const d = this.#durations;
    return d.length === 0 ? 0 : d.reduce((a, b) => a + b, 0) / d.length;
  }

  #workers(): Piscina {
    this.#pool ??= new Piscina({
      filename: workerEntry(),
      minThreads: 0,
      maxThreads: this.#limits.jobConcurrency,
      // Threads stay up a minute after their last job, so a burst does not pay start-up each time.
      idleTimeout: 60_000,
    });
    return this.#pool;
  }

  #pump(): void {
    while (this.#running < this.#limits.jobConcurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      job.state = 'running';
      job.startedAt = Date.now();
      job.abort = new AbortController();
      const task: JobTask = { kind: job.kind, input: job.input, ...(this.#module !== undefined && { module: this.#module }) };
      job.input = undefined;
      let run: Promise<JobOutcome>;
      try {
        run = this.#workers().run(task, { signal: job.abort.signal }) as Promise<JobOutcome>;
      } catch (err) {
        run = Promise.reject(err);
      }
      run.then(
        (outcome) => {
          if (job.stopped !== undefined) return this.#finish(job, 'cancelled');
          if (outcome.ok) {
            job.result = outcome.result;
            this.#record(outcome.runMs);
            return this.#finish(job, 'done');
          }
          job.error = { code: outcome.error.code, message: outcome.error.message };
          this.#finish(job, 'failed');
        },
        (err: unknown) => {
          if (job.stopped !== undefined) return this.#finish(job, 'cancelled');
          // Not an error the workload threw (those come back as outcomes): the thread died.
          job.error = { code: 'ERR_ULTRA_PERF_HTTP_JOB_CRASHED', message: `the worker thread running job ${job.id} stopped: ${(err as Error)?.message ?? String(err)}` };
          this.#finish(job, 'failed');
        },
      );
    }
  }

  #record(ms: number): void {
    this.#durations.push(ms);
    if (this.#durations.length > kDurationsKept) this.#durations.shift();
  }

  #finish(job: Entry, state: 'done' | 'failed' | 'cancelled'): void {
    const wasRunning = job.startedAt !== undefined && job.finishedAt === undefined && job.abort !== undefined;
    job.state = state;
    job.finishedAt = Date.now();
    job.input = undefined;
    job.abort = undefined;
    if (state === 'done') this.#stats.completed++;
    else if (state === 'failed') this.#stats.failed++;
    else this.#stats.cancelled++;
    this.#finished.push(job.id);
    job.settle();
    if (wasRunning) {
      this.#running--;
      this.#pump();
    }
    this.#evict();
  }

  /** Drops finished jobs past their TTL, then the oldest finished ones past `maxJobsKept`. */
  #evict(): void {
    const oldest = Date.now() - this.#limits.jobTtlMs;
    let kept = this.#jobs.size - this.#running - this.#queue.length;
    while (this.#finished.length > 0) {
      const id = this.#finished[0]!;
      const job = this.#jobs.get(id);
      if (job === undefined || job.finishedAt === undefined) {
        this.#finished.shift();
        continue;
      }
      if (job.finishedAt >= oldest && kept <= this.#limits.maxJobsKept) break;
      this.#finished.shift();
      this.#jobs.delete(id);
      kept--;
    }
  }

  /** Refuses new jobs, cancels queued ones, stops running ones (their threads end) and closes the pool. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    for (const job of this.#queue.splice(0)) {
      job.stopped = 'closing';
      this.#finish(job, 'cancelled');
    }
    for (const job of this.#jobs.values()) {
      if (job.state !== 'running' && !(job.abort !== undefined && job.finishedAt === undefined)) continue;
      job.stopped ??= 'closing';
      job.abort?.abort(new Error('the server is closing'));
    }
    await Promise.all([...this.#jobs.values()].map((job) => job.done));
    await this.#pool?.destroy();
    this.#pool = undefined;
  }
}
