import { describe, expect, it } from 'vitest';

import { EventLoopMonitor } from '../lib/monitor/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('EventLoopMonitor', () => {
  it('sees a blocked loop as delay and as utilization', async () => {
    const loop = new EventLoopMonitor({ resolutionMs: 5 }).start();
    expect(loop.running).toBe(true);
    await sleep(30);
    blockFor(120); // the delay timer cannot fire during these 120 ms
    await sleep(30);
    const s = loop.stop();
    expect(loop.running).toBe(false);
    expect(s.running).toBe(false);
    expect(s.resolutionMs).toBe(5);
    expect(s.delay.count).toBeGreaterThan(0);
    // Late by the block, less the resolution at most (the timer was armed at most 5 ms before it).
    expect(s.delay.maxMs).toBeGreaterThanOrEqual(110);
    expect(s.delay.minMs).toBeLessThanOrEqual(s.delay.p50Ms);
    expect(s.delay.p50Ms).toBeLessThanOrEqual(s.delay.p99Ms);
    expect(s.delay.p99Ms).toBeLessThanOrEqual(s.delay.maxMs);
    // 120 ms busy in a run of >= 180 ms.
    expect(s.activeMs).toBeGreaterThanOrEqual(120);
    expect(s.utilization).toBeGreaterThan(0);
    expect(s.utilization).toBeLessThanOrEqual(1);
    expect(s.elapsedMs).toBeGreaterThanOrEqual(s.activeMs);
    // Stopped: stats() gives the same run again.
    expect(loop.stats().delay).toEqual(s.delay);
  });

  it('starts the numbers over on reset() and on a new start()', async () => {
    const loop = new EventLoopMonitor({ resolutionMs: 5 }).start();
    await sleep(10);
    blockFor(60);
    await sleep(10);
    expect(loop.stats().delay.maxMs).toBeGreaterThanOrEqual(50);
    loop.reset();
    const after = loop.stats();
    expect(after.delay.count).toBe(0);
    expect(after.delay.maxMs).toBe(0);
    expect(after.activeMs).toBeLessThan(60);
    loop.stop();
    loop.start();
    expect(loop.stats().delay.count).toBe(0);
    loop.stop();
  });

  it('names bad options and refuses to start twice or stop when stopped', () => {
    expect(() => new EventLoopMonitor({ resolutionMs: -1 })).toThrow(expect.objectContaining({ name: 'RangeError', message: expect.stringMatching(/options\.resolutionMs but received -1/) }));
    expect(() => new EventLoopMonitor({ resolutionMs: Number.NaN })).toThrow(/options\.resolutionMs but received NaN/);
    expect(() => new EventLoopMonitor({ resolutionMs: 0 })).toThrow(/options\.resolutionMs but received 0/);
    expect(() => new EventLoopMonitor({ resolution: 10 } as never)).toThrow(/unknown option 'resolution' for EventLoopMonitor; did you mean 'resolutionMs'\?/);
    const loop = new EventLoopMonitor();
    expect(() => loop.stats()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_NOT_RUNNING' }));
    expect(() => loop.stop()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_NOT_RUNNING' }));
    loop.start();
    expect(() => loop.start()).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_ALREADY_RUNNING', message: expect.stringContaining('EventLoopMonitor') }));
    loop.stop();
  });
});
