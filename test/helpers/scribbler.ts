import { Worker } from 'node:worker_threads';

/**
 * A worker_thread that writes pseudo-random int32 words over [byteOffset, byteOffset +
 * bytes) of a SharedArrayBuffer until stop() (Atomics.store: the words tear nothing, they
 * are just wrong). Half the words are small (near valid indices, sizes and offsets, so
 * the checks past the first are reached), the rest anything. `skipWords` lists word
 * indices (relative to byteOffset) it leaves alone.
 */
export async function startScribbler(
  buffer: SharedArrayBuffer,
  byteOffset: number,
  bytes: number,
  seed = 0x9e3779b9,
  skipWords: number[] = [],
): Promise<{ stop: () => Promise<number> }> {
  const control = new SharedArrayBuffer(8);
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { buffer, byteOffset, bytes, control, seed, skip } = workerData;
    const i32 = new Int32Array(buffer, byteOffset, bytes >> 2);
    const flag = new Int32Array(control);
    const skipped = new Set(skip);
    let x = seed | 0;
    const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x; };
    parentPort.postMessage('started');
    let writes = 0;
    while (Atomics.load(flag, 0) === 0) {
      for (let k = 0; k < 32; k++) {
        const i = (next() >>> 0) % i32.length;
        if (skipped.has(i)) continue;
        const r = next();
        Atomics.store(i32, i, (r & 1) === 0 ? r : (r >> 20));
        writes++;
      }
    }
    Atomics.store(flag, 1, writes);
    parentPort.postMessage('stopped');
  `;
  const worker = new Worker(code, { eval: true, workerData: { buffer, byteOffset, bytes, control, seed, skip: skipWords } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      const flag = new Int32Array(control);
      Atomics.store(flag, 0, 1);
      await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      return flag[1]!;
    },
  };
}

/** Fills a canary region and returns a check that it is still untouched. */
export function canary(buffer: SharedArrayBuffer, byteOffset: number, bytes: number): () => boolean {
  const view = new Uint8Array(buffer, byteOffset, bytes);
  view.fill(0xa5);
  return () => view.every((b) => b === 0xa5);
}
