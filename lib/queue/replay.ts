/**
 * replayIntoQueue: a feed replayer. Recorded frames are pushed into a queue from a
 * thread of their own while JS threads consume them.
 *
 * Native backend: a std::thread inside the addon (cpp/queue/replay.cc). It polls a full
 * queue with a spin/yield/sleep backoff, and wakes sleeping JS consumers through a
 * thread-safe function that runs Atomics.notify on the thread that called
 * replayIntoQueue (the only way native code can reach Atomics.wait sleepers).
 *
 * TS backend: a worker_thread whose entry is replay-worker.ts, running kernel.ts's
 * replayLoop, the same algorithm on the same kernels; it sleeps on a full queue with
 * Atomics.wait instead of polling.
 * Starting a worker costs some milliseconds more than starting a native thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { invalidRange, invalidType } from '../errors.js';
import { type BackendOption, backendOption, kBackendPolicies } from '../internal/backend.js';
import { defineOptions, readOptions } from '../internal/options.js';
import { notifyWaiters, Sleepers, type ReplayOutcome } from './kernel.js';
import { Status } from './layout.js';
import { kQueueViews, nativeQueueAddon, SharedQueue } from './queue.js';
import type { ReplayWorkerData } from './replay-worker.js';

/** Frames as separate arrays, or packed back to back with their lengths. */
export type ReplayFrames = readonly Uint8Array[] | { data: Uint8Array; lengths: Uint32Array };

export interface ReplayOptions {
  /** Frames per second; default: as fast as the consumers take them. */
  ratePerSec?: number;
  /**
   * 'auto' (default): the native thread when the addon is loaded, else a worker_thread
   * (lib/internal/backend.ts kBackendPolicies.replay). 'cpu' is a deprecated alias of 'native'.
   */
  backend?: BackendOption<'auto' | 'ts' | 'native'>;
}

export interface ReplayResult {
  /** Frames pushed: all of them, unless the queue was closed first. */
  pushed: number;
  /** From the first push to the last, on the replaying thread. */
  elapsedMs: number;
  /** Which replayer ran: the addon's thread ('native') or a worker_thread ('ts'); it can be passed back as options.backend. */
  backend: 'native' | 'ts';
}

interface Packed {
  data: Uint8Array;
  lengths: Uint32Array;
}

/** Packed frames: the keys packFrames reads, checked there (types, then lengths against slotBytes and data). */
const kPackedFrames = defineOptions('replayIntoQueue frames', {
  data: { check: null, checkedBy: 'packFrames' },
  lengths: { check: null, checkedBy: 'packFrames' },
});

function packFrames(frames: unknown, slotBytes: number): Packed {
  if (Array.isArray(frames)) {
    let total = 0;
    for (let i = 0; i < frames.length; i++) {
      const f: unknown = frames[i];
      if (!(f instanceof Uint8Array)) throw invalidType(`frames[${i}]`, 'a Uint8Array', f);
      if (f.length > slotBytes) throw invalidRange(`frames[${i}]`, `at most ${slotBytes} bytes (the queue's slotBytes)`, f);
      total += f.length;
    }
    const data = new Uint8Array(total);
    const lengths = new Uint32Array(frames.length);
    let off = 0;
    frames.forEach((f: Uint8Array, i) => {
      data.set(f, off);
      lengths[i] = f.length;
      off += f.length;
    });
    return { data, lengths };
  }
  // A plain object with only data and lengths ('lenghts' or a stray 'rate' is an error naming the nearest key).
  readOptions(kPackedFrames, frames, { argument: 'frames', required: true, what: 'an array of Uint8Array or { data: Uint8Array, lengths: Uint32Array }' });
  const { data, lengths } = frames as { data?: unknown; lengths?: unknown };
  if (!(data instanceof Uint8Array)) throw invalidType('frames.data', 'a Uint8Array', data);
  if (!(lengths instanceof Uint32Array)) throw invalidType('frames.lengths', 'a Uint32Array', lengths);
  let total = 0;
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i]!;
    if (len > slotBytes) throw invalidRange(`frames.lengths[${i}]`, `at most ${slotBytes} bytes (the queue's slotBytes)`, len);
    total += len;
  }
  if (total > data.length) throw invalidRange('frames.data', `at least ${total} bytes (the sum of frames.lengths)`, data);
  return { data, lengths };
}

/** replayIntoQueue's options: the one table of their checks and defaults. */
const kReplayOptions = defineOptions('replayIntoQueue', {
  ratePerSec: {
    check: (value, argument) => {
      if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(argument, 'a number of frames per second', value);
      if (!(value > 0) || !Number.isFinite(value)) throw invalidRange(argument, 'a finite number of frames per second above 0', value);
      return value;
    },
    default: 0,
  },
  backend: backendOption(kBackendPolicies.replay, 'replayIntoQueue'),
});

