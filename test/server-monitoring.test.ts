/**
 * monitoring/*, profiling/*, regression/report and the request telemetry, against a real
 * listening server (both backends), plus ServerTelemetry driven directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kUnmatchedRoute, ServerTelemetry, type RouteLatency, type TelemetrySnapshot } from '../lib/server/telemetry.js';
import { startServer, type TestServer } from './helpers/server.js';

const kPrefix = '/api/v1/ultra-performance';
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ limits: { maxProfileMs: 2_000 } });
});
afterAll(async () => {
  await server.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(server.api + path);
  return { status: r.status, body: r.status === 204 ? null : await r.json(), headers: r.headers };
}

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(server.api + path, {
    method,
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: r.status, body: r.status === 204 ? null : await r.json(), headers: r.headers };
}

/** A snapshot newer than every request made so far (the snapshot is cached up to 200 ms). */
async function telemetry(): Promise<TelemetrySnapshot> {
  await sleep(260);
  const { status, body } = await get('/monitoring/telemetry');
  expect(status).toBe(200);
  return body as TelemetrySnapshot;
}

function row(snap: TelemetrySnapshot, method: string, route: string): RouteLatency | undefined {
  return snap.requests.routes.find((r) => r.method === method && r.route === route);
}

function expectOrdered(r: RouteLatency): void {
  expect(r.p50Us).toBeGreaterThan(0);
  expect(r.p50Us).toBeLessThanOrEqual(r.p90Us);
  expect(r.p90Us).toBeLessThanOrEqual(r.p99Us);
  expect(r.p99Us).toBeLessThanOrEqual(r.p999Us);
  expect(r.p999Us).toBeLessThanOrEqual(r.maxUs);
}

