/**
 * The parent's side of a test fleet: forks a child process running a script of
 * test/helpers/cache-fleet-*.ts under tsx and talks to it over IPC ({ op, id } requests, one
 * { op: 'done', id, result | error } answer each; other messages go to `onMessage`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface FleetChild {
  readonly process: ChildProcess;
  /** Sends `{ op, ...payload }` and resolves with the child's result (rejects with its error). */
  request<T = unknown>(op: string, payload?: Record<string, unknown>): Promise<T>;
  /** Messages the child sends on its own (not answers). */
  onMessage(handler: (m: { op: string; [k: string]: unknown }) => void): void;
  /** Asks the child to close its levels and waits for it to exit (SIGKILL after 5 s). */
  close(): Promise<void>;
}

/** Forks `script` (default: cache-fleet-child.ts beside this file). */
export function forkFleetChild(script = fileURLToPath(new URL('./cache-fleet-child.ts', import.meta.url))): FleetChild {
  const child = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const handlers: ((m: { op: string; [k: string]: unknown }) => void)[] = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.on('message', (m: { op: string; id?: number; result?: unknown; error?: string }) => {
    if (m.op === 'done' && m.id !== undefined) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(`child ${child.pid}: ${m.error}`));
      else p?.resolve(m.result);
      return;
    }
    for (const h of handlers) h(m);
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`child ${child.pid} exited (${code ?? signal}) with a request pending`));
    pending.clear();
  });
  return {
    process: child,
    request: <T>(op: string, payload: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = ++seq;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ op, id, ...payload });
      }),
    onMessage: (h) => handlers.push(h),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        try {
          await Promise.race([
            new Promise<void>((resolve, reject) => {
              const id = ++seq;
              pending.set(id, { resolve: () => resolve(), reject });
              child.send({ op: 'close', id });
            }).catch(() => undefined),
            exited,
          ]);
          await exited;
        } finally {
          clearTimeout(kill);
        }
      }
    },
  };
}
