/**
 * Defining and running a bench suite. A suite is groups of peer tasks; each task is one
 * operation (`fn`), timed with tinybench in one of two modes:
 *
 * - 'batch' (default): each tinybench sample runs `fn` K times in a compiled loop and the
 *   sample is divided by K. This is how sub-100 ns operations are measured at all (the clock
 *   itself costs tens of ns). K is picked so that a batch takes about 20 µs, or given.
 *   Medians are per operation; p99 is then the p99 *of batch means over K calls*, so it
 *   shows slow batches (GC, preemption, a JIT deopt), not the tail of single calls.
 * - 'per-call': each sample is one call timed alone (two reads of the allocation-free
 *   clock in lib/monitor/clock.ts, process.hrtime.bigint() underneath), minus the
 *   calibrated MicrosecondTimer overhead (clamped at 0). Use it where the tail of single
 *   calls is the point; below ~100 ns the clock's own jitter dominates the numbers. Each
 *   sample is charged at least 1 µs of the time budget, so a task keeps at most
 *   timeMs / 1 µs samples.
 *
 * - 'async': one awaited call per sample, timed by tinybench with nothing subtracted (each
 *   sample includes a clock pair and a microtask turn), for promise-returning operations.
 *
 * Tasks in a group are peers: every task gets `ratioTo[peer] = its median / the peer's median`
 * (2.0 = twice as slow as that peer). A task with `allocationCheck: N` is also run N times
 * under v8.GCProfiler before timing, and reports bytes/op and the GCs it caused.
 *
 * runSuite() prints a table and writes bench/results/<suite>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Bench, type Task } from 'tinybench';

import { nowNs } from '../../lib/monitor/clock.js';
import { MicrosecondTimer } from '../../lib/monitor/index.js';
import { type AllocationResult, measureAllocation } from './alloc.js';
import { compileLoop, type LoopState, uniqueTag } from './loop.js';
import { type MachineInfo, machineInfo } from './machine.js';

export type TaskMode = 'batch' | 'per-call' | 'async';

export interface TaskSpec {
  /** Unique within the suite; used as the key in other tasks' ratioTo. */
  name: string;
  /**
   * One operation. Return something so the JIT cannot drop the work. Synchronous in
   * 'batch' and 'per-call' mode; in 'async' mode it returns a promise.
   */
  fn: () => unknown;
  /**
   * Default 'batch'. 'async': each sample is one awaited call of `fn`, timed by tinybench
   * (so it includes a microtask turn); for operations that return promises.
   */
  mode?: TaskMode;
  /** K operations per sample in batch mode; default 'auto' (about 20 µs per batch). */
  batch?: number | 'auto';
  /** Skip the task, saying why (e.g. the native addon is not loaded). */
  skip?: string;
  /** Run fn this many times under v8.GCProfiler first and report bytes/op. */
  allocationCheck?: number;
  /** Called once before the task is warmed up and timed. */
  beforeAll?: () => void;
}

export interface GroupSpec {
  name: string;
  /** One line: what the group compares. */
  description: string;
  tasks: TaskSpec[];
}

export interface SuiteSpec {
  name: string;
  description: string;
  groups: GroupSpec[];
  /** Time budget per task in ms (default 1000). */
  timeMs?: number;
  /** Warm-up budget per task in ms (default 250). */
  warmupMs?: number;
  /** Facts to print and write under "extras", computed after the tasks ran. */
  extras?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
}

export interface TaskRecord {
  group: string;
  name: string;
  mode: TaskMode;
  /** Operations per sample: K in batch mode, 1 in per-call mode. */
  batch: number;
  medianNsPerOp: number;
  /** In batch mode, the p99 of batch means (see the header of bench/lib/suite.ts). */
  p99NsPerOp: number;
  meanNsPerOp: number;
  minNsPerOp: number;
  opsPerSec: number;
  samples: number;
  /** Relative margin of error of the mean, in percent. */
  rmePercent: number;
  /** This task's median divided by each peer's median (peers with a median of 0 are left out). */
  ratioTo: Record<string, number>;
  allocation?: AllocationResult;
}

