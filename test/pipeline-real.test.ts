/**
 * The pipeline on a real slice: the first messages of the LOBSTER AAPL (level 1) and GOOG
 * (level 10) files of 2012-06-21 (bench/data/lobster), through MboBook, RiskGate and the
 * simulated venue. Trading invariants on real flow, and the sharded run (worker_threads over
 * SPSC queues) giving the same per-symbol results as the single-threaded one. No timing.
 */
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { getThreadAffinity } from '../lib/index.js';
import { quoteAroundMid, RiskGate, type RiskGateOptions, runPipeline, runSharded } from '../lib/pipeline/index.js';
import { LobsterSource } from '../lib/pipeline/sources/lobster.js';

const backend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';
const dir = join(import.meta.dirname, '..', 'bench', 'data', 'lobster');
const day = '2012-06-21_34200000_57600000';
const records = 4_000;
/** Quotes on the cent grid (LOBSTER prices are 10⁻⁴ USD): 2 cents wide, re-quoted on a 1-cent move. */
const strategy = { spreadTicks: 200, quoteStepTicks: 100, requoteTicks: 100, size: 100, skewTicksPerLot: 1, maxPosition: 1_000 };

/** Per-symbol limits only (no throttle, no portfolio rule binding), so shards decide as one thread does. */
const gateOptions = (): RiskGateOptions => ({
  symbols: [
    { name: 'AAPL', tickSize: 0.0001, lotSize: 1, maxOrderQuantity: 500, maxOrderNotional: 100_000, maxPosition: 400 },
    { name: 'GOOG', tickSize: 0.0001, lotSize: 1, maxOrderQuantity: 500, maxOrderNotional: 100_000, maxPosition: 300 },
  ],
  maxGrossExposure: Infinity,
  priceCollar: { fraction: 0.002 },
  maxOrdersPerSecond: Infinity,
});

let aapl: LobsterSource;
let goog: LobsterSource;
beforeAll(() => {
  aapl = LobsterSource.open({ messages: join(dir, `AAPL_${day}_message_1.csv.gz`), orderbook: join(dir, `AAPL_${day}_orderbook_1.csv.gz`), backend: 'ts' });
  goog = LobsterSource.open({ messages: join(dir, `GOOG_${day}_message_10.csv.gz`), orderbook: join(dir, `GOOG_${day}_orderbook_10.csv.gz`), backend: 'ts' });
});

describe('the pipeline on LOBSTER AAPL and GOOG', () => {
  it('keeps the trading invariants on real flow, every order accepted or refused with a named code', () => {
    const gate = new RiskGate(gateOptions());
    const fillLog = new Float64Array(4 * 50_000);
    const run = runPipeline({ sources: [aapl, goog], backend, records, risk: gate, makeStrategy: () => quoteAroundMid(strategy), fillLog });
    expect(run.records).toBe(2 * records);
    expect(run.events).toBeGreaterThanOrEqual(2 * records - 2);
    const snap = gate.snapshot();
    for (const [i, s] of run.symbols.entries()) {
      expect(s.orders).toBeGreaterThan(50);
      expect(s.fills).toBeGreaterThan(5);
      const refused = Object.values(s.rejects).reduce((a, b) => a + b, 0);
      expect(s.accepted + refused).toBe(s.orders);
      for (const reason of Object.keys(s.rejects)) expect(reason).toMatch(/^(venue:[a-z-]+|[a-z-]+)$/);
      let pos = 0;
      for (let k = 0; 4 * k < fillLog.length && fillLog[4 * k + 3]! > 0; k++) {
        if (fillLog[4 * k] === i) pos += (fillLog[4 * k + 1] === 0 ? 1 : -1) * fillLog[4 * k + 3]!;
      }
      expect(pos).toBe(s.position);
      expect(Math.abs(s.position)).toBeLessThanOrEqual(i === 0 ? 400 : 300);
      expect(snap.symbols[i]!.position).toBe(s.position);
      expect(s.pnl).toBeCloseTo(s.realisedPnl + s.position * (s.mid - s.averagePrice), 6);
      expect(s.pnl).toBeCloseTo(s.cash + s.position * s.mid, 6);
      // The gate's own average-cost ledger agrees (its prices are in ticks).
      expect(snap.symbols[i]!.realisedPnl).toBeCloseTo(s.realisedPnl, 6);
    }
    expect(run.trading.rejects['position-limit']).toBeGreaterThan(0);
  });

  it('gives the same per-symbol results sharded over worker threads as in one thread', async () => {
    const single = runPipeline({ sources: [aapl, goog], backend, records, risk: new RiskGate(gateOptions()), makeStrategy: () => quoteAroundMid(strategy) });
    for (const threads of [1, 2]) {
      const sharded = await runSharded({ sources: [aapl, goog], backend, records, threads, strategy, risk: gateOptions() });
      expect(sharded.records).toBe(single.records);
      expect(sharded.events).toBe(single.events);
      expect(sharded.symbols).toEqual(single.symbols);
      expect(sharded.trading).toEqual(single.trading);
    }
    // Pinned (where the OS allows it): the same results, and the main thread's cores given back.
    const cores = getThreadAffinity();
    const pinned = await runSharded({ sources: [aapl, goog], backend, records, threads: 2, strategy, risk: gateOptions(), pin: true });
    expect(pinned.symbols).toEqual(single.symbols);
    expect(getThreadAffinity()).toEqual(cores);
  });

  it('refuses bad records, batch and capacity naming them, and a failed setup leaves the main thread unpinned', async () => {
    const cores = getThreadAffinity();
    await expect(runSharded({ sources: [aapl, goog], backend, threads: 2, capacity: 3, pin: true })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.capacity') });
    expect(getThreadAffinity()).toEqual(cores);
    await expect(runSharded({ sources: [aapl, goog], backend, threads: 2, records: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.records but received -1') });
    await expect(runSharded({ sources: [aapl, goog], backend, threads: 2, records: Number.NaN })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.records but received NaN') });
    await expect(runSharded({ sources: [aapl, goog], backend, threads: 2, batch: 1e9 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('an integer from 1 to 4096 for options.batch') });
    await expect(runSharded({ sources: [aapl, goog], backend, threads: 2, makeStrategyFrom: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.makeStrategyFrom') });
    const unclonable = { spreadTicks: 2, size: () => 1 } as unknown as Parameters<typeof runSharded>[0]['strategy'];
    await expect(runSharded({ sources: [aapl, goog], backend, threads: 2, strategy: unclonable })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.strategy, sent to the worker threads, but it cannot be cloned') });
  });

  it("rejects with the worker's error when a strategy throws inside a worker, with more records than the queue holds", async () => {
    // The worker stops taking records at once; the main thread used to wait on its full queue forever.
    const makeStrategyFrom = join(import.meta.dirname, 'fixtures', 'throwing-strategy.mjs');
    const run = runSharded({ sources: [aapl, goog], backend, records: 20_000, threads: 2, capacity: 256, makeStrategyFrom });
    await expect(run).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_PIPELINE', message: expect.stringContaining('strategy failed on purpose') });
  });
});
