/**
 * The worker-thread side of the job runner (tsup entry `server-worker`; from source,
 * `job-worker-source.mjs` loads this). Piscina calls the default export with one task: a
 * workload's name and its input (plain data, structured-cloned), and posts back what it
 * returns. Failures come back as data too, so the error's `code` survives the thread
 * boundary (a cloned Error keeps only its message).
 *
 * Only named workloads run: the built-in table (`workloads/index.ts`), or the table a
 * server's owner named with the `workloadsModule` option (an import in their code, never
 * anything a request can name).
 */
import { kWorkloads, type Workload } from './workloads/index.js';

export interface JobTask {
  kind: string;
  input: unknown;
  /** A module URL whose `kWorkloads` export replaces the built-in table. */
  module?: string;
}

export type JobOutcome =
  | { ok: true; result: unknown; /** time the workload itself ran, ms (no thread start-up) */ runMs: number }
  | { ok: false; error: { name: string; code: string; message: string; statusCode?: number } };

const tables = new Map<string, Promise<Readonly<Record<string, Workload>>>>();

function table(module: string | undefined): Promise<Readonly<Record<string, Workload>>> | Readonly<Record<string, Workload>> {
  if (module === undefined) return kWorkloads;
  let loaded = tables.get(module);
  if (loaded === undefined) {
    loaded = import(module).then((m: { kWorkloads?: Readonly<Record<string, Workload>> }) => {
      if (typeof m.kWorkloads !== 'object' || m.kWorkloads === null) throw new TypeError(`${module} exports no kWorkloads table`);
      return m.kWorkloads;
    });
    tables.set(module, loaded);
  }
  return loaded;
}

export default async function runJob(task: JobTask): Promise<JobOutcome> {
  try {
    const workloads = await table(task.module);
    if (!Object.hasOwn(workloads, task.kind)) throw Object.assign(new Error(`no workload named ${JSON.stringify(task.kind)}`), { code: 'ERR_ULTRA_PERF_HTTP_UNKNOWN_WORKLOAD' });
    const start = performance.now();
    const result = await (workloads[task.kind] as (input: unknown) => unknown)(task.input);
    return { ok: true, result, runMs: performance.now() - start };
  } catch (err) {
    const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as { name?: unknown; code?: unknown; message?: unknown; statusCode?: unknown };
    return {
      ok: false,
      error: {
        name: typeof e.name === 'string' ? e.name : 'Error',
        code: typeof e.code === 'string' ? e.code : 'ERR_ULTRA_PERF_HTTP_JOB_FAILED',
        message: typeof e.message === 'string' ? e.message : String(err),
        ...(typeof e.statusCode === 'number' && { statusCode: e.statusCode }),
      },
    };
  }
}
