/** What a suite imports: `import { defineSuite } from '../lib/index.js'`. */
export { defineSuite, runSuite, suiteCommand, benchRoot, outDir, baselineDir, modeText, pauseUs } from './suite.js';
export type { Figure, GroupSpec, RunOptions, SuiteResult, SuiteSpec, TargetSpec, TaskMode, TaskRecord, TaskSpec } from './suite.js';
export { formatBytes, formatMs, formatNs, formatRate, formatRatio, table } from './format.mjs';
export { beginProgress, kProgressPattern, progressDetail, progressStep } from './progress.js';
export { measureAllocation, type AllocationResult } from './alloc.js';
export { currentLoad, loadNote, machineInfo, type Load, type MachineInfo } from './machine.js';
export { type BenchPart, loadParts, suiteFromParts } from './parts.js';
