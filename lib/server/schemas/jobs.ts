/** Schemas of the jobs/* routes (routes/jobs.ts). The job resource itself is `JobView` (common.ts). */
import { Type } from 'typebox';

/** The most jobs one `GET jobs` answer lists (an absolute ceiling; the runner keeps fewer by default). */
export const kMaxJobsListed = 1000;

export const JobParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64, description: 'the job id from the 202 answer or its location' }) },
  { additionalProperties: false },
);

export const JobListQuery = Type.Object(
  {
    state: Type.Optional(
      Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')], {
        description: 'only jobs in this state',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: kMaxJobsListed, default: 100, description: 'the most jobs listed, newest first' })),
  },
  { additionalProperties: false },
);

export const JobList = Type.Object(
  {
    jobs: Type.Array(Type.Ref('JobView'), { maxItems: kMaxJobsListed, description: 'newest first, without their results (GET jobs/:id has them)' }),
    total: Type.Integer({ minimum: 0, description: 'jobs known to the server in the requested state (running, queued and finished ones still kept)' }),
    running: Type.Integer({ minimum: 0 }),
    queued: Type.Integer({ minimum: 0 }),
    concurrency: Type.Integer({ minimum: 1, description: 'jobs that run at once (limits.jobConcurrency)' }),
    queueCapacity: Type.Integer({ minimum: 1, description: 'jobs that may wait (limits.jobQueue); past it submissions get 503' }),
  },
  { $id: 'JobList', additionalProperties: false },
);
