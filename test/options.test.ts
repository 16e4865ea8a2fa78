// The kit (lib/internal/): one backend vocabulary and strict options, across every module.
// The unknown-key tests are generated from the schema registry, so a new option or a new
// options-taking function cannot go without one: the invocation table below must name every
// registered schema, and every key of every schema is misspelt and must be named back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Registry as PromRegistry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { quoteAroundMid, rateSweep, runPipeline, runSharded, SimVenue, threadSweep } from '../lib/pipeline/index.js';
import { StandInBook, SyntheticSource } from './fixtures/pipeline-synthetic.js';
import { changePoints, RegressionDetector } from '../lib/monitor/index.js';

import {
  BackendUnavailableError,
  BuddyAllocator,
  GcMonitor,
  GpuMonitor,
  LatencyHistogram,
  LatencyRegistry,
  MatchingEngine,
  MpmcQueue,
  ObjectPool,
  OrderBook,
  MboBook,
  RingAllocator,
  SlabAllocator,
  SpscQueue,
  StackAllocator,
  applyCorePlan,
  backendInfo,
  calculateVaR,
  calculateVaRSync,
  backtestVaR,
  cholesky,
  choleskySync,
  correlationMatrix,
  correlationMatrixSync,
  covarianceMatrix,
  covarianceMatrixSync,
  gcOptimizer,
  getThreadAffinity,
  monteCarloVaR,
  monteCarloVaRSync,
  openNativeUdpReceiver,
  philoxNormals,
  registerPrometheus,
  portfolioVaR,
  portfolioVaRSync,
  replayIntoQueue,
  setRiskPoolPolicy,
  setRiskThresholds,
  setThreadAffinity,
  simulateGBM,
  simulateGBMSync,
} from '../lib/index.js';
import { RiskGate, covarianceFromPanel } from '../lib/pipeline/index.js';
import { createConnection, createServer, measureLatency } from '../lib/net/index.js';
import { cpuAddon } from '../lib/backend.js';
import { LmdbLevel, readRedisLevelOptions, registerCachePrometheus, TieredCache } from '../lib/cache/index.js';
import { EventLoopMonitor, MemoryTracker, PerformanceMetrics, Profiler } from '../lib/monitor/index.js';
import { beyondRange, invalidRange, invalidType, invalidValue } from '../lib/errors.js';
import { chooseBackend, kBackendPolicies, kCpuAliasWarningCode } from '../lib/internal/backend.js';
import { editDistance, nearestKey, optionSchemas } from '../lib/internal/options.js';
import { CacheWarmer } from '../lib/cache/warmer.js';

const native = cpuAddon !== null;
const returns = [0.01, -0.02, 0.003, -0.015, 0.007, 0.012, -0.004, 0.002];
const spd2 = [4e-4, 1e-4, 1e-4, 9e-4];
const gateBase = {
  symbols: [{ name: 'X', maxOrderQuantity: 1, maxOrderNotional: 1, maxPosition: 1 }],
  maxGrossExposure: 1,
  priceCollar: { fraction: 0.01 },
  maxOrdersPerSecond: 1,
};

/** A tiny pipeline run's options (test/fixtures/pipeline-synthetic.ts). */
let tcpIds = 0;
/** A client that is destroyed at once (port 9: nothing is expected to answer). */
const tcpClient = (options: Record<string, unknown>) => createConnection({ id: `options-${++tcpIds}`, host: '127.0.0.1', port: 9, reconnect: false, ...options } as never).destroy();
const pipelineBase = () => ({ sources: [new SyntheticSource('X', 50, 1)], backend: 'ts' as const, makeBook: () => new StandInBook() });

/** Runs a call that may throw or reject; resolves to what it threw (or undefined). */
async function thrown(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  return undefined;
}

/**
 * Every public options-taking function or constructor, by its schema's name: a call with
 * valid arguments plus `extra` merged into its options object. Keep it in step with the
 * registry (the first test fails when a schema has no entry here, or an entry no schema).
 */
/** Runs fn; a BackendUnavailableError (no NVML on this machine) counts as passing the options. */
function unlessNoNvml(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BackendUnavailableError) return undefined;
    throw err;
  }
}

