/**
 * One way to pick a backend, for every capability: `chooseBackend(value, { argument, policy })`
 * reads a `backend` option in the one vocabulary (backend-names.ts), refuses a backend this
 * process cannot use with a BackendUnavailableError worded the same everywhere, and resolves
 * 'auto' (or an absent option) by the capability's policy in kBackendPolicies, the one
 * table that says what 'auto' picks and why (each row cites the measurement).
 */
import type { CpuAddon } from '../addon-types.js';
import { backendInfo, cpuAddon } from '../backend.js';
import { BackendUnavailableError } from '../errors.js';
import type { OptionSpec } from './options.js';
import { type Backend, type BackendChoice, backendName } from './backend-names.js';

export { type Backend, type BackendChoice, type BackendOption, backendName, kCpuAliasWarningCode } from './backend-names.js';

/**
 * What 'auto' resolves to:
 * - 'native-when-loaded': the CPU addon when it is loaded (with `needs`), else TS;
 * - 'ts': always TS (native only when asked for);
 * - 'per-operation' / 'per-call': left as 'auto' for the capability to decide per operation
 *   or per call, by the measured rule in `rule` (the code that applies it is named there).
 */
export type AutoRule = 'native-when-loaded' | 'ts' | 'per-operation' | 'per-call';

export interface BackendPolicy {
  /** The capability, as errors name it. */
  readonly capability: string;
  /** The names its `backend` option takes ('cpu' also reads as 'native'). */
  readonly accepts: readonly BackendChoice[];
  readonly auto: AutoRule;
  /** What 'auto' picks and the measurement behind it, for readers and docs. */
  readonly rule: string;
  /** A CPU-addon function the capability's native path needs (an older addon may lack it). */
  readonly needs?: keyof CpuAddon;
}

/**
 * The per-capability 'auto' policy, as measured. The names are the capabilities'
 * public ones; docs/*.md quote these rules.
 */
export const kBackendPolicies = {
  risk: {
    capability: 'risk',
    accepts: ['auto', 'native', 'ts', 'cuda'],
    auto: 'per-call',
    rule:
      "per call (lib/risk/kernels.ts kernelsFor): the GPU for a job at or above riskThresholds[work] (the measured crossover, " +
      "Infinity until bench:gpu has measured one; setRiskThresholds changes it), else the CPU addon when loaded, else TS",
  },
  orderbook: {
    capability: 'order book',
    accepts: ['auto', 'native', 'ts'],
    auto: 'native-when-loaded',
    rule: 'the native core when the CPU addon is loaded (bench/orderbook: faster per update and per submit), else TS',
    needs: 'orderbookL2Create',
  },
  queue: {
    capability: 'queue',
    accepts: ['auto', 'native', 'ts'],
    auto: 'per-operation',
    rule:
      'per operation (lib/queue/queue.ts defaultPaths, bench/queue): single tryPush/tryPop in TS (cheaper than a native call), ' +
      'pushBatch/popBatch native (memcpy, 5-6x faster per message); tryPop native too for slots > 1 KiB or > 65536 slots; ' +
      'all TS without the addon',
    needs: 'spscTryPush',
  },
  replay: {
    capability: 'replayIntoQueue',
    accepts: ['auto', 'native', 'ts'],
    auto: 'native-when-loaded',
    rule: 'a native thread when the CPU addon has the queue bindings, else a worker_thread running the TS kernel',
    needs: 'spscTryPush',
  },
  memory: {
    capability: 'allocator',
    accepts: ['auto', 'ts'],
    auto: 'ts',
    rule:
      "TS for every operation; 'native' is refused (lib/memory/common.ts resolveBackend): one addon call costs more than a whole " +
      'TS alloc+free, so no binding can bring a native pair within 2x of the TS one (bench/memory, docs/memory-layout.md)',
    needs: 'slabAlloc',
  },
} as const satisfies Record<string, BackendPolicy>;

export type BackendPolicyName = keyof typeof kBackendPolicies;

/** The CPU addon when it has the function `needs` (or any function when `needs` is absent); null otherwise. */
export function addonWith(needs: keyof CpuAddon | undefined): CpuAddon | null {
  if (cpuAddon === null) return null;
  if (needs !== undefined && typeof (cpuAddon as Partial<CpuAddon>)[needs] !== 'function') return null;
  return cpuAddon;
}

/** Why `backend` cannot be used for `policy` in this process, or null when it can. */
export function unavailableReason(backend: Backend, policy: BackendPolicy): string | null {
  if (backend === 'ts') return null;
  if (backend === 'cuda') {
    // After a sticky device fault backendInfo().cuda is false and cudaError names the fault.
    return backendInfo().cuda ? null : `needs a CUDA device and the GPU addon: ${backendInfo().cudaError ?? 'none found'}`;
  }
  if (cpuAddon === null) {
    return `needs the CPU addon: ${backendInfo().nativeError ?? 'unknown reason'} (the CPU addon is not loaded; see backendInfo().nativeError)`;
  }
  if (addonWith(policy.needs) === null) {
    return `needs the CPU addon: the loaded CPU addon has no ${policy.capability} bindings; rebuild it with "npm run build:native"`;
  }
  return null;
}

/** Concrete backends for 'native-when-loaded' and 'ts' policies; 'auto' kept for per-call and per-operation ones. */
export type ChosenBackend<P extends BackendPolicy> = P['auto'] extends 'per-call' | 'per-operation'
  ? P['accepts'][number]
  : Exclude<P['accepts'][number], 'auto'>;

/**
 * Reads a `backend` option (undefined means 'auto') for the capability `policy` and returns
 * the backend to use: a bad name is a TypeError (backendName's wording), a backend this
 * process cannot use a BackendUnavailableError "<fn> with backend 'native' needs the CPU addon:
 * <why>", and 'auto' is resolved by the policy (left as 'auto' for per-call/per-operation ones).
 * @example
 * const backend = chooseBackend(o.backend, { argument: 'options.backend', policy: kBackendPolicies.orderbook, fn: 'OrderBook' });
 */
export function chooseBackend<P extends BackendPolicy>(
  value: unknown,
  { argument, policy, fn = policy.capability }: { argument: string; policy: P; fn?: string },
): ChosenBackend<P> {
  const name = value === undefined ? 'auto' : backendName(value, argument, policy.accepts);
  if (name !== 'auto') {
    const why = unavailableReason(name, policy);
    if (why !== null) throw new BackendUnavailableError(`${fn} with backend '${name}' ${why}`);
    return name as ChosenBackend<P>;
  }
  switch (policy.auto) {
    case 'native-when-loaded':
      return (addonWith(policy.needs) !== null ? 'native' : 'ts') as ChosenBackend<P>;
    case 'ts':
      return 'ts' as ChosenBackend<P>;
    default:
      return 'auto' as ChosenBackend<P>;
  }
}

/** The schema entry of a `backend` option (lib/internal/options.ts): chooseBackend for `policy`, run on undefined too. */
export function backendOption(policy: BackendPolicy, fn: string): OptionSpec {
  return { check: (value, argument) => chooseBackend(value, { argument, policy, fn }), always: true };
}