export interface SuiteResult {
  suite: string;
  description: string;
  date: string;
  machine: MachineInfo;
  settings: { timeMs: number; warmupMs: number; quick: boolean; timerOverheadNs: number };
  groups: { name: string; description: string }[];
  tasks: TaskRecord[];
  skipped: { group: string; name: string; reason: string }[];
  extras: Record<string, unknown>;
}

export interface RunOptions {
  /** Short budgets and allocation checks (a smoke run; numbers are rough). */
  quick?: boolean;
  /** Where <suite>.json goes; default bench/results. */
  resultsDir?: string;
  /** Print the table (default true). */
  print?: boolean;
}

/** bench/ */
export const benchRoot = dirname(dirname(fileURLToPath(import.meta.url)));

const kTargetBatchNs = 20_000;
const kMaxBatch = 1 << 20;

/**
 * Declares a suite; checks that task names are unique so ratioTo keys are unambiguous.
 * @example
 * export default defineSuite({
 *   name: 'queue',
 *   description: 'SPSC push/pop',
 *   groups: [{ name: 'push', description: 'one push', tasks: [{ name: 'SpscQueue.tryPush', fn: () => q.tryPush(bytes) }] }],
 * });
 */
export function defineSuite(spec: SuiteSpec): SuiteSpec {
  const seen = new Set<string>();
  for (const group of spec.groups) {
    for (const task of group.tasks) {
      if (seen.has(task.name)) throw new Error(`suite ${spec.name}: task name "${task.name}" is used twice`);
      seen.add(task.name);
      if (task.mode === 'async' && task.allocationCheck !== undefined) {
        throw new Error(`suite ${spec.name}: task "${task.name}" is async; allocation checks need a synchronous fn`);
      }
      if (task.batch !== undefined && task.batch !== 'auto' && !(Number.isInteger(task.batch) && task.batch >= 1)) {
        throw new Error(`suite ${spec.name}: task "${task.name}" has batch ${String(task.batch)}; expected an integer >= 1 or 'auto'`);
      }
    }
  }
  return spec;
}

function timeLoopNs(loop: () => void): number {
  const t0 = nowNs();
  loop();
  return nowNs() - t0;
}

/** Smallest power of two K for which K calls take about kTargetBatchNs, measured after a warm-up. */
function pickBatch(loop: () => void, state: LoopState): number {
  state.k = 1;
  // The first calls are cold (interpreted, maybe compiling): take the fastest of a few.
  let single = Infinity;
  for (let i = 0; i < 5; i++) single = Math.min(single, timeLoopNs(loop));
  if (single >= kTargetBatchNs) return 1;
  // Warm up with about five target-sized batches, however slow the operation is.
  state.k = Math.max(1, Math.min(1000, Math.floor(kTargetBatchNs / Math.max(single, 1))));
  for (let i = 0; i < 5; i++) loop();
  let k = 1;
  for (;;) {
    state.k = k;
    if (timeLoopNs(loop) >= kTargetBatchNs || k >= kMaxBatch) return k;
    k *= 2;
  }
}

/**
 * Each per-call sample is charged at least this much of the time budget (ms), which caps a
 * task at timeMs / 1 µs samples (tinybench keeps every sample; a 50 ns op would otherwise
 * produce tens of millions) and keeps the budget moving when a reading is 0.
 */
const kPerCallMinCostMs = 0.001;

interface PerCallSample {
  overriddenDuration: number;
  overriddenIterationCost: number;
}

