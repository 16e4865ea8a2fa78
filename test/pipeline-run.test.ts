/**
 * The pipeline's run loop (lib/pipeline/run.ts) on a seeded synthetic order flow with a
 * stand-in book (test/fixtures/pipeline-synthetic.ts): trading invariants, the risk stage's
 * accounting (with RiskGate and a stand-in), and the fixed-rate mode's coordinated-omission
 * correction under a fake clock. No timing assertions.
 */
import { describe, expect, it } from 'vitest';

import { type PipelineClock, type PipelineRisk, quoteAroundMid, rateSweep, RiskGate, runPipeline, type Strategy } from '../lib/pipeline/index.js';
import { StandInBook, SyntheticSource } from './fixtures/pipeline-synthetic.js';

const backend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';
const makeBook = () => new StandInBook();

/** A gate that refuses by position (code 3) and every 11th check (code 7, a throttle stand-in). */
class CountingRisk implements PipelineRisk {
  checks = 0;
  fills = 0;
  lastNs = 0;
  readonly position = [0, 0];
  check(symbol: number, side: number, _price: number, quantity: number, nowNs: number): number {
    this.checks++;
    expect(nowNs).toBeGreaterThanOrEqual(this.lastNs);
    this.lastNs = nowNs;
    if (Math.abs(this.position[symbol]! + (side === 0 ? quantity : -quantity)) > 600) return 3;
    return this.checks % 11 === 0 ? 7 : 0;
  }
  setMid(): void {}
  onFill(symbol: number, side: number, _price: number, quantity: number): void {
    this.fills++;
    this.position[symbol]! += side === 0 ? quantity : -quantity;
  }
}

