/**
 * Defining and running a bench suite. A suite is groups of peer tasks; a group is one
 * workload and its tasks are the ways of doing it (our native path, our TS path, a library
 * or NumPy). Every task of a group is measured in the same round-robin: after a warm-up of
 * each, the group runs `rounds` rounds, and in each round every task takes samples for
 * timeMs / rounds. Load from other processes then falls on all peers alike, and each task
 * has exactly one figure (median, p99), the one its ratios and targets are judged on.
 *
 * A sample is, by mode:
 * - 'batch' (default): `fn` run K times in a compiled loop, divided by K. This is how
 *   sub-100 ns operations are measured at all (the clock itself costs tens of ns). K is
 *   picked so that a batch takes about 20 µs, or given. Medians are per operation; p99 is
 *   then the p99 *of batch means over K calls*, so it shows slow batches (GC, preemption,
 *   a JIT deopt), not the tail of single calls. The calibrated clock-pair overhead
 *   (MicrosecondTimer.overheadNs) is subtracted from each batch before dividing.
 * - 'per-call': one call timed alone (two reads of the allocation-free clock in
 *   lib/monitor/clock.ts), minus the clock-pair overhead (clamped at 0). Use it where the
 *   tail of single calls is the point; below ~100 ns the clock's own jitter dominates.
 * - 'async': one awaited call, nothing subtracted (it includes a microtask turn).
 * - 'external': samples taken by another process (`external(budgetMs, minSamples, gapUs)`
 *   returns per-call ns), e.g. the NumPy peer; it gets its slice of each round like the others.
 *
 * Spaced calls (`gapUs`): a caller of a threaded kernel rarely calls it back to back; between
 * its calls the kernel's thread pool goes idle, and after its spin window its workers sleep,
 * so the next call pays their wake-up. A task with `gapUs` sleeps that long on the calling
 * thread (Atomics.wait) before each sample, outside the timed region: one call per sample
 * (batch 1, 'per-call', 'async', or passed on to the external sampler). Threaded workloads
 * are measured this way, with a gap longer than the pool's spin window, so their figure is
 * what a caller gets; a back-to-back figure of the same workload, if kept, is a task of the
 * same group whose mode column says so ('1 call, back-to-back').
 *
 * Every task gets `ratioTo[peer] = its median / the peer's median` (2.0 = twice as slow).
 * A task with `allocationCheck: N` is also run N times under v8.GCProfiler before timing,
 * and reports bytes/op and the GCs it caused.
 *
 * runSuite() prints progress lines (bench/lib/progress.ts), a table per group and writes
 * bench/out/<suite>.json (ignored by git; bench/baseline/ holds the committed runs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nowNs } from '../../lib/monitor/clock.js';
import { MicrosecondTimer } from '../../lib/monitor/index.js';
import { type AllocationResult, measureAllocation } from './alloc.js';
import { formatBytes, formatNs, formatRate, formatRatio, table } from './format.mjs';
import { compileLoop, type LoopState, uniqueTag } from './loop.js';
import { currentLoad, type Load, loadNote, type MachineInfo, machineInfo } from './machine.js';
import { beginProgress, progressStep } from './progress.js';

export type TaskMode = 'batch' | 'per-call' | 'async' | 'external';

export interface TaskSpec {
  /** Unique within the suite; used as the key in other tasks' ratioTo. */
  name: string;
  /**
   * One operation. Return something so the JIT cannot drop the work. Synchronous in
   * 'batch' and 'per-call' mode; in 'async' mode it returns a promise. Unused in 'external'.
   */
  fn?: () => unknown;
  /** Default 'batch' (or 'external' when `external` is given). */
  mode?: TaskMode;
  /**
   * 'external' mode: take samples for about budgetMs (at least minSamples) elsewhere, each call
   * preceded by an untimed pause of gapUs (0: back to back); per-call ns.
   */
  external?: (budgetMs: number, minSamples: number, gapUs: number) => Promise<number[]>;
  /**
   * Space the calls: sleep gapUs on the calling thread before each sample, not timed (see the
   * header). Needs one call per sample: batch 1 (not 'auto'), 'per-call', 'async' or 'external'.
   */
  gapUs?: number;
  /**
   * Untimed pause after each of this task's turns, before the next task's: for a peer that
   * leaves threads spinning after its calls (OpenBLAS's workers poll for about 2^28 cycles,
   * ~0.1 s, after every call), so they do not take the cores of whoever runs next.
   */
  settleMs?: number;
  /** K operations per sample in batch mode; default 'auto' (about 20 µs per batch). */
  batch?: number | 'auto';
  /** Skip the task, saying why (e.g. the native addon is not loaded). */
  skip?: string;
  /** Run fn this many times under v8.GCProfiler first and report bytes/op. */
  allocationCheck?: number;
  /**
   * Fewest samples over all rounds (default: one per round). Slow operations (~100 ms or
   * more) get one sample per round; `samples` in the JSON says how many were taken, and a
   * p99 over few samples is the worst of them.
   */
  minSamples?: number;
  /** Called once before the task is warmed up and timed. */
  beforeAll?: () => void;
  /** Also show a throughput: `per` units per operation, e.g. { per: 1000, unit: 'deltas/s' }. */
  rate?: { per: number; unit: string };
  /**
   * A target judged on this task's figure: a median at most maxNs, a rate at least minRate,
   * or at least `factor` times as fast as the task named `peer` in the same group
   * (peer's median / this median >= factor; factor 1: at least even).
   */
  target?: TargetSpec;
}

