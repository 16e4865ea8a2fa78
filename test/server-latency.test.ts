/**
 * latency/* routes against a real listening server: the optimizer status (measured timer
 * numbers, latencyRegistry, affinity), benchmark-function (only named built-in workloads, caps
 * per workload, the backend that ran), and order books over HTTP (library checks as 422,
 * bounded in number, levels and resting orders, all-or-nothing batches, 404 after delete).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kDefaultLimits } from '../lib/server/index.js';
import { kBenchmarkNames } from '../lib/server/workloads/latency.js';
import { type Answer, call, expectError } from './helpers/api-call.js';
import { startServer, type TestServer } from './helpers/server.js';

// Load shedding off: these suites test the routes; on a loaded machine the plugin's own start-up
// reads as event-loop delay in the first sample, and the API answers 503 for a second
// (server-core tests shedding itself).
const kNoShedding = { maxEventLoopDelayMs: 0 } as const;
const backend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';


/**
 * A benchmark's result: the 200 body, or (when the job outlived syncWaitMs: the first jobs of a
 * fresh worker thread load the library) the result of the job the 202 points to, polled.
 */
async function benchmark(server: TestServer, body: unknown): Promise<Answer> {
  const answer = await call(server, 'POST', '/latency/benchmark-function', body);
  if (answer.status !== 202) return answer;
  let job = answer.body;
  for (let i = 0; i < 1200 && job.state !== 'done' && job.state !== 'failed'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    job = await fetch(`${server.origin}${answer.body.location}`).then((r) => r.json());
  }
  expect(job.state, JSON.stringify(job)).toBe('done');
  return { status: 200, headers: answer.headers, body: job.result };
}

describe('latency/status and latency/workloads', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: kNoShedding });
  });
  afterAll(() => server.close());

  it('reports the measured timer, the backend, affinity and the workloads', async () => {
    const { status, body } = await call(server, 'GET', '/latency/status');
    expect(status).toBe(200);
    expect(body).not.toHaveProperty('optimizerActive'); // was a constant true: nothing here switches an optimizer on or off
    expect(body.backend.default).toBe(backend);
    expect(body.backend.native).toBe(backend === 'native');
    expect(body.timer.overheadNs).toBeGreaterThan(0);
    expect(body.timer.resolutionNs).toBeGreaterThan(0);
    expect(body.timer.calibrationMs).toBeGreaterThan(0);
    expect(Date.parse(body.timer.calibratedAt)).not.toBeNaN();
    expect(body.affinity.onlineCores).toBeGreaterThanOrEqual(1);
    if (process.platform === 'linux') {
      expect(body.affinity.supported).toBe(true);
      expect(body.affinity.cores.length).toBeGreaterThanOrEqual(1);
      expect(body.affinity.cores).toContain(body.affinity.currentCpu);
    }
    expect(body.workloads).toEqual([...kBenchmarkNames]);
    expect(body.orderBooks).toEqual({ count: 0, max: kDefaultLimits.maxObjectsPerKind, levels: 0, restingOrders: 0 });
    const names = body.monitoredFunctions.functions.map((f: { name: string }) => f.name);
    expect(names).toContain('server.orderbook.update');
  });

  it('reports ultra_low_latency to status/comprehensive with measured fields', async () => {
    const { status, body } = await call(server, 'GET', '/status/comprehensive');
    expect(status).toBe(200);
    const report = body.system_info.ultra_low_latency;
    expect(report).toMatchObject({ health: 'ok', backend, order_books: 0 });
    // no constant flag dressed as a measurement: nothing in this component switches an 'optimizer' on or off
    expect(report).not.toHaveProperty('optimizer_active');
    expect(report.timer_overhead_ns).toBeGreaterThan(0);
    expect(report.monitored_functions).toBeGreaterThanOrEqual(2);
  });

  it('lists every workload with its own cap', async () => {
    const { status, body } = await call(server, 'GET', '/latency/workloads');
    expect(status).toBe(200);
    const byName = Object.fromEntries(body.workloads.map((w: { name: string }) => [w.name, w]));
    expect(Object.keys(byName)).toEqual([...kBenchmarkNames]);
    expect(byName['orderbook-update'].maxIterations).toBe(kDefaultLimits.maxBenchmarkIterations);
    expect(byName.gbm.maxIterations).toBeLessThan(byName['orderbook-update'].maxIterations);
    expect(byName['pool-acquire-release'].native).toBe(false);
    expect(byName.matching.native).toBe(true);
  });
});

