/** What a suite imports: `import { defineSuite } from '../lib/index.js'`. */
export { defineSuite, runSuite, formatNs, formatRate, benchRoot } from './suite.js';
export type { GroupSpec, RunOptions, SuiteResult, SuiteSpec, TaskMode, TaskRecord, TaskSpec } from './suite.js';
export { measureAllocation, type AllocationResult } from './alloc.js';
export { machineInfo, type MachineInfo } from './machine.js';
