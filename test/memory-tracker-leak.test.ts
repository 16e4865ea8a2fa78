import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The real thing, in child processes (node --expose-gc, a major GC every 100 ms): one retains
 * ~1 MB/s on the JS heap, the other is the same program without the leak. Both run at once;
 * the leaky one stops at its first 'leak-suspected', the clean one runs the full 30 s window
 * the leaky one is allowed. Backend-independent, so it runs in the 'ts' project only.
 */
const fixture = fileURLToPath(new URL('./fixtures/leak-child.ts', import.meta.url));
const kWindowMs = 30_000;

interface ChildResult {
  flaggedAtMs: number | null;
  report: { verdict: string; samples: number; spanMs: number; slopeBytesPerHour: number; mannKendall: { p: number } | null };
  retainedArrays: number;
}

function runChild(leakBytesPerSecond: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, String(leakBytesPerSecond), String(kWindowMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), kWindowMs + 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`leak-child exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

describe('MemoryTracker on a real heap', () => {
  it.skipIf(process.env.ULTRA_PERF_BACKEND === 'native')(
    'flags a child retaining ~1 MB/s within 30 s, and not the same child without the leak over 30 s',
    async () => {
      const [leaky, clean] = await Promise.all([runChild(1_000_000), runChild(0)]);
      expect(leaky.flaggedAtMs, JSON.stringify(leaky.report)).not.toBeNull();
      expect(leaky.flaggedAtMs!).toBeLessThanOrEqual(kWindowMs);
      expect(leaky.report.verdict).toBe('leak-suspected');
      // ~1 MB/s is ~3.6 GB/h; the slope it measured is within a factor of two of it.
      expect(leaky.report.slopeBytesPerHour).toBeGreaterThan(1.8e9);
      expect(leaky.report.slopeBytesPerHour).toBeLessThan(7.2e9);
      expect(leaky.retainedArrays).toBeGreaterThan(0);

      expect(clean.flaggedAtMs, JSON.stringify(clean.report)).toBeNull();
      expect(clean.report.verdict).toBe('no-leak');
      expect(clean.report.spanMs).toBeGreaterThan(kWindowMs - 2000);
      expect(clean.report.samples).toBeGreaterThan(100);
      expect(clean.retainedArrays).toBe(0);
    },
    kWindowMs + 45_000,
  );
});