describe('request telemetry over HTTP', () => {
  it('counts the requests this test makes to a route, exactly, with ordered percentiles and a rate', async () => {
    const before = row(await telemetry(), 'GET', `${kPrefix}/regression/report`)?.count ?? 0;
    for (let i = 0; i < 7; i++) expect((await get('/regression/report')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get('/regression/report?baseline_seconds=1')).status).toBe(400);
    const snap = await telemetry();
    const r = row(snap, 'GET', `${kPrefix}/regression/report`)!;
    expect(r.count - before).toBe(10);
    expect(r.clientErrors).toBeGreaterThanOrEqual(3);
    expect(r.errors).toBe(r.clientErrors + r.serverErrors);
    expect(r.windowCount).toBeGreaterThanOrEqual(10);
    expect(r.ratePerSec).toBeGreaterThan(0);
    expectOrdered(r);
    expect(snap.requests.total).toBeGreaterThanOrEqual(snap.requests.routes.reduce((n, x) => n + x.count, 0));
    expect(snap.requests.ratePerSec).toBeGreaterThan(0);
    expect(snap.requests.clientErrorRate).toBeGreaterThan(0);
    expect(snap.memory.rss).toBeGreaterThan(0);
    expect(snap.window.windowCoveredS).toBeGreaterThan(0);
    expect(snap.eventLoop.utilization).toBeGreaterThanOrEqual(0);
    expect(snap.eventLoop.utilization).toBeLessThanOrEqual(1);
  });

  it('folds every URL no route matches into one (unmatched) row: a fuzzer cannot grow the table', async () => {
    const first = await telemetry();
    const rowsBefore = first.requests.routes.length + (row(first, '*', kUnmatchedRoute) === undefined ? 1 : 0);
    const unmatchedBefore = row(first, '*', kUnmatchedRoute)?.count ?? 0;
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${server.api}/no-such/${Math.random().toString(36).slice(2)}?q=${i}`, { method: i % 2 === 0 ? 'GET' : 'POST' });
      expect(r.status).toBe(404);
      const body = (await r.json()) as { code: string };
      expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_NO_ROUTE');
    }
    const snap = await telemetry();
    const unmatched = row(snap, '*', kUnmatchedRoute)!;
    expect(unmatched.count - unmatchedBefore).toBe(40);
    expect(unmatched.clientErrors).toBeGreaterThanOrEqual(40);
    expect(snap.requests.routes.length).toBeLessThanOrEqual(rowsBefore + 1); // + the telemetry route itself at most
    expect(snap.requests.routes.some((r) => r.route.includes('no-such'))).toBe(false);
  });
});

describe('monitoring/start, stop, status', () => {
  it('refuses an interval outside 0.01..60 s, a wrong type and unknown fields with 400 naming the field', async () => {
    for (const body of [{ interval_seconds: 0.001 }, { interval_seconds: 61 }, { interval_seconds: 'fast' }]) {
      const r = await send('POST', '/monitoring/start', body);
      expect(r.status).toBe(400);
      expect(r.body.statusCode).toBe(400);
      expect(r.body.message).toMatch(/interval_seconds/);
    }
    const low = await send('POST', '/monitoring/start', { interval_seconds: 0.001 });
    expect(low.body.message).toMatch(/0\.01/);
    const high = await send('POST', '/monitoring/start', { interval_seconds: 61 });
    expect(high.body.message).toMatch(/60/);
    expect((await send('POST', '/monitoring/start', '{"interval_seconds":')).status).toBe(400);
  });

  it('starts and stops idempotently, restarts at a new interval, and samples while running', async () => {
    const started = await send('POST', '/monitoring/start', { interval_seconds: 0.02 });
    expect(started.status).toBe(200);
    expect(started.body.changed).toBe(true);
    expect(started.body.monitoring_active).toBe(true);
    expect(started.body.interval_seconds).toBeCloseTo(0.02);
    const again = await send('POST', '/monitoring/start', { interval_seconds: 0.02 });
    expect(again.body.changed).toBe(false);
    expect(again.body.monitoring_active).toBe(true);
    const restarted = await send('POST', '/monitoring/start', { interval_seconds: 0.05 });
    expect(restarted.body.changed).toBe(true);
    expect(restarted.body.interval_seconds).toBeCloseTo(0.05);
    await sleep(300);
    const status = await get('/monitoring/status');
    expect(status.status).toBe(200);
    expect(status.body.monitoring_active).toBe(true);
    expect(status.body.ticks).toBeGreaterThan(0);
    expect(status.body.samples).toContain('event_loop_delay');
    expect(status.body.samples).toContain('memory_tracker');
    expect(status.body.latest.event_loop).not.toBeNull();
    expect(status.body.latest.heap_used_bytes).toBeGreaterThan(0);
    expect(status.body.latest.gpu).not.toBeNull();
    expect(typeof status.body.latest.gpu.available).toBe('boolean');
    expect(Array.isArray(status.body.latency_functions)).toBe(true);
    expect(status.body.requests.total).toBeGreaterThan(0);
    const comp = await get('/status/comprehensive');
    await sleep(250);
    expect((await get('/status/comprehensive')).body.system_info.performance_monitoring.monitoring_active).toBe(true);
    expect(comp.status).toBe(200);
    const stopped = await send('POST', '/monitoring/stop');
    expect(stopped.status).toBe(200);
    expect(stopped.body.changed).toBe(true);
    expect(stopped.body.monitoring_active).toBe(false);
    const ticks = stopped.body.ticks;
    const stoppedAgain = await send('POST', '/monitoring/stop');
    expect(stoppedAgain.body.changed).toBe(false);
    expect(stoppedAgain.body.ticks).toBe(ticks);
  });

  it('starts with the default interval (1 s) given {}, and asks for a JSON body', async () => {
    expect((await send('POST', '/monitoring/start')).status).toBe(400);
    const r = await send('POST', '/monitoring/start', {});
    expect(r.status).toBe(200);
    expect(r.body.interval_seconds).toBe(1);
    expect((await send('POST', '/monitoring/stop')).body.changed).toBe(true);
  });
});

describe('profiling sessions', () => {
  it('refuses a duration past limits.maxProfileMs with 422 naming it, and bad bodies with 400', async () => {
    const over = await send('POST', '/profiling/start-session', { duration_ms: 2_001 });
    expect(over.status).toBe(422);
    expect(over.body.message).toMatch(/duration_ms/);
    expect(over.body.message).toMatch(/2000/);
    for (const body of [{}, { duration_ms: 0 }, { duration_ms: 'x' }, { duration_ms: 10, name: 'a b' }, { duration_ms: 10, sampling_interval_us: 1 }]) {
      const r = await send('POST', '/profiling/start-session', body);
      expect(r.status).toBe(400);
    }
  });

  it('answers 404 for an unknown session, on GET and DELETE', async () => {
    const r = await get('/profiling/sessions/profiling-session-zzz');
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('ERR_ULTRA_PERF_HTTP_NOT_FOUND');
    expect((await send('DELETE', '/profiling/sessions/nope')).status).toBe(404);
  });

  it('profiles the server for duration_ms: 202 while running, 200 with the top functions once done; one at a time; deletable', async () => {
    const started = await send('POST', '/profiling/start-session', { duration_ms: 300, name: 'test-run', sampling_interval_us: 200, top: 5 });
    expect(started.status).toBe(202);
    expect(started.body.state).toBe('running');
    expect(started.headers.get('location')).toBe(started.body.location);
    const id = started.body.id as string;
    const busy = await send('POST', '/profiling/start-session', { duration_ms: 100 });
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('ERR_ULTRA_PERF_HTTP_PROFILING_BUSY');
    const polled = await get(`/profiling/sessions/${id}`);
    expect([200, 202]).toContain(polled.status);
    // load the server a little so the profile has JS in it
    for (let i = 0; i < 20; i++) await get('/monitoring/status');
    let done = polled;
    for (let i = 0; i < 100 && done.status === 202; i++) {
      await sleep(100);
      done = await get(`/profiling/sessions/${id}`);
    }
    expect(done.status).toBe(200);
    expect(done.body.state).toBe('done');
    expect(done.body.name).toBe('test-run');
    expect(done.body.result.samples).toBeGreaterThan(0);
    expect(done.body.result.durationMs).toBeGreaterThan(0);
    expect(done.body.result.topBySelf.length).toBeGreaterThan(0);
    expect(done.body.result.topBySelf.length).toBeLessThanOrEqual(5);
    const list = await get('/profiling/sessions');
    expect(list.status).toBe(200);
    expect(list.body.sessions.map((s: { id: string }) => s.id)).toContain(id);
    expect((await send('DELETE', `/profiling/sessions/${id}`)).status).toBe(204);
    expect((await get(`/profiling/sessions/${id}`)).status).toBe(404);
  });

  it('stops a running session when it is deleted', async () => {
    const started = await send('POST', '/profiling/start-session', { duration_ms: 2_000 });
    expect(started.status).toBe(202);
    expect((await send('DELETE', `/profiling/sessions/${started.body.id}`)).status).toBe(204);
    const next = await send('POST', '/profiling/start-session', { duration_ms: 50 });
    expect(next.status).toBe(202);
    expect((await send('DELETE', `/profiling/sessions/${next.body.id}`)).status).toBe(204);
  });
});

describe('profiling sessions kept', () => {
  it('answers 409 past limits.maxObjectsPerKind sessions until one is deleted', async () => {
    const small = await startServer({ limits: { maxObjectsPerKind: 1 } });
    try {
      const post = (ms: number) =>
        fetch(`${small.api}/profiling/start-session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ duration_ms: ms }) });
      const first = await post(20);
      expect(first.status).toBe(202);
      const { id } = (await first.json()) as { id: string };
      let state = 202;
      for (let i = 0; i < 100 && state === 202; i++) {
        await sleep(50);
        state = (await fetch(`${small.api}/profiling/sessions/${id}`)).status;
      }
      expect(state).toBe(200);
      const second = await post(20);
      expect(second.status).toBe(409);
      expect(((await second.json()) as { code: string }).code).toBe('ERR_ULTRA_PERF_HTTP_OBJECT_CAP');
      expect((await fetch(`${small.api}/profiling/sessions/${id}`, { method: 'DELETE' })).status).toBe(204);
      const third = await post(20);
      expect(third.status).toBe(202);
    } finally {
      await small.close();
    }
  });
});