export interface TargetSpec {
  maxNs?: number;
  minRate?: number;
  fasterThan?: { peer: string; factor: number };
}

export interface GroupSpec {
  name: string;
  /** One line: what the group compares. */
  description: string;
  tasks: TaskSpec[];
  /** Threads that need idle cores (threaded kernels, cross-thread work): print the load beside the table. */
  needsIdleCores?: boolean;
}

export interface SuiteSpec {
  name: string;
  description: string;
  groups: GroupSpec[];
  /** Time budget per task in ms, spread over the rounds (default 1000). */
  timeMs?: number;
  /** Warm-up budget per task in ms (default 250). */
  warmupMs?: number;
  /** Rounds of the round-robin (default 10). */
  rounds?: number;
  /**
   * Work beyond the groups (cross-thread runs, GC churn), run after them. It prints its own
   * tables (format.ts `table`) and returns facts for the JSON; `figures` in what it returns
   * are compared with the baseline like task medians.
   */
  extras?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** A headline number of an extras section, in the JSON and in the baseline comparison. */
export interface Figure {
  group: string;
  name: string;
  /** 'ns' (lower is better) or a rate unit such as 'msg/s' (higher is better). */
  unit: string;
  median: number;
  p99?: number;
}

export interface TaskRecord {
  group: string;
  name: string;
  mode: TaskMode;
  /** Operations per sample: K in batch mode, 1 otherwise. */
  batch: number;
  /** Calls were spaced by this pause (µs, untimed); absent: back to back. */
  gapUs?: number;
  medianNsPerOp: number;
  /** In batch mode, the p99 of batch means (see the header of bench/lib/suite.ts). */
  p99NsPerOp: number;
  meanNsPerOp: number;
  minNsPerOp: number;
  opsPerSec: number;
  samples: number;
  /**
   * The median of each round's samples (ns/op), one per round: the independent repeats the
   * regression detector compares (lib/monitor/history.ts), as benchstat compares runs.
   */
  roundMediansNsPerOp?: number[];
  /** Relative margin of error of the mean (95%), in percent. */
  rmePercent: number;
  /** This task's median divided by each peer's median (peers with a median of 0 are left out). */
  ratioTo: Record<string, number>;
  rate?: { value: number; unit: string };
  /**
   * The target and its verdict. fasterThan.measured is the peer's median / this median; a
   * ratio target whose peer was not measured (skipped) is not met, and `unjudged` says why.
   */
  target?: {
    maxNs?: number;
    minRate?: number;
    fasterThan?: { peer: string; factor: number; measured?: number };
    met: boolean;
    unjudged?: string;
  };
  allocation?: AllocationResult;
}

export interface SuiteResult {
  suite: string;
  description: string;
  date: string;
  /** The command that reproduces this file. */
  command: string;
  machine: MachineInfo;
  settings: { timeMs: number; warmupMs: number; rounds: number; quick: boolean; timerOverheadNs: number };
  groups: { name: string; description: string; load: Load }[];
  tasks: TaskRecord[];
  skipped: { group: string; name: string; reason: string }[];
  extras: Record<string, unknown>;
}

export interface RunOptions {
  /** Short budgets and allocation checks (a smoke run; numbers are rough). */
  quick?: boolean;
  /** Where <suite>.json goes; default bench/out. */
  resultsDir?: string;
  /** Print the tables (default true). */
  print?: boolean;
}

/** bench/ */
export const benchRoot = dirname(dirname(fileURLToPath(import.meta.url)));
/** Where runs write their JSON (ignored by git). */
export const outDir = join(benchRoot, 'out');
/** The committed runs the README quotes. */
export const baselineDir = join(benchRoot, 'baseline');

const kTargetBatchNs = 20_000;
const kMaxBatch = 1 << 20;
/**
 * Samples one turn of a task keeps (100,000 a round, so at most 1M over 10 rounds): a 50 ns
 * per-call task would otherwise keep tens of millions. Past it the turn ends early.
 */
const kMaxSamplesPerTake = 100_000;

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
      const where = `suite ${spec.name}: task "${task.name}"`;
      if (seen.has(task.name)) throw new Error(`suite ${spec.name}: task name "${task.name}" is used twice`);
      seen.add(task.name);
      const mode = modeOf(task);
      if (mode === 'external' ? task.external === undefined : task.fn === undefined) {
        throw new Error(`${where} has mode ${mode} but no ${mode === 'external' ? 'external sampler' : 'fn'}`);
      }
      if ((mode === 'async' || mode === 'external') && task.allocationCheck !== undefined) {
        throw new Error(`${where} is ${mode}; allocation checks need a synchronous fn`);
      }
      if (task.batch !== undefined && task.batch !== 'auto' && !(Number.isInteger(task.batch) && task.batch >= 1)) {
        throw new Error(`${where} has batch ${String(task.batch)}; expected an integer >= 1 or 'auto'`);
      }
      if (task.gapUs !== undefined) {
        if (!(typeof task.gapUs === 'number' && task.gapUs > 0 && task.gapUs <= 1e6)) {
          throw new Error(`${where} has gapUs ${String(task.gapUs)}; expected a number of µs in (0, 1e6]`);
        }
        if (mode === 'batch' && task.batch !== 1) {
          throw new Error(`${where} has gapUs but batch ${String(task.batch ?? 'auto')}; spaced calls need one call per sample (batch: 1)`);
        }
      }
      const peer = task.target?.fasterThan?.peer;
      if (peer !== undefined && !group.tasks.some((t) => t.name === peer && t !== task)) {
        throw new Error(`${where} has a target faster than "${peer}", which is not another task of group ${group.name}`);
      }
      const factor = task.target?.fasterThan?.factor;
      if (factor !== undefined && !(factor > 0 && Number.isFinite(factor))) throw new Error(`${where} has a fasterThan factor ${factor}; expected a number > 0`);
    }
  }
  return spec;
}

