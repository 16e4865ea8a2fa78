/**
 * The main job (issue 13): the end-to-end pipeline on real NASDAQ data. LOBSTER 2012-06-21
 * AAPL (level 1, 118,497 messages) and GOOG (level 10, 147,916 messages) from bench/data/lobster
 * → MboBook → quoteAroundMid → RiskGate → the simulated venue, on both backends:
 *
 * 1. book reconstruction: the replay check's mismatches and refills, and MboBook.apply
 *    throughput over the whole day's events (median of 5);
 * 2. maximum throughput: per-stage and tick-to-trade HdrHistograms per symbol (the run with
 *    the median tick-to-trade p99 of `kRuns`);
 * 3. fixed rate: a sweep of offered rates with latency from each record's intended time
 *    (coordinated omission corrected), and the highest rate whose p99 ≤ 10 µs;
 * 4. threads: events/s against worker threads (8 symbols: each file 4 times under its own
 *    name, so every shard has work), median of 3 runs;
 * and the clock's cost, which is why stage timings are sampled (run.ts header).
 *
 * `collectPipelineReport()` returns the report's data (lib/pipeline/report-data.ts); the
 * suite prints the headline figures against the issue's targets and keeps the data in
 * bench/out/pipeline.json under extras.report.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

import { cpuAddon } from '../../lib/backend.js';
import type { LatencyHistogram } from '../../lib/monitor/histogram.js';
import { MboBook } from '../../lib/orderbook/mbo.js';
import {
  kEventStride,
  kSeedTable,
  type MarketDataSource,
  measureClockReads,
  type PipelineReportData,
  type PipelineResult,
  quoteAroundMid,
  rateSweep,
  RiskGate,
  type RiskGateOptions,
  runPipeline,
  stageDistributions,
  threadSweep,
} from '../../lib/pipeline/index.js';
import { LobsterSource } from '../../lib/pipeline/sources/lobster.js';
import { benchRoot, defineSuite, type Figure, formatNs, formatRate, progressDetail, table } from '../lib/index.js';

const quick = process.argv.includes('--quick');
const kRuns = quick ? 1 : 3;
const dataDir = join(benchRoot, 'data', 'lobster');
const day = '2012-06-21_34200000_57600000';

/** Quotes on the cent grid (LOBSTER prices are 10⁻⁴ USD): 2 cents wide, re-quoted on a 1-cent move, skewed 1 tick (10⁻⁴ USD) per share held. */
export const kBenchStrategy = { spreadTicks: 200, quoteStepTicks: 100, requoteTicks: 100, size: 100, skewTicksPerLot: 1, maxPosition: 1_000 };

/** The gate the main job runs: per-symbol limits, a 1% collar, 100 orders/s of exchange time, a gross-exposure cap. */
export function benchGateOptions(symbols: readonly string[]): RiskGateOptions {
  return {
    symbols: symbols.map((name) => ({ name, tickSize: 0.0001, lotSize: 1, maxOrderQuantity: 500, maxOrderNotional: 500_000, maxPosition: 800 })),
    maxGrossExposure: 2_000_000,
    priceCollar: { fraction: 0.01 },
    maxOrdersPerSecond: 100,
  };
}

/** The same records under another symbol name (for the thread sweep's extra symbols). */
class Renamed implements MarketDataSource {
  readonly kind: MarketDataSource['kind'];
  readonly tickSize: number;
  readonly lotSize: number;
  readonly length: number;
  readonly maxEventsPerRecord: number;
  constructor(
    private readonly inner: MarketDataSource,
    readonly symbol: string,
  ) {
    this.kind = inner.kind;
    this.tickSize = inner.tickSize;
    this.lotSize = inner.lotSize;
    this.length = inner.length;
    this.maxEventsPerRecord = inner.maxEventsPerRecord;
  }
  initial(): Float64Array {
    return this.inner.initial();
  }
  decode(index: number, out: Float64Array, at: number): number {
    return this.inner.decode(index, out, at);
  }
}