describe('regression/report', () => {
  it('answers a RegressionDetector report over the routes, filtered by metric', async () => {
    const r = await get('/regression/report?baseline_seconds=20&current_seconds=5&sensitivity=0.2&alpha=0.01');
    expect(r.status).toBe(200);
    expect(r.body.baseline_seconds).toBe(20);
    expect(r.body.current_seconds).toBe(5);
    expect(r.body.sensitivity).toBe(0.2);
    expect(r.body.alpha).toBe(0.01);
    expect(r.body.history_seconds).toBeGreaterThanOrEqual(0);
    for (const m of r.body.metrics) {
      expect(['regression', 'improvement', 'no-change', 'insufficient-data']).toContain(m.verdict);
      expect(typeof m.reason).toBe('string');
    }
    expect(r.body.hasRegression).toBe(r.body.regressions.length > 0);
    const filtered = await get('/regression/report?metric=monitoring%2Fstatus');
    expect(filtered.status).toBe(200);
    for (const m of filtered.body.metrics) expect(m.name).toContain('monitoring/status');
  });

  it('refuses windows out of range with 400, and windows longer than the history with 422 naming them', async () => {
    for (const q of ['baseline_seconds=3', 'current_seconds=100000', 'alpha=1', 'sensitivity=-1', 'baseline_seconds=abc']) {
      expect((await get(`/regression/report?${q}`)).status).toBe(400);
    }
    const long = await get('/regression/report?baseline_seconds=110&current_seconds=20');
    expect(long.status).toBe(422);
    expect(long.body.message).toMatch(/baseline_seconds \+ current_seconds/);
    expect(long.body.message).toMatch(/119/);
  });
});

