/**
 * The pipeline's main job as one function: what `npm run bench` runs on the LOBSTER files in
 * bench/data and `npx ultra-performance pipeline --source <kind>:<file>` runs on a user's
 * file. For each backend: book reconstruction throughput, the maximum-rate run per symbol
 * (per-stage and tick-to-trade HdrHistograms, the median run of `runs` by tick-to-trade p99),
 * the trading results, optionally the coordinated-omission-corrected rate sweep, events/s
 * against worker threads and the S&P 500 VaR backtest; all as PipelineReportData
 * (report-data.ts) plus the histograms writeReport saves as `.hgrm`.
 */
import { cpus, loadavg } from 'node:os';

import { invalidType } from '../errors.js';
import { measureHiccups, type HiccupSummary } from '../monitor/hiccup.js';
import type { LatencyHistogram } from '../monitor/histogram.js';
import { MboBook } from '../orderbook/mbo.js';
import { median } from '../monitor/stats.js';
import { timeApply } from './apply-rate.js';
import { backtestSection } from './backtest-section.js';
import type { MarketDataSource } from './events.js';
import { kSeedTable, type PipelineReportData, type ReconstructionResult } from './report-data.js';
import { hgrmFileName } from './report.js';
import { RiskGate, type RiskGateOptions } from './risk-gate.js';
import { covarianceFromPanel, readPricePanel } from './risk-gate-covariance.js';
import { type PipelineResult, rateSweep, runPipeline, stageDistributions } from './run.js';
import { threadSweep } from './shard.js';
import { type QuoteAroundMidOptions, quoteAroundMid } from './strategy.js';

export interface PipelineJobOptions {
  /** One source per symbol (distinct symbols). */
  sources: readonly MarketDataSource[];
  /** Backends to run, in order (default: native then ts where MboBook has its native core, else ts). */
  backends?: readonly ('native' | 'ts')[];
  /** Maximum-rate runs per symbol and backend; the run with the median tick-to-trade p99 is kept (default 3). */
  runs?: number;
  /** Reconstruction results to report (LobsterSource.reconstruction; other sources have none). */
  reconstruction?: readonly ReconstructionResult[];
  /** The strategy per source (default `defaultStrategy(source)`). */
  strategy?: (source: MarketDataSource) => QuoteAroundMidOptions;
  /** RiskGate options over the sources' symbols (default `defaultGate(sources, varPrices)`); null: no gate. */
  gate?: RiskGateOptions | null;
  /**
   * Daily price panel files (CSV or .csv.gz, `Date,<series>...`, joined on the date) for the
   * gate's VaR budget; one must hold the proxy series 'SP500' (symbols not in the panel use it)
   * unless every symbol is in the panel. The covariance ends on `varEnd`. Absent: the default
   * gate has no VaR budget.
   */
  varPrices?: string | readonly string[];
  varEnd?: string;
  /** Fixed-rate sweep on the first source (absent: none). */
  sweep?: { rates: readonly number[]; records: number };
  /** Events/s against worker threads (absent: none). `replicas` copies of each source under new names give every shard work. */
  threads?: { counts: readonly number[]; runs: number; replicas: number; records?: number };
  /** The S&P 500 index price file for the VaR backtest section (absent: an empty section). */
  backtest?: { prices: string };
  /** How to reproduce the run (shown in the report). */
  command: string;
  /** One line per finished step. */
  onProgress?: (line: string) => void;
}

export interface PipelineJobResult {
  report: PipelineReportData;
  /** The max-rate runs' histograms by `.hgrm` file name (report.ts hgrmFileName). */
  histograms: Record<string, LatencyHistogram>;
}

/** The backends this machine can run MboBook on, native first. */
export function availableBackends(): ('native' | 'ts')[] {
  try {
    new MboBook({ symbol: 'X', tickSize: 0.0001, backend: 'native' });
    return ['native', 'ts'];
  } catch {
    return ['ts'];
  }
}

/**
 * The default market maker for a source, in the instrument's own terms: quotes 2 cents wide
 * on the cent grid (NASDAQ quotes in cents; LOBSTER and ITCH prices are 10⁻⁴ USD), one quote
 * of 100 shares (NASDAQ) or 0.01 units (crypto), a position limit of 10 quotes, and a skew of
 * half the spread per quote held.
 */