function checkOptions(options: unknown): { rate: number; backend: 'ts' | 'native' } {
  const o = readOptions(kReplayOptions, options);
  return { rate: o.ratePerSec as number, backend: o.backend as 'ts' | 'native' };
}

let workerEntry: URL | undefined;

/**
 * The replay worker's entry file, found next to the module running this code (resolved
 * once). In the package that module is dist/index.js (ESM) or dist/index.cjs (CJS, where
 * tsup's `shims` provides import.meta.url), and tsup builds dist/replay-worker.js and
 * .cjs beside them; each build starts the worker in its own format. From source
 * (vitest, tsx) it is lib/queue/replay.ts, and the entry is replay-worker-source.mjs,
 * which registers tsx inside the worker before loading replay-worker.ts: a .ts entry
 * with `execArgv: ['--import', 'tsx']` fails on Node 20, which does not apply a
 * worker's --import hooks to its modules. Throws, naming the path, when the file is
 * missing (a bundler that inlined dist/index.js elsewhere without copying it).
 */
function replayWorkerEntry(): URL {
  if (workerEntry !== undefined) return workerEntry;
  const here = import.meta.url;
  const name = here.endsWith('.ts') ? './replay-worker-source.mjs' : here.endsWith('.cjs') ? './replay-worker.cjs' : './replay-worker.js';
  const entry = new URL(name, here);
  if (!existsSync(entry)) {
    throw new Error(`replayIntoQueue's TS worker needs ${fileURLToPath(entry)}, which is missing: copy it from ultra-performance's dist/ when bundling`);
  }
  workerEntry = entry;
  return entry;
}

function settle(outcome: ReplayOutcome, stack: Error, backend: 'native' | 'ts'): ReplayResult {
  if (outcome.status === 0 || outcome.status === Status.Closed) {
    return { pushed: outcome.pushed, elapsedMs: outcome.elapsedMs, backend };
  }
  stack.message = `replayIntoQueue stopped with status ${outcome.status} after ${outcome.pushed} frames`;
  throw stack;
}

/**
 * Pushes recorded frames into a queue from another thread, as fast as consumers take
 * them or paced at `ratePerSec`, and resolves with how many it pushed when it is done.
 * Stops early, cleanly, when the queue is closed. With the CPU addon the pusher is a
 * native thread; without it, a worker_thread running the same algorithm in TS. The
 * queue's buffer is held until the promise settles. Frames in a plain ArrayBuffer are
 * copied once when the replay starts (the native thread must own what it reads: the
 * caller may transfer or resize that buffer at once); frames in a SharedArrayBuffer are
 * read in place, each length read once and checked where it is used. The copy costs
 * about 40 ms for 10^6 frames of 64 bytes (68 MB, 2-core VM, mostly page faults), as
 * the copy lib made before; shared frames start in about 3 ms. A frame longer than the queue's slotBytes is
 * refused before anything is pushed.
 *
 * @example
 * import { SpscQueue, replayIntoQueue } from 'ultra-performance';
 * const q = SpscQueue.create({ capacity: 65536, slotBytes: 256 });
 * const consumer = new Worker('./strategy.js', { workerData: q.buffer });
 * const { pushed, elapsedMs } = await replayIntoQueue(q, recordedTicks, { ratePerSec: 50_000 });
 * q.close();
 */
export function replayIntoQueue(queue: SharedQueue, frames: ReplayFrames, options?: ReplayOptions): Promise<ReplayResult> {
  const stack = new Error('replayIntoQueue');
  try {
    if (!(queue instanceof SharedQueue)) throw invalidType('queue', 'an SpscQueue or MpmcQueue', queue);
    const packed = packFrames(frames, queue.slotBytes);
    const { rate, backend } = checkOptions(options);
    const addon = nativeQueueAddon();
    const views = queue[kQueueViews];
    if (addon !== null && backend === 'native') {
      // The binding copies frames that are not shared for its thread (and takes the queue
      // only over a SharedArrayBuffer): nothing the caller detaches or shrinks reaches it.
      const i32 = views.i32;
      const wake = (): void => {
        notifyWaiters(i32, Sleepers.Consumers);
      };
      return addon.replayIntoQueue(views.u8, packed.data, packed.lengths, rate, wake).then((o) => settle(o, stack, 'native'));
    }
    return new Promise<ReplayResult>((resolve, reject) => {
      const workerData: ReplayWorkerData = { buffer: queue.buffer, data: packed.data, lengths: packed.lengths, ratePerSec: rate };
      const worker = new Worker(replayWorkerEntry(), { workerData });
      let done = false;
      worker.once('message', (outcome: ReplayOutcome) => {
        done = true;
        try {
          resolve(settle(outcome, stack, 'ts'));
        } catch (err) {
          reject(err);
        }
      });
      worker.once('error', (err) => {
        done = true;
        reject(err);
      });
      worker.once('exit', (code) => {
        if (!done) reject(new Error(`the replayIntoQueue worker exited with code ${code} before finishing`));
      });
    });
  } catch (err) {
    return Promise.reject(err);
  }
}
