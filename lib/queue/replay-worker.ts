/**
 * The TS backend's replayer: the entry file of the worker_thread that replay.ts starts.
 * tsup builds it as its own entry (dist/replay-worker.js and .cjs, next to index.js);
 * from source, replay-worker-source.mjs loads it through tsx. It imports the kernels
 * like any other module, so the worker runs the same code as the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { replayLoop } from './kernel.js';

/** What replay.ts posts as workerData. */
export interface ReplayWorkerData {
  buffer: SharedArrayBuffer;
  data: Uint8Array;
  lengths: Uint32Array;
  ratePerSec: number;
}

const { buffer, data, lengths, ratePerSec } = workerData as ReplayWorkerData;
parentPort!.postMessage(replayLoop(buffer, data, lengths, ratePerSec));