/** A per-call sampler with its own call site for `op` (see loop.ts), for tinybench's overriddenDuration. */
function compilePerCall(op: () => unknown, overheadNs: number, state: LoopState): () => PerCallSample {
  const factory = new Function(
    'op',
    'nowNs',
    'overheadNs',
    'minCostMs',
    'state',
    `return function perCall_${uniqueTag()}() {
      const t0 = nowNs();
      state.sink = op();
      const raw = (nowNs() - t0) / 1e6;
      const d = raw - overheadNs / 1e6;
      return { overriddenDuration: d > 0 ? d : 0, overriddenIterationCost: raw > minCostMs ? raw : minCostMs };
    };`,
  ) as (op: () => unknown, now: () => number, overheadNs: number, minCostMs: number, state: LoopState) => () => PerCallSample;
  return factory(op, nowNs, overheadNs, kPerCallMinCostMs, state);
}

interface Prepared {
  spec: TaskSpec;
  group: string;
  mode: TaskMode;
  batch: number;
  fn: () => unknown;
  allocation?: AllocationResult;
}

function prepare(group: GroupSpec, spec: TaskSpec, quick: boolean): Prepared {
  spec.beforeAll?.();
  const mode = spec.mode ?? 'batch';
  const state: LoopState = { k: 1, sink: undefined };
  const prepared: Prepared = { spec, group: group.name, mode, batch: 1, fn: spec.fn };
  if (spec.allocationCheck !== undefined) {
    const n = quick ? Math.max(1000, Math.floor(spec.allocationCheck / 10)) : spec.allocationCheck;
    prepared.allocation = measureAllocation(spec.fn, n);
  }
  if (mode === 'async') return prepared;
  if (mode === 'batch') {
    const loop = compileLoop(spec.fn, state);
    prepared.batch = spec.batch === undefined || spec.batch === 'auto' ? pickBatch(loop, state) : spec.batch;
    state.k = prepared.batch;
    prepared.fn = loop;
  } else {
    prepared.fn = compilePerCall(spec.fn, MicrosecondTimer.overheadNs, state);
  }
  return prepared;
}

function record(p: Prepared, task: Task): TaskRecord {
  const result = task.result;
  if (result.state === 'errored') throw new Error(`task "${p.spec.name}" failed: ${result.error.message}`, { cause: result.error });
  if (result.state !== 'completed') throw new Error(`task "${p.spec.name}" did not complete (state ${result.state})`);
  const perOp = 1e6 / p.batch;
  const { latency } = result;
  return {
    group: p.group,
    name: p.spec.name,
    mode: p.mode,
    batch: p.batch,
    medianNsPerOp: latency.p50 * perOp,
    p99NsPerOp: latency.p99 * perOp,
    meanNsPerOp: latency.mean * perOp,
    minNsPerOp: latency.min * perOp,
    opsPerSec: result.period > 0 ? (p.batch * 1000) / result.period : 0,
    samples: latency.samplesCount,
    rmePercent: latency.rme,
    ratioTo: {},
    ...(p.allocation !== undefined ? { allocation: p.allocation } : {}),
  };
}

