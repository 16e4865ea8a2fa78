// The job runner's worker entry when the library runs from source (vitest, tsx: lib/*.ts,
// no dist/). As for lib/queue/replay-worker-source.mjs: Node 20 does not apply `--import tsx`
// from a worker's execArgv to the worker's modules, while hooks registered from inside the
// worker do apply, so this registers tsx's ESM hooks and then loads the real entry.
// Not shipped: the package runs dist/server-worker.js.
import { register } from 'tsx/esm/api';

register();
const { default: runJob } = await import('./job-worker.ts');
export default runJob;
