import { describe, expect, it } from 'vitest';

import { LatencyRegistry, PerformanceMetrics } from '../lib/monitor/index.js';

const turn = () => new Promise((r) => setImmediate(r));

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('PerformanceMetrics', () => {
  it('ticks on an unref\'d timer and reports event loop, GC, memory, CPU, latency and added sources', async () => {
    const registry = new LatencyRegistry();
    registry.histogram('submit').record(1500);
    registry.histogram('submit').record(2500);
    const metrics = new PerformanceMetrics({ registry, historySize: 8 });
    metrics.addSource('orders', () => ({ open: 3 }));
    metrics.addSource('broken', () => {
      throw new Error('venue unreachable');
    });
    metrics.startMonitoring({ intervalMs: 10 });
    try {
      expect(metrics.monitoring).toBe(true);
      const timer = (metrics as unknown as { timer_: NodeJS.Timeout }).timer_;
      expect(timer.hasRef()).toBe(false);
      // Garbage enough for scavenges, which Node reports after a turn.
      let sink = 0;
      for (let i = 0; i < 300_000; i++) sink += { i, s: `o${i}` }.s.length;
      expect(sink).toBeGreaterThan(0);
      await turn();
      await until(() => metrics.getComprehensiveReport().ticks >= 10);
    } finally {
      expect(metrics.stopMonitoring().monitoring).toBe(false);
    }
    const r = metrics.getComprehensiveReport();
    expect(r.monitoring).toBe(false);
    expect(r.intervalMs).toBe(10);
    expect(r.ticks).toBeGreaterThanOrEqual(10);
    expect(r.intervals.count).toBe(8); // bounded by historySize
    expect(r.intervals.heapUsedBytes.last).toBeGreaterThan(0);
    expect(r.intervals.heapUsedBytes.max).toBeGreaterThanOrEqual(r.intervals.heapUsedBytes.mean);
    expect(r.intervals.eventLoopUtilization.max).toBeLessThanOrEqual(1);
    expect(r.intervals.cpuPercentOfOneCore.mean).toBeGreaterThanOrEqual(0);
    expect(r.uptimeMs).toBeGreaterThan(0);
    expect(r.process.pid).toBe(process.pid);
    expect(r.process.cpu.userMs + r.process.cpu.systemMs).toBeGreaterThan(0);
    expect(r.process.memory.heapUsed).toBeGreaterThan(0);
    expect(r.eventLoop).toMatchObject({ source: 'tick', resolutionMs: 10, running: false });
    expect(r.eventLoop!.delay.count).toBe(r.ticks);
    expect(r.eventLoop!.utilization).toBeGreaterThan(0);
    expect(r.gc.byKind.minor.count).toBeGreaterThan(0);
    expect(r.memory.verdict).toBe('insufficient-data');
    expect(r.latency.submit).toMatchObject({ count: 2, max: 2500 });
    expect(r.sources).toEqual({ orders: { open: 3 }, broken: { error: 'venue unreachable' } });
    expect(Date.parse(r.timestamp)).toBeGreaterThan(0);
    // A stopped monitor's report stays put.
    expect(metrics.getComprehensiveReport().uptimeMs).toBe(r.uptimeMs);
  });

  it("measures the event loop delay from its tick's lateness, or with monitorEventLoopDelay when asked", async () => {
    const blockFor = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const metrics = new PerformanceMetrics().startMonitoring({ intervalMs: 20 });
    await until(() => metrics.getComprehensiveReport().ticks >= 2);
    blockFor(150); // the tick due in these 150 ms fires at least 130 ms late
    const ticks = metrics.getComprehensiveReport().ticks;
    await until(() => metrics.getComprehensiveReport().ticks >= ticks + 2);
    const tick = metrics.stopMonitoring().eventLoop!;
    expect(tick.source).toBe('tick');
    expect(tick.delay.maxMs).toBeGreaterThanOrEqual(120);
    expect(tick.activeMs).toBeGreaterThanOrEqual(150);

    const native = new PerformanceMetrics({ eventLoopResolutionMs: 5 }).startMonitoring({ intervalMs: 1000 });
    expect(native.eventLoop!.running).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    blockFor(100);
    await new Promise((r) => setTimeout(r, 20));
    const n = native.stopMonitoring().eventLoop!;
    expect(n).toMatchObject({ source: 'monitorEventLoopDelay', resolutionMs: 5, running: false });
    expect(n.delay.maxMs).toBeGreaterThanOrEqual(90);
    expect(native.eventLoop!.running).toBe(false);
  });

  it('takes a tick on demand and starts over on the next start', () => {
    const metrics = new PerformanceMetrics({ historySize: 4 });
    expect(metrics.getComprehensiveReport()).toMatchObject({ monitoring: false, ticks: 0, intervalMs: null, uptimeMs: 0, eventLoop: null });
    metrics.startMonitoring({ intervalMs: 3_600_000 });
    for (let i = 0; i < 6; i++) metrics.sample();
    expect(metrics.getComprehensiveReport()).toMatchObject({ ticks: 6, intervals: { count: 4 } });
    metrics.stopMonitoring();
    metrics.startMonitoring();
    expect(metrics.getComprehensiveReport()).toMatchObject({ ticks: 0, intervalMs: 1000, intervals: { count: 0 } });
    metrics.stopMonitoring();
  });

  it('reports the GPUs through a GpuMonitor while monitoring (available or why not), and not when gpu: false', () => {
    const metrics = new PerformanceMetrics({ gpu: true });
    expect(metrics.getComprehensiveReport().gpu).toBeNull();
    metrics.startMonitoring({ intervalMs: 1000 });
    const live = metrics.getComprehensiveReport().gpu!;
    expect(typeof live.available).toBe('boolean');
    // No driver here (or a real one on a GPU host): either readings or the reason, never neither.
    if (!live.available) expect(live.reason).toMatch(/\w/);
    const last = metrics.stopMonitoring().gpu;
    expect(last).toEqual(expect.objectContaining({ available: live.available }));
    expect(metrics.getComprehensiveReport().gpu).toBe(last);
    const off = new PerformanceMetrics({ gpu: false }).startMonitoring({ intervalMs: 1000 });
    expect(off.stopMonitoring().gpu).toBeNull();
    expect(() => new PerformanceMetrics({ gpu: 'yes' as never })).toThrow(/options\.gpu/);
  });

  it('manages sources by name', () => {
    const metrics = new PerformanceMetrics();
    metrics.addSource('a', () => 1).addSource('b', () => 2);
    expect(metrics.sourceNames()).toEqual(['a', 'b']);
    metrics.removeSource('a');
    expect(metrics.getComprehensiveReport().sources).toEqual({ b: 2 });
    expect(() => metrics.removeSource('zz')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/one of the added sources \(b\) for name but received "zz"/) }));
    expect(() => metrics.addSource('b', () => 3)).toThrow(/taken: b\) for name but received "b"/);
    expect(() => metrics.addSource('', () => 3)).toThrow(/for name but received ""/);
    expect(() => metrics.addSource('c', 5 as never)).toThrow(/for read but received 5/);
  });

  it('names bad intervals and options, and refuses to start twice or stop when stopped', () => {
    const metrics = new PerformanceMetrics();
    for (const bad of [-1, 0, Number.NaN, Number.POSITIVE_INFINITY, 3_600_001]) {
      expect(() => metrics.startMonitoring({ intervalMs: bad })).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining(`options.intervalMs but received ${bad}`) }),
      );
    }
    expect(() => metrics.startMonitoring({ intervalMs: '100' as never })).toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/options\.intervalMs but received "100"/) }));
    expect(() => metrics.startMonitoring({ interval: 100 } as never)).toThrow(/unknown option 'interval' for PerformanceMetrics\.startMonitoring; did you mean 'intervalMs'\?/);
    expect(metrics.monitoring).toBe(false);
    expect(() => metrics.stopMonitoring()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_NOT_RUNNING' }));
    metrics.startMonitoring({ intervalMs: 100 });
    expect(() => metrics.startMonitoring({ intervalMs: 50 })).toThrow(
      expect.objectContaining({ code: 'ERR_ULTRA_PERF_ALREADY_RUNNING', message: expect.stringContaining('monitoring every 100 ms; call stopMonitoring() first') }),
    );
    metrics.stopMonitoring();
    metrics.memory.start();
    expect(() => metrics.startMonitoring()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_ALREADY_RUNNING', message: expect.stringContaining('PerformanceMetrics.memory') }));
    expect(metrics.eventLoop).toBeNull();
    metrics.memory.stop();
    const withNative = new PerformanceMetrics({ eventLoopResolutionMs: 5 });
    withNative.eventLoop!.start();
    expect(() => withNative.startMonitoring()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_ALREADY_RUNNING', message: expect.stringContaining('PerformanceMetrics.eventLoop') }));
    expect(withNative.memory.running).toBe(false);
    withNative.eventLoop!.stop();
    expect(() => new PerformanceMetrics({ registry: {} as never })).toThrow(/a LatencyRegistry for options\.registry/);
    expect(() => new PerformanceMetrics({ historySize: 0 })).toThrow(/options\.historySize but received 0/);
    expect(() => new PerformanceMetrics({ eventLoopResolutionMs: -5 })).toThrow(/options\.eventLoopResolutionMs but received -5/);
    expect(() => new PerformanceMetrics({ memory: { alpha: 2 } })).toThrow(/options\.alpha but received 2/);
  });
});