describe('latency/benchmark-function', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: { ...kNoShedding, maxBenchmarkIterations: 20_000 } });
  });
  afterAll(() => server.close());

  it.each([...kBenchmarkNames])('times %s and names the backend that ran', async (workload) => {
    const heavy = workload === 'gbm' || workload === 'var-historical';
    const { status, body } = await benchmark(server, { workload, iterations: heavy ? 3 : 500, warmup: heavy ? 1 : 100 });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ workload, unit: 'ns', iterations: heavy ? 3 : 500, requestedIterations: heavy ? 3 : 500, batchSize: 1, truncated: false });
    expect(body.samples).toBe(body.iterations);
    // 'auto' on the queue and the slab picks TS even with the addon, where one TS call is faster
    // (lib/internal/backend.ts kBackendPolicies); the books and risk kernels pick the addon.
    if (['orderbook-update', 'matching', 'var-historical', 'gbm'].includes(workload)) expect(body.backend).toBe(backend);
    else if (['noop', 'pool-acquire-release', 'cache-l1-get'].includes(workload)) expect(body.backend).toBe('ts');
    else expect(['ts', backend]).toContain(body.backend);
    const l = body.latencyNs;
    expect(l.min).toBeLessThanOrEqual(l.p50);
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.p999);
    expect(l.p999).toBeLessThanOrEqual(l.max);
    expect(body.opsPerSec).toBeGreaterThan(0);
    expect(body.timerOverheadNs).toBeGreaterThan(0);
    expect(body.totalMs).toBeGreaterThan(0);
  });

  it('batches operations per clock reading', async () => {
    const { status, body } = await benchmark(server, { workload: 'orderbook-update', iterations: 1000, batchSize: 100, backend });
    expect(status).toBe(200);
    expect(body).toMatchObject({ iterations: 1000, batchSize: 100, samples: 10, backend });
  });

  it('refuses a workload that is not a built-in name, listing the names', async () => {
    for (const workload of ["require('child_process')", 'process.exit(1)', '() => 1', 'orderbook-update; rm -rf /', 'ORDERBOOK-UPDATE', '']) {
      expectError(await call(server, 'POST', '/latency/benchmark-function', { workload }), 400, 'body/workload must be one of', 'orderbook-update', 'gbm');
    }
    expectError(await call(server, 'POST', '/latency/benchmark-function', { workload: { toString: 'x' } }), 400);
    expectError(await call(server, 'POST', '/latency/benchmark-function', { workload: ['noop'] }), 400);
    expectError(await call(server, 'POST', '/latency/benchmark-function', {}), 400, 'workload');
  });

  it('refuses wrong types and out-of-range numbers with 400', async () => {
    for (const body of [
      { workload: 'noop', iterations: 'many' },
      { workload: 'noop', iterations: 0 },
      { workload: 'noop', iterations: 1.5 },
      { workload: 'noop', warmup: -1 },
      { workload: 'noop', batchSize: 5000 },
      { workload: 'noop', backend: 'cuda' },
    ]) {
      expectError(await call(server, 'POST', '/latency/benchmark-function', body), 400);
    }
    expectError(await call(server, 'POST', '/latency/benchmark-function', undefined, '{"workload":'), 400);
    expectError(await call(server, 'POST', '/latency/benchmark-function', undefined, '[1,2]'), 400);
  });

  it('caps iterations per workload with 422 naming the cap', async () => {
    expectError(await call(server, 'POST', '/latency/benchmark-function', { workload: 'orderbook-update', iterations: 20_001 }), 422, 'the cap is 20000');
    expectError(await call(server, 'POST', '/latency/benchmark-function', { workload: 'gbm', iterations: 11 }), 422, 'the cap is 10');
    expectError(await call(server, 'POST', '/latency/benchmark-function', { workload: 'noop', iterations: 10, warmup: 20_001 }), 422, 'warmup', 'the cap is 20000');
  });

  it("refuses 'native' where there is none", async () => {
    expectError(await call(server, 'POST', '/latency/benchmark-function', { workload: 'pool-acquire-release', backend: 'native' }), 422, 'backend', 'only a TypeScript implementation');
    // The allocators have no native backend from JS (docs/memory-layout.md), with or without the addon.
    expectError(await call(server, 'POST', '/latency/benchmark-function', { workload: 'slab-alloc-free', backend: 'native' }), 422, 'backend', 'only a TypeScript implementation');
  });
});

