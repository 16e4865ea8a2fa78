/**
 * Heavy work off the request path: a bounded number of jobs run at once, a bounded queue
 * waits, and past that `submit` throws a 503 with Retry-After. A request waits up to
 * `limits.syncWaitMs` for its job and then answers 202 with a job resource to poll
 * (`GET jobs/:id`); finished jobs are kept for `jobTtlMs`, at most `maxJobsKept`.
 *
 * Only the workloads named in `workloads/index.ts` can run.
 */
import type { FastifyReply } from 'fastify';

import { HttpError, unavailable } from './http-errors.js';
import { kApiPrefix } from './types.js';
import type { ServerLimits } from './limits.js';
import type { JobView } from './schemas/common.js';
import { kWorkloads } from './workloads/index.js';

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
  rejected: number;
}

export class JobRunner {
  // (skeleton: runs in-process; the core work moves execution to worker threads)
  readonly #limits: ServerLimits;
  readonly #jobs = new Map<string, Job & { input: unknown; settle: () => void }>();
  readonly #queue: string[] = [];
  #running = 0;
  #seq = 0;
  #stats: JobStats = { running: 0, queued: 0, completed: 0, failed: 0, rejected: 0 };

  constructor(limits: ServerLimits) {
    this.#limits = limits;
  }

  /** Queues a named workload. Throws 503 (Retry-After) when the queue is full. */
  submit(kind: string, input: unknown): Job {
    if (!Object.hasOwn(kWorkloads, kind)) throw new HttpError(422, 'ERR_ULTRA_PERF_HTTP_UNKNOWN_WORKLOAD', `no workload named ${JSON.stringify(kind)}`);
    if (this.#queue.length >= this.#limits.jobQueue) {
      this.#stats.rejected++;
      throw unavailable(`${this.#running} jobs running and ${this.#queue.length} waiting, the most this server queues`, 1);
    }
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const id = `job-${(++this.#seq).toString(36)}-${Date.now().toString(36)}`;
    const job = { id, kind, state: 'queued' as JobState, createdAt: Date.now(), input, done, settle };
    this.#jobs.set(id, job);
    this.#queue.push(id);
    this.#pump();
    return job;
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  list(): Job[] {
    return [...this.#jobs.values()];
  }

  stats(): JobStats {
    return { ...this.#stats, running: this.#running, queued: this.#queue.length };
  }

  /** The job resource as the API shows it. */
  view(job: Job): JobView {
    const end = job.finishedAt ?? Date.now();
    return {
      id: job.id,
      kind: job.kind,
      state: job.state,
      createdAt: new Date(job.createdAt).toISOString(),
      ...(job.startedAt !== undefined && { startedAt: new Date(job.startedAt).toISOString(), elapsedMs: end - job.startedAt }),
      ...(job.finishedAt !== undefined && { finishedAt: new Date(job.finishedAt).toISOString() }),
      location: `${kApiPrefix}/jobs/${job.id}`,
      ...(job.state === 'done' && { result: job.result }),
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
    if (job.state === 'failed' || job.state === 'cancelled') {
      throw new HttpError(422, job.error?.code ?? 'ERR_ULTRA_PERF_HTTP_JOB_FAILED', job.error?.message ?? `job ${job.id} ${job.state}`);
    }
    const view = this.view(job);
    void reply.code(202).header('location', view.location).send(view);
    return undefined;
  }

  #pump(): void {
    while (this.#running < this.#limits.jobConcurrency && this.#queue.length > 0) {
      const job = this.#jobs.get(this.#queue.shift()!)!;
      this.#running++;
      job.state = 'running';
      job.startedAt = Date.now();
      void (async () => {
        try {
          job.result = await (kWorkloads[job.kind] as (input: unknown) => unknown)(job.input);
          job.state = 'done';
          this.#stats.completed++;
        } catch (err) {
          job.state = 'failed';
          job.error = { code: (err as { code?: string }).code ?? 'ERR_ULTRA_PERF_HTTP_JOB_FAILED', message: (err as Error).message };
          this.#stats.failed++;
        } finally {
          job.finishedAt = Date.now();
          this.#running--;
          job.settle();
          this.#pump();
        }
      })();
    }
  }

  /** Cancels queued jobs and waits for running ones. */
  async close(): Promise<void> {
    for (const id of this.#queue.splice(0)) {
      const job = this.#jobs.get(id)!;
      job.state = 'cancelled';
      job.settle();
    }
    await Promise.all([...this.#jobs.values()].map((job) => job.done));
  }
}