/** Runs every task of the suite, prints the table, writes bench/results/<suite>.json. */
export async function runSuite(spec: SuiteSpec, options: RunOptions = {}): Promise<SuiteResult> {
  const quick = options.quick ?? false;
  const timeMs = quick ? 150 : (spec.timeMs ?? 1000);
  const warmupMs = quick ? 50 : (spec.warmupMs ?? 250);
  const timerOverheadNs = MicrosecondTimer.overheadNs;
  const print = options.print ?? true;
  const machine = machineInfo();
  if (print) printHeader(spec, machine, timeMs, warmupMs, quick);

  const tasks: TaskRecord[] = [];
  const skipped: SuiteResult['skipped'] = [];
  for (const group of spec.groups) {
    const groupRecords: TaskRecord[] = [];
    for (const taskSpec of group.tasks) {
      if (taskSpec.skip !== undefined) {
        skipped.push({ group: group.name, name: taskSpec.name, reason: taskSpec.skip });
        continue;
      }
      const p = prepare(group, taskSpec, quick);
      // One Bench per task: each task gets the whole budget and its own warm-up.
      const bench = new Bench({ time: timeMs, warmupTime: warmupMs, throws: true, subtractTimerOverhead: p.mode === 'batch' });
      bench.add(taskSpec.name, p.fn);
      const [task] = p.mode === 'async' ? await bench.run() : bench.runSync();
      groupRecords.push(record(p, task!));
    }
    for (const r of groupRecords) {
      for (const peer of groupRecords) {
        if (peer !== r && peer.medianNsPerOp > 0) r.ratioTo[peer.name] = r.medianNsPerOp / peer.medianNsPerOp;
      }
    }
    tasks.push(...groupRecords);
    if (print) printGroup(group, groupRecords, skipped.filter((s) => s.group === group.name));
  }

  const extras = (await spec.extras?.()) ?? {};
  if (print) printExtras(extras);

  const result: SuiteResult = {
    suite: spec.name,
    description: spec.description,
    date: new Date().toISOString(),
    machine,
    settings: { timeMs, warmupMs, quick, timerOverheadNs },
    groups: spec.groups.map((g) => ({ name: g.name, description: g.description })),
    tasks,
    skipped,
    extras,
  };
  const dir = options.resultsDir ?? join(benchRoot, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${spec.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  if (print) console.log(`\nwrote ${file}`);
  return result;
}

// ---- table -------------------------------------------------------------------------------

/** 3 significant figures, no exponent for the sizes benches see. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns >= 100) return ns.toFixed(0);
  return ns.toPrecision(3);
}

export function formatRate(perSec: number): string {
  if (perSec >= 1e9) return `${(perSec / 1e9).toPrecision(3)} G`;
  if (perSec >= 1e6) return `${(perSec / 1e6).toPrecision(3)} M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toPrecision(3)} k`;
  return perSec.toPrecision(3);
}

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

function printHeader(spec: SuiteSpec, m: MachineInfo, timeMs: number, warmupMs: number, quick: boolean): void {
  console.log(`\n== ${spec.name}: ${spec.description}`);
  console.log(
    `   ${m.cpu.model} (${m.cpu.cores} cores) · Node ${m.node} · backend ${m.backend}` +
      `${m.nativeError !== undefined ? ` (${m.nativeError})` : ''} · tinybench ${m.tinybench}`,
  );
  console.log(`   ${timeMs} ms per task after ${warmupMs} ms warm-up${quick ? ' (quick run: rough numbers)' : ''}`);
}

function printGroup(group: GroupSpec, records: TaskRecord[], skipped: SuiteResult['skipped']): void {
  console.log(`\n-- ${group.name}: ${group.description}`);
  const base = records[0];
  const showAlloc = records.some((r) => r.allocation !== undefined);
  const header = ['task', 'mode', 'median ns/op', 'p99 ns/op', 'ops/s', 'samples', 'vs first'];
  if (showAlloc) header.push('alloc B/op (GCs)');
  const rows = records.map((r) => {
    const row = [
      r.name,
      r.mode === 'batch' ? `batch×${r.batch}` : r.mode,
      formatNs(r.medianNsPerOp),
      formatNs(r.p99NsPerOp),
      formatRate(r.opsPerSec),
      r.samples.toLocaleString('en-US'),
      r === base ? '1.00' : base !== undefined && base.medianNsPerOp > 0 ? `${(r.medianNsPerOp / base.medianNsPerOp).toFixed(2)}×` : '-',
    ];
    if (showAlloc) {
      row.push(r.allocation === undefined ? '-' : `${r.allocation.bytesPerOp.toFixed(2)} (${r.allocation.gcCount})`);
    }
    return row;
  });
  if (rows.length > 0) console.log(table(header, rows, [false, false, true, true, true, true, true, true]));
  for (const s of skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
}

function printExtras(extras: Record<string, unknown>): void {
  const keys = Object.keys(extras);
  if (keys.length === 0) return;
  console.log('\n-- extras');
  for (const key of keys) console.log(`  ${key}: ${JSON.stringify(extras[key])}`);
}
