/** Monitoring (README.md "Monitoring"): timers, latency histograms, the latency registry. */
export { MicrosecondTimer } from './timer.js';
export { LatencyHistogram, type LatencyHistogramOptions, type LatencySummary } from './histogram.js';
export { LatencyRegistry, latencyRegistry, monitorLatency, type AnyFunction } from './latency.js';
export { measureHiccups, type HiccupSummary } from './hiccup.js';
export { GpuMonitor, DEFAULT_NVML_LIBRARY, type GpuMonitorOptions, type GpuReading, type GpuReport, type GpuUtilization, type GpuUtilizationSamples } from './gpu.js';
export {
  registerPrometheus,
  MissingPeerDependencyError,
  MICROSECOND_BUCKETS_SECONDS,
  DEFAULT_QUANTILES,
  type PrometheusOptions,
  type PrometheusExport,
  type PromRegistryLike,
} from './prometheus.js';
