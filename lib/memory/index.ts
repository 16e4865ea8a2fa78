/**
 * Memory: offset-based allocators over an ArrayBuffer or SharedArrayBuffer (slab,
 * buddy, ring, stack), an object pool, and GC monitoring and control. The allocator
 * layouts are in docs/memory-layout.md.
 */
export { type MemoryBackend, AllocatorLockTimeoutError, CorruptAllocatorError } from './common.js';
export { SlabAllocator, type SlabAllocatorOptions, type SlabStats } from './slab.js';
export { BuddyAllocator, type BuddyAllocatorOptions, type BuddyStats } from './buddy.js';
export { RingAllocator, type RingAllocatorOptions, type RingStats } from './ring.js';
export { StackAllocator, type StackAllocatorOptions, type StackStats } from './stack.js';
export { ObjectPool, type ObjectPoolOptions, type ObjectPoolStats } from './pool.js';
export {
  GcMonitor,
  gcOptimizer,
  type GcApplyReport,
  type GcCollectResult,
  type GcFlagAdvice,
  type GcKind,
  type GcMonitorOptions,
  type GcOptimizerOptions,
  type GcPauseStats,
  type GcStats,
  type GcSuggestion,
  type IdleGc,
  type IdleGcOptions,
  type IdleGcReport,
} from './gc.js';
