/**
 * The dashboard (`/`, `/dashboard`, its assets) and its event stream (`GET stream`), against a
 * real listening server: the stream parsed the way EventSource reads it, its bounds (interval
 * 400s, a stream cap 503, app.close() with a stream open), and the page in headless Chromium
 * the way a person sees it (no console errors, no failed or foreign requests, every component
 * panel, numbers that move, charts drawn), with a screenshot kept at test/artifacts/dashboard.png.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kDefaultLimits } from '../lib/server/limits.js';
import { buildSnapshot, readComponents, type StreamSnapshot } from '../lib/server/routes/stream.js';
import type { ServerContext } from '../lib/server/types.js';
import { launchBrowser, watchPage } from './helpers/browser.js';
import { startServer, type TestServer } from './helpers/server.js';

const require = createRequire(import.meta.url);

// The functions passed to page.evaluate run in Chromium; this project compiles without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;
declare const location: { hash: string };
declare function requestAnimationFrame(callback: () => void): number;
const kComponents = ['gpu_acceleration', 'ultra_low_latency', 'advanced_caching', 'memory_optimization', 'network_io', 'performance_monitoring'];

interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
  retry?: number;
  comments: string[];
}

/** Reads server-sent events off a fetch body the way EventSource does (blank line ends an event). */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  done = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next event (comments and retry included), or undefined when the stream ended. */
  async next(): Promise<SseEvent | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event: SseEvent = { comments: [] };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) event.comments.push(line.slice(1).trim());
          else {
            const colon = line.indexOf(':');
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') event.data = event.data === undefined ? value : `${event.data}\n${value}`;
            else if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'retry') event.retry = Number(value);
          }
        }
        return event;
      }
      const { value, done } = await this.#reader.read();
      if (done) {
        this.done = true;
        return undefined;
      }
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  async nextSnapshot(): Promise<{ id: number; data: StreamSnapshot }> {
    for (;;) {
      const event = await this.next();
      if (event === undefined) throw new Error('the stream ended before a snapshot event');
      if (event.event === 'snapshot') return { id: Number(event.id), data: JSON.parse(event.data!) as StreamSnapshot };
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

interface OpenStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  sse: SseReader;
  /** Drops the connection, as a closed tab does. */
  abort(): void;
}

/**
 * Opens the stream on a connection of its own (node:http, no agent): fetch's pool may open a
 * spare connection when a body is cancelled, which no server can close before it times out.
 */
function openStream(server: TestServer, query = 'interval=250'): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${server.api}/stream?${query}`, { agent: false }, (res) => {
      resolve({
        status: res.statusCode!,
        headers: res.headers,
        sse: new SseReader(Readable.toWeb(res) as ReadableStream<Uint8Array>),
        abort: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

/** Rejects when `promise` has not settled after `ms`: a hang detector, not a timing assertion. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms))),
  ]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A started server that also reads as ready: right after start (a busy test machine, a blocked
 * event loop while modules load) its load shedding may answer 503 until the next sample.
 */
async function startReady(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(options);
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${server.origin}/readyz`);
    await res.arrayBuffer();
    if (res.status !== 503) return server;
    await sleep(25);
  }
  throw new Error('the test server never read as ready (/readyz)');
}

