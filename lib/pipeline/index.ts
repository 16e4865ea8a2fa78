/**
 * The end-to-end pipeline (docs/pipeline.md): market-data sources → MboBook → strategy →
 * RiskGate → simulated venue, measured per stage and end to end.
 */
export { kEventStride, EventField, EventOp, EventSide, EventList, type EventOpCode, type SourceKind, type MarketDataSource } from './events.js';
export {
  kSeedTable,
  distributionOf,
  type PipelineReportData,
  type LatencyDistribution,
  type ReconstructionResult,
  type RatePoint,
  type ThreadPoint,
  type BacktestRow,
} from './report-data.js';
export { StrategyContext, quoteAroundMid, type Strategy, type QuoteAroundMidOptions } from './strategy.js';
export { SimVenue, type FillModel, type VenueOptions } from './venue.js';
export { runSharded, threadSweep, type ShardedOptions, type ShardedResult } from './shard.js';
export {
  runPipeline,
  rateSweep,
  measureClockReads,
  stageDistributions,
  tradingOf,
  kSystemClock,
  type PipelineOptions,
  type PipelineResult,
  type PipelineHistograms,
  type PipelineBook,
  type PipelineRisk,
  type PipelineClock,
  type SymbolResult,
  type RateSweepOptions,
  type RateSweepResult,
} from './run.js';
export {
  RiskGate,
  RiskReject,
  kRiskRejectReason,
  kVaRRefreshUpdates,
  kMaxOrdersPerSecond,
  type RiskRejectCode,
  type RiskRejectReason,
  type RiskGateOptions,
  type RiskGateSymbol,
  type RiskGateVaRBudget,
  type RiskGateSnapshot,
  type RiskGateSymbolSnapshot,
} from './risk-gate.js';
export {
  readPricePanel,
  covarianceFromPanel,
  type PricePanel,
  type RiskCovariance,
  type PanelCovarianceOptions,
  type PanelCovariance,
} from './risk-gate-covariance.js';
export {
  runPipelineJob,
  availableBackends,
  defaultStrategy,
  defaultGate,
  reconstructionRate,
  type PipelineJobOptions,
  type PipelineJobResult,
} from './job.js';
export { renderReport, writeReport, hgrmFileName, type WrittenReport } from './report.js';
export { backtestSection, readPriceSeries, type BacktestSectionOptions, type PriceSeries } from './backtest-section.js';
export {
  LobsterSource,
  replayLobster,
  readLobsterMessages,
  readLobsterOrderbook,
  measureLobster,
  type LobsterSourceOptions,
  type LobsterReplayOptions,
  type LobsterReplayResult,
  type LobsterMismatch,
  type LobsterMessages,
  type LobsterOrderbook,
  type LobsterThroughput,
} from './sources/lobster.js';
export { ItchSource, type ItchSourceOptions } from './sources/itch.js';
export { BinanceSource, type BinanceSourceOptions } from './sources/binance.js';
