/**
 * Profiler (the seed's RealTimeProfiler): V8's sampling CPU profiler through a node:inspector
 * Session in this process (Profiler.enable, setSamplingInterval, start, stop), so it needs no
 * --inspect flag and no port. A session returns the functions that took the time, by self
 * time (samples where the function was on top of the stack) and total time (samples where it
 * was anywhere on the stack, counted once per sample however deep it recursed), and the
 * profile itself, which written to a `.cpuprofile` file opens in Chrome DevTools (Performance
 * panel, "Load profile") and speedscope.
 *
 * A sample's time is the gap to the next sample (the last one's, to the profile's end), as
 * DevTools counts it: timeDeltas[i] is the gap *before* sample i. V8's own pseudo-frames
 * appear under their names: "(program)" (native code outside JS), "(garbage collector)",
 * "(idle)" (the thread waited in the event loop); "(root)" never has self time.
 */
import { writeFile } from 'node:fs/promises';
import type * as InspectorModule from 'node:inspector';
import { createRequire } from 'node:module';

import { UnsupportedError, invalidRange, invalidType } from '../errors.js';
import { defineOptions, integerCheck, nonEmptyStringCheck, readOptions } from '../internal/options.js';
import { alreadyRunning, notRunning } from './running.js';

/** The CPU profile V8 returns and DevTools loads (its `Profiler.Profile` type). */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** Microseconds, V8's monotonic clock. */
  startTime: number;
  endTime: number;
  /** The node id on top of the stack at each sample. */
  samples: number[];
  /** Microseconds before each sample (the first: since startTime). Same length as samples. */
  timeDeltas: number[];
}

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
  positionTicks?: { line: number; ticks: number }[];
}

/** The time one function took in a profile. */
export interface FunctionTime {
  /** "(anonymous)" for a function without a name. */
  functionName: string;
  url: string;
  /** 1-based, as editors count (the profile's callFrame counts from 0). 0 for V8's pseudo-frames. */
  line: number;
  column: number;
  selfMs: number;
  totalMs: number;
  /** Shares of the profile's sampled time, 0..100. */
  selfPercent: number;
  totalPercent: number;
}

export interface ProfileSummary {
  /** Time covered by the samples, ms. */
  sampledMs: number;
  samples: number;
  /** Functions by self time, then by total time, the `top` largest each. */
  topBySelf: FunctionTime[];
  topByTotal: FunctionTime[];
}

export interface ProfileReport extends ProfileSummary {
  name: string;
  samplingIntervalUs: number;
  /** Wall time from start to stop, ms. */
  durationMs: number;
  profile: CpuProfile;
  /** Where the .cpuprofile was written (writeTo), or null. */
  file: string | null;
}

export interface ProfilerSessionOptions {
  /** Time between samples, µs: an integer from 1 to 1,000,000. Default 100 (V8's finest useful; its default is 1000). */
  samplingIntervalUs?: number;
}

export interface StopSessionOptions {
  /** Write the profile as JSON to this path (name it `.cpuprofile` for DevTools). */
  writeTo?: string;
  /** How many functions each top list keeps, an integer from 1 to 10,000. Default 20. */
  top?: number;
}

const kStart = defineOptions('Profiler.startSession', {
  samplingIntervalUs: { check: integerCheck(1, 1_000_000), default: 100 },
});
const kStopSpecs = {
  writeTo: { check: nonEmptyStringCheck },
  top: { check: integerCheck(1, 10_000), default: 20 },
};
const kStop = defineOptions('Profiler.stopSession', kStopSpecs);
const kProfileFunction = defineOptions('Profiler.profileFunction', { ...kStart.specs, ...kStopSpecs });

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw invalidType('name', 'a non-empty string', name);
  if (name.length === 0) throw invalidRange('name', 'a non-empty string', name);
}

let inspectorModule: typeof InspectorModule | null | undefined;
/** node:inspector, or null where Node was built without it (--without-inspector). */
function loadInspector(): typeof InspectorModule | null {
  if (inspectorModule === undefined) {
    try {
      inspectorModule = createRequire(import.meta.url)('node:inspector') as typeof InspectorModule;
    } catch {
      inspectorModule = null;
    }
  }
  return inspectorModule;
}

function post<T = unknown>(session: InspectorModule.Session, method: string, params?: object): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    session.post(method, params ?? {}, (err: Error | null, result?: object) => (err ? reject(err) : resolve(result as T)));
  });
}

interface Running {
  name: string;
  samplingIntervalUs: number;
  startedAt: number;
  session: InspectorModule.Session | null;
  /** Settles when the profiler has started (or failed to). */
  ready: Promise<void>;
}

