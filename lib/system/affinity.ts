/**
 * CPU affinity for the calling thread (the main thread or a worker_thread).
 * Native backend: pthread_setaffinity_np / pthread_getaffinity_np / sched_getcpu.
 * TS backend (Linux): /proc/thread-self for reads and `taskset -p` on this thread's
 * id for writes; same semantics, slower (a process spawn per set).
 * Elsewhere both throw UnsupportedError.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { cpus } from 'node:os';

import { cpuAddon } from '../backend.js';
import { UltraPerfError, UnsupportedError, describe, invalidRange, invalidType } from '../errors.js';
import { defineOptions, readOptions } from '../internal/options.js';

/** Largest core index + 1 accepted (CPU_SETSIZE on glibc); kMaxCores in cpp/system/affinity.hpp. */
export const kMaxCores = 1024;
/** cpp/system/affinity.hpp kUnsupported. */
const kUnsupportedStatus = -100000;

interface AffinityImpl {
  set(cores: Int32Array): void;
  get(): number[];
  current(): number;
}

function onlineCores(): number {
  return Math.max(1, cpus().length);
}

function unsupported(what: string): never {
  throw new UnsupportedError(`${what} is not supported on ${process.platform}: it needs Linux (sched_setaffinity)`);
}

function rangeListToCores(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [lo, hi] = part.split('-').map(Number);
    for (let c = lo!; c <= (hi ?? lo!); c++) cores.push(c);
  }
  return cores;
}

function coresToRangeList(cores: Int32Array): string {
  return Array.from(cores).join(',');
}

/**
 * The RangeError for cores the OS refuses with EINVAL (none of them online or allowed). It
 * replaces the OS error: its message already says what EINVAL means here, and which cores are.
 */
function coresRefused(cores: Int32Array): RangeError {
  return invalidRange('cores', `cores this thread may run on (online: 0-${onlineCores() - 1})`, Array.from(cores));
}

/**
 * A negative status the binding returned: kUnsupported (off Linux). Errno failures are thrown
 * by the binding itself as system errors (code 'EINVAL' and so on, naming the call).
 */
function throwStatus(status: number, what: string): never {
  if (status === kUnsupportedStatus) unsupported(what);
  throw new UltraPerfError('ERR_ULTRA_PERF_SYSTEM', `${what}: the addon returned status ${status}, which it never returns`);
}

const nativeImpl: AffinityImpl | null =
  cpuAddon === null
    ? null
    : {
        set(cores) {
          let status: number;
          try {
            status = cpuAddon!.setThreadAffinity(cores);
          } catch (err) {
            // EINVAL: no core of the set is one this thread may use (offline, or outside its cpuset).
            if ((err as { code?: unknown }).code === 'EINVAL') throw coresRefused(cores);
            throw err;
          }
          if (status !== 0) throwStatus(status, 'setThreadAffinity');
        },
        get() {
          const out = new Int32Array(kMaxCores);
          const n = cpuAddon!.getThreadAffinity(out);
          if (n < 0) throwStatus(n, 'getThreadAffinity');
          return Array.from(out.subarray(0, Math.min(n, out.length)));
        },
        current() {
          const cpu = cpuAddon!.currentCpu();
          if (cpu < 0) throwStatus(cpu, 'currentCpu');
          return cpu;
        },
      };

/** "1234/task/1240" -> 1240: the kernel thread id of the calling JS thread. */
function threadId(): string {
  return readlinkSync('/proc/thread-self').split('/').pop()!;
}

const tsImpl: AffinityImpl = {
  set(cores) {
    if (process.platform !== 'linux') unsupported('setThreadAffinity');
    const child = spawnSync('taskset', ['-p', '-c', coresToRangeList(cores), threadId()], { encoding: 'utf8' });
    if (child.error) {
      throw new UnsupportedError(`setThreadAffinity on the TS backend needs the taskset command (util-linux): ${child.error.message}`);
    }
    if (child.status !== 0) {
      const stderr = child.stderr.trim();
      if (/Invalid argument|failed to parse/i.test(stderr)) {
        throw coresRefused(cores);
      }
      throw new UltraPerfError('ERR_ULTRA_PERF_SYSTEM', `setThreadAffinity: taskset refused cores ${describe(Array.from(cores))}: ${stderr}`);
    }
  },
  get() {
    if (process.platform !== 'linux') unsupported('getThreadAffinity');
    const status = readFileSync('/proc/thread-self/status', 'utf8');
    const list = /^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1];
    if (list === undefined) throw new UltraPerfError('ERR_ULTRA_PERF_SYSTEM', 'getThreadAffinity: /proc/thread-self/status has no Cpus_allowed_list');
    return rangeListToCores(list);
  },
  current() {
    if (process.platform !== 'linux') unsupported('currentCpu');
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // Field 39 (processor); fields after the parenthesised command name are space separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[39 - 3]);
  },
};

const impl: AffinityImpl = nativeImpl ?? tsImpl;

function validateCores(cores: unknown, argument: string): Int32Array {
  if (!Array.isArray(cores) && !(cores instanceof Int32Array)) {
    throw invalidType(argument, 'an array of core indices', cores);
  }
  if (cores.length === 0) throw invalidRange(argument, 'at least one core index', cores);
  const out = new Int32Array(cores.length);
  for (let i = 0; i < cores.length; i++) {
    const c: unknown = cores[i];
    if (typeof c !== 'number' || !Number.isInteger(c)) {
      throw invalidType(`${argument}[${i}]`, 'an integer core index', c);
    }
    if (c < 0 || c >= kMaxCores) throw invalidRange(`${argument}[${i}]`, `a core index in [0, ${kMaxCores})`, c);
    out[i] = c;
  }
  return out;
}

