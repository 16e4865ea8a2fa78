// The shard worker's entry when the library runs from source (vitest, tsx: lib/*.ts, no
// dist/). As lib/queue/replay-worker-source.mjs: Node 20 does not apply `--import tsx` from a
// worker's execArgv to its modules, while hooks registered inside the worker do apply, so
// this registers tsx's ESM hooks and then loads the real entry. Not shipped: the package runs
// dist/pipeline-worker.js.
import { register } from 'tsx/esm/api';

register();
await import('./shard-worker.ts');
