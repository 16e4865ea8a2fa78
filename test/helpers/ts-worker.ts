import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker_thread that runs a TypeScript file from this repo. Node 20 applies
 * `--import tsx` hooks too late for a worker's entry file, so the worker starts from a
 * tiny JS bootstrap that registers tsx and then imports the file.
 */
export function tsWorker(file: URL, options: WorkerOptions = {}): Worker {
  const bootstrap =
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(file.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** Resolves with the worker's first message; rejects on an error or an exit before it. */
export function firstMessage<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.once('message', (m: T) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before replying`)));
  });
}