/**
 * Summarises a CPU profile (from a session, or a `.cpuprofile` file read back): self and
 * total time per function, the `top` largest of each.
 * @example
 * import { readFileSync } from 'node:fs';
 * const { topBySelf } = summarizeProfile(JSON.parse(readFileSync('run.cpuprofile', 'utf8')), 5);
 */
export function summarizeProfile(profile: CpuProfile, top = 20): ProfileSummary {
  if (profile === null || typeof profile !== 'object' || !Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
    throw invalidType('profile', 'a CPU profile ({ nodes, startTime, endTime, samples, timeDeltas })', profile);
  }
  if (profile.samples.length !== profile.timeDeltas.length) {
    throw invalidRange('profile.timeDeltas.length', `the length of profile.samples (${profile.samples.length})`, profile.timeDeltas.length);
  }
  integerCheck(1, 10_000)(top, 'top');
  const index = new Map<number, number>();
  profile.nodes.forEach((node, i) => index.set(node.id, i));
  const selfUs = new Float64Array(profile.nodes.length);
  const n = profile.samples.length;
  let t = profile.startTime;
  let sampledUs = 0;
  for (let i = 0; i < n; i++) {
    t += profile.timeDeltas[i]!;
    const next = i + 1 < n ? t + profile.timeDeltas[i + 1]! : Math.max(t, profile.endTime);
    const us = Math.max(0, next - t);
    const at = index.get(profile.samples[i]!);
    if (at === undefined) throw invalidRange(`profile.samples[${i}]`, 'the id of a node in profile.nodes', profile.samples[i]);
    selfUs[at] = selfUs[at]! + us;
    sampledUs += us;
  }

  // Per function (name + place): self time summed over its nodes; total time summed over the
  // nodes where it first appears on the path from the root, so recursion counts once.
  const keyOf = (node: CpuProfileNode) => {
    const f = node.callFrame;
    return `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber}`;
  };
  const byKey = new Map<string, { node: CpuProfileNode; selfUs: number; totalUs: number }>();
  const subtreeUs = new Float64Array(profile.nodes.length);
  const childIds = new Set<number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) childIds.add(c);
  const roots = profile.nodes.filter((node) => !childIds.has(node.id));
  // Iterative post-order for subtree times (profiles can be deeper than the JS stack allows).
  const order: number[] = [];
  const stack = roots.map((r) => index.get(r.id)!);
  while (stack.length > 0) {
    const i = stack.pop()!;
    order.push(i);
    for (const c of profile.nodes[i]!.children ?? []) {
      const ci = index.get(c);
      if (ci !== undefined) stack.push(ci);
    }
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k]!;
    let sum = selfUs[i]!;
    for (const c of profile.nodes[i]!.children ?? []) {
      const ci = index.get(c);
      if (ci !== undefined) sum += subtreeUs[ci]!;
    }
    subtreeUs[i] = sum;
  }
  // Walk again with the functions on the current path counted.
  const onPath = new Map<string, number>();
  const walk: { i: number; leaving: boolean }[] = roots.map((r) => ({ i: index.get(r.id)!, leaving: false }));
  while (walk.length > 0) {
    const { i, leaving } = walk.pop()!;
    const node = profile.nodes[i]!;
    const key = keyOf(node);
    if (leaving) {
      onPath.set(key, onPath.get(key)! - 1);
      continue;
    }
    let entry = byKey.get(key);
    if (entry === undefined) {
      entry = { node, selfUs: 0, totalUs: 0 };
      byKey.set(key, entry);
    }
    entry.selfUs += selfUs[i]!;
    const depth = onPath.get(key) ?? 0;
    if (depth === 0) entry.totalUs += subtreeUs[i]!;
    onPath.set(key, depth + 1);
    walk.push({ i, leaving: true });
    for (const c of node.children ?? []) {
      const ci = index.get(c);
      if (ci !== undefined) walk.push({ i: ci, leaving: false });
    }
  }

  const all: FunctionTime[] = [];
  for (const { node, selfUs: s, totalUs: tot } of byKey.values()) {
    const f = node.callFrame;
    if (f.functionName === '(root)') continue;
    const pseudo = f.functionName.startsWith('(') && f.url === '';
    all.push({
      functionName: f.functionName === '' ? '(anonymous)' : f.functionName,
      url: f.url,
      line: pseudo ? 0 : f.lineNumber + 1,
      column: pseudo ? 0 : f.columnNumber + 1,
      selfMs: s / 1000,
      totalMs: tot / 1000,
      selfPercent: sampledUs > 0 ? (100 * s) / sampledUs : 0,
      totalPercent: sampledUs > 0 ? (100 * tot) / sampledUs : 0,
    });
  }
  // Ties broken by the other time, then by name, so equal profiles give equal lists.
  const byName = (a: FunctionTime, b: FunctionTime) => (a.functionName < b.functionName ? -1 : a.functionName > b.functionName ? 1 : a.line - b.line);
  const topBySelf = [...all].sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs || byName(a, b)).slice(0, top);
  const topByTotal = [...all].sort((a, b) => b.totalMs - a.totalMs || b.selfMs - a.selfMs || byName(a, b)).slice(0, top);
  return { sampledMs: sampledUs / 1000, samples: n, topBySelf, topByTotal };
}