describe('runPipeline on a synthetic flow', () => {
  it('keeps position = sum of fills, the PnL identity, and orders = accepted + rejected', () => {
    const sources = [new SyntheticSource('AAA', 20_000, 1), new SyntheticSource('BBB', 15_000, 2)];
    const risk = new CountingRisk();
    const fillLog = new Float64Array(4 * 100_000);
    const run = runPipeline({
      sources,
      backend,
      makeBook,
      makeStrategy: () => quoteAroundMid({ spreadTicks: 2, size: 100, skewTicksPerLot: 0.01, maxPosition: 800, requoteTicks: 1 }),
      risk,
      reasonName: (code) => (code === 3 ? 'position' : code === 7 ? 'throttle' : `code ${code}`),
      fillLog,
    });
    expect(run.records).toBe(35_000);
    expect(run.symbols.map((s) => s.records)).toEqual([20_000, 15_000]);
    let logged = 0;
    for (const s of run.symbols) {
      // The run traded: the invariants below are not vacuous.
      expect(s.orders).toBeGreaterThan(100);
      expect(s.fills).toBeGreaterThan(10);
      const rejected = Object.values(s.rejects).reduce((a, b) => a + b, 0);
      expect(s.accepted + rejected).toBe(s.orders);
      expect(Object.keys(s.rejects).every((k) => ['position', 'throttle', 'venue:would-take', 'venue:max-orders'].includes(k))).toBe(true);
      // Position and cash from the fill log.
      let pos = 0;
      let cashTicks = 0;
      let n = 0;
      for (let i = 0; i < fillLog.length / 4; i++) {
        if (fillLog[4 * i + 3] === 0) break;
        if (fillLog[4 * i] !== run.symbols.indexOf(s)) continue;
        const sign = fillLog[4 * i + 1] === 0 ? 1 : -1;
        pos += sign * fillLog[4 * i + 3]!;
        cashTicks -= sign * fillLog[4 * i + 2]! * fillLog[4 * i + 3]!;
        n++;
      }
      logged += n;
      expect(n).toBe(s.fills);
      expect(pos).toBe(s.position);
      expect(s.boughtLots - s.soldLots).toBe(s.position);
      expect(s.cash).toBeCloseTo(cashTicks * 0.0001, 6);
      expect(risk.position[run.symbols.indexOf(s)]).toBe(s.position);
      // PnL identity: cash + position * mid = realised + position * (mid - average cost).
      expect(s.pnl).toBeCloseTo(s.cash + s.position * s.mid, 6);
      expect(s.pnl).toBeCloseTo(s.realisedPnl + s.position * (s.mid - s.averagePrice), 6);
    }
    expect(logged).toBe(run.trading.fills);
    expect(risk.fills).toBe(run.trading.fills);
    expect(run.trading.orders).toBe(run.symbols[0]!.orders + run.symbols[1]!.orders);
    expect(run.trading.positions).toEqual({ AAA: run.symbols[0]!.position, BBB: run.symbols[1]!.position });
    // Stage histograms come from the sampled records, tick-to-trade from the others that sent orders.
    expect(run.histograms.book.count).toBe(Math.ceil(35_000 / 16));
    expect(run.histograms.record.count).toBe(35_000 - Math.ceil(35_000 / 16));
    expect(run.histograms.tickToTrade.count).toBeGreaterThan(0);
    expect(run.histograms.tickToTrade.count).toBeLessThan(run.histograms.record.count);
  });

  it('runs every order through RiskGate: its codes by name, its positions and fills the same as ours', () => {
    const gate = new RiskGate({
      symbols: [
        { name: 'BBB', tickSize: 0.0001, lotSize: 1, maxOrderQuantity: 100, maxOrderNotional: 1e6, maxPosition: 300 },
        { name: 'AAA', tickSize: 0.0001, lotSize: 1, maxOrderQuantity: 100, maxOrderNotional: 1e6, maxPosition: 300 },
      ],
      maxGrossExposure: 1e9,
      priceCollar: { fraction: 0.01 },
      // The gate's clock is exchange time: 20,000 records 1 µs apart fit in one 1 s window.
      maxOrdersPerSecond: 3_000,
    });
    const run = runPipeline({
      sources: [new SyntheticSource('AAA', 20_000, 6), new SyntheticSource('BBB', 20_000, 7)],
      backend,
      makeBook,
      makeStrategy: () => quoteAroundMid({ size: 100, maxPosition: 1_000, skewTicksPerLot: 0.001 }),
      risk: gate,
    });
    const snap = gate.snapshot();
    const t = run.trading;
    expect(t.rejects['position-limit']).toBeGreaterThan(0);
    expect(t.rejects['rate-throttle']).toBeGreaterThan(0);
    expect(t.accepted + Object.values(t.rejects).reduce((a, b) => a + b, 0)).toBe(t.orders);
    const venueRefused = (t.rejects['venue:would-take'] ?? 0) + (t.rejects['venue:max-orders'] ?? 0);
    expect(snap.orders + venueRefused).toBe(t.orders);
    expect(snap.accepted - (t.rejects['venue:max-orders'] ?? 0)).toBe(t.accepted);
    expect(snap.fills).toBe(t.fills);
    expect(snap.rejects['rate-throttle']).toBe(t.rejects['rate-throttle']);
    // The gate knows the symbols by its own order (BBB first).
    expect(snap.symbols.map((s) => [s.name, s.position])).toEqual([
      ['BBB', t.positions.BBB],
      ['AAA', t.positions.AAA],
    ]);
    for (const s of run.symbols) expect(Math.abs(s.position)).toBeLessThanOrEqual(300);
  });

  it('gives the same trading results however it is timed and sampled', () => {
    const go = (ratePerSec: number | undefined, sampleEvery: number) =>
      runPipeline({ sources: [new SyntheticSource('AAA', 5_000, 3)], backend, makeBook, ratePerSec, sampleEvery }).symbols;
    const a = go(undefined, 16);
    expect(go(undefined, 1)).toEqual(a);
    expect(go(2_000_000, 7)).toEqual(a);
  });
});

