/** Monitoring (README.md "Monitoring"): timers, latency histograms, the latency registry. */
export { MicrosecondTimer } from './timer.js';
export { LatencyHistogram, type LatencyHistogramOptions, type LatencySummary } from './histogram.js';
export { LatencyRegistry, latencyRegistry, monitorLatency, type AnyFunction } from './latency.js';
export { measureHiccups, type HiccupSummary } from './hiccup.js';
export { mannWhitneyU, medianConfidenceInterval, holmBonferroni, theilSen, mannKendall, type MannWhitneyResult, type MedianInterval, type TheilSenResult, type MannKendallResult } from './stats.js';
export { RegressionDetector, minimumPValue, type RegressionDetectorOptions, type MetricOptions, type MetricComparison, type RegressionReport, type RegressionVerdict, type SampleSummary } from './regression.js';
export { ChangePointDetector, changePoints, type ChangePoint, type ChangePointOptions } from './change-points.js';
export { appendHistory, compareSuites, formatComparison, formatHistory, historyChangePoints, readHistory, readSuiteFile, suiteMetrics, type MetricHistory, type SuiteComparison, type SuiteFile, type SuiteHistory, type SuiteMetric } from './history.js';
export { GpuMonitor, DEFAULT_NVML_LIBRARY, type GpuMonitorOptions, type GpuReading, type GpuReport, type GpuUtilization, type GpuUtilizationSamples } from './gpu.js';
export {
  registerPrometheus,
  MissingPeerDependencyError,
  MICROSECOND_BUCKETS_SECONDS,
  DEFAULT_QUANTILES,
  metric as scrapedMetric,
  type PrometheusOptions,
  type PrometheusExport,
  type PromRegistryLike,
} from './prometheus.js';
export { MemoryTracker, type MemoryTrackerOptions, type MemoryTrackerReport, type MemorySample, type LeakVerdict } from './memory.js';
export {
  Profiler,
  summarizeProfile,
  type CpuProfile,
  type CpuProfileNode,
  type FunctionTime,
  type ProfileReport,
  type ProfileSummary,
  type ProfilerSessionOptions,
  type StopSessionOptions,
} from './profiler.js';
export { EventLoopMonitor, type EventLoopMonitorOptions, type EventLoopStats, type EventLoopDelayStats } from './event-loop.js';
export {
  PerformanceMetrics,
  type PerformanceMetricsOptions,
  type MonitoringOptions,
  type ComprehensiveReport,
  type IntervalFigure,
} from './metrics.js';