export function defaultStrategy(source: MarketDataSource): QuoteAroundMidOptions {
  const cent = Math.max(1, Math.round(0.01 / source.tickSize));
  const units = source.kind === 'binance' ? 0.01 : 100;
  const size = Math.max(1, Math.round(units / source.lotSize));
  const spreadTicks = 2 * cent;
  return { spreadTicks, quoteStepTicks: cent, requoteTicks: cent, size, skewTicksPerLot: spreadTicks / (2 * size), maxPosition: 10 * size };
}

/**
 * The default gate: per symbol at most 5 quotes a order and US$500,000 notional, a position
 * of 8 quotes; US$2M gross exposure; a 1% collar around the mid; 100 orders per second of
 * exchange time; with `varPrices`, a 99% one-day VaR budget of US$50,000 over the panel's
 * RiskMetrics covariance (symbols not in the panel use the S&P 500 index as their proxy).
 */
export function defaultGate(sources: readonly MarketDataSource[], varPrices?: string | readonly string[], varEnd?: string): RiskGateOptions {
  const options: RiskGateOptions = {
    symbols: sources.map((s) => {
      const q = defaultStrategy(s).size!;
      return { name: s.symbol, tickSize: s.tickSize, lotSize: s.lotSize, maxOrderQuantity: 5 * q, maxOrderNotional: 500_000, maxPosition: 8 * q };
    }),
    maxGrossExposure: 2_000_000,
    priceCollar: { fraction: 0.01 },
    maxOrdersPerSecond: 100,
  };
  if (varPrices !== undefined) {
    const covariance = covarianceFromPanel(readPricePanel(varPrices), varEnd === undefined ? {} : { end: varEnd });
    options.varBudget = { limit: 50_000, confidence: 0.99, covariance };
  }
  return options;
}

/** The same records under another symbol name (the thread sweep's extra symbols). */
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

/** MboBook.apply over every event of a source in one batch: records per second, median of 5 timed runs after one warm-up. */
export function reconstructionRate(source: MarketDataSource, backend: 'native' | 'ts'): number {
  return source.length / (median(timeApply(source, { backend, runs: 5 }).runsMs) / 1e3);
}

/**
 * Runs the job. Long steps report through `onProgress`; nothing is printed otherwise.
 * @throws TypeError for an empty `sources`, and whatever the steps throw for bad options.
 * @example
 * const { report, histograms } = await runPipelineJob({ sources: [LobsterSource.open({ messages, orderbook })], command: 'example' });
 * await writeReport('out', report, histograms);
 */
