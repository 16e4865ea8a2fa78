export { gpu, type GpuMemoryInfo } from './gpu.js';
