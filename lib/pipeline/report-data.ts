/**
 * What a pipeline run hands the report (`bench/results/pipeline.json` is this object):
 * lib/pipeline/run.ts fills it, lib/pipeline/report.ts renders it. All latencies in ns.
 */
import type { HiccupSummary } from '../monitor/hiccup.js';
import type { LatencyHistogram } from '../monitor/histogram.js';

/** One latency distribution, summarised, plus its HdrHistogram percentile curve for the log plot. */
export interface LatencyDistribution {
  /** 'marketData', 'book', 'signal', 'risk', 'venue', 'tickToTrade', or a rate-sweep label. */
  name: string;
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
  /** [percentile (0..100), value ns] pairs from 0 to 100, as HdrHistogram's percentile distribution walks them. */
  curve: [number, number][];
  /** File name of the `.hgrm` written beside the report (HdrHistogram's outputPercentileDistribution text). */
  hgrm?: string;
}

/** Replaying one LOBSTER (or other) file into MboBook and checking it against the exchange's book. */
export interface ReconstructionResult {
  symbol: string;
  source: string;
  /** Visible depth of the file (LOBSTER level N); undefined for a full-depth source. */
  depth?: number;
  messages: number;
  /** Differences between our book and the exchange's after a message, other than refills. */
  mismatches: number;
  /** Levels taken from the orderbook row because they entered the visible depth from beyond it. */
  refills: number;
  /** Events for order ids the book did not hold. */
  unknownOrders: number;
  /** Book reconstruction throughput, messages per second, median of the runs. */
  nativeMessagesPerSecond?: number;
  tsMessagesPerSecond?: number;
}

/** One point of the fixed-rate sweep: latency measured from each event's intended send time (coordinated omission corrected). */
export interface RatePoint {
  offeredPerSecond: number;
  achievedPerSecond: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface ThreadPoint {
  threads: number;
  symbols: number;
  eventsPerSecond: number;
}

export interface BacktestRow {
  method: 'historical' | 'parametric';
  confidence: number;
  window: number;
  observations: number;
  exceptions: number;
  expected: number;
  kupiecStatistic: number;
  kupiecPValue: number;
  christoffersenStatistic: number;
  christoffersenPValue: number;
  backend: string;
}

export interface PipelineReportData {
  meta: {
    generatedAt: string;
    node: string;
    cpu: string;
    cores: number;
    /** 1-minute load average at the start and end of the run. */
    load: [number, number];
    backend: 'native' | 'ts';
    command: string;
    /** The machine's own stalls (lib/monitor/hiccup.ts, jHiccup's method), measured before the rate sweep: the floor under every percentile here. */
    hiccups?: HiccupSummary;
  };
  reconstruction: ReconstructionResult[];
  /** Per-stage and tick-to-trade distributions at maximum rate, one set per backend run. */
  stages: { backend: 'native' | 'ts'; symbol: string; events: number; eventsPerSecond: number; distributions: LatencyDistribution[] }[];
  rateSweep: { backend: 'native' | 'ts'; points: RatePoint[]; /** Highest offered rate whose p99 stayed ≤ 10 µs; 0 if none. */ maxRateP99Under10us: number }[];
  threads: ThreadPoint[];
  trading: {
    orders: number;
    accepted: number;
    /** Rejections by RiskGate reason name. */
    rejects: Record<string, number>;
    fills: number;
    /** Final position per symbol, in lots. */
    positions: Record<string, number>;
    /** Realised + marked-to-mid PnL in currency. */
    pnl: number;
  };
  backtest: { series: string; rows: BacktestRow[]; /** For the chart: daily returns and the rolling VaR (as a positive loss), aligned. */ dates: string[]; returns: number[]; var: Record<string, number[]> };
  /** The seed's end-to-end table (SEED.md), ns: market data 12 µs, risk 0.18 ms, book 23 µs, cache 2.3 µs, total 0.22 ms. */
  seed: { marketData: number; risk: number; book: number; cache: number; total: number };
}

/** SEED.md's table, in ns. */
export const kSeedTable: PipelineReportData['seed'] = { marketData: 12_000, risk: 180_000, book: 23_000, cache: 2_300, total: 220_000 };

/**
 * A recorded histogram (ns) as the report's LatencyDistribution: count, mean, the percentiles
 * the report shows, max, and HdrHistogram's percentile curve (empty for an empty histogram).
 * @example
 * const d = distributionOf('tickToTrade', run.histograms.tickToTrade); // d.p99 in ns
 */
export function distributionOf(name: string, h: LatencyHistogram): LatencyDistribution {
  const empty = h.count === 0;
  const p = (q: number) => (empty ? 0 : h.percentile(q));
  return {
    name,
    count: h.count,
    mean: empty ? 0 : h.mean,
    p50: p(50),
    p90: p(90),
    p99: p(99),
    p999: p(99.9),
    p9999: p(99.99),
    max: empty ? 0 : h.max,
    curve: empty ? [] : h.percentileCurve(),
  };
}