function modeOf(task: TaskSpec): TaskMode {
  return task.mode ?? (task.external !== undefined ? 'external' : 'batch');
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

/** A per-call sampler with its own call site for `op` (see loop.ts): ns of one call, overhead subtracted. */
function compilePerCall(op: () => unknown, overheadNs: number, state: LoopState): () => number {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(
    'op',
    'nowNs',
    'overheadNs',
    'state',
    `return function perCall_${uniqueTag()}() {
      const t0 = nowNs();
      state.sink = op();
      const d = nowNs() - t0 - overheadNs;
      return d > 0 ? d : 0;
    };`,
  ) as (op: () => unknown, now: () => number, overheadNs: number, state: LoopState) => () => number;
  return factory(op, nowNs, overheadNs, state);
}

interface Prepared {
  spec: TaskSpec;
  group: string;
  mode: TaskMode;
  batch: number;
  /** Adds samples (ns per op) to `out` for about budgetMs, at least `min` of them. */
  take: (budgetMs: number, min: number, out: number[]) => void | Promise<void>;
  allocation?: AllocationResult;
}

const gapCell = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps the calling thread for gapUs (the pause between spaced calls; never timed). */
export function pauseUs(gapUs: number): void {
  Atomics.wait(gapCell, 0, 0, gapUs / 1000);
}

function syncTaker(sample: () => number, gapUs: number): Prepared['take'] {
  return (budgetMs, min, out) => {
    const end = performance.now() + budgetMs;
    let n = 0;
    while (n < min || (performance.now() < end && n < kMaxSamplesPerTake)) {
      if (gapUs > 0) pauseUs(gapUs);
      out.push(sample());
      n++;
    }
  };
}

function prepare(group: GroupSpec, spec: TaskSpec, quick: boolean): Prepared {
  spec.beforeAll?.();
  const mode = modeOf(spec);
  const overheadNs = MicrosecondTimer.overheadNs;
  const gapUs = spec.gapUs ?? 0;
  const base = { spec, group: group.name, mode, batch: 1 };
  if (mode === 'external') {
    const external = spec.external!;
    return {
      ...base,
      take: async (budgetMs, min, out) => {
        for (const s of await external(budgetMs, min, gapUs)) out.push(s);
      },
    };
  }
  const fn = spec.fn!;
  const allocation =
    spec.allocationCheck !== undefined
      ? measureAllocation(fn, quick ? Math.max(1000, Math.floor(spec.allocationCheck / 10)) : spec.allocationCheck)
      : undefined;
  const withAlloc = allocation !== undefined ? { allocation } : {};
  if (mode === 'async') {
    return {
      ...base,
      ...withAlloc,
      take: async (budgetMs, min, out) => {
        const end = performance.now() + budgetMs;
        let n = 0;
        while (n < min || performance.now() < end) {
          if (gapUs > 0) pauseUs(gapUs);
          const t0 = nowNs();
          await fn();
          out.push(nowNs() - t0);
          n++;
        }
      },
    };
  }
  const state: LoopState = { k: 1, sink: undefined };
  if (mode === 'per-call') return { ...base, ...withAlloc, take: syncTaker(compilePerCall(fn, overheadNs, state), gapUs) };
  const loop = compileLoop(fn, state);
  const batch = spec.batch === undefined || spec.batch === 'auto' ? pickBatch(loop, state) : spec.batch;
  state.k = batch;
  return {
    ...base,
    ...withAlloc,
    batch,
    take: syncTaker(() => {
      const d = timeLoopNs(loop) - overheadNs;
      return (d > 0 ? d : 0) / batch;
    }, gapUs),
  };
}

function percentileOfSorted(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Median of each round's stretch of `samples` (rounds start at the indices in `bounds`). */
function roundMedians(samples: number[], bounds: number[]): number[] {
  return bounds.map((from, i) => {
    const part = Float64Array.from(samples.slice(from, bounds[i + 1] ?? samples.length)).sort();
    return part.length === 0 ? Number.NaN : percentileOfSorted(part, 50);
  }).filter((v) => !Number.isNaN(v));
}

function record(p: Prepared, samples: number[], bounds: number[]): TaskRecord {
  if (samples.length === 0) throw new Error(`task "${p.spec.name}" took no samples`);
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const s of sorted) sum += s;
  const mean = sum / sorted.length;
  let sq = 0;
  for (const s of sorted) sq += (s - mean) ** 2;
  const sd = sorted.length > 1 ? Math.sqrt(sq / (sorted.length - 1)) : 0;
  const median = percentileOfSorted(sorted, 50);
  const r: TaskRecord = {
    group: p.group,
    name: p.spec.name,
    mode: p.mode,
    batch: p.batch,
    medianNsPerOp: median,
    p99NsPerOp: percentileOfSorted(sorted, 99),
    meanNsPerOp: mean,
    minNsPerOp: sorted[0]!,
    opsPerSec: mean > 0 ? 1e9 / mean : 0,
    samples: sorted.length,
    roundMediansNsPerOp: roundMedians(samples, bounds),
    rmePercent: mean > 0 ? (196 * sd) / Math.sqrt(sorted.length) / mean : 0,
    ratioTo: {},
  };
  if (p.spec.gapUs !== undefined) r.gapUs = p.spec.gapUs;
  if (p.spec.rate !== undefined && median > 0) r.rate = { value: (p.spec.rate.per * 1e9) / median, unit: p.spec.rate.unit };
  const t = p.spec.target;
  if (t !== undefined) {
    // A ratio target is judged in runGroup, once the peer's median is known.
    const met = (t.maxNs === undefined || median <= t.maxNs) && (t.minRate === undefined || (r.rate?.value ?? 0) >= t.minRate);
    r.target = { ...t, ...(t.fasterThan !== undefined ? { fasterThan: { ...t.fasterThan } } : {}), met };
  }
  if (p.allocation !== undefined) r.allocation = p.allocation;
  return r;
}

/** One group: prepare every task, warm each up, then `rounds` rounds of timeMs / rounds per task. */
async function runGroup(group: GroupSpec, prepared: Prepared[], timeMs: number, warmupMs: number, rounds: number): Promise<TaskRecord[]> {
  const samples = prepared.map(() => [] as number[]);
  const bounds = prepared.map(() => [] as number[]);
  for (const p of prepared) await p.take(warmupMs, 1, []);
  const slice = timeMs / rounds;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      const min = Math.ceil((p.spec.minSamples ?? rounds) / rounds);
      bounds[i]!.push(samples[i]!.length);
      await p.take(slice, min, samples[i]!);
      if (p.spec.settleMs !== undefined) await new Promise((resolve) => setTimeout(resolve, p.spec.settleMs));
    }
  }
  const records = prepared.map((p, i) => record(p, samples[i]!, bounds[i]!));
  for (const r of records) {
    for (const peer of records) {
      if (peer !== r && peer.medianNsPerOp > 0) r.ratioTo[peer.name] = r.medianNsPerOp / peer.medianNsPerOp;
    }
  }
  for (const r of records) judgeRatioTarget(r, records);
  return records;
}