/**
 * CPU profiling sessions in this process, one at a time per Profiler.
 *
 * @example
 * import { Profiler } from 'ultra-performance';
 * const profiler = new Profiler();
 * await profiler.startSession('replay', { samplingIntervalUs: 100 });
 * replayDay();
 * const report = await profiler.stopSession({ writeTo: 'replay.cpuprofile', top: 10 });
 * console.table(report.topBySelf.map((f) => ({ fn: f.functionName, selfMs: f.selfMs, at: `${f.url}:${f.line}` })));
 */
export class Profiler {
  private running_: Running | null = null;

  /** The name of the running session, or null. */
  get session(): string | null {
    return this.running_?.name ?? null;
  }

  /**
   * Starts sampling under `name`.
   * @throws UltraPerfError (code ERR_ULTRA_PERF_ALREADY_RUNNING) while another session runs;
   *   UnsupportedError where Node has no inspector.
   */
  async startSession(name: string, options: ProfilerSessionOptions = {}): Promise<void> {
    checkName(name);
    const o = readOptions(kStart, options);
    if (this.running_ !== null) {
      throw alreadyRunning(`Profiler session '${this.running_.name}'`, `stop it before starting '${name}'`);
    }
    const inspector = loadInspector();
    if (inspector === null) throw new UnsupportedError('Profiler needs node:inspector, and this Node was built without it');
    const samplingIntervalUs = o.samplingIntervalUs as number;
    const session = new inspector.Session();
    // Claimed before the first await, so a second call in the same turn sees it.
    const running: Running = { name, samplingIntervalUs, startedAt: performance.now(), session, ready: Promise.resolve() };
    this.running_ = running;
    running.ready = (async () => {
      session.connect();
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.setSamplingInterval', { interval: samplingIntervalUs });
      await post(session, 'Profiler.start');
    })();
    try {
      await running.ready;
      running.startedAt = performance.now();
    } catch (err) {
      this.running_ = null;
      session.disconnect();
      throw err;
    }
  }

  /**
   * Stops the running session and returns its report.
   * @throws UltraPerfError (code ERR_ULTRA_PERF_NOT_RUNNING) without a running session.
   */
  async stopSession(options: StopSessionOptions = {}): Promise<ProfileReport> {
    return this.stop(readOptions(kStop, options));
  }

  /**
   * Profiles one call of `fn` (awaited when it returns a promise) in its own session.
   * @example
   * const { result, profile } = await new Profiler().profileFunction('sort', () => big.sort());
   * console.log(profile.topBySelf[0]);
   */
  async profileFunction<T>(
    name: string,
    fn: () => T | Promise<T>,
    options: ProfilerSessionOptions & StopSessionOptions = {},
  ): Promise<{ result: T; profile: ProfileReport }> {
    checkName(name);
    if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
    const o = readOptions(kProfileFunction, options);
    await this.startSession(name, { samplingIntervalUs: o.samplingIntervalUs as number });
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      await this.stop({ writeTo: undefined, top: 1 }).catch(() => undefined);
      throw err;
    }
    return { result, profile: await this.stop(o) };
  }

  private async stop(o: Record<string, unknown>): Promise<ProfileReport> {
    const running = this.running_;
    if (running === null || running.session === null) throw notRunning('Profiler', 'call startSession() first');
    const session = running.session;
    running.session = null; // a second stop in the same turn fails instead of racing
    await running.ready;
    let profile: CpuProfile;
    try {
      profile = (await post<{ profile: CpuProfile }>(session, 'Profiler.stop')).profile;
      await post(session, 'Profiler.disable');
    } finally {
      session.disconnect();
      this.running_ = null;
    }
    const durationMs = performance.now() - running.startedAt;
    const writeTo = o.writeTo as string | undefined;
    if (writeTo !== undefined) await writeFile(writeTo, JSON.stringify(profile));
    return {
      name: running.name,
      samplingIntervalUs: running.samplingIntervalUs,
      durationMs,
      ...summarizeProfile(profile, o.top as number),
      profile,
      file: writeTo ?? null,
    };
  }
}