const invoke: Record<string, (extra: Record<string, unknown>) => unknown> = {
  calculateVaR: (x) => calculateVaR(returns, { ...x }),
  calculateVaRSync: (x) => calculateVaRSync(returns, { ...x }),
  backtestVaR: (x) => backtestVaR(returns, { window: 4, ...x }),
  portfolioVaR: (x) => portfolioVaR({ returns: [...returns, ...returns], assets: 2, weights: [0.5, 0.5], ...x }),
  portfolioVaRSync: (x) => portfolioVaRSync({ returns: [...returns, ...returns], assets: 2, weights: [0.5, 0.5], ...x }),
  correlationMatrix: (x) => correlationMatrix(returns, { observations: 4, assets: 2, ...x }),
  correlationMatrixSync: (x) => correlationMatrixSync(returns, { observations: 4, assets: 2, ...x }),
  covarianceMatrix: (x) => covarianceMatrix(returns, { observations: 4, assets: 2, ...x }),
  covarianceMatrixSync: (x) => covarianceMatrixSync(returns, { observations: 4, assets: 2, ...x }),
  cholesky: (x) => cholesky(spd2, 2, { ...x }),
  choleskySync: (x) => choleskySync(spd2, 2, { ...x }),
  simulateGBM: (x) => simulateGBM({ spot: 100, drift: 0, volatility: 0.2, steps: 2, paths: 4, seed: 1, ...x }),
  simulateGBMSync: (x) => simulateGBMSync({ spot: 100, drift: 0, volatility: 0.2, steps: 2, paths: 4, seed: 1, ...x }),
  monteCarloVaR: (x) => monteCarloVaR({ weights: [0.5, 0.5], means: [0, 0], covariance: spd2, paths: 4, seed: 1, ...x }),
  monteCarloVaRSync: (x) => monteCarloVaRSync({ weights: [0.5, 0.5], means: [0, 0], covariance: spd2, paths: 4, seed: 1, ...x }),
  philoxNormals: (x) => philoxNormals(new Float64Array(4), { seed: 1, ...x }),
  setRiskThresholds: (x) => setRiskThresholds({ ...x }),
  setRiskPoolPolicy: (x) => setRiskPoolPolicy({ ...x }),
  'SpscQueue.create': (x) => SpscQueue.create({ capacity: 8, slotBytes: 8, ...x }),
  'MpmcQueue.create': (x) => MpmcQueue.create({ capacity: 8, slotBytes: 8, ...x }),
  'SpscQueue.attach': (x) => SpscQueue.attach(SpscQueue.create({ capacity: 8, slotBytes: 8 }).buffer, { ...x }),
  'MpmcQueue.attach': (x) => MpmcQueue.attach(MpmcQueue.create({ capacity: 8, slotBytes: 8 }).buffer, { ...x }),
  replayIntoQueue: (x) => replayIntoQueue(SpscQueue.create({ capacity: 8, slotBytes: 8 }), [], { ...x }),
  'replayIntoQueue frames': (x) =>
    replayIntoQueue(SpscQueue.create({ capacity: 8, slotBytes: 8 }), { data: new Uint8Array(4), lengths: Uint32Array.of(4), ...x } as never),
  // Without the addon (or off Linux) a valid call ends in BackendUnavailableError, after the options are read.
  openNativeUdpReceiver: (x) =>
    openNativeUdpReceiver({ ...x }).then(
      (source) => source.close(),
      (err: unknown) => {
        if (!(err instanceof BackendUnavailableError)) throw err;
      },
    ),
  'applyCorePlan plan': (x) => {
    const before = getThreadAffinity();
    try {
      return applyCorePlan({ trading: [before[0]!], ...x } as never, 'trading');
    } finally {
      setThreadAffinity(before);
    }
  },
  SlabAllocator: (x) => new SlabAllocator({ slotBytes: 8, slots: 4, ...x }),
  'SlabAllocator.attach': (x) => SlabAllocator.attach(new SlabAllocator({ slotBytes: 8, slots: 4 }).buffer, { ...x }),
  'SlabAllocator.requiredBytes': (x) => SlabAllocator.requiredBytes({ slotBytes: 8, slots: 4, ...x }),
  BuddyAllocator: (x) => new BuddyAllocator({ bytes: 1024, minBlock: 64, ...x }),
  'BuddyAllocator.attach': (x) => BuddyAllocator.attach(new BuddyAllocator({ bytes: 1024, minBlock: 64 }).buffer, { ...x }),
  'BuddyAllocator.requiredBytes': (x) => BuddyAllocator.requiredBytes({ bytes: 1024, minBlock: 64, ...x }),
  RingAllocator: (x) => new RingAllocator({ bytes: 64, ...x }),
  'RingAllocator.attach': (x) => RingAllocator.attach(new RingAllocator({ bytes: 64 }).buffer, { ...x }),
  'RingAllocator.requiredBytes': (x) => RingAllocator.requiredBytes({ bytes: 64, ...x }),
  StackAllocator: (x) => new StackAllocator({ bytes: 64, ...x }),
  'StackAllocator.attach': (x) => StackAllocator.attach(new StackAllocator({ bytes: 64 }).buffer, { ...x }),
  'StackAllocator.requiredBytes': (x) => StackAllocator.requiredBytes({ bytes: 64, ...x }),
  ObjectPool: (x) => new ObjectPool({ create: () => ({}), ...x }),
  GcMonitor: (x) => new GcMonitor({ ...x }),
  'gcOptimizer.suggest': (x) => gcOptimizer.suggest({ ...x }),
  'gcOptimizer.apply': (x) => gcOptimizer.apply({ semiSpaceMb: 1024, traceGc: false, ...x }),
  'gcOptimizer.startIdleGc': (x) => gcOptimizer.startIdleGc({ ...x }).stop(),
  LatencyHistogram: (x) => new LatencyHistogram({ ...x }),
  LatencyRegistry: (x) => new LatencyRegistry({ ...x }),
  outputPercentileDistribution: (x) => new LatencyHistogram().outputPercentileDistribution({ ...x }),
  RegressionDetector: (x) => new RegressionDetector({ ...x }),
  'RegressionDetector.addMetric': (x) => new RegressionDetector().addBaselineMetric('m', 1, { ...x }),
  changePoints: (x) => changePoints([1, 2, 3], { ...x }),
  GpuMonitor: (x) => new GpuMonitor({ libraryPath: '/nonexistent/libnvidia-ml.so.1', ...x }).close(),
  // No GPU here: the options are read first, then NVML's absence throws BackendUnavailableError.
  'GpuMonitor.utilization': (x) => unlessNoNvml(() => new GpuMonitor({ libraryPath: '/nonexistent/libnvidia-ml.so.1' }).utilization(0, { ...x })),
  'GpuMonitor.utilizationSamples': (x) =>
    unlessNoNvml(() => new GpuMonitor({ libraryPath: '/nonexistent/libnvidia-ml.so.1' }).utilizationSamples(0, { ...x })),
  registerPrometheus: (x) => registerPrometheus({ registry: new PromRegistry(), ...x }),
  // the options RedisLevel.connect reads before it connects (connecting needs a server: test/cache-l3.test.ts)
  'RedisLevel.connect': (x) => readRedisLevelOptions({ url: 'redis://127.0.0.1:6379', ...x }),
  OrderBook: (x) => new OrderBook({ symbol: 'X', tickSize: 0.01, ...x }),
  MboBook: (x) => new MboBook({ symbol: 'X', tickSize: 0.01, ...x }),
  'OrderBook.fromSnapshot': (x) => OrderBook.fromSnapshot({ symbol: 'X', tickSize: 0.5, bids: [[10, 1]], asks: [[11, 2]] }, { ...x }),
  'OrderBook.fromSnapshot snapshot': (x) => OrderBook.fromSnapshot({ symbol: 'X', tickSize: 0.5, bids: [[10, 1]], asks: [[11, 2]], ...x } as never),
  MatchingEngine: (x) => new MatchingEngine({ symbol: 'X', tickSize: 0.01, ...x }),
  'MatchingEngine.submit': (x) => new MatchingEngine({ symbol: 'X', tickSize: 0.01 }).submit({ side: 'buy', price: 1, quantity: 1, ...x }),
  RiskGate: (x) => new RiskGate({ ...gateBase, ...x }),
  'RiskGate symbol': (x) => new RiskGate({ ...gateBase, symbols: [{ ...gateBase.symbols[0]!, ...x }] }),
  'RiskGate priceCollar': (x) => new RiskGate({ ...gateBase, priceCollar: { fraction: 0.01, ...x } }),
  'RiskGate varBudget': (x) => new RiskGate({ ...gateBase, varBudget: { limit: 1, covariance: { names: ['X'], matrix: Float64Array.of(1e-4) }, ...x } }),
  covarianceFromPanel: (x) => covarianceFromPanel({ dates: ['d1', 'd2', 'd3'], names: ['A'], prices: Float64Array.of(1, 2, 3) }, { window: 2, ...x }),
  quoteAroundMid: (x) => quoteAroundMid({ ...x }),
  runPipeline: (x) => runPipeline({ ...pipelineBase(), ...x }),
  'pipeline venue': (x) => runPipeline({ ...pipelineBase(), venue: { fillModel: 'touch', ...x } }),
  rateSweep: (x) => rateSweep({ ...pipelineBase(), rates: [1e7], ...x }),
  SimVenue: (x) => new SimVenue({ symbol: 'X', tickSize: 0.01, lotSize: 1, backend: 'ts', maxTradesPerRecord: 1, ...x }),
  runSharded: (x) => runSharded({ sources: [new SyntheticSource('X', 50, 1)], backend: 'ts', threads: 1, ...x }),
  threadSweep: (x) => threadSweep({ sources: [new SyntheticSource('X', 50, 1)], backend: 'ts', threads: [1], runs: 1, ...x }),
  createConnection: (x) => tcpClient({ ...x }),
  'createConnection sendQueue': (x) => tcpClient({ sendQueue: { ...x } }),
  'createConnection reconnect': (x) => tcpClient({ reconnect: { ...x } }),
  createServer: (x) => createServer({ ...x }),
  measureLatency: async (x) => {
    const server = createServer();
    const { port } = await server.listen();
    const id = `options-${++tcpIds}`;
    const conn = createConnection({ id, host: '127.0.0.1', port });
    try {
      return await measureLatency(id, { count: 1, warmup: 0, ...x });
    } finally {
      conn.destroy();
      await server.destroy();
    }
  },
  MemoryTracker: (x) => new MemoryTracker({ ...x }),
  TieredCache: (x) => new TieredCache({ name: 'options', ...x }),
  registerCachePrometheus: (x) => registerCachePrometheus(new TieredCache({ name: 'options' }), { registry: new PromRegistry(), ...x }).unregister(),
  'LmdbLevel.open': async (x) => {
    const path = mkdtempSync(join(tmpdir(), 'up-options-l4-'));
    try {
      await (await LmdbLevel.open({ path, sweepIntervalMs: 0, ...x })).close();
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  },
  EventLoopMonitor: (x) => new EventLoopMonitor({ ...x }),
  PerformanceMetrics: (x) => new PerformanceMetrics({ ...x }),
  'PerformanceMetrics.startMonitoring': (x) => new PerformanceMetrics().startMonitoring({ ...x }).stopMonitoring(),
  'Profiler.startSession': async (x) => {
    const profiler = new Profiler();
    await profiler.startSession('options', { ...x });
    return profiler.stopSession();
  },
  'Profiler.stopSession': async (x) => {
    const profiler = new Profiler();
    await profiler.startSession('options');
    try {
      return await profiler.stopSession({ ...x });
    } finally {
      if (profiler.session !== null) await profiler.stopSession();
    }
  },
  'Profiler.profileFunction': (x) => new Profiler().profileFunction('options', () => 1, { ...x }),
  'MatchingEngine.modify': (x) => {
    const me = new MatchingEngine({ symbol: 'X', tickSize: 0.01 });
    return me.modify(me.submit({ side: 'buy', price: 1, quantity: 2 }).orderId, { quantity: 1, ...x });
  },
  CacheWarmer: (x) => new CacheWarmer({ ...x }),
  'CacheWarmer prefetch': (x) => new CacheWarmer({ prefetch: { cache: new Map(), loader: () => 1, ...x } }),
  'CacheWarmer periodic': (x) => new CacheWarmer({ periodic: { ...x } }),
  'CacheWarmer.warm': (x) => new CacheWarmer().warm(new Map(), () => 1, { ...x }),
  'CacheWarmer.persist': (x) => new CacheWarmer().persist({ putMeta: async () => undefined, getMeta: () => undefined }, { ...x }),
  'CacheWarmer.restore': (x) => new CacheWarmer().restore({ putMeta: async () => undefined, getMeta: () => undefined }, { ...x }),
  'CacheWarmer.analyzeAccessPatterns': (x) => new CacheWarmer().analyzeAccessPatterns({ ...x }),
};

/** A misspelling of `key` that must lead back to it: its last two letters swapped (or its case flipped when they are equal). */
function misspell(key: string): string {
  const a = key[key.length - 2]!;
  const b = key[key.length - 1]!;
  if (a.toLowerCase() !== b.toLowerCase()) return key.slice(0, -2) + b + a;
  return key.toLowerCase() !== key ? key.toLowerCase() : key.toUpperCase();
}

describe('strict options, generated from the schema registry', () => {
  it('the invocation table covers every options-taking function, and nothing else', () => {
    expect(Object.keys(invoke).sort()).toEqual([...optionSchemas().keys()].sort());
  });

  it.each([...Object.keys(invoke)])('%s: calls with valid options pass', async (fn) => {
    expect(await thrown(() => invoke[fn]!({}))).toBeUndefined();
  });

  for (const [fn, schema] of optionSchemas()) {
    it(`${fn}: every misspelt key is refused, naming the key, ${fn} and the intended one`, async () => {
      for (const key of schema.keys) {
        const wrong = misspell(key);
        const err = (await thrown(() => invoke[fn]!({ [wrong]: 1 }))) as TypeError & { code?: string };
        expect(err, `${fn} ${wrong}`).toBeInstanceOf(TypeError);
        expect(err.message).toBe(`unknown option '${wrong}' for ${fn}; did you mean '${key}'?`);
        expect(err.code).toBe('ERR_ULTRA_PERF_UNKNOWN_OPTION');
      }
      const err = (await thrown(() => invoke[fn]!({ zzzNotAnOption: true }))) as TypeError;
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(new RegExp(`^unknown option 'zzzNotAnOption' for ${fn.replace('.', '\\.')}; the options are '`));
    });
  }
});

describe('the misspellings users make, module by module', () => {
  it.each([
    ['risk', () => calculateVaRSync(returns, { confidance: 0.99 } as never), "unknown option 'confidance' for calculateVaRSync; did you mean 'confidence'?"],
    ['risk', () => calculateVaRSync(returns, { horizon: 10 } as never), "unknown option 'horizon' for calculateVaRSync; did you mean 'horizonDays'?"],
    ['risk', () => simulateGBMSync({ spot: 1, drift: 0, volatility: 0.1, steps: 1, paths: 2, antithetics: true } as never), "unknown option 'antithetics' for simulateGBMSync; did you mean 'antithetic'?"],
    ['risk', () => correlationMatrixSync(returns, { observations: 4, assets: 2, lamda: 0.9 } as never), "unknown option 'lamda' for correlationMatrixSync; did you mean 'lambda'?"],
    ['order book', () => new OrderBook({ symbol: 'X', tickSize: 0.01, lotsize: 0.1 } as never), "unknown option 'lotsize' for OrderBook; did you mean 'lotSize'?"],
    ['order book', () => new MatchingEngine({ symbol: 'X', tickSize: 0.01, selfTradePrevent: 'none' } as never), "unknown option 'selfTradePrevent' for MatchingEngine; did you mean 'selfTradePrevention'?"],
    ['order book', () => new MatchingEngine({ symbol: 'X', tickSize: 1 }).submit({ side: 'buy', price: 1, quantity: 1, timeinforce: 'IOC' } as never), "unknown option 'timeinforce' for MatchingEngine.submit; did you mean 'timeInForce'?"],
    ['queue', () => SpscQueue.create({ capacity: 8, slotBytes: 8, spintries: 0 } as never), "unknown option 'spintries' for SpscQueue.create; did you mean 'spinTries'?"],
    ['queue', () => MpmcQueue.create({ capacity: 8, slotbytes: 8, slotBytes: 8 } as never), "unknown option 'slotbytes' for MpmcQueue.create; did you mean 'slotBytes'?"],
    ['memory', () => new SlabAllocator({ slotBytes: 8, slots: 4, share: true } as never), "unknown option 'share' for SlabAllocator; did you mean 'shared'?"],
    ['memory', () => new BuddyAllocator({ bytes: 1024, minBlock: 64, lockTimeout: 5 } as never), "unknown option 'lockTimeout' for BuddyAllocator; did you mean 'lockTimeoutMs'?"],
    ['monitor', () => new LatencyHistogram({ significantDigits: 3 } as never), "unknown option 'significantDigits' for LatencyHistogram; did you mean 'significantFigures'?"],
  ])('%s: %s', (_module, call, message) => {
    expect(call).toThrow(new TypeError(message));
  });

  it('a misspelt option used to be ignored: horizon now fails instead of giving the 1-day VaR', async () => {
    await expect(calculateVaR(returns, { horizon: 10 } as never)).rejects.toThrow(/did you mean 'horizonDays'\?/);
  });

  it('an options object is a plain object: arrays, class instances and primitives are refused with the argument named', () => {
    class Opts {
      confidence = 0.99;
    }
    for (const bad of [[], new Opts(), 5, 'x']) {
      const err = (() => {
        try {
          calculateVaRSync(returns, bad as never);
        } catch (e) {
          return e as TypeError & { code?: string };
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(TypeError);
      expect(err!.message).toMatch(/^Expected an options object for options but received /);
      expect(err!.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    expect(calculateVaRSync(returns, Object.assign(Object.create(null), { confidence: 0.99 })).confidence).toBe(0.99);
  });

  it('the objects that are data but shaped like options are as strict: a snapshot, a core plan, packed frames', async () => {
    const snap = { symbol: 'X', tickSize: 1, bids: [[10, 1]], asks: [[11, 2]] } as const;
    expect(() => OrderBook.fromSnapshot({ ...snap, lotsize: 1 } as never)).toThrow(
      new TypeError("unknown option 'lotsize' for OrderBook.fromSnapshot snapshot; did you mean 'lotSize'?"),
    );
    expect(() => OrderBook.fromSnapshot({ ...snap, tickSise: 1 } as never)).toThrow(/did you mean 'tickSize'\?$/);
    // The backend is fromSnapshot's option, not a field of the snapshot.
    expect(() => OrderBook.fromSnapshot({ ...snap, backnd: 'ts' } as never)).toThrow(/^unknown option 'backnd' for OrderBook\.fromSnapshot snapshot/);
    expect(() => OrderBook.fromSnapshot({ ...snap, allowNegativePrices: 'yes' } as never)).toThrow(
      new TypeError('Expected a boolean for snapshot.allowNegativePrices but received "yes"'),
    );
    class Snap {
      symbol = 'X';
      tickSize = 1;
      bids = [];
      asks = [];
    }
    for (const bad of [Object.assign([], snap), new Snap(), new Map(Object.entries(snap)), null, 'x']) {
      const err = (await thrown(() => OrderBook.fromSnapshot(bad as never))) as TypeError & { code?: string };
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/^Expected an OrderBookSnapshot object for snapshot but received /);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    const book = new OrderBook({ symbol: 'X', tickSize: 0.5, lotSize: 0.1, allowNegativePrices: true });
    book.updateBid(-1, 0.3);
    expect(OrderBook.fromSnapshot(book.snapshot()).snapshot()).toEqual(book.snapshot());

    expect(() => invoke['applyCorePlan plan']!({ isolted: [1] })).toThrow(
      new TypeError("unknown option 'isolted' for applyCorePlan plan; did you mean 'isolated'?"),
    );
    for (const bad of [new Map([['trading', [0]]]), [[0]]]) {
      expect(() => applyCorePlan(bad as never, 'trading')).toThrow(/^Expected an object \{ trading, network, background, isolated \} for plan but received /);
    }

    const q = SpscQueue.create({ capacity: 8, slotBytes: 8 });
    const frames = { data: new Uint8Array(4), lengths: Uint32Array.of(4) };
    await expect(replayIntoQueue(q, { ...frames, lenghts: frames.lengths } as never)).rejects.toThrow(
      new TypeError("unknown option 'lenghts' for replayIntoQueue frames; did you mean 'lengths'?"),
    );
    await expect(replayIntoQueue(q, { ...frames, rate: 5 } as never)).rejects.toThrow(
      new TypeError("unknown option 'rate' for replayIntoQueue frames; the options are 'data', 'lengths'"),
    );
    class Frames {
      data = frames.data;
      lengths = frames.lengths;
    }
    await expect(replayIntoQueue(q, new Frames() as never)).rejects.toThrow(/^Expected an array of Uint8Array or \{ data: Uint8Array, lengths: Uint32Array \} for frames but received /);
    await expect(replayIntoQueue(q, frames)).resolves.toEqual(expect.objectContaining({ pushed: 1 }));
  });

  it('an order is a plain object: submit and modify refuse arrays and class instances, as the kit refuses them as options', () => {
    const me = new MatchingEngine({ symbol: 'X', tickSize: 1 });
    class Order {
      side = 'buy';
      price = 1;
      quantity = 1;
    }
    for (const bad of [Object.assign([], { side: 'buy', price: 1, quantity: 1 }), new Order(), new Map([['side', 'buy']]), null]) {
      expect(() => me.submit(bad as never)).toThrow(/^Expected an order object for order but received /);
    }
    const id = me.submit({ side: 'buy', price: 1, quantity: 2 }).orderId;
    expect(() => me.modify(id, Object.assign([], { quantity: 1 }) as never)).toThrow(/^Expected an object with price and\/or quantity for changes but received /);
    // The kit's rule for a plain object: Object.prototype or null as prototype.
    expect(me.submit(Object.assign(Object.create(null), { side: 'sell', price: 1, quantity: 1 })).status).toBe('filled');
  });

  it('a Map as queue options is "Expected an options object", as everywhere', async () => {
    for (const create of [SpscQueue.create, MpmcQueue.create]) {
      const err = (await thrown(() => create(new Map(Object.entries({ capacity: 8, slotBytes: 8 })) as never))) as TypeError & { code?: string };
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/^Expected an options object for options but received /);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });

  it('options with undefined values are as absent', () => {
    expect(calculateVaRSync(returns, { confidence: undefined, backend: undefined }).confidence).toBe(0.95);
    expect(new OrderBook({ symbol: 'X', tickSize: 1, lotSize: undefined }).lotSize).toBeUndefined();
  });

  it('every option is checked for type and range, the error naming it and the value', () => {
    expect(() => simulateGBMSync({ spot: 1, drift: 0, volatility: 0.1, steps: 1, paths: 2, dt: -1 })).toThrow(/for options\.dt but received -1$/);
    expect(() => SpscQueue.create({ capacity: 8, slotBytes: 8, spinTries: -1 })).toThrow(new RangeError('Expected an integer in [0, 1000000] for options.spinTries but received -1'));
    expect(() => new LatencyHistogram({ significantFigures: 9 })).toThrow(new RangeError('Expected an integer from 1 to 5 for options.significantFigures but received 9'));
    expect(() => calculateVaRSync(returns, { method: 'mc' as never })).toThrow(/for options\.method but received "mc"$/);
  });

  it('the order books take the boolean allowNegativePrices and refuse anything else', () => {
    for (const allowNegativePrices of [true, false]) {
      expect(() => new OrderBook({ symbol: 'X', tickSize: 0.01, allowNegativePrices } as never)).not.toThrow();
      expect(() => new MatchingEngine({ symbol: 'X', tickSize: 0.01, allowNegativePrices } as never)).not.toThrow();
    }
    expect(() => new OrderBook({ symbol: 'X', tickSize: 0.01, allowNegativePrices: 'yes' } as never)).toThrow(
      new TypeError('Expected a boolean for options.allowNegativePrices but received "yes"'),
    );
    expect(() => new MatchingEngine({ symbol: 'X', tickSize: 0.01, allowNegativePrice: true } as never)).toThrow(/did you mean 'allowNegativePrices'\?/);
  });
});

describe('nearest key', () => {
  it.each([
    ['confidance', ['confidence', 'method'], 'confidence'],
    ['timeinforce', ['timeInForce', 'type'], 'timeInForce'],
    ['lotsize', ['lotSize', 'tickSize'], 'lotSize'],
    ['horizon', ['horizonDays', 'portfolioValue'], 'horizonDays'],
    ['tickSzie', ['tickSize', 'lotSize'], 'tickSize'],
    ['banana', ['confidence', 'method'], undefined],
    ['x', ['dt', 'seed'], undefined],
  ])('%s among %j is %s', (key, known, expected) => {
    expect(nearestKey(key, known)).toBe(expected);
  });

  it('counts a transposition as one edit, case-insensitively', () => {
    expect(editDistance('ab', 'BA')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

// ---- backends ------------------------------------------------------------------------------

/**
 * Every public way to pass a backend, with the backend it reports (or null where it reports none)
 * and whether it takes 'cuda'. The allocators take only 'auto' and 'ts' (kTsOnly): they have no
 * native backend from JS (docs/memory-layout.md) and refuse 'native' saying why.
 */
const backendTakers: [string, (backend: unknown) => unknown, (r: unknown) => unknown, boolean][] = [
  ['calculateVaRSync', (b) => calculateVaRSync(returns, { backend: b as never }), (r) => (r as { backend: string }).backend, true],
  ['portfolioVaRSync', (b) => invoke.portfolioVaRSync!({ backend: b }), (r) => (r as { backend: string }).backend, true],
  ['correlationMatrixSync', (b) => invoke.correlationMatrixSync!({ backend: b }), (r) => (r as { backend: string }).backend, true],
  ['choleskySync', (b) => invoke.choleskySync!({ backend: b }), (r) => (r as { backend: string }).backend, true],
  ['simulateGBMSync', (b) => invoke.simulateGBMSync!({ backend: b }), (r) => (r as { backend: string }).backend, true],
  ['monteCarloVaRSync', (b) => invoke.monteCarloVaRSync!({ backend: b }), (r) => (r as { backend: string }).backend, true],
  ['philoxNormals', (b) => invoke.philoxNormals!({ backend: b }), (r) => r, true],
  ['OrderBook', (b) => invoke.OrderBook!({ backend: b }), (r) => (r as OrderBook).backend, false],
  ['MatchingEngine', (b) => invoke.MatchingEngine!({ backend: b }), (r) => (r as MatchingEngine).backend, false],
  ['MboBook', (b) => invoke.MboBook!({ backend: b }), (r) => (r as MboBook).backend, false],
  ['SlabAllocator', (b) => invoke.SlabAllocator!({ backend: b }), (r) => (r as SlabAllocator).backend, false],
  ['BuddyAllocator', (b) => invoke.BuddyAllocator!({ backend: b }), (r) => (r as BuddyAllocator).backend, false],
  ['RingAllocator', (b) => invoke.RingAllocator!({ backend: b }), (r) => (r as RingAllocator).backend, false],
  ['StackAllocator', (b) => invoke.StackAllocator!({ backend: b }), (r) => (r as StackAllocator).backend, false],
  ['SpscQueue.create', (b) => invoke['SpscQueue.create']!({ backend: b }), (r) => (r as SpscQueue).paths.tryPush, false],
  ['MpmcQueue.attach', (b) => invoke['MpmcQueue.attach']!({ backend: b }), (r) => (r as MpmcQueue).paths.popBatch, false],
];

const kTsOnly = new Set(['SlabAllocator', 'BuddyAllocator', 'RingAllocator', 'StackAllocator']);

describe('one backend vocabulary', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each(backendTakers)('%s: the backend a result reports can be passed back', (name, take, reported) => {
    const first = reported(take(undefined));
    expect(['native', 'ts', 'cuda']).toContain(first);
    expect(reported(take(first))).toBe(first);
    expect(reported(take('ts'))).toBe('ts');
    if (kTsOnly.has(name)) expect(() => take('native')).toThrow(new RegExp(`^Expected 'auto' or 'ts' for options.backend but received "native": ${name} has no native backend from JS`));
    else if (native) expect(reported(take('native'))).toBe('native');
    else expect(() => take('native')).toThrow(BackendUnavailableError);
  });

  it("risk takes backend: 'native' (it reported 'native' but took only 'cpu')", () => {
    if (native) expect(calculateVaRSync(returns, { backend: 'native' }).backend).toBe('native');
    else expect(() => calculateVaRSync(returns, { backend: 'native' })).toThrow(BackendUnavailableError);
  });

  it.each(backendTakers)('%s: a bad backend gets the one wording, as a TypeError with a code', (name, take, _reported, cuda) => {
    const list = cuda ? "'auto', 'native', 'ts' or 'cuda'" : kTsOnly.has(name) ? "'auto' or 'ts'" : "'auto', 'native' or 'ts'";
    for (const [bad, code] of [
      ['gpu', 'ERR_INVALID_ARG_VALUE'],
      ['NATIVE', 'ERR_INVALID_ARG_VALUE'],
      [5, 'ERR_INVALID_ARG_TYPE'],
      [null, 'ERR_INVALID_ARG_TYPE'],
    ] as const) {
      let err: (TypeError & { code?: string }) | undefined;
      try {
        take(bad);
      } catch (e) {
        err = e as TypeError & { code?: string };
      }
      expect(err).toBeInstanceOf(TypeError);
      expect(err!.message).toBe(`Expected ${list} for options.backend but received ${typeof bad === 'string' ? `"${bad}"` : String(bad)}`);
      expect(err!.code).toBe(code);
    }
  });

  it("a backend this process cannot use is refused with one wording: '<fn> with backend '<name>' needs ...'", () => {
    if (!backendInfo().cuda) {
      expect(() => calculateVaRSync(returns, { backend: 'cuda' })).toThrow(/^calculateVaRSync with backend 'cuda' needs a CUDA device and the GPU addon: /);
    }
    if (!native) {
      expect(() => new OrderBook({ symbol: 'X', tickSize: 1, backend: 'native' })).toThrow(/^OrderBook with backend 'native' needs the CPU addon: /);
      // The allocators have no native backend in any process (docs/memory-layout.md): refused below, not here.
      expect(() => SpscQueue.create({ capacity: 8, slotBytes: 8, backend: 'native' })).toThrow(/^SpscQueue\.create with backend 'native' needs the CPU addon: /);
    }
  });

  it("the allocators refuse 'native' in every process, saying why instead of 'needs the CPU addon'", () => {
    expect(() => new SlabAllocator({ slotBytes: 8, slots: 4, backend: 'native' as 'ts' })).toThrow(
      /^Expected 'auto' or 'ts' for options.backend but received "native": SlabAllocator has no native backend from JS/,
    );
  });

  it("'cpu' reads as 'native' everywhere, with one DeprecationWarning per process", async () => {
    const warnings: unknown[][] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => {
      warnings.push(args);
    });
    for (const [name, take, reported] of backendTakers) {
      if (kTsOnly.has(name)) expect(() => take('cpu')).toThrow(new RegExp(`received "cpu": ${name} has no native backend from JS`));
      else if (native) expect(reported(take('cpu'))).toBe('native');
      else expect(() => take('cpu')).toThrow(BackendUnavailableError);
    }
    if (native) await expect(replayIntoQueue(SpscQueue.create({ capacity: 8, slotBytes: 8 }), [], { backend: 'cpu' })).resolves.toEqual(expect.objectContaining({ pushed: 0 }));
    const deprecations = warnings.filter(([, o]) => (o as { type?: string })?.type === 'DeprecationWarning');
    // Once per process: this file provokes the first (no import reads 'cpu' under the configured projects).
    expect(deprecations).toHaveLength(1);
    expect(deprecations[0]![0]).toMatch(/^options\.backend 'cpu' is deprecated; use 'native'/);
    expect(deprecations[0]![1]).toEqual({ type: 'DeprecationWarning', code: kCpuAliasWarningCode });
  });

  it('chooseBackend resolves auto by the policy table', () => {
    expect(chooseBackend(undefined, { argument: 'options.backend', policy: kBackendPolicies.memory })).toBe('ts');
    expect(chooseBackend('auto', { argument: 'options.backend', policy: kBackendPolicies.orderbook })).toBe(native ? 'native' : 'ts');
    expect(chooseBackend(undefined, { argument: 'options.backend', policy: kBackendPolicies.risk })).toBe('auto');
    expect(chooseBackend('auto', { argument: 'options.backend', policy: kBackendPolicies.queue })).toBe('auto');
    for (const policy of Object.values(kBackendPolicies)) expect(policy.rule.length).toBeGreaterThan(20);
  });
});

describe('argument errors carry codes, with class and message unchanged', () => {
  it.each([
    [invalidType('x', 'a number', 'a'), TypeError, 'ERR_INVALID_ARG_TYPE', 'Expected a number for x but received "a"'],
    [invalidValue('x', "'a' or 'b'", 'c'), TypeError, 'ERR_INVALID_ARG_VALUE', `Expected 'a' or 'b' for x but received "c"`],
    [invalidRange('x', 'a number >= 0', -1), RangeError, 'ERR_OUT_OF_RANGE', 'Expected a number >= 0 for x but received -1'],
    [beyondRange('x', 'a price', '1e15', 2e15), RangeError, 'ERR_OUT_OF_RANGE', 'Expected a price within the largest, 1e15, for x but received 2000000000000000, which is beyond the largest'],
  ])('%s', (err, cls, code, message) => {
    expect(err).toBeInstanceOf(cls);
    expect(err.constructor).toBe(cls);
    expect((err as { code?: string }).code).toBe(code);
    expect(err.message).toBe(message);
  });

  it('as the library throws them', () => {
    const codeOf = (call: () => unknown): string | undefined => {
      try {
        call();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(codeOf(() => calculateVaRSync(returns, { confidence: 'high' as never }))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => calculateVaRSync(returns, { confidence: 0.05 }))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => new OrderBook({ symbol: 'X', tickSize: 0 }))).toBe('ERR_OUT_OF_RANGE');
    expect(codeOf(() => new SlabAllocator({ slotBytes: 0, slots: 1 }))).toBe('ERR_OUT_OF_RANGE');
  });
});