/** Judges a `fasterThan` target on the peer's median (peer / this >= factor). */
function judgeRatioTarget(r: TaskRecord, records: TaskRecord[]): void {
  const f = r.target?.fasterThan;
  if (r.target === undefined || f === undefined) return;
  const peer = records.find((x) => x.name === f.peer);
  if (peer === undefined || r.medianNsPerOp <= 0) {
    r.target.met = false;
    r.target.unjudged = peer === undefined ? `${f.peer} was not measured` : 'this median is 0';
    return;
  }
  f.measured = peer.medianNsPerOp / r.medianNsPerOp;
  r.target.met = r.target.met && f.measured >= f.factor;
}

/** What the mode column says: batch×K, or one call spaced / back-to-back where the group spaces calls. */
export function modeText(r: Pick<TaskRecord, 'mode' | 'batch' | 'gapUs'>, groupSpaced: boolean): string {
  if (r.gapUs !== undefined) return `${r.mode === 'batch' ? '1 call' : r.mode}, ${formatNs(r.gapUs * 1000)} apart`;
  if (groupSpaced && r.batch === 1) return `${r.mode === 'batch' ? '1 call' : r.mode}, back-to-back`;
  return r.mode === 'batch' ? `batch×${r.batch}` : r.mode;
}

/** How to reproduce a suite's file: the command bench/run.ts prints and the JSON records. */
export function suiteCommand(suite: string, quick = false): string {
  return `ULTRA_PERF_BACKEND=${process.env.ULTRA_PERF_BACKEND ?? 'auto'} npx tsx bench/run.ts ${suite}${quick ? ' --quick' : ''}`;
}

