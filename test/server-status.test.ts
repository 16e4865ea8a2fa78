/**
 * status/comprehensive over a real listening server (both backends), and the rubric behind
 * health_status and performance_grade driven with measured telemetry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backendInfo } from '../lib/index.js';
import { assessHealth, healthInputs, kHealthRubric, kMinRequestsForP99, optimizationLevel, readComponents } from '../lib/server/routes/status.js';
import { ServerTelemetry } from '../lib/server/telemetry.js';
import type { ComponentReport } from '../lib/server/types.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  // Load shedding off: a start-up stall on a loaded 2-core machine can pass its limits (server-core tests shedding).
  server = await startServer({ limits: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } });
});
afterAll(async () => {
  await server.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const kJobs = { running: 0, queued: 0, completed: 0, failed: 0, cancelled: 0, rejected: 0, inline: 0, kept: 0, meanRunMs: 0 };

describe('GET status/comprehensive', () => {
  it("answers the seed's fields with measured values and the extra measured sections", async () => {
    for (let i = 0; i < 5; i++) await fetch(`${server.api}/monitoring/status`);
    await sleep(250);
    const r = await fetch(`${server.api}/status/comprehensive`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as any;
    expect(typeof body.timestamp).toBe('number');
    expect(body.timestamp).toBeGreaterThan(1.6e9);
    expect(body.timestamp).toBeLessThan(1e11); // seconds, not ms
    expect(['optimal', 'degraded', 'critical']).toContain(body.health_status);
    expect(['A+', 'A', 'B', 'C', 'D', 'F']).toContain(body.performance_grade);
    expect(body.score).toBeGreaterThanOrEqual(0);
    expect(body.score).toBeLessThanOrEqual(100);
    // the grade and health follow from the assessments shown
    const penalties = Object.values(body.assessments as Record<string, { penalty: number; level: string }>);
    expect(penalties).toHaveLength(5);
    expect(body.score).toBeCloseTo(Math.max(0, 100 - penalties.reduce((s, a) => s + a.penalty, 0)), 6);
    const worst = penalties.some((a) => a.level === 'critical') ? 'critical' : penalties.some((a) => a.level === 'degraded') ? 'degraded' : 'optimal';
    expect(body.health_status).toBe(worst);
    // optimization_level from what this process loaded
    expect(body.optimization.native_backend).toBe(backendInfo().native);
    expect(body.optimization.native_backend).toBe(process.env.ULTRA_PERF_BACKEND === 'native');
    expect(body.optimization.gpu_backend).toBe(backendInfo().cuda);
    expect(body.optimization_level).toBe(
      optimizationLevel({ native: body.optimization.native_backend, gpu: body.optimization.gpu_backend, pinned: body.optimization.affinity_pinned }),
    );
    if (process.env.ULTRA_PERF_BACKEND === 'ts') expect(body.optimization_level).toBe('fallback');
    // system_info: one entry per component, each with its health
    expect(body.system_info.performance_monitoring.health).toMatch(/^(ok|idle)$/);
    expect(typeof body.system_info.performance_monitoring.monitoring_active).toBe('boolean');
    for (const report of Object.values(body.system_info as Record<string, { health: string }>)) {
      expect(['ok', 'degraded', 'unavailable', 'idle']).toContain(report.health);
    }
    // measured sections
    expect(body.telemetry.requests_total).toBeGreaterThanOrEqual(5);
    expect(body.telemetry.p50_us).toBeGreaterThan(0);
    expect(body.telemetry.p50_us).toBeLessThanOrEqual(body.telemetry.p99_us);
    expect(body.telemetry.p99_us).toBeLessThanOrEqual(body.telemetry.max_us);
    expect(body.telemetry.rss_bytes).toBeGreaterThan(0);
    expect(body.jobs.queue_capacity).toBeGreaterThan(0);
    expect(body.jobs.queued).toBeGreaterThanOrEqual(0);
    expect(body.timestamp).toBeLessThanOrEqual(Date.now() / 1000);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('counts its own requests in the next report (the figures move)', async () => {
    const first = (await (await fetch(`${server.api}/status/comprehensive`)).json()) as any;
    for (let i = 0; i < 10; i++) await fetch(`${server.api}/status/comprehensive`);
    await sleep(250);
    const later = (await (await fetch(`${server.api}/status/comprehensive`)).json()) as any;
    expect(later.telemetry.requests_total).toBeGreaterThanOrEqual(first.telemetry.requests_total + 11);
    expect(later.timestamp).toBeGreaterThan(first.timestamp);
  });

  it('ignores a query string and refuses other methods', async () => {
    expect((await fetch(`${server.api}/status/comprehensive?x=1`)).status).toBe(200);
    const r = await fetch(`${server.api}/status/comprehensive`, { method: 'POST' });
    expect(r.status).toBe(404);
  });
});

describe('health and grade from measured telemetry', () => {
  it('a request p99 over fewer than kMinRequestsForP99 requests is not judged (a cold first call is not an unhealthy server)', () => {
    const t = new ServerTelemetry({ cacheMs: 0 });
    try {
      for (let i = 0; i < kMinRequestsForP99 - 1; i++) t.recordRequest('GET', '/cold', 200, 300_000_000); // 300 ms each
      expect(t.snapshot().requests.all.windowCount).toBe(kMinRequestsForP99 - 1);
      expect(healthInputs(t.snapshot(), kJobs, 16, 0).requestP99Us).toBe(0);
      t.recordRequest('GET', '/cold', 200, 300_000_000);
      expect(healthInputs(t.snapshot(), kJobs, 16, 0).requestP99Us).toBeGreaterThan(250_000);
    } finally {
      t.close();
    }
  });

  it('fast requests are optimal A+; slow ones degrade the grade and the health', () => {
    const t = new ServerTelemetry({ cacheMs: 0 });
    try {
      for (let i = 0; i < 200; i++) t.recordRequest('GET', '/fast', 200, 50_000 + i * 100);
      const fast = assessHealth({ ...healthInputs(t.snapshot(), kJobs, 16, 0), eventLoopP99Ms: 0 });
      expect(fast.health).toBe('optimal');
      expect(fast.grade).toBe('A+');
      expect(fast.assessments.requestP99Us.value).toBeGreaterThan(0);
      expect(fast.assessments.requestP99Us.value).toBeLessThan(1000);

      for (let i = 0; i < 50; i++) t.recordRequest('GET', '/slow', 200, 20_000_000); // 20 ms
      const slow = assessHealth({ ...healthInputs(t.snapshot(), kJobs, 16, 0), eventLoopP99Ms: 0 });
      expect(slow.health).toBe('degraded');
      expect(slow.assessments.requestP99Us.level).toBe('degraded');
      expect(slow.score).toBeLessThan(fast.score);
      expect(['B', 'C']).toContain(slow.grade);

      for (let i = 0; i < 500; i++) t.recordRequest('POST', '/slower', 500, 300_000_000); // 300 ms, 5xx
      const bad = assessHealth({ ...healthInputs(t.snapshot(), kJobs, 16, 0), eventLoopP99Ms: 0 });
      expect(bad.health).toBe('critical');
      expect(bad.assessments.serverErrorRate.level).toBe('critical');
      expect(bad.grade).toBe('F');
    } finally {
      t.close();
    }
  });

  it('judges event-loop delay, queue saturation and memory growth by the rubric', () => {
    const base = { requestP99Us: 100, eventLoopP99Ms: 1, serverErrorRate: 0, jobQueueSaturation: 0, memoryGrowthBytesPerHour: 0 };
    expect(assessHealth(base).grade).toBe('A+');
    expect(assessHealth({ ...base, eventLoopP99Ms: 50 }).health).toBe('degraded');
    expect(assessHealth({ ...base, eventLoopP99Ms: 500 }).health).toBe('critical');
    expect(assessHealth({ ...base, jobQueueSaturation: 0.75 }).health).toBe('degraded');
    expect(assessHealth({ ...base, jobQueueSaturation: 1 }).health).toBe('critical');
    expect(assessHealth({ ...base, memoryGrowthBytesPerHour: 64 * 1024 ** 2 }).health).toBe('degraded');
    expect(assessHealth({ ...base, memoryGrowthBytesPerHour: 2 * 1024 ** 3 }).health).toBe('critical');
    expect(assessHealth({ ...base, requestP99Us: Number.NaN }).assessments.requestP99Us.value).toBe(0);
    const t = new ServerTelemetry({ cacheMs: 0 });
    expect(healthInputs(t.snapshot(), { ...kJobs, queued: 8 }, 16, 0).jobQueueSaturation).toBe(0.5);
    t.close();
    for (const rule of Object.values(kHealthRubric)) expect(rule.criticalAbove).toBeGreaterThan(rule.degradedAbove);
  });

  it('optimization_level: fallback without the native addon, ultra_performance only with GPU or pinning', () => {
    expect(optimizationLevel({ native: false, gpu: true, pinned: true })).toBe('fallback');
    expect(optimizationLevel({ native: true, gpu: false, pinned: false })).toBe('standard');
    expect(optimizationLevel({ native: true, gpu: true, pinned: false })).toBe('ultra_performance');
    expect(optimizationLevel({ native: true, gpu: false, pinned: true })).toBe('ultra_performance');
  });

  it('a component that throws reports unavailable with its error; the others are kept', () => {
    const components = new Map<string, () => ComponentReport>([
      ['good', () => ({ health: 'ok', figure: 3 })],
      ['broken', () => { throw new Error('NVML gone'); }],
      ['bogus', () => null as unknown as ComponentReport],
    ]);
    const info = readComponents(components);
    expect(info.good).toEqual({ health: 'ok', figure: 3 });
    expect(info.broken).toEqual({ health: 'unavailable', error: 'NVML gone' });
    expect(info.bogus!.health).toBe('unavailable');
  });
});