describe('fixed-rate mode under a fake clock', () => {
  it('charges queueing behind a slow record to the records that waited (coordinated omission corrected)', () => {
    // The fake clock only moves when the work moves it: each strategy call costs 300 ns, record 40 costs 20 µs.
    const clock = { t: 1_000, now: () => clock.t, waitUntil: (ns: number) => (clock.t = Math.max(clock.t, ns)) };
    const inner = quoteAroundMid();
    let calls = 0;
    const makeStrategy = (): Strategy => (ctx) => {
      clock.t += calls++ === 40 ? 20_000 : 300;
      inner(ctx);
    };
    const records = 200;
    const log = new Float64Array(3 * records);
    const run = runPipeline({
      sources: [new SyntheticSource('AAA', records, 5)],
      backend,
      makeBook,
      makeStrategy,
      ratePerSec: 1_000_000, // one record due every 1 µs
      sampleEvery: 1_000_000, // only record 0 takes per-stage reads
      clock: clock as PipelineClock,
      latencyLog: log,
    });
    let prevEnd = 0;
    let queued = 0;
    let waited = 0;
    for (let k = 0; k < records; k++) {
      const [due, start, end] = [log[3 * k]!, log[3 * k + 1]!, log[3 * k + 2]!];
      expect(due).toBe(1_000 + k * 1_000);
      // Lindley: a record starts when it is due or when the one before it is done, whichever is later.
      expect(start).toBe(Math.max(due, prevEnd));
      expect(end - start).toBe(k === 40 ? 20_000 : 300);
      // Latency from the intended time >= the service time; the difference is the queueing delay.
      expect(end - due).toBeGreaterThanOrEqual(end - start);
      if (k > 40 && start > due) waited++;
      queued += start - due;
      prevEnd = end;
    }
    // Record 41 waits 19 µs; the backlog drains by 0.7 µs per record (1 µs apart, 0.3 µs each):
    // 28 records waited (19,000, 18,300, ... 100 ns), and the waits sum to what that gives.
    expect(waited).toBe(28);
    let expected = 0;
    for (let backlog = 20_000 - 1_000; backlog > 0; backlog -= 700) expected += backlog;
    expect(queued).toBe(expected);
    const h = run.histograms;
    expect(h.service.count).toBe(records - 1);
    // Uncorrected, only one record is slow; corrected, the queue shows in the tail.
    expect(h.service.percentile(90)).toBe(300);
    expect(h.record.percentile(90)).toBeGreaterThan(5_000);
    expect(h.record.max).toBe(20_000);
  });

  it('rateSweep reports the highest offered rate whose p99 stays under the bound', () => {
    // Every record costs 400 ns of fake time: at 1 M/s (1 µs apart) nothing queues; at 5 M/s
    // (200 ns apart) the backlog grows by 200 ns a record, so the tail passes 10 µs.
    const clock = { t: 0, now: () => clock.t, waitUntil: (ns: number) => (clock.t = Math.max(clock.t, ns)) };
    const inner = quoteAroundMid();
    const sweep = rateSweep({
      sources: [new SyntheticSource('AAA', 2_000, 8)],
      backend,
      makeBook,
      makeStrategy: () => (ctx) => {
        clock.t += 400;
        inner(ctx);
      },
      clock: clock as PipelineClock,
      sampleEvery: 1_000_000,
      rates: [100_000, 1_000_000, 5_000_000, 10_000_000],
    });
    // Saturated at 5 M/s (p99 > 10x the bound): the sweep stops there.
    expect(sweep.points.map((p) => p.offeredPerSecond)).toEqual([100_000, 1_000_000, 5_000_000]);
    expect(sweep.points[0]!.p99).toBe(400);
    expect(sweep.points[1]!.p99).toBe(400);
    expect(sweep.points[2]!.p99).toBeGreaterThan(10_000);
    expect(sweep.maxRateP99Under10us).toBe(1_000_000);
    // At 5 M/s the loop achieves what 400 ns a record allows (2.5 M/s), not the offered rate.
    expect(sweep.points[2]!.achievedPerSecond).toBeCloseTo(2_500_000, -4);
    expect(sweep.runs).toHaveLength(3);
  });

  it('refuses bad options naming the argument and the value, with a code', () => {
    const base = { sources: [new SyntheticSource('AAA', 10, 9)], backend, makeBook };
    const cases: [Record<string, unknown>, RegExp, string][] = [
      [{ backend: 'gpu' }, /options\.backend.*"gpu"/, 'ERR_INVALID_ARG_TYPE'],
      [{ sources: [] }, /options\.sources/, 'ERR_INVALID_ARG_TYPE'],
      [{ ratePerSec: 0 }, /options\.ratePerSec.*0/, 'ERR_OUT_OF_RANGE'],
      [{ sampleEvery: 0.5 }, /options\.sampleEvery.*0\.5/, 'ERR_OUT_OF_RANGE'],
      [{ records: -1 }, /options\.records.*-1/, 'ERR_OUT_OF_RANGE'],
      [{ venue: { fillModel: 'queue' } }, /options\.fillModel.*queue/, 'ERR_OUT_OF_RANGE'],
      [{ venue: { feedLatencyNs: -5 } }, /options\.feedLatencyNs.*-5/, 'ERR_OUT_OF_RANGE'],
    ];
    for (const [extra, message, code] of cases) {
      let err: (Error & { code?: string }) | undefined;
      try {
        runPipeline({ ...base, ...extra } as never);
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.message, JSON.stringify(extra)).toMatch(message);
      expect(err?.code, JSON.stringify(extra)).toBe(code);
    }
  });
});
