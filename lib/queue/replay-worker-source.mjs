// The replay worker's entry when the library runs from source (vitest, tsx: lib/*.ts,
// no dist/). Node 20 does not apply `--import tsx` from a worker's execArgv to the
// worker's modules (its entry nor its imports: "Unknown file extension .ts"), while
// hooks registered from inside the worker do apply, so this registers tsx's ESM hooks
// and then loads the real entry. Not shipped: the package runs dist/replay-worker.js.
import { register } from 'tsx/esm/api';

register();
await import('./replay-worker.ts');
