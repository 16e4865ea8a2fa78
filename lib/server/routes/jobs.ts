/**
 * The jobs/* routes: the job resources heavy routes answer 202 with. `GET jobs` lists them
 * (newest first, bounded), `GET jobs/:id` polls one (with its result once done),
 * `DELETE jobs/:id` cancels a queued or running job, or forgets a finished one.
 */
import { Type } from 'typebox';

import { notFound } from '../http-errors.js';
import { JobList, JobListQuery, JobParams } from '../schemas/jobs.js';
import type { RouteModule } from '../types.js';

const kErrors = { 400: Type.Ref('ErrorResponse'), 401: Type.Ref('ErrorResponse'), 429: Type.Ref('ErrorResponse') };

export const jobsRoutes: RouteModule = (app, ctx) => {
  app.addSchema(JobList);

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'listJobs',
        summary: 'List jobs',
        description:
          'The jobs the server knows, newest first: running, queued, and finished ones kept for polling (limits.jobTtlMs, at most limits.maxJobsKept). Results are left out; GET jobs/{id} has them. Times in ms and ISO 8601.',
        querystring: JobListQuery,
        response: { 200: Type.Ref('JobList'), ...kErrors },
      },
    },
    async (request) => {
      const { state, limit = 100 } = request.query;
      const all = ctx.jobs.list().filter((job) => state === undefined || job.state === state);
      const stats = ctx.jobs.stats();
      return {
        jobs: all.slice(-limit).reverse().map((job) => ctx.jobs.view(job, false)),
        total: all.length,
        running: stats.running,
        queued: stats.queued,
        concurrency: ctx.limits.jobConcurrency,
        queueCapacity: ctx.limits.jobQueue,
      };
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'getJob',
        summary: 'Poll a job',
        description: 'One job: its state, its times (ms, ISO 8601), and its result once done or its error once failed. 404 once it is forgotten (TTL, or deleted).',
        params: JobParams,
        response: { 200: Type.Ref('JobView'), 404: Type.Ref('ErrorResponse'), ...kErrors },
      },
    },
    async (request) => {
      const job = ctx.jobs.get(request.params.id);
      if (job === undefined) throw notFound('job', request.params.id);
      return ctx.jobs.view(job);
    },
  );

  app.delete(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'cancelJob',
        summary: 'Cancel or forget a job',
        description:
          'A queued job leaves the queue and a running one has its worker thread stopped: both end in state cancelled, and the answer shows it. A finished job is forgotten (the answer is its last view; GET then answers 404).',
        params: JobParams,
        response: { 200: Type.Ref('JobView'), 404: Type.Ref('ErrorResponse'), ...kErrors },
      },
    },
    async (request) => ctx.jobs.view(ctx.jobs.cancel(request.params.id)),
  );
};