describe('ServerTelemetry', () => {
  it('keeps windowed percentiles: requests leave the window after 2 × windowS seconds, counts stay', () => {
    const t = new ServerTelemetry({ windowS: 2, cacheMs: 0 });
    try {
      for (let i = 1; i <= 100; i++) t.recordRequest('GET', '/a', 200, i * 10_000);
      t.recordRequest('GET', '/a', 503, 5_000_000);
      let r = t.snapshot().requests.routes.find((x) => x.route === '/a')!;
      expect(r.count).toBe(101);
      expect(r.windowCount).toBe(101);
      expect(r.serverErrors).toBe(1);
      expectOrdered(r);
      expect(r.maxUs).toBeCloseTo(5000, 0);
      expect(t.snapshot().requests.serverErrorRate).toBeCloseTo(1 / 101);
      t.advance();
      t.advance(); // first rotation: the older histogram (both hold everything) is reset, the other one reported
      r = t.snapshot().requests.routes.find((x) => x.route === '/a')!;
      expect(r.windowCount).toBe(101);
      t.advance();
      t.advance(); // second rotation: the requests are older than 2 s
      r = t.snapshot().requests.routes.find((x) => x.route === '/a')!;
      expect(r.windowCount).toBe(0);
      expect(r.p99Us).toBe(0);
      expect(r.count).toBe(101);
      expect(r.ratePerSec).toBe(0);
    } finally {
      t.close();
    }
  });

  it('bounds its rows: unmatched and past-maxRoutes patterns fold into (unmatched)', () => {
    const t = new ServerTelemetry({ maxRoutes: 3, cacheMs: 0 });
    try {
      for (let i = 0; i < 50; i++) t.recordRequest('GET', `/r${i}`, 200, 1000);
      t.recordRequest('GET', undefined, 404, 1000);
      t.recordRequest('POST', '', 404, 1000);
      t.recordRequest('PUT', 'unmatched', 404, 1000);
      expect(t.routeCount).toBe(3);
      const snap = t.snapshot();
      expect(snap.requests.routes).toHaveLength(3);
      expect(snap.requests.total).toBe(53);
      expect(snap.requests.routes.find((r) => r.route === kUnmatchedRoute)!.count).toBe(53 - 2);
    } finally {
      t.close();
    }
  });

  it('caches the snapshot for cacheMs, and refuses bad options naming them', () => {
    const t = new ServerTelemetry({ cacheMs: 250 });
    try {
      const a = t.snapshot();
      t.recordRequest('GET', '/x', 200, 1000);
      expect(t.snapshot()).toBe(a);
    } finally {
      t.close();
    }
    expect(() => new ServerTelemetry({ cacheMs: 251 })).toThrow(/cacheMs/);
    expect(() => new ServerTelemetry({ windowS: 0 })).toThrow(/windowS/);
    expect(() => new ServerTelemetry({ maxRoutes: 1.5 })).toThrow(/maxRoutes/);
  });

  it('gives per-second means for regression windows, leaving out empty seconds', () => {
    const t = new ServerTelemetry({ cacheMs: 0 });
    try {
      t.recordRequest('GET', '/m', 200, 2_000);
      t.recordRequest('GET', '/m', 200, 4_000);
      t.advance();
      t.advance();
      t.recordRequest('GET', '/m', 200, 10_000);
      t.advance();
      const means = t.perSecondMeans(10).find((m) => m.route === '/m')!;
      expect(means.meansUs).toEqual([3, 10]);
      expect(t.perSecondMeans(1).find((m) => m.route === '/m')!.meansUs).toEqual([10]);
      expect(t.perSecondMeans(10, 1).find((m) => m.route === '/m')!.meansUs).toEqual([3]);
      expect(t.completeSeconds).toBe(3);
    } finally {
      t.close();
    }
  });
});
