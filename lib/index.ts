export { backendInfo, type BackendInfo, type BackendMode, type GpuDevice } from './backend.js';
export { UltraPerfError, UnsupportedError, BackendUnavailableError, GpuError, SourceFormatError } from './errors.js';
/** The backend names every option, result, env var and CLI uses (lib/internal/backend-names.ts). */
export type { Backend, BackendChoice, BackendOption } from './internal/backend-names.js';
export type { CpuInfo } from './system/cpu.js';
export {
  setThreadAffinity,
  getThreadAffinity,
  currentCpu,
  applyCorePlan,
  affinityBackend,
  type CorePlan,
  type CoreRole,
} from './system/affinity.js';
export * from './queue/index.js';
export * from './memory/index.js';
export * from './monitor/index.js';
export * from './orderbook/index.js';
export * from './risk/index.js';
export * from './pipeline/index.js';
export * from './net/index.js';
export * from './cache/index.js';
