/**
 * `GET /metrics` (issue 17): Prometheus text exposition from the plugin's own registry,
 * checked by `promtool check metrics` (Debian's `prometheus` package; required under CI=true,
 * skipped elsewhere when absent), with values that follow the requests made before the scrape.
 */
import { connect } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { latencyRegistry } from '../lib/monitor/latency.js';
import { kHttpBucketsSeconds } from '../lib/server/metrics.js';
import { hasPromtool, parseExposition as parse, pickSamples as pick, promtoolCheck, type SampleLine as Line } from './helpers/exposition.js';
import { startServer, type TestServer } from './helpers/server.js';

async function scrape(server: TestServer): Promise<{ text: string; lines: Line[]; contentType: string | null }> {
  const res = await fetch(`${server.origin}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, lines: parse(text), contentType: res.headers.get('content-type') };
}

describe('/metrics', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ limits: { jobQueue: 7, jobConcurrency: 3, maxObjectsPerKind: 5 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers Prometheus text format 0.0.4 that promtool accepts', async () => {
    const { text, contentType } = await scrape(server);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    if (hasPromtool) expect(promtoolCheck(text)).toBe('');
  });

  it('counts the requests made before the scrape by route pattern, method and status, with their durations', async () => {
    const before = pick((await scrape(server)).lines, 'ultra_perf_http_requests_total', { route: '/livez', method: 'GET', status_code: '200' });
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.origin}/livez`)).status).toBe(200);
    const { lines } = await scrape(server);
    const labels = { route: '/livez', method: 'GET', status_code: '200' };
    const total = pick(lines, 'ultra_perf_http_requests_total', labels);
    expect(total).toEqual([(before[0] ?? 0) + 3]);
    const count = pick(lines, 'ultra_perf_http_request_duration_seconds_count', labels);
    expect(count).toEqual(total);
    const buckets = kHttpBucketsSeconds.map((le) => pick(lines, 'ultra_perf_http_request_duration_seconds_bucket', { ...labels, le: String(le) })[0]!);
    expect(buckets.at(-1)).toBeLessThanOrEqual(count[0]!);
    for (let j = 1; j < buckets.length; j++) expect(buckets[j]).toBeGreaterThanOrEqual(buckets[j - 1]!);
    expect(pick(lines, 'ultra_perf_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toEqual(count);
    const sum = pick(lines, 'ultra_perf_http_request_duration_seconds_sum', labels)[0]!;
    expect(sum).toBeGreaterThan(0);
    // the scrapes themselves are counted too, under their own route
    expect(pick(lines, 'ultra_perf_http_requests_total', { route: '/metrics', method: 'GET', status_code: '200' })[0]).toBeGreaterThanOrEqual(2);
  });

  it('labels another status apart, and never puts a raw URL in a label', async () => {
    // the docs page redirects its old index path: a 302 on a route of the plugin
    const res = await fetch(`${server.origin}/docs/static/index.html?q=1`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    await (await fetch(`${server.api}/no-such-route-${Date.now()}`)).arrayBuffer();
    const { lines } = await scrape(server);
    expect(pick(lines, 'ultra_perf_http_requests_total', { route: '/docs/static/index.html', method: 'GET', status_code: '302' })).toEqual([1]);
    for (const l of lines.filter((l) => l.name === 'ultra_perf_http_requests_total')) {
      expect(l.labels.route, JSON.stringify(l.labels)).not.toMatch(/\?|no-such-route/);
    }
  });

  it('shows only the scrape itself in flight, also after clients that went away mid-request', async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          socket.write('GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', () => socket.destroy());
        });
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    }
    // the server sees the aborted requests' sockets close a little later
    let inFlight: number[] = [];
    for (let i = 0; i < 50; i++) {
      inFlight = pick((await scrape(server)).lines, 'ultra_perf_http_requests_in_flight');
      if (inFlight[0] === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(inFlight).toEqual([1]);
  });

  it('reports the job runner and the caps from the limits', async () => {
    const { lines } = await scrape(server);
    expect(pick(lines, 'ultra_perf_jobs_queue_capacity')).toEqual([7]);
    expect(pick(lines, 'ultra_perf_jobs_concurrency')).toEqual([3]);
    expect(pick(lines, 'ultra_perf_objects_capacity')).toEqual([5]);
    expect(pick(lines, 'ultra_perf_jobs_running')).toEqual([0]);
    expect(pick(lines, 'ultra_perf_jobs_queued')).toEqual([0]);
    expect(pick(lines, 'ultra_perf_jobs_rejected_total')).toEqual([0]);
    const memory = pick(lines, 'ultra_perf_process_memory_bytes', { area: 'rss' });
    expect(memory).toHaveLength(1);
    expect(memory[0]).toBeGreaterThan(1 << 20);
    expect(pick(lines, 'ultra_perf_uptime_seconds')[0]).toBeGreaterThan(0);
    for (const name of ['p50', 'p99', 'max']) expect(pick(lines, `ultra_perf_event_loop_delay_${name}_seconds`)).toHaveLength(1);
  });

  it("exports lib/monitor's latency histograms", async () => {
    const h = latencyRegistry.histogram('server-metrics-test');
    h.record(1_500);
    h.record(3_000_000);
    const { lines } = await scrape(server);
    expect(pick(lines, 'ultra_perf_latency_seconds_count', { name: 'server-metrics-test' })).toEqual([2]);
    expect(pick(lines, 'ultra_perf_latency_seconds_bucket', { name: 'server-metrics-test', le: '0.000002' })).toEqual([1]);
    latencyRegistry.delete('server-metrics-test');
  });

  it('is described in the OpenAPI document as text/plain', async () => {
    const doc = (await (await fetch(`${server.origin}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, unknown> }> }>>;
    };
    expect(Object.keys(doc.paths['/metrics']!.get!.responses['200']!.content)).toEqual(['text/plain']);
  });
});

describe('two plugins in one process', () => {
  it('keep their own registries: each counts only its own requests', async () => {
    const a = await startServer();
    const b = await startServer();
    try {
      for (let i = 0; i < 4; i++) await (await fetch(`${a.origin}/livez`)).arrayBuffer();
      await (await fetch(`${b.origin}/livez`)).arrayBuffer();
      const labels = { route: '/livez', method: 'GET', status_code: '200' };
      expect(pick((await scrape(a)).lines, 'ultra_perf_http_requests_total', labels)).toEqual([4]);
      expect(pick((await scrape(b)).lines, 'ultra_perf_http_requests_total', labels)).toEqual([1]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
