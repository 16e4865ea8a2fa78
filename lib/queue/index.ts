// Shared-memory queues (docs/queue.md): layout in layout.ts, TS
// algorithms in kernel.ts, the C++ twins in cpp/queue.
export { SpscQueue } from './spsc.js';
export { MpmcQueue } from './mpmc.js';
export {
  SharedQueue,
  type QueueAttachOptions,
  type QueueBackend,
  type QueueCreateOptions,
  type QueuePaths,
} from './queue.js';
export { QueueClosedError, QueueCorruptError } from './errors.js';
export { replayIntoQueue, type ReplayFrames, type ReplayOptions, type ReplayResult } from './replay.js';
export { queueLayout } from './layout.js';