/** Runs every group of the suite round-robin, prints progress and tables, writes bench/out/<suite>.json. */
export async function runSuite(spec: SuiteSpec, options: RunOptions = {}): Promise<SuiteResult> {
  const quick = options.quick ?? false;
  const timeMs = quick ? 150 : (spec.timeMs ?? 1000);
  const warmupMs = quick ? 50 : (spec.warmupMs ?? 250);
  const rounds = quick ? 3 : (spec.rounds ?? 10);
  const timerOverheadNs = MicrosecondTimer.overheadNs;
  const print = options.print ?? true;
  const machine = machineInfo();
  if (print) printHeader(spec, machine, timeMs, warmupMs, rounds, quick);
  beginProgress(spec.name, spec.groups.length + (spec.extras !== undefined ? 1 : 0));

  const tasks: TaskRecord[] = [];
  const groups: SuiteResult['groups'] = [];
  const skipped: SuiteResult['skipped'] = [];
  for (const group of spec.groups) {
    const run = group.tasks.filter((t) => t.skip === undefined);
    for (const t of group.tasks) if (t.skip !== undefined) skipped.push({ group: group.name, name: t.name, reason: t.skip });
    if (print) progressStep(group.name, `${run.length} ${run.length === 1 ? 'task' : 'peers'}, ${rounds} rounds of ${formatNs((timeMs / rounds) * 1e6)} each`);
    const load = currentLoad();
    const records = await runGroup(group, run.map((t) => prepare(group, t, quick)), timeMs, warmupMs, rounds);
    groups.push({ name: group.name, description: group.description, load });
    tasks.push(...records);
    if (print) printGroup(group, records, skipped.filter((s) => s.group === group.name), load);
  }

  if (spec.extras !== undefined && print) progressStep('extras');
  const extras = (await spec.extras?.()) ?? {};

  const result: SuiteResult = {
    suite: spec.name,
    description: spec.description,
    date: new Date().toISOString(),
    command: suiteCommand(spec.name, quick),
    machine,
    settings: { timeMs, warmupMs, rounds, quick, timerOverheadNs },
    groups,
    tasks,
    skipped,
    extras,
  };
  const dir = options.resultsDir ?? outDir;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${spec.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  if (print) console.log(`\nwrote ${file}`);
  return result;
}

// ---- tables ------------------------------------------------------------------------------

function printHeader(spec: SuiteSpec, m: MachineInfo, timeMs: number, warmupMs: number, rounds: number, quick: boolean): void {
  console.log(`\n== ${spec.name}: ${spec.description}`);
  console.log(
    `   ${m.cpu.model} (${m.cpu.cores} cores) · Node ${m.node} · backend ${m.backend}` +
      `${m.nativeError !== undefined ? ` (${m.nativeError})` : ''} · ${loadNote()}`,
  );
  console.log(
    `   per task: ${formatNs(warmupMs * 1e6)} warm-up, then ${formatNs(timeMs * 1e6)} in ${rounds} rounds shared round-robin with its peers` +
      `${quick ? ' (quick run: rough numbers)' : ''}`,
  );
}

function printGroup(group: GroupSpec, records: TaskRecord[], skipped: SuiteResult['skipped'], load: Load): void {
  console.log(`\n-- ${group.name}: ${group.description}`);
  if (group.needsIdleCores) console.log(`   needs idle cores; ${loadNote(load)}`);
  const showAlloc = records.some((r) => r.allocation !== undefined);
  const showRate = records.some((r) => r.rate !== undefined);
  const showTarget = records.some((r) => r.target !== undefined);
  const header = ['#', 'task', 'mode', 'median', 'p99', 'samples'];
  if (showRate) header.push('rate');
  if (records.length > 1) header.push(...records.map((_, j) => `÷#${j + 1}`));
  if (showAlloc) header.push('alloc/op (GCs)');
  if (showTarget) header.push('target');
  const spaced = records.some((r) => r.gapUs !== undefined);
  const rows = records.map((r, i) => {
    const row = [
      `#${i + 1}`,
      r.name,
      modeText(r, spaced),
      formatNs(r.medianNsPerOp),
      formatNs(r.p99NsPerOp),
      r.samples.toLocaleString('en-US'),
    ];
    if (showRate) row.push(r.rate === undefined ? '-' : formatRate(r.rate.value, r.rate.unit));
    if (records.length > 1) row.push(...records.map((peer) => (peer === r ? '' : r.ratioTo[peer.name] !== undefined ? formatRatio(r.ratioTo[peer.name]!) : '-')));
    if (showAlloc) row.push(r.allocation === undefined ? '-' : `${formatBytes(r.allocation.bytesPerOp)} (${r.allocation.gcCount})`);
    if (showTarget) row.push(targetText(r));
    return row;
  });
  const align = header.map((h) => (h === 'task' || h === 'mode' || h === '#' || h === 'target' ? 'l' : 'r')) as ('l' | 'r')[];
  if (rows.length > 0) console.log(table(header, rows, align));
  if (records.length > 1) console.log('  ÷#j: this median / task #j\'s median (2.00× = twice as slow)');
  if (spaced) console.log('  "apart": each call follows an untimed pause (the pool\'s workers may have gone to sleep); "back-to-back": no pause');
  for (const s of skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
}

function targetText(r: TaskRecord): string {
  const t = r.target;
  if (t === undefined) return '';
  const parts: string[] = [];
  if (t.maxNs !== undefined) parts.push(`≤ ${formatNs(t.maxNs)}`);
  if (t.minRate !== undefined) parts.push(`≥ ${formatRate(t.minRate, r.rate?.unit ?? '/s')}`);
  if (t.fasterThan !== undefined) {
    const f = t.fasterThan;
    parts.push(`≥ ${formatRatio(f.factor)} as fast as ${f.peer}${f.measured !== undefined ? ` (measured ${formatRatio(f.measured)})` : ''}`);
  }
  if (t.unjudged !== undefined) return `${parts.join(', ')}: not judged (${t.unjudged})`;
  return `${parts.join(', ')}: ${t.met ? 'met' : 'MISSED'}`;
}
