/**
 * A real Redis for tests (issue 16): Debian's `redis-server`, started on a free loopback port
 * with no persistence and stopped after. Outside CI a machine without it skips the suite
 * ("skipped: no redis-server"); under CI=true a missing server fails the run (.ci/run installs it).
 *
 *     const redis = await startRedis();      // { port, url, stop(), kill(), restart() }
 *     ...
 *     await redis.stop();
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';

/** Path of redis-server, or null. */
export const redisServerPath: string | null = (() => {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
})();

if (process.env.CI === 'true' && redisServerPath === null) {
  throw new Error("redis-server is required under CI=true (Debian's 'redis-server' package, installed by .ci/run)");
}

/** `describe.skipIf(!hasRedis)`: true when the tests can start a server. */
export const hasRedis = redisServerPath !== null;

export interface TestRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: the fault tests' "Redis killed mid-run". */
  kill(): Promise<void>;
  /** Starts the server again on the same port (after `kill` or `stop`); data is gone (no persistence). */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.write('PING\r\n');
        c.once('data', (d) => {
          c.destroy();
          resolve(d.toString().startsWith('+PONG'));
        });
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function launch(port: number, extraArgs: readonly string[]): ChildProcess {
  if (redisServerPath === null) throw new Error('no redis-server on PATH');
  return spawn(
    redisServerPath,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', ...extraArgs],
    { stdio: 'ignore' },
  );
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Starts a Redis on a free loopback port; `extraArgs` go to redis-server (e.g. `['--maxmemory', '10mb']`). */
export async function startRedis(extraArgs: readonly string[] = []): Promise<TestRedis> {
  let child: ChildProcess | null = null;
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    child = launch(port, extraArgs);
    try {
      await waitForPort(port, child, 5000);
      break;
    } catch (e) {
      child.kill('SIGKILL');
      await exited(child);
      if (attempt >= 3) throw e;
    }
  }
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child === null) return;
    const c = child;
    child = null;
    c.kill(signal);
    await exited(c);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    restart: async () => {
      await stopWith('SIGKILL');
      child = launch(port, extraArgs);
      await waitForPort(port, child, 5000);
    },
  };
}