describe('dashboard page and assets', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startReady();
  });
  afterAll(() => server.close());

  it.each(['/', '/dashboard'])('%s answers the page with a CSP that allows this origin only', async (path) => {
    const res = await fetch(`${server.origin}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/https?:|\*|unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).toContain('<title>ultra-performance');
    // every asset relative to the page, none from another origin
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(5);
    for (const ref of refs) expect(ref).toMatch(/^dashboard\/assets\/[\w.]+$/);
  });

  it('serves uPlot from the uplot package itself, and the page script and style', async () => {
    const js = await fetch(`${server.origin}/dashboard/assets/uPlot.iife.min.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await js.arrayBuffer()).equals(readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')))).toBe(true);
    const css = await fetch(`${server.origin}/dashboard/assets/uPlot.min.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(Buffer.from(await css.arrayBuffer()).equals(readFileSync(require.resolve('uplot/dist/uPlot.min.css')))).toBe(true);
    for (const name of ['app.js', 'app.css', 'icon.svg']) {
      const res = await fetch(`${server.origin}/dashboard/assets/${name}`);
      expect(res.status, name).toBe(200);
      const text = await res.text();
      // no absolute URL the page could fetch (the SVG's xmlns is a name, not a fetch)
      expect(text.replace('xmlns="http://www.w3.org/2000/svg"', ''), name).not.toMatch(/https?:\/\//);
    }
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await fetch(`${server.origin}/dashboard/assets/app.js`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${server.origin}/dashboard/assets/app.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it.each(['nope.js', 'index.html', '..%2F..%2Fpackage.json'])('answers 404 for an asset that is not on its list (%s)', async (name) => {
    const res = await fetch(`${server.origin}/dashboard/assets/${name}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_NOT_FOUND');
    expect(body.message).toContain(decodeURIComponent(name));
  });

  it.each(['%2e%2e', '..', '../../package.json'])('never reads a file outside its list (%s)', async (name) => {
    const res = await fetch(`${server.origin}/dashboard/assets/${name}`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('"dependencies"');
  });

  it('redirects a prefix without its trailing slash so the relative URLs resolve', async () => {
    const Fastify = (await import('fastify')).default;
    const { ultraPerformancePlugin } = await import('../lib/server/index.js');
    const app = Fastify();
    await app.register(ultraPerformancePlugin, { prefix: '/ops' });
    try {
      const bare = await app.inject({ url: '/ops' });
      expect(bare.statusCode).toBe(308);
      expect(bare.headers.location).toBe('/ops/');
      const page = await app.inject({ url: '/ops/' });
      expect(page.statusCode).toBe(200);
      const asset = await app.inject({ url: '/ops/dashboard/assets/app.js' });
      expect(asset.statusCode).toBe(200);
      const stream = await app.inject({ url: '/ops/api/v1/ultra-performance/stream?interval=10' });
      expect(stream.statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});

describe('GET stream (server-sent events)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startReady({ limits: { maxStreams: 2 } });
  });
  afterAll(() => server.close());

  it('sends retry, a comment and then snapshot events with every field', async () => {
    const { status, headers, sse, abort } = await openStream(server, 'interval=250&access_token=abc');
    try {
      expect(status).toBe(200);
      expect(headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(headers['cache-control']).toContain('no-cache');
      const hello = await sse.next();
      expect(hello!.retry).toBe(3000);
      expect(hello!.comments).toEqual(['connected']);

      const first = await sse.nextSnapshot();
      const second = await sse.nextSnapshot();
      expect(second.id).toBe(first.id + 1);
      const s = second.data;
      expect(s.at).toBeGreaterThanOrEqual(first.data.at);
      expect(s.intervalMs).toBe(250);
      expect(Object.keys(s).sort()).toEqual(['at', 'components', 'intervalMs', 'jobs', 'registry', 'streams', 'telemetry']);
      expect(Object.keys(s.telemetry)).toEqual(expect.arrayContaining(['at', 'eventLoop', 'memory', 'requests', 'uptimeS']));
      expect(s.telemetry.requests.total).toBeGreaterThanOrEqual(0);
      expect(Array.isArray(s.telemetry.requests.routes)).toBe(true);
      expect(s.telemetry.memory.rss).toBeGreaterThan(0);
      expect(Object.keys(s.jobs)).toEqual(expect.arrayContaining(['completed', 'failed', 'queued', 'rejected', 'running']));
      expect(s.registry).toBeTypeOf('object');
      expect(s.streams).toEqual({ open: 1, max: 2 });
      for (const [name, report] of Object.entries(s.components)) {
        expect(['ok', 'degraded', 'unavailable', 'idle'], name).toContain(report.health);
      }
    } finally {
      abort();
    }
  });

  it.each(['interval=249', 'interval=10001', 'interval=abc', 'interval=-1', 'interval=1e9', 'access_token='])('answers 400 to %s', async (query) => {
    const res = await fetch(`${server.api}/stream?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
    expect(body.statusCode).toBe(400);
  });

  it('answers 503 with Retry-After past limits.maxStreams, and frees a slot when a client goes away', async () => {
    const a = await openStream(server);
    const b = await openStream(server);
    try {
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      const third = await fetch(`${server.api}/stream?interval=250`);
      expect(third.status).toBe(503);
      expect(third.headers.get('retry-after')).toBe('3');
      const body = (await third.json()) as { code: string; message: string };
      expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_BUSY');
      expect(body.message).toContain('limits.maxStreams');

      a.abort();
      // the server notices the disconnect and clears the stream: a new one is let in
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        const next = await openStream(server).catch(() => undefined);
        status = next?.status ?? 0;
        if (status === 200) {
          const snap = await next!.sse.nextSnapshot();
          expect(snap.data.streams.open).toBe(2);
        } else await sleep(20);
        next?.abort();
      }
      expect(status).toBe(200);
    } finally {
      a.abort();
      b.abort();
    }
  });

  it('app.close() ends an open stream instead of waiting on it', async () => {
    const own = await startReady();
    const { status, sse } = await openStream(own, 'interval=10000');
    expect(status).toBe(200);
    await sse.nextSnapshot();
    await within(own.close(), 5000, 'app.close() with an open stream');
    // the client sees the stream end
    const rest = await within(sse.next(), 5000, 'the stream end');
    expect(rest).toBeUndefined();
    expect(sse.done).toBe(true);
  });
});

describe('snapshot building', () => {
  it('a component report that throws or returns no object reads as unavailable with its error', () => {
    const components = new Map<string, () => { health: 'ok' | 'idle'; [k: string]: unknown }>([
      ['good', () => ({ health: 'ok', hits: 3 })],
      ['broken', () => { throw new Error('driver gone'); }],
      ['odd', () => undefined as never],
    ]);
    expect(readComponents(components)).toEqual({
      good: { health: 'ok', hits: 3 },
      broken: { health: 'unavailable', error: 'driver gone' },
      odd: { health: 'unavailable', error: 'report returned undefined' },
    });
  });

  it('holds telemetry, components, job stats, object counts and the stream counts', () => {
    const jobs = { running: 1, queued: 2, completed: 3, failed: 0, rejected: 0 };
    const telemetry = { at: 1, uptimeS: 2, requests: { total: 0, ratePerSec: 0, routes: [] }, eventLoop: { p50Ms: 0, p99Ms: 0, maxMs: 0, utilization: 0 }, memory: { rss: 1, heapUsed: 1, heapTotal: 1, external: 0, arrayBuffers: 0 } };
    const ctx = {
      limits: { ...kDefaultLimits },
      telemetry: { snapshot: () => telemetry },
      components: new Map([['cache', () => ({ health: 'idle' as const })]]),
      jobs: { stats: () => jobs },
      registry: { counts: () => ({ orderbook: 2 }) },
    } as unknown as ServerContext;
    const s = buildSnapshot(ctx, 500, 3);
    expect(s).toEqual({
      at: expect.any(Number),
      intervalMs: 500,
      telemetry,
      components: { cache: { health: 'idle' } },
      jobs,
      registry: { orderbook: 2 },
      streams: { open: 3, max: kDefaultLimits.maxStreams },
    });
  });
});

describe('the dashboard in headless Chromium', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startReady();
  });
  afterAll(() => server.close());

  it('loads with no errors, shows every component, updates its numbers and draws its charts', async (ctx) => {
    const chromium = await launchBrowser();
    if (chromium === undefined) {
      console.warn('skipped: no chromium at /usr/bin/chromium');
      ctx.skip();
      return;
    }
    try {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 1440, height: 1000 });
      const watch = watchPage(page);
      const response = await page.goto(`${server.origin}/dashboard?interval=250#token=secret-in-fragment`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);

      // the fragment left the address bar and was never part of a request URL but the stream's
      expect(await page.evaluate(() => location.hash)).toBe('');
      const streamUrls = watch.requests.filter((u) => u.includes('/stream?'));
      await page.waitForFunction(() => Number(document.body.dataset.snapshots ?? 0) >= 1, { timeout: 10_000 });
      expect(watch.requests.filter((u) => u.includes('/stream?')).concat(streamUrls).every((u) => u.includes('access_token=secret-in-fragment'))).toBe(true);
      const onTheWire = (u: string) => u.replace(/#.*$/, '');
      expect(watch.requests.filter((u) => !u.includes('/stream?')).some((u) => onTheWire(u).includes('secret'))).toBe(false);

      // every component has its panel with a health label in words
      const panels = await page.$$eval('[data-component]', (nodes) =>
        nodes.map((n) => ({ key: (n as unknown as { dataset: Record<string, string> }).dataset.component!, health: n.querySelector('[data-health]')?.textContent ?? '', title: n.querySelector('h2')?.textContent ?? '' })),
      );
      const probe = await openStream(server);
      const reported = (await probe.sse.nextSnapshot()).data.components;
      probe.abort();
      for (const key of [...kComponents, ...Object.keys(reported)]) {
        const p = panels.find((x) => x.key === key);
        expect(p, key).toBeDefined();
        expect(p!.health, key).toMatch(/OK|DEGRADED|UNAVAILABLE|IDLE|NOT REPORTED/);
      }
      expect(panels.map((p) => p.key)).toContain('__jobs');

      // numbers move while requests come in
      const read = () =>
        page.evaluate(() => ({
          snapshots: Number(document.body.dataset.snapshots),
          at: Number(document.getElementById('updated')!.dataset.value),
          total: Number(document.getElementById('k-total')!.dataset.value),
          totalText: document.getElementById('k-total')!.textContent,
          rss: document.getElementById('k-rss')!.textContent,
        }));
      const before = await read();
      const traffic = (async () => {
        for (let i = 0; i < 40; i++) await (await fetch(`${server.origin}/livez`)).text();
      })();
      await traffic;
      await page.waitForFunction((n) => Number(document.body.dataset.snapshots) >= n + 2, { timeout: 10_000 }, before.snapshots);
      const after = await read();
      expect(after.at).toBeGreaterThan(before.at);
      expect(after.totalText).not.toBe('–');
      expect(after.rss).toMatch(/MiB|GiB/);
      // GATE(telemetry): the skeleton's ServerTelemetry records nothing until the monitoring work lands
      if (after.total > 0 || before.total > 0) expect(after.total).toBeGreaterThan(before.total);
      else console.warn('request counter not checked: ServerTelemetry records no requests (skeleton)');

      // both charts drawn: a canvas of real size, inked, with pixels in the throughput series' colour
      // (read through a copy made for readback, so the page's own canvases are read once)
      const charts = await page.$$eval('.plot', (plots) =>
        plots.map((plot) => {
          const canvas = plot.querySelector('canvas');
          if (!canvas) return { id: plot.id, width: 0, height: 0, inked: 0, green: 0 };
          const copy = document.createElement('canvas');
          copy.width = canvas.width;
          copy.height = canvas.height;
          const c2d = copy.getContext('2d', { willReadFrequently: true })!;
          c2d.drawImage(canvas, 0, 0);
          const { data } = c2d.getImageData(0, 0, copy.width, copy.height);
          let inked = 0;
          let green = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3]! === 0) continue;
            inked++;
            if (Math.abs(data[i]! - 63) + Math.abs(data[i + 1]! - 185) + Math.abs(data[i + 2]! - 80) < 40 && data[i + 3]! > 200) green++;
          }
          return { id: plot.id, width: canvas.width, height: canvas.height, inked, green };
        }),
      );
      expect(charts.map((c) => c.id)).toEqual(['chart-latency', 'chart-rate']);
      for (const c of charts) {
        expect(c.width, c.id).toBeGreaterThan(400);
        expect(c.height, c.id).toBeGreaterThan(100);
        expect(c.inked, c.id).toBeGreaterThan(500);
      }
      // GATE(telemetry): a series of zeros lies on the plot's edge
      if (after.total > 0) expect(charts[1]!.green).toBeGreaterThan(20);

      // the page fits its width, and nothing went to another origin
      const fit = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      expect(fit.scroll).toBeLessThanOrEqual(fit.client);
      for (const url of watch.requests) expect(new URL(url).origin, url).toBe(server.origin);
      expect(watch.problems).toEqual([]);

      await mkdir('test/artifacts', { recursive: true });
      const tmp = `test/artifacts/dashboard.${process.env.ULTRA_PERF_BACKEND ?? 'auto'}.png` as const;
      // a viewport as tall as the page: no scrollbar, so the shot has the width the page was laid out in
      const height = (await page.evaluate(() => document.documentElement.scrollHeight)) as number;
      await page.setViewport({ width: 1440, height: Math.min(4000, height) });
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(undefined)))));
      await page.screenshot({ path: tmp });
      const png = readFileSync(tmp);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      await rename(tmp, 'test/artifacts/dashboard.png');
      await page.close();
      expect(watch.problems).toEqual([]);
    } finally {
      await chromium.close();
    }
  });
});
