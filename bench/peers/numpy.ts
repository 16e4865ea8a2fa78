/**
 * Drives bench/peers/risk_numpy.py as an 'external' peer of the round-robin: each request
 * asks the Python process for about budgetMs of single-call samples of one NumPy task,
 * spaced by the same untimed pause (gapUs) as our tasks of the group, so ratios compare
 * calls made the same way.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { benchRoot } from '../lib/index.js';

interface Hello {
  available: boolean;
  reason?: string;
  numpy?: string;
  python?: string;
  tasks?: string[];
}

export class NumpyPeer {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly hello: Hello,
    private readonly next: () => Promise<string>,
  ) {}

  /** Starts python3 with the peer script; `hello.available` false (with a reason) when it cannot. */
  static async start(): Promise<NumpyPeer | { available: false; reason: string }> {
    const child = spawn('python3', [join(benchRoot, 'peers', 'risk_numpy.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const rl = createInterface({ input: child.stdout });
    const queue: string[] = [];
    const waiters: ((line: string | null) => void)[] = [];
    rl.on('line', (line) => {
      const w = waiters.shift();
      if (w) w(line);
      else queue.push(line);
    });
    const ended = new Promise<null>((resolve) => child.on('close', () => resolve(null)));
    child.on('close', () => {
      for (const w of waiters.splice(0)) w(null);
    });
    const spawnError = new Promise<string>((resolve) => child.on('error', (e) => resolve(e.message)));
    const nextLine = (): Promise<string | null> => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
    const first = await Promise.race([nextLine(), ended, spawnError.then((m) => `!${m}`)]);
    if (first === null || first.startsWith('!')) {
      return { available: false, reason: first === null ? `python3 exited: ${stderr.trim().split('\n').pop() ?? ''}` : `python3 did not run: ${first.slice(1)}` };
    }
    let hello: Hello;
    try {
      hello = JSON.parse(first) as Hello;
    } catch {
      child.kill();
      return { available: false, reason: `the NumPy peer printed something that is not JSON: ${first.slice(0, 100)}` };
    }
    if (!hello.available) {
      child.kill();
      return { available: false, reason: hello.reason ?? 'unknown reason' };
    }
    return new NumpyPeer(child, hello, async () => {
      const line = await nextLine();
      if (line === null) throw new Error(`the NumPy peer exited: ${stderr.trim().split('\n').pop() ?? ''}`);
      return line;
    });
  }

  /** About budgetMs of single calls of `task` (at least min), each after an untimed pause of gapUs; ns per call. */
  async samples(task: string, budgetMs: number, min: number, gapUs = 0): Promise<number[]> {
    this.child.stdin.write(`${JSON.stringify({ task, budgetMs, min, gapUs })}\n`);
    return (JSON.parse(await this.next()) as { samples: number[] }).samples;
  }

  close(): void {
    this.child.stdin.end();
  }
}
