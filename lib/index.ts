export { backendInfo, type BackendInfo, type BackendMode, type GpuDevice } from './backend.js';
export { UltraPerfError, UnsupportedError, BackendUnavailableError } from './errors.js';
export type { CpuInfo } from './system/cpu.js';