function open(symbol: 'AAPL' | 'GOOG'): LobsterSource {
  const depth = symbol === 'AAPL' ? 1 : 10;
  return LobsterSource.open({
    messages: join(dataDir, `${symbol}_${day}_message_${depth}.csv.gz`),
    orderbook: join(dataDir, `${symbol}_${day}_orderbook_${depth}.csv.gz`),
    backend: 'ts',
  });
}

/** Which backends run: native only where MboBook and MatchingEngine have their native cores. */
function backends(): { list: ('native' | 'ts')[]; nativeSkipped?: string } {
  if (cpuAddon === null) return { list: ['ts'], nativeSkipped: 'the CPU addon is not loaded' };
  try {
    new MboBook({ symbol: 'X', tickSize: 0.0001, backend: 'native' });
    return { list: ['native', 'ts'] };
  } catch (err) {
    return { list: ['ts'], nativeSkipped: `MboBook has no native core here (${(err as Error).message})` };
  }
}

/** `<backend>-<symbol>-<name>.hgrm`, reduced to [A-Za-z0-9._-] (as lib/pipeline/report.ts hgrmFileName names them). */
function hgrmName(backend: string, symbol: string, name: string): string {
  return `${[backend, symbol, name].map((x) => x.replace(/[^A-Za-z0-9._-]+/g, '_')).join('-')}.hgrm`;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** MboBook.apply over every event of a source, in one batch per record group: messages per second, median of 5. */
function reconstructionRate(source: MarketDataSource, backend: 'native' | 'ts'): number {
  const events = new Float64Array(source.length * source.maxEventsPerRecord * kEventStride);
  let n = 0;
  for (let i = 0; i < source.length; i++) n += source.decode(i, events, n);
  const init = source.initial();
  const rates: number[] = [];
  for (let r = 0; r < 6; r++) {
    const book = new MboBook({ symbol: source.symbol, tickSize: source.tickSize, lotSize: source.lotSize, backend, expectedOrders: 1 << 16 });
    book.apply(init, init.length / kEventStride, 0);
    const t0 = performance.now();
    book.apply(events, n, 0);
    const ms = performance.now() - t0;
    if (r > 0) rates.push(source.length / (ms / 1e3));
  }
  return median(rates);
}

function runMax(sources: MarketDataSource[], backend: 'native' | 'ts'): PipelineResult {
  const names = sources.map((s) => s.symbol);
  return runPipeline({ sources, backend, risk: new RiskGate(benchGateOptions(names)), makeStrategy: () => quoteAroundMid(kBenchStrategy) });
}

/** The run of kRuns whose tick-to-trade p99 is the median. */
function medianRun(sources: MarketDataSource[], backend: 'native' | 'ts'): PipelineResult {
  const runs: PipelineResult[] = [];
  for (let r = 0; r < kRuns; r++) runs.push(runMax(sources, backend));
  runs.sort((a, b) => a.histograms.tickToTrade.percentile(99) - b.histograms.tickToTrade.percentile(99));
  return runs[runs.length >> 1]!;
}

/**
 * Runs the main job and returns the report's data (every latency in ns).
 * @example
 * const data = await collectPipelineReport();
 * data.stages[0].distributions.find((d) => d.name === 'tickToTrade').p99;
 */
export async function collectPipelineReport(): Promise<{
  report: PipelineReportData;
  /** The max-rate runs' histograms by `.hgrm` file name `<backend>-<symbol>-<stage>.hgrm` (the report's hgrmFileName). */
  histograms: Record<string, LatencyHistogram>;
  extras: Record<string, unknown>;
}> {
  const loadStart = loadavg()[0]!;
  const { list, nativeSkipped } = backends();
  progressDetail(`opening LOBSTER AAPL L1 and GOOG L10 (replay check)${nativeSkipped ? `; native skipped: ${nativeSkipped}` : ''}`);
  const aapl = open('AAPL');
  const goog = open('GOOG');
  const clock = measureClockReads();
  progressDetail(`clock read: nowNs ${clock.nowNs.toFixed(1)} ns, Number(hrtime.bigint()) ${clock.hrtimeBigint.toFixed(1)} ns, performance.now() ${clock.performanceNow.toFixed(1)} ns`);

  const reconstruction: PipelineReportData['reconstruction'] = [];
  for (const source of [aapl, goog]) {
    const r = source.reconstruction;
    const row: PipelineReportData['reconstruction'][number] = {
      symbol: r.symbol,
      source: r.source,
      depth: r.depth,
      messages: r.messages,
      mismatches: r.mismatches,
      refills: r.refills,
      unknownOrders: r.unknownOrders,
    };
    for (const backend of list) {
      const rate = reconstructionRate(source, backend);
      if (backend === 'native') row.nativeMessagesPerSecond = rate;
      else row.tsMessagesPerSecond = rate;
    }
    progressDetail(`reconstruction ${r.symbol}: ${r.mismatches} mismatches, ${r.refills} refills, ${list.map((b) => `${b} ${formatRate(b === 'native' ? row.nativeMessagesPerSecond! : row.tsMessagesPerSecond!, 'msg/s')}`).join(', ')}`);
    reconstruction.push(row);
  }

  const stages: PipelineReportData['stages'] = [];
  const histograms: Record<string, LatencyHistogram> = {};
  const sweeps: PipelineReportData['rateSweep'] = [];
  let trading: PipelineReportData['trading'] | undefined;
  const sweepRecords = quick ? 20_000 : 100_000;
  const rates = quick ? [100_000, 300_000] : [50_000, 100_000, 200_000, 300_000, 400_000, 500_000, 700_000, 1_000_000];
  for (const backend of list) {
    // Warm-up: the JIT sees both symbols before anything is timed.
    runPipeline({ sources: [aapl, goog], backend, records: 20_000, makeStrategy: () => quoteAroundMid(kBenchStrategy) });
    for (const source of [aapl, goog]) {
      const run = medianRun([source], backend);
      const d = stageDistributions(run);
      stages.push({ backend, symbol: source.symbol, events: run.events, eventsPerSecond: run.eventsPerSecond, distributions: d });
      for (const [name, h] of Object.entries(run.histograms)) histograms[hgrmName(backend, source.symbol, name)] = h;
      const t = d.find((x) => x.name === 'tickToTrade')!;
      progressDetail(`${backend} ${source.symbol} max rate: ${formatRate(run.recordsPerSecond, 'rec/s')}, tick-to-trade p50 ${formatNs(t.p50)} p99 ${formatNs(t.p99)}`);
    }
    const both = runMax([aapl, goog], backend);
    if (trading === undefined || backend === 'native') trading = both.trading;
    // Warm-up of the fixed-rate path (its wait loop), then every rate: a stall shows as a point, not as the end of the sweep.
    runPipeline({ sources: [aapl], backend, records: 20_000, ratePerSec: 1_000_000, makeStrategy: () => quoteAroundMid(kBenchStrategy) });
    const sweep = rateSweep({
      sources: [aapl],
      backend,
      records: sweepRecords,
      rates,
      risk: null,
      stopWhenSaturated: false,
      makeStrategy: () => quoteAroundMid(kBenchStrategy),
    });
    sweeps.push({ backend, points: sweep.points, maxRateP99Under10us: sweep.maxRateP99Under10us });
    progressDetail(`${backend} rate sweep: highest offered rate with p99 <= 10 µs: ${formatRate(sweep.maxRateP99Under10us, 'rec/s')}`);
  }

  const threadCounts = quick ? [1, 2] : [1, 2, 4];
  const many = [aapl, goog].flatMap((s) => [1, 2, 3, 4].map((k) => new Renamed(s, `${s.symbol}.${k}`)));
  const threadBackend = list[0]!;
  const threads = await threadSweep({
    sources: many,
    backend: threadBackend,
    threads: threadCounts,
    runs: quick ? 1 : 3,
    strategy: kBenchStrategy,
    records: quick ? 20_000 : undefined,
  });
  progressDetail(`threads (${threadBackend}): ${threads.map((p) => `${p.threads}: ${formatRate(p.eventsPerSecond, 'ev/s')}`).join(', ')}`);

  const report: PipelineReportData = {
    meta: {
      generatedAt: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      load: [loadStart, loadavg()[0]!],
      backend: list[0]!,
      command: `npm run bench -- pipeline${quick ? ' --quick' : ''}`,
    },
    reconstruction,
    stages,
    rateSweep: sweeps,
    threads,
    trading: trading!,
    // The VaR backtest section is filled by the report's own step (issue 13 item 7).
    backtest: { series: 'SP500', rows: [], dates: [], returns: [], var: {} },
    seed: kSeedTable,
  };
  return { report, histograms, extras: { clockReadNs: clock, sampleEvery: 16, nativeSkipped, threadBackend } };
}

async function extras(): Promise<Record<string, unknown>> {
  const { report, extras: more } = await collectPipelineReport();
  const rows: string[][] = [];
  const figures: Figure[] = [];
  for (const s of report.stages) {
    const d = (name: string) => s.distributions.find((x) => x.name === name)!;
    const t = d('tickToTrade');
    rows.push([s.backend, s.symbol, formatRate(s.eventsPerSecond, 'ev/s'), ...['marketData', 'book', 'signal', 'risk', 'venue'].map((n) => formatNs(d(n).p50)), formatNs(t.p50), formatNs(t.p99), `${(kSeedTable.total / t.p50).toFixed(0)}x`]);
    figures.push({ group: 'tick-to-trade', name: `${s.backend} ${s.symbol} p50`, unit: 'ns', median: t.p50, p99: t.p99 });
  }
  console.log('\n== pipeline at maximum rate (stage p50 over sampled records; tick-to-trade p50 / p99; the seed total 0.22 ms / our p50)');
  console.log(table(['backend', 'symbol', 'events/s', 'marketData', 'book', 'signal', 'risk', 'venue', 't2t p50', 't2t p99', 'vs seed'], rows));
  for (const s of report.rateSweep) {
    console.log(`\n== fixed-rate sweep, ${s.backend} (AAPL, CO corrected): highest offered rate with p99 <= 10 µs: ${formatRate(s.maxRateP99Under10us, 'rec/s')}`);
    console.log(table(['offered', 'achieved', 'p50', 'p99', 'p99.9', 'max'], s.points.map((p) => [formatRate(p.offeredPerSecond, '/s'), formatRate(p.achievedPerSecond, '/s'), formatNs(p.p50), formatNs(p.p99), formatNs(p.p999), formatNs(p.max)])));
    figures.push({ group: 'rate-sweep', name: `${s.backend} max rate with p99 <= 10 µs`, unit: 'rec/s', median: s.maxRateP99Under10us });
  }
  console.log('\n== threads (events/s, median of runs)');
  console.log(table(['threads', 'symbols', 'events/s'], report.threads.map((p) => [String(p.threads), String(p.symbols), formatRate(p.eventsPerSecond, 'ev/s')])));
  for (const p of report.threads) figures.push({ group: 'threads', name: `${p.threads} threads`, unit: 'ev/s', median: p.eventsPerSecond });
  const native = report.stages.filter((s) => s.backend === 'native').map((s) => s.distributions.find((x) => x.name === 'tickToTrade')!);
  const nativeSweep = report.rateSweep.find((s) => s.backend === 'native');
  console.log('\n-- targets (native path)');
  if (native.length === 0) console.log('  (no native run: see extras.nativeSkipped)');
  for (const t of native) {
    console.log(`  ${t.p50 <= 2_000 ? 'met   ' : 'MISSED'} tick-to-trade p50 <= 2 µs: ${formatNs(t.p50)}`);
    console.log(`  ${t.p99 <= 10_000 ? 'met   ' : 'MISSED'} tick-to-trade p99 <= 10 µs: ${formatNs(t.p99)}`);
  }
  if (nativeSweep) console.log(`  highest offered rate with p99 <= 10 µs: ${formatRate(nativeSweep.maxRateP99Under10us, 'rec/s')}`);
  console.log(`  load ${report.meta.load.map((l) => l.toFixed(2)).join(' → ')} (1 min) on ${report.meta.cores} cores`);
  return { figures, report, ...more };
}

export default defineSuite({
  name: 'pipeline',
  description: 'the end-to-end pipeline on LOBSTER AAPL/GOOG: book, strategy, risk, venue; tick-to-trade, rate sweep, threads',
  groups: [],
  extras,
});