export async function runPipelineJob(options: PipelineJobOptions): Promise<PipelineJobResult> {
  const { sources, runs = 3, command, onProgress = () => {} } = options;
  if (!Array.isArray(sources) || sources.length === 0) throw invalidType('options.sources', 'a non-empty array of MarketDataSource', sources);
  const list = options.backends ?? availableBackends();
  const strategyOf = options.strategy ?? defaultStrategy;
  const gate = options.gate === undefined ? defaultGate(sources, options.varPrices, options.varEnd) : options.gate;
  const loadStart = loadavg()[0]!;
  const formatUs = (ns: number) => `${(ns / 1e3).toFixed(2)} µs`;

  const reconstruction: ReconstructionResult[] = [];
  for (const source of sources) {
    const known = options.reconstruction?.find((r) => r.symbol === source.symbol);
    // Only ReconstructionResult's fields: a LobsterReplayResult also carries its event arrays.
    const row: ReconstructionResult = known
      ? { symbol: known.symbol, source: known.source, depth: known.depth, messages: known.messages, mismatches: known.mismatches, refills: known.refills, unknownOrders: known.unknownOrders }
      : { symbol: source.symbol, source: source.kind, messages: source.length, mismatches: 0, refills: 0, unknownOrders: 0 };
    for (const backend of list) {
      const rate = reconstructionRate(source, backend);
      if (backend === 'native') row.nativeMessagesPerSecond = rate;
      else row.tsMessagesPerSecond = rate;
      onProgress(`reconstruction ${source.symbol} (${backend}): ${(rate / 1e6).toFixed(2)} M msg/s${known ? `, ${known.mismatches} mismatches, ${known.refills} refills` : ''}`);
    }
    reconstruction.push(row);
  }

  const runMax = (set: readonly MarketDataSource[], backend: 'native' | 'ts', records?: number): PipelineResult =>
    runPipeline({
      sources: set,
      backend,
      records,
      risk: gate === null ? null : new RiskGate({ ...gate, symbols: gate.symbols.filter((s) => set.some((x) => x.symbol === s.name)) }),
      makeStrategy: (symbol) => quoteAroundMid(strategyOf(set.find((s) => s.symbol === symbol)!)),
    });

  const stages: PipelineReportData['stages'] = [];
  const histograms: Record<string, LatencyHistogram> = {};
  const sweeps: PipelineReportData['rateSweep'] = [];
  let trading: PipelineReportData['trading'] | undefined;
  let hiccups: HiccupSummary | undefined;
  if (options.sweep !== undefined) {
    hiccups = measureHiccups(2000);
    onProgress(
      `this thread's own stalls > 10 µs (jHiccup's spin): ${hiccups.stallsPerSecond.toFixed(0)}/s, median ${formatUs(hiccups.medianStallNs)}, max ${formatUs(hiccups.maxStallNs)}, ${(100 * hiccups.lostFraction).toFixed(1)}% of the time lost`,
    );
  }
  for (const backend of list) {
    runMax(sources, backend, Math.min(20_000, ...sources.map((s) => s.length))); // warm-up: the JIT sees every symbol first
    for (const source of sources) {
      const all: PipelineResult[] = [];
      for (let r = 0; r < runs; r++) all.push(runMax([source], backend));
      all.sort((a, b) => a.histograms.tickToTrade.percentile(99) - b.histograms.tickToTrade.percentile(99));
      const run = all[all.length >> 1]!;
      const d = stageDistributions(run);
      stages.push({ backend, symbol: source.symbol, events: run.events, eventsPerSecond: run.eventsPerSecond, distributions: d });
      for (const [name, h] of Object.entries(run.histograms)) histograms[hgrmFileName(backend, source.symbol, name)] = h;
      const t = d.find((x) => x.name === 'tickToTrade')!;
      onProgress(`${backend} ${source.symbol} maximum rate: ${(run.recordsPerSecond / 1e3).toFixed(0)} k rec/s, tick-to-trade p50 ${formatUs(t.p50)} p99 ${formatUs(t.p99)}`);
    }
    const together = runMax(sources, backend);
    if (trading === undefined) trading = together.trading;
    if (options.sweep !== undefined) {
      const first = sources[0]!;
      const records = Math.min(options.sweep.records, first.length);
      runPipeline({ sources: [first], backend, records: Math.min(20_000, records), ratePerSec: 1_000_000, makeStrategy: () => quoteAroundMid(strategyOf(first)) });
      const sweep = rateSweep({
        sources: [first],
        backend,
        records,
        rates: options.sweep.rates,
        risk: null,
        stopWhenSaturated: false,
        makeStrategy: () => quoteAroundMid(strategyOf(first)),
      });
      sweeps.push({ backend, points: sweep.points, maxRateP99Under10us: sweep.maxRateP99Under10us });
      onProgress(`${backend} rate sweep (${first.symbol}): highest offered rate with p99 <= 10 µs: ${(sweep.maxRateP99Under10us / 1e3).toFixed(0)} k rec/s`);
    }
  }

  let threads: PipelineReportData['threads'] = [];
  if (options.threads !== undefined) {
    const t = options.threads;
    const many = sources.flatMap((s) => Array.from({ length: t.replicas }, (_, k) => new Renamed(s, `${s.symbol}.${k + 1}`)));
    threads = await threadSweep({ sources: many, backend: list[0]!, threads: t.counts, runs: t.runs, strategy: strategyOf(sources[0]!), records: t.records });
    onProgress(`threads (${list[0]}): ${threads.map((p) => `${p.threads}: ${(p.eventsPerSecond / 1e3).toFixed(0)} k ev/s`).join(', ')}`);
  }

  let backtest: PipelineReportData['backtest'] = { series: 'SP500', rows: [], dates: [], returns: [], var: {} };
  if (options.backtest !== undefined) {
    backtest = await backtestSection(options.backtest.prices);
    onProgress(`VaR backtest (${backtest.series}): ${backtest.rows.map((r) => `${r.method} ${r.confidence * 100}%: ${r.exceptions} exceptions (${r.expected.toFixed(1)} expected)`).join('; ')}`);
  }

  const report: PipelineReportData = {
    meta: {
      generatedAt: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      load: [loadStart, loadavg()[0]!],
      backend: list[0]!,
      command,
      hiccups,
    },
    reconstruction,
    stages,
    rateSweep: sweeps,
    threads,
    trading: trading!,
    backtest,
    seed: kSeedTable,
  };
  return { report, histograms };
}