/**
 * Pins the calling thread (main thread or worker) to the given cores.
 * @throws RangeError for an empty list, a negative or non-integer index, or cores the thread may not use.
 * @throws UnsupportedError off Linux.
 * @example
 * import { setThreadAffinity, getThreadAffinity } from 'ultra-performance';
 * setThreadAffinity([2]);
 * getThreadAffinity(); // [2]
 */
export function setThreadAffinity(cores: readonly number[] | Int32Array): void {
  impl.set(validateCores(cores, 'cores'));
}

/**
 * The cores the calling thread may run on, ascending.
 * @example
 * const allowed = getThreadAffinity(); // e.g. [0, 1]
 */
export function getThreadAffinity(): number[] {
  return impl.get();
}

/**
 * The core the calling thread is running on right now (sched_getcpu).
 * @example
 * setThreadAffinity([1]);
 * currentCpu(); // 1
 */
export function currentCpu(): number {
  return impl.current();
}

/** Which cores each role of a trading process runs on. */
export interface CorePlan {
  /** Strategy / order-entry threads. */
  trading: number[];
  /** Feed handlers and sockets. */
  network: number[];
  /** Logging, persistence, housekeeping. */
  background: number[];
  /** Cores kept for nothing but the hottest thread; no other role may list them. */
  isolated: number[];
}

export type CoreRole = keyof CorePlan;
const kRoles: readonly CoreRole[] = ['trading', 'network', 'background', 'isolated'];

/** applyCorePlan's plan: its keys are the roles; each list is checked by validateCores in applyCorePlan. */
const kCorePlan = defineOptions(
  'applyCorePlan plan',
  Object.fromEntries(kRoles.map((r) => [r, { check: null, checkedBy: 'applyCorePlan (validateCores, then the machine and isolation rules)' }])),
);

/** The machine's online cores: /sys/devices/system/cpu/online on Linux ("0-3,6"), else 0..n-1. */
function machineCores(): Set<number> {
  const out = new Set<number>();
  try {
    for (const part of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
      const [lo, hi] = part.split('-').map(Number);
      for (let c = lo!; c <= (hi ?? lo!); c++) out.add(c);
    }
  } catch {
    // No sysfs: os.cpus() lists the online cores.
  }
  if (out.size === 0) for (let c = 0; c < cpus().length; c++) out.add(c);
  return out;
}

function describeCores(cores: Set<number>): string {
  const sorted = [...cores].sort((a, b) => a - b);
  return sorted.length > 8 ? `${sorted[0]}..${sorted.at(-1)}, ${sorted.length} cores` : `cores ${sorted.join(', ')}`;
}

/**
 * Pins the calling thread to the cores that `plan` gives `role`, after checking the
 * whole plan: every list holds cores this machine has online and no isolated core is
 * shared with another role. Returns the cores applied.
 * @example
 * const plan = { trading: [2], network: [1], background: [0], isolated: [3] };
 * applyCorePlan(plan, 'network'); // this thread now runs on core 1 only
 */
export function applyCorePlan(plan: CorePlan, role: CoreRole): number[] {
  // A plain object with no role the table does not list ('isolted' is an error naming 'isolated').
  readOptions(kCorePlan, plan, { argument: 'plan', required: true, what: 'an object { trading, network, background, isolated }' });
  if (!kRoles.includes(role)) throw invalidRange('role', `one of ${kRoles.map((r) => `'${r}'`).join(', ')}`, role);
  const lists = new Map<CoreRole, Int32Array>();
  for (const r of kRoles) {
    const list = plan[r];
    if (list === undefined || (Array.isArray(list) && list.length === 0)) {
      lists.set(r, new Int32Array(0));
      continue;
    }
    lists.set(r, validateCores(list, `plan.${r}`));
  }
  // A plan is written for one machine: a core this one does not have is a mistake in the plan,
  // caught before any thread is pinned, not when a later role is applied.
  const present = machineCores();
  for (const r of kRoles) {
    const list = lists.get(r)!;
    for (let i = 0; i < list.length; i++) {
      if (!present.has(list[i]!)) {
        throw invalidRange(`plan.${r}[${i}]`, `a core this machine has (${describeCores(present)})`, list[i]);
      }
    }
  }
  const isolated = new Set(lists.get('isolated'));
  for (const r of kRoles) {
    if (r === 'isolated') continue;
    for (const c of lists.get(r)!) {
      if (isolated.has(c)) {
        throw invalidRange(`plan.${r}`, `no core that plan.isolated reserves (${describe([...isolated])})`, Array.from(lists.get(r)!));
      }
    }
  }
  const cores = lists.get(role)!;
  if (cores.length === 0) throw invalidRange(`plan.${role}`, 'at least one core index for the role being applied', plan[role]);
  impl.set(cores);
  return Array.from(cores);
}

/** Which implementation this process uses: 'native' (addon) or 'ts' (/proc + taskset). */
export const affinityBackend: 'native' | 'ts' = nativeImpl !== null ? 'native' : 'ts';