describe('latency/benchmark-function past syncWaitMs', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: { ...kNoShedding, syncWaitMs: 1 } });
  });
  afterAll(() => server.close());

  it('answers 202 with a job to poll, whose result is the benchmark', async () => {
    const accepted = await call(server, 'POST', '/latency/benchmark-function', { workload: 'gbm', iterations: 40, warmup: 2 });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    expect(accepted.body).toMatchObject({ kind: 'benchmark-function', state: expect.stringMatching(/^(queued|running)$/) });
    expect(accepted.headers.get('location')).toBe(accepted.body.location);
    let job = accepted.body;
    for (let i = 0; i < 600 && job.state !== 'done' && job.state !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await fetch(`${server.origin}${accepted.body.location}`).then((r) => r.json())) as typeof job;
    }
    expect(job.state, JSON.stringify(job)).toBe('done');
    expect(job.result).toMatchObject({ workload: 'gbm', unit: 'ns', iterations: 40, truncated: false });
    expect(job.result.latencyNs.p50).toBeGreaterThan(0);
  });
});

describe('latency/create-orderbook and latency/orderbooks', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: { ...kNoShedding, maxObjectsPerKind: 3, maxBookLevels: 3, maxBookOrders: 4, maxBookUpdateBatch: 8, maxBookDepth: 5 } });
  });
  afterAll(() => server.close());

  async function create(body: unknown) {
    const answer = await call(server, 'POST', '/latency/create-orderbook', body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return answer;
  }

  it('creates an L2 book, applies timed updates and shows its depth', async () => {
    const created = await create({ symbol: 'AAPL', tickSize: 0.01 });
    const id = created.body.id;
    expect(created.headers.get('location')).toBe(created.body.location);
    expect(created.body).toMatchObject({ type: 'l2', symbol: 'AAPL', tickSize: 0.01, lotSize: null, backend, bidLevels: 0, askLevels: 0, bestBidPrice: null, spread: null, maxLevels: 3 });

    const updated = await call(server, 'POST', `/latency/orderbooks/${id}/updates`, {
      updates: [
        { side: 'bid', price: 150.25, size: 1000 },
        { side: 'ask', price: 150.35, size: 1500 },
        { side: 'bid', price: 150.24, size: 10 },
      ],
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.applied).toBe(3);
    expect(updated.body.timing).toMatchObject({ unit: 'ns', count: 3 });
    expect(updated.body.timing.p50Ns).toBeLessThanOrEqual(updated.body.timing.maxNs);
    expect(updated.body.book).toMatchObject({ bidLevels: 2, askLevels: 1, bestBidPrice: 150.25, bestBidSize: 1000, bestAskPrice: 150.35, bestAskSize: 1500, crossed: false, updates: 3 });
    expect(updated.body.book.spread).toBeCloseTo(0.1, 12);

    const depth = await call(server, 'GET', `/latency/orderbooks/${id}?levels=5`);
    expect(depth.status).toBe(200);
    expect(depth.body.depth).toEqual({ levels: 5, bids: [{ price: 150.25, size: 1000 }, { price: 150.24, size: 10 }], asks: [{ price: 150.35, size: 1500 }] });

    const status = await call(server, 'GET', '/latency/status');
    expect(status.body.orderBooks).toMatchObject({ count: 1, levels: 3 });
    const histogram = status.body.monitoredFunctions.functions.find((f: { name: string }) => f.name === 'server.orderbook.update');
    expect(histogram.count).toBeGreaterThanOrEqual(3);

    const list = await call(server, 'GET', '/latency/orderbooks');
    expect(list.body).toMatchObject({ count: 1, max: 3 });
    expect(list.body.orderBooks[0]).toMatchObject({ id, bidLevels: 2, askLevels: 1 });

    expect((await call(server, 'DELETE', `/latency/orderbooks/${id}`)).status).toBe(204);
    expectError(await call(server, 'GET', `/latency/orderbooks/${id}`), 404, id);
    expectError(await call(server, 'DELETE', `/latency/orderbooks/${id}`), 404, id);
    expectError(await call(server, 'POST', `/latency/orderbooks/${id}/updates`, { updates: [] }), 404, id);
    expect((await call(server, 'GET', '/latency/orderbooks')).body.count).toBe(0);
  });

  it("answers the library's own checks as 422 and the schema's as 400", async () => {
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: 'AAPL', tickSize: -1 }), 422, 'tickSize', '-1');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: 'AAPL', tickSize: 0 }), 422, 'tickSize');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: 'AAPL', tickSize: 0.01, lotSize: -0.5 }), 422, 'lotSize');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: '', tickSize: 0.01 }), 422, 'symbol');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: 'AAPL', tickSize: 'one cent' }), 400, 'tickSize');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { tickSize: 0.01 }), 400, 'symbol');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: 'A'.repeat(65), tickSize: 0.01 }), 400, 'symbol');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { type: 'l4', symbol: 'AAPL', tickSize: 0.01 }), 400, 'must be one of: l2, l3');
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: 'AAPL', tickSize: 0.01, backend: 'gpu' }), 400, 'backend');
    expect((await call(server, 'GET', '/latency/orderbooks')).body.count).toBe(0);
  });

  it('validates a batch whole: one bad update applies none', async () => {
    const { body: book } = await create({ symbol: 'BTC-USD', tickSize: 0.5, lotSize: 0.001 });
    const path = `/latency/orderbooks/${book.id}/updates`;
    expectError(await call(server, 'POST', path, { updates: [{ side: 'bid', price: 100, size: 1 }, { side: 'bid', price: 100.25, size: 1 }] }), 422, 'updates[1].price', '100.25');
    expectError(await call(server, 'POST', path, { updates: [{ side: 'ask', price: 101, size: 0.0005 }] }), 422, 'updates[0].size');
    expectError(await call(server, 'POST', path, { updates: [{ side: 'ask', price: 101, size: -1 }] }), 422, 'updates[0].size');
    expectError(await call(server, 'POST', path, { updates: [{ side: 'middle', price: 101, size: 1 }] }), 400, 'must be one of: bid, ask');
    expectError(await call(server, 'POST', path, { updates: [{ side: 'bid', price: 'abc', size: 1 }] }), 400, 'price');
    expectError(await call(server, 'POST', path, { orders: [{ side: 'buy', price: 100, quantity: 1 }] }), 422, 'L2 book');
    const after = await call(server, 'GET', `/latency/orderbooks/${book.id}`);
    expect(after.body).toMatchObject({ bidLevels: 0, askLevels: 0, updates: 0 });
    await call(server, 'DELETE', `/latency/orderbooks/${book.id}`);
  });

  it('caps the batch (413), the levels a side (422) and the depth asked for (413)', async () => {
    const { body: book } = await create({ symbol: 'ES', tickSize: 0.25 });
    const path = `/latency/orderbooks/${book.id}/updates`;
    const nine = Array.from({ length: 9 }, (_, i) => ({ side: 'bid', price: 100 - i * 0.25, size: 1 }));
    expectError(await call(server, 'POST', path, { updates: nine }), 413, 'updates', 'the cap is 8');
    const three = nine.slice(0, 3);
    expect((await call(server, 'POST', path, { updates: three })).status).toBe(200);
    expectError(await call(server, 'POST', path, { updates: [nine[3]] }), 422, 'the cap is 3 levels a side');
    // At the cap, changing or removing a level that exists still works, and frees room.
    expect((await call(server, 'POST', path, { updates: [{ side: 'bid', price: 100, size: 7 }] })).status).toBe(200);
    const swap = await call(server, 'POST', path, { updates: [{ side: 'bid', price: 99.5, size: 0 }, nine[3]] });
    expect(swap.status, JSON.stringify(swap.body)).toBe(200);
    expect(swap.body.book).toMatchObject({ bidLevels: 3, bestBidPrice: 100, bestBidSize: 7 });
    expectError(await call(server, 'GET', `/latency/orderbooks/${book.id}?levels=6`), 413, 'levels', 'the cap is 5');
    expectError(await call(server, 'GET', `/latency/orderbooks/${book.id}?levels=0`), 400, 'levels');
    expectError(await call(server, 'GET', `/latency/orderbooks/${book.id}?levels=abc`), 400, 'levels');
    await call(server, 'DELETE', `/latency/orderbooks/${book.id}`);
  });

  it('runs an L3 book: orders match, cancels, the resting-order cap', async () => {
    const { body: engine } = await create({ type: 'l3', symbol: 'MSFT', tickSize: 0.01, lotSize: 1 });
    expect(engine).toMatchObject({ type: 'l3', lotSize: 1, maxLevels: 4, backend });
    const path = `/latency/orderbooks/${engine.id}/updates`;
    const first = await call(server, 'POST', path, {
      orders: [
        { side: 'sell', price: 100, quantity: 5 },
        { side: 'sell', price: 100.01, quantity: 5 },
        { side: 'buy', price: 100, quantity: 2 },
        { side: 'buy', type: 'market', quantity: 1, timeInForce: 'IOC' },
      ],
    });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.reports.map((r: { status: string }) => r.status)).toEqual(['new', 'new', 'filled', 'filled']);
    expect(first.body.reports[2]).toMatchObject({ filledQuantity: 2, averagePrice: 100, fills: 1 });
    expect(first.body.reports[0].averagePrice).toBeNull();
    expect(first.body.timing.count).toBe(4);
    expect(first.body.book).toMatchObject({ askLevels: 2, bestAskPrice: 100, bestAskSize: 2, restingOrders: 2 });

    const sellId = first.body.reports[1].orderId;
    const cancel = await call(server, 'POST', path, { cancels: [sellId, 999_999] });
    expect(cancel.body).toMatchObject({ applied: 0, cancelled: 1, book: { askLevels: 1, restingOrders: 1 } });

    // Filling the resting order frees its slot under the cap.
    const fill = await call(server, 'POST', path, { orders: [{ side: 'buy', price: 100, quantity: 2 }] });
    expect(fill.body.book.restingOrders).toBe(0);

    const five = Array.from({ length: 5 }, (_, i) => ({ side: 'buy', price: 90 + i, quantity: 1 }));
    expectError(await call(server, 'POST', path, { orders: five }), 422, 'the cap is 4 resting orders');
    expect((await call(server, 'POST', path, { orders: five.slice(0, 4) })).body.book.restingOrders).toBe(4);
    // IOC orders never rest, so they pass at the cap.
    expect((await call(server, 'POST', path, { orders: [{ side: 'sell', price: 93, quantity: 1, timeInForce: 'IOC' }] })).status).toBe(200);

    expectError(await call(server, 'POST', path, { orders: [{ side: 'buy', price: 90, quantity: 1 }, { side: 'buy', type: 'market', price: 90, quantity: 1 }] }), 422, 'orders[1]');
    expectError(await call(server, 'POST', path, { orders: [{ side: 'buy', price: 90.001, quantity: 1 }] }), 422, 'orders[0]', 'price');
    expectError(await call(server, 'POST', path, { orders: [{ side: 'buy', price: 90, quantity: 0 }] }), 422, 'orders[0]', 'quantity');
    expectError(await call(server, 'POST', path, { orders: [{ side: 'buy', price: 90, quantity: 1, timeInForce: 'GTD' }] }), 400, 'timeInForce');
    expectError(await call(server, 'POST', path, { cancels: [0] }), 400, 'cancels');
    expectError(await call(server, 'POST', path, { orders: [{ side: 'buy', price: 91, quantity: 1 }], cancels: [2 ** 60] }), 400, 'cancels');
    expectError(await call(server, 'POST', path, { updates: [{ side: 'bid', price: 1, size: 1 }] }), 422, 'L3 book');
    const after = await call(server, 'GET', `/latency/orderbooks/${engine.id}`);
    expect(after.body.restingOrders).toBe(3);
    await call(server, 'DELETE', `/latency/orderbooks/${engine.id}`);
  });

  it("makes a book on the backend asked for, and refuses 'native' without the addon", async () => {
    const ts = await create({ type: 'l3', symbol: 'TS', tickSize: 0.01, backend: 'ts' });
    expect(ts.body.backend).toBe('ts');
    await call(server, 'DELETE', `/latency/orderbooks/${ts.body.id}`);
    const answer = await call(server, 'POST', '/latency/create-orderbook', { symbol: 'N', tickSize: 0.01, backend: 'native' });
    if (backend === 'native') {
      expect(answer.status).toBe(201);
      expect(answer.body.backend).toBe('native');
      await call(server, 'DELETE', `/latency/orderbooks/${answer.body.id}`);
    } else {
      expectError(answer, 422, "'native' needs the CPU addon");
    }
  });

  it('holds at most maxObjectsPerKind books (409) until one is deleted', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await create({ symbol: `S${i}`, tickSize: 1 })).body.id);
    expectError(await call(server, 'POST', '/latency/create-orderbook', { symbol: 'S3', tickSize: 1 }), 409, 'delete one first');
    expect((await call(server, 'DELETE', `/latency/orderbooks/${ids[0]}`)).status).toBe(204);
    ids[0] = (await create({ symbol: 'S3', tickSize: 1 })).body.id;
    for (const id of ids) expect((await call(server, 'DELETE', `/latency/orderbooks/${id}`)).status).toBe(204);
  });

  it('answers 404 for ids that never existed', async () => {
    for (const id of ['orderbook-zzz', 'pool-1', '..%2F..%2Fetc']) {
      expectError(await call(server, 'GET', `/latency/orderbooks/${id}`), 404);
    }
  });
});
