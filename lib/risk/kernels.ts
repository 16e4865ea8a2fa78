/**
 * The risk kernels behind one interface, implemented twice (the CPU addon and pure TS),
 * chosen once at load (`defaultKernels`) and per call by the `backend` option. Async
 * forms: native ones run on the libuv pool and the addon's own thread pool; TS ones run
 * on the main thread, yielding to the event loop (setImmediate) between chunks of about
 * kTsChunkMs of work (GBM and Monte Carlo) or once before the work (everything else).
 * The GPU set (cuda/risk) has the same interface; Monte Carlo summaries are reduced on
 * the device, and Cholesky (at most 4096 x 4096, O(n^3) on one matrix) stays on the CPU.
 */
import { backendInfo, cpuAddon, cudaAddon, cudaFault, noteCudaFault } from '../backend.js';
import type { CudaAddon, RiskAddon } from '../addon-types.js';
import { BackendUnavailableError, GpuError, invalidRange } from '../errors.js';
import type { BackendOption } from '../internal/backend-names.js';
import { type OptionCheck, defineOptions, readOptions } from '../internal/options.js';
import { gpu } from './gpu.js';
import * as ts from './kernels-ts.js';
import { fillNormalsTs } from './philox.js';

/** Which implementation a result came from. */
export type RiskBackend = 'native' | 'ts' | 'cuda';
/**
 * Per-call choice: 'auto' (the GPU above the sizes in `riskThresholds` once GPU kernels
 * exist, else the CPU addon, else TS; lib/internal/backend.ts kBackendPolicies.risk),
 * 'native' (the CPU addon; BackendUnavailableError without it), 'ts' (pure TS), 'cuda'
 * (the GPU; BackendUnavailableError without one). The names a result reports can be passed
 * back. 'cpu' is a deprecated alias of 'native'.
 */
export type RiskBackendOption = BackendOption<RiskBackendChoice>;
/** A risk backend choice once read (the 'cpu' alias resolved). */
export type RiskBackendChoice = 'auto' | 'native' | 'ts' | 'cuda';

/**
 * The one place that says when 'auto' sends work to the GPU: the smallest job, in the
 * unit named, for which the GPU kernel beat the CPU addon end to end on a measured
 * device (`npm run bench:gpu` prints the crossover it found). Infinity means not yet
 * measured on a device, so 'auto' keeps that work on the CPU; `backend: 'cuda'` still
 * forces it. After measuring your own machine, raise or lower them with
 * setRiskThresholds().
 */
export interface RiskThresholds {
  /** simulateGBM: paths x steps. */
  gbmPathSteps: number;
  /** monteCarloVaR: paths x assets. */
  monteCarloDraws: number;
  /** correlationMatrix / covarianceMatrix: observations x assets^2. */
  covarianceWork: number;
  /** calculateVaR / portfolioVaR: observations. */
  varObservations: number;
}

/** The sizes themselves; only setRiskThresholds writes them. */
const thresholds: RiskThresholds = {
  gbmPathSteps: Infinity,
  monteCarloDraws: Infinity,
  covarianceWork: Infinity,
  varObservations: Infinity,
};

/**
 * The current thresholds, read-only (a frozen object of getters: assigning to a key throws
 * in strict code and does nothing otherwise). Change them with setRiskThresholds().
 */
export const riskThresholds: Readonly<RiskThresholds> = Object.freeze(
  Object.defineProperties(
    {},
    Object.fromEntries(Object.keys(thresholds).map((key) => [key, { enumerable: true, get: () => thresholds[key as RiskWork] }])),
  ),
) as Readonly<RiskThresholds>;

const sizeCheck: OptionCheck = (value, argument) => {
  if (typeof value !== 'number' || !(value >= 0)) throw invalidRange(argument, 'a size >= 0 (Infinity keeps the work on the CPU)', value);
  return value;
};

const kSetRiskThresholds = defineOptions(
  'setRiskThresholds',
  Object.fromEntries(Object.keys(thresholds).map((key) => [key, { check: sizeCheck }])),
);

/**
 * Sets the sizes above which 'auto' uses the GPU (see riskThresholds). Keys left out (or
 * undefined) keep their value; an unknown key is a TypeError (ERR_ULTRA_PERF_UNKNOWN_OPTION)
 * naming the nearest one, and nothing changes when any key or size is refused.
 * @example
 * import { setRiskThresholds } from 'ultra-performance';
 * setRiskThresholds({ monteCarloDraws: 5_000_000, covarianceWork: 2e9 });
 */
export function setRiskThresholds(next: Partial<RiskThresholds>): void {
  const read = readOptions(kSetRiskThresholds, next, { argument: 'thresholds', required: true, what: 'an object of sizes' });
  for (const key of kSetRiskThresholds.keys) {
    const value = read[key];
    if (value !== undefined) thresholds[key as RiskWork] = value as number;
  }
}

export type RiskWork = keyof RiskThresholds;

export interface GbmKernelArgs extends ts.GbmArgs {}

/**
 * The one interface the TS kernels, the CPU addon and the GPU addon are adapted to. It
 * lists the addon's signatures again (lib/addon-types.ts RiskAddon) on purpose, in the
 * library's types (booleans, void results, one GBM argument object), so callers never see
 * a raw addon's conventions.
 */
export interface RiskKernels {
  readonly name: RiskBackend;
  historical(values: Float64Array, sign: number, confidence: number, out: Float64Array): number;
  historicalAsync(values: Float64Array, sign: number, confidence: number, out: Float64Array): Promise<number>;
  moments(values: Float64Array, sign: number, ddof: number, out: Float64Array): number;
  momentsAsync(values: Float64Array, sign: number, ddof: number, out: Float64Array): Promise<number>;
  portfolioReturns(returns: Float64Array, observations: number, assets: number, weights: Float64Array, out: Float64Array): number;
  portfolioReturnsAsync(returns: Float64Array, observations: number, assets: number, weights: Float64Array, out: Float64Array): Promise<number>;
  covariance(data: Float64Array, observations: number, assets: number, method: 0 | 1, lambda: number, correlation: boolean, out: Float64Array): number;
  covarianceAsync(data: Float64Array, observations: number, assets: number, method: 0 | 1, lambda: number, correlation: boolean, out: Float64Array): Promise<number>;
  /** PSD Cholesky: -1, or the failing pivot j with failure = [pivot, -1, Rayleigh quotient] or [pivot, row, entry]. */
  cholesky(a: Float64Array, n: number, lower: Float64Array, failure: Float64Array): number;
  choleskyAsync(a: Float64Array, n: number, lower: Float64Array, failure: Float64Array): Promise<number>;
  gbm(args: GbmKernelArgs, terminal: Float64Array, kept: Float64Array | null): void;
  gbmAsync(args: GbmKernelArgs, terminal: Float64Array, kept: Float64Array | null): Promise<void>;
  portfolioLosses(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, losses: Float64Array): void;
  portfolioLossesAsync(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, losses: Float64Array): Promise<void>;
  fillNormals(out: Float64Array, seed: number, stream: number, first: number): void;
  /**
   * simulate GBM and summarise: summary = [var, cvar, mean, stdError] of the loss
   * spot - S(T) (see GBMResult). Returns -1, or the first path whose loss is not finite.
   */
  gbmSummary(args: GbmKernelArgs, confidence: number, terminal: Float64Array, kept: Float64Array | null, summary: Float64Array): number;
  gbmSummaryAsync(args: GbmKernelArgs, confidence: number, terminal: Float64Array, kept: Float64Array | null, summary: Float64Array): Promise<number>;
  /** Monte Carlo portfolio losses, summarised: [var, cvar, mean return, stdError]. Returns -1 or the first non-finite loss. */
  mcSummary(w: Float64Array, m: Float64Array, l: Float64Array, assets: number, paths: number, horizon: number, seed: number, confidence: number, summary: Float64Array): number;
  mcSummaryAsync(w: Float64Array, m: Float64Array, l: Float64Array, assets: number, paths: number, horizon: number, seed: number, confidence: number, summary: Float64Array): Promise<number>;
}

type BaseKernels = Omit<RiskKernels, 'gbmSummary' | 'gbmSummaryAsync' | 'mcSummary' | 'mcSummaryAsync'>;

/**
 * Mean and standard error of S(T) (pair averages with antithetic variates), then the loss
 * tail, on the host. Sums run about the first value, as cuda/risk/montecarlo.cu's do: a
 * constant series has its value as the mean and a standard error of exactly 0.
 */
function summariseGbm(k: BaseKernels, args: GbmKernelArgs, confidence: number, terminal: Float64Array, summary: Float64Array): number {
  const n = terminal.length;
  const first = terminal[0]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += terminal[i]! - first;
  const shifted = sum / n;
  let ss = 0;
  let stdError: number;
  if (args.antithetic) {
    const pairs = n / 2;
    for (let j = 0; j < pairs; j++) {
      const d = ((terminal[2 * j]! + terminal[2 * j + 1]!) / 2 - first) - shifted;
      ss += d * d;
    }
    stdError = pairs < 2 ? NaN : Math.sqrt(ss / (pairs - 1) / pairs);
  } else {
    for (let i = 0; i < n; i++) {
      const d = (terminal[i]! - first) - shifted;
      ss += d * d;
    }
    stdError = Math.sqrt(ss / (n - 1) / n);
  }
  const losses = new Float64Array(n);
  for (let i = 0; i < n; i++) losses[i] = args.spot - terminal[i]!;
  const status = k.historical(losses, 1, confidence, summary);
  summary[2] = first + shifted;
  summary[3] = stdError;
  return status;
}

function summariseLosses(k: BaseKernels, losses: Float64Array, confidence: number, summary: Float64Array): number {
  const n = losses.length;
  const first = losses[0]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += losses[i]! - first;
  const shifted = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = (losses[i]! - first) - shifted;
    ss += d * d;
  }
  const status = k.historical(losses, 1, confidence, summary);
  summary[2] = -(first + shifted);
  summary[3] = Math.sqrt(ss / (n - 1) / n);
  return status;
}

/** CPU kernel sets simulate into host arrays and summarise here. */
function summarisedOnHost(k: BaseKernels): RiskKernels {
  return {
    ...k,
    gbmSummary(args, confidence, terminal, kept, summary) {
      k.gbm(args, terminal, kept);
      return summariseGbm(k, args, confidence, terminal, summary);
    },
    async gbmSummaryAsync(args, confidence, terminal, kept, summary) {
      await k.gbmAsync(args, terminal, kept);
      return summariseGbm(k, args, confidence, terminal, summary);
    },
    mcSummary(w, m, l, assets, paths, horizon, seed, confidence, summary) {
      const losses = new Float64Array(paths);
      k.portfolioLosses(w, m, l, assets, paths, horizon, seed, losses);
      return summariseLosses(k, losses, confidence, summary);
    },
    async mcSummaryAsync(w, m, l, assets, paths, horizon, seed, confidence, summary) {
      const losses = new Float64Array(paths);
      await k.portfolioLossesAsync(w, m, l, assets, paths, horizon, seed, losses);
      return summariseLosses(k, losses, confidence, summary);
    },
  };
}

/** Work per TS chunk between event-loop turns, in units of normals drawn. */
const kTsChunkNormals = 1 << 17;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Both backends answer for the inputs as they were when the function was called (the
 * native async kernels copy them in cpp/napi). The TS kernels have no thread to run on, so
 * a kernel that runs in one piece runs at the call (`atCall`: no copy, and a caller who
 * transfers, shrinks or overwrites an array afterwards changes nothing); one that yields
 * to the event loop between chunks first takes its inputs through `owned`, a copy.
 */
const owned = (a: Float64Array): Float64Array => a.slice();

function atCall<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

export const tsKernels: RiskKernels = summarisedOnHost({
  name: 'ts',
  historical: ts.historicalTail,
  historicalAsync: (v, s, c, o) => atCall(() => ts.historicalTail(v, s, c, o)),
  moments: ts.lossMoments,
  momentsAsync: (v, s, d, o) => atCall(() => ts.lossMoments(v, s, d, o)),
  portfolioReturns: ts.portfolioReturns,
  portfolioReturnsAsync: (r, t, a, w, o) => atCall(() => ts.portfolioReturns(r, t, a, w, o)),
  covariance: ts.covariance,
  covarianceAsync: (d, t, a, m, l, c, o) => atCall(() => ts.covariance(d, t, a, m, l, c, o)),
  cholesky: ts.cholesky,
  choleskyAsync: (a, n, l, p) => atCall(() => ts.cholesky(a, n, l, p)),
  gbm(args, terminal, kept) {
    ts.simulateGbmRange(args, terminal, kept, 0, args.paths);
  },
  async gbmAsync(args, terminal, kept) {
    // GbmKernelArgs holds numbers only; a copy keeps later edits of the object out.
    const own = { ...args };
    // Even chunk sizes keep antithetic pairs together.
    const chunk = Math.max(2, 2 * Math.floor(kTsChunkNormals / Math.max(1, own.steps) / 2));
    for (let from = 0; from < own.paths; from += chunk) {
      await yieldToLoop();
      ts.simulateGbmRange(own, terminal, kept, from, Math.min(own.paths, from + chunk));
    }
  },
  portfolioLosses(w, m, l, assets, paths, horizon, seed, losses) {
    ts.portfolioLossesRange(w, m, l, assets, horizon, seed, losses, 0, paths);
  },
  async portfolioLossesAsync(w, m, l, assets, paths, horizon, seed, losses) {
    const ownW = owned(w);
    const ownM = owned(m);
    const ownL = owned(l);
    const chunk = Math.max(1, Math.floor(kTsChunkNormals / assets));
    for (let from = 0; from < paths; from += chunk) {
      await yieldToLoop();
      ts.portfolioLossesRange(ownW, ownM, ownL, assets, horizon, seed, losses, from, Math.min(paths, from + chunk));
    }
  },
  fillNormals(out, seed, stream, first) {
    fillNormalsTs(out, 0, out.length, seed, stream, first);
  },
});

function nativeKernelsOf(addon: RiskAddon): RiskKernels {
  return summarisedOnHost({
    name: 'native',
    historical: addon.varHistorical,
    historicalAsync: addon.varHistoricalAsync,
    moments: addon.lossMoments,
    momentsAsync: addon.lossMomentsAsync,
    portfolioReturns: addon.portfolioReturns,
    portfolioReturnsAsync: addon.portfolioReturnsAsync,
    covariance: (d, t, a, m, l, c, o) => addon.covariance(d, t, a, m, l, c ? 1 : 0, o),
    covarianceAsync: (d, t, a, m, l, c, o) => addon.covarianceAsync(d, t, a, m, l, c ? 1 : 0, o),
    cholesky: addon.cholesky,
    choleskyAsync: addon.choleskyAsync,
    gbm(g, terminal, kept) {
      addon.simulateGbm(g.spot, g.drift, g.volatility, g.dt, g.steps, g.paths, g.seed, g.antithetic, terminal, kept);
    },
    async gbmAsync(g, terminal, kept) {
      await addon.simulateGbmAsync(g.spot, g.drift, g.volatility, g.dt, g.steps, g.paths, g.seed, g.antithetic, terminal, kept);
    },
    portfolioLosses(w, m, l, assets, paths, horizon, seed, losses) {
      addon.portfolioLosses(w, m, l, assets, paths, horizon, seed, losses);
    },
    async portfolioLossesAsync(w, m, l, assets, paths, horizon, seed, losses) {
      await addon.portfolioLossesAsync(w, m, l, assets, paths, horizon, seed, losses);
    },
    fillNormals(out, seed, stream, first) {
      addon.fillNormals(out, seed, stream, first);
    },
  });
}

/** The CPU addon's kernels, or null under the TS backend. Chosen once. */
export const nativeKernels: RiskKernels | null = cpuAddon === null ? null : nativeKernelsOf(cpuAddon);
/** What 'auto' uses below the GPU thresholds. Chosen once. */
export const defaultKernels: RiskKernels = nativeKernels ?? tsKernels;

/**
 * A device failure (out of memory, launch failure: the GPU addon's code ERR_ULTRA_PERF_GPU,
 * or a plain Error without a code) as a GpuError, which 'auto' redoes on the CPU. Anything
 * else keeps its class and code: an argument error, a host out-of-memory error, or
 * ERR_ULTRA_PERF_DETACHED (an output transferred while the kernel ran), which the CPU
 * would only repeat.
 */
function gpuError(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof TypeError || err instanceof RangeError) return err;
  const code = (err as { code?: unknown }).code;
  if (code !== undefined && code !== 'ERR_ULTRA_PERF_GPU') return err;
  return new GpuError(`GPU kernel failed: ${err.message}`, { cause: err });
}

/**
 * The GPU addon's kernels (cuda/risk). Cholesky runs on the CPU set `cpu`. After a device
 * failure the addon is asked whether it was a sticky fault (deviceFault()); after one the
 * context is unusable, so it is recorded once (backend.ts noteCudaFault) and every later
 * call fails at once with a GpuError naming it, without touching the device: 'auto'
 * (withCpuFallback) then computes on the CPU, and kernelsFor stops choosing the GPU.
 */
export function cudaKernelsOf(addon: CudaAddon, cpu: RiskKernels): RiskKernels {
  const faulted = (): GpuError | undefined => {
    const fault = cudaFault(addon);
    return fault === undefined ? undefined : new GpuError(`GPU kernel not run: ${fault}`);
  };
  const failed = (err: unknown): unknown => {
    const e = gpuError(err);
    if (e instanceof GpuError && typeof addon.deviceFault === 'function') {
      const fault = addon.deviceFault();
      if (!fault.ok) noteCudaFault(addon, fault.message);
    }
    return e;
  };
  const onGpu = <A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) => (...args) => {
    const refused = faulted();
    if (refused !== undefined) throw refused;
    try {
      return fn(...args);
    } catch (err) {
      throw failed(err);
    }
  };
  const onGpuAsync = <A extends unknown[], R>(fn: (...args: A) => Promise<R>): ((...args: A) => Promise<R>) => (...args) => {
    const refused = faulted();
    if (refused !== undefined) return Promise.reject(refused);
    try {
      return fn(...args).catch((err: unknown) => Promise.reject(failed(err)));
    } catch (err) {
      return Promise.reject(failed(err));
    }
  };
  const checkCuda = (status: { ok: boolean; message: string }): void => {
    if (!status.ok) throw failed(new Error(status.message));
  };
  const summary = new Float64Array(4);
  const gbm = (g: GbmKernelArgs, confidence: number, terminal: Float64Array, kept: Float64Array | null, out: Float64Array) =>
    addon.simulateGbm(g.spot, g.drift, g.volatility, g.dt, g.steps, g.paths, g.seed, g.antithetic, confidence, terminal, kept, out);
  const gbmAsync = (g: GbmKernelArgs, confidence: number, terminal: Float64Array, kept: Float64Array | null, out: Float64Array) =>
    addon.simulateGbmAsync(g.spot, g.drift, g.volatility, g.dt, g.steps, g.paths, g.seed, g.antithetic, confidence, terminal, kept, out);
  return {
    name: 'cuda',
    historical: onGpu(addon.varHistorical),
    historicalAsync: onGpuAsync(addon.varHistoricalAsync),
    moments: onGpu(addon.lossMoments),
    momentsAsync: onGpuAsync(addon.lossMomentsAsync),
    portfolioReturns: onGpu(addon.portfolioReturns),
    portfolioReturnsAsync: onGpuAsync(addon.portfolioReturnsAsync),
    covariance: onGpu((d, t, a, m, l, c, o) => addon.covariance(d, t, a, m, l, c ? 1 : 0, o)),
    covarianceAsync: onGpuAsync((d, t, a, m, l, c, o) => addon.covarianceAsync(d, t, a, m, l, c ? 1 : 0, o)),
    cholesky: cpu.cholesky,
    choleskyAsync: cpu.choleskyAsync,
    gbm: onGpu((g, terminal, kept) => {
      gbm(g, 0.95, terminal, kept, summary);
    }),
    gbmAsync: onGpuAsync(async (g, terminal, kept) => {
      await gbmAsync(g, 0.95, terminal, kept, new Float64Array(4));
    }),
    portfolioLosses: onGpu((w, m, l, assets, paths, horizon, seed, losses) => {
      addon.portfolioMc(w, m, l, assets, paths, horizon, seed, 0.95, losses, null);
    }),
    portfolioLossesAsync: onGpuAsync(async (w, m, l, assets, paths, horizon, seed, losses) => {
      await addon.portfolioMcAsync(w, m, l, assets, paths, horizon, seed, 0.95, losses, null);
    }),
    fillNormals: (out, seed, stream, first) => {
      const refused = faulted();
      if (refused !== undefined) throw refused;
      checkCuda(addon.philoxNormals(out, seed, stream, first));
    },
    gbmSummary: onGpu(gbm),
    gbmSummaryAsync: onGpuAsync(gbmAsync),
    mcSummary: onGpu((w, m, l, assets, paths, horizon, seed, confidence, out) =>
      addon.portfolioMc(w, m, l, assets, paths, horizon, seed, confidence, null, out)),
    mcSummaryAsync: onGpuAsync((w, m, l, assets, paths, horizon, seed, confidence, out) =>
      addon.portfolioMcAsync(w, m, l, assets, paths, horizon, seed, confidence, null, out)),
  };
}

/** The GPU kernels, or null without a usable device. Chosen once. */
const cudaKernels: RiskKernels | null = cudaAddon === null ? null : cudaKernelsOf(cudaAddon, defaultKernels);

const kKernelMethods = [
  'historical', 'historicalAsync', 'moments', 'momentsAsync', 'portfolioReturns', 'portfolioReturnsAsync',
  'covariance', 'covarianceAsync', 'cholesky', 'choleskyAsync', 'gbm', 'gbmAsync', 'portfolioLosses',
  'portfolioLossesAsync', 'fillNormals', 'gbmSummary', 'gbmSummaryAsync', 'mcSummary', 'mcSummaryAsync',
] as const satisfies readonly (keyof RiskKernels)[];

let warnedFallback = false;

/**
 * For 'auto' above a threshold: `gpu` first; when it fails with a GpuError the call is
 * redone on `cpu`, a process warning says why (once per process, code
 * ULTRA_PERF_GPU_FALLBACK), and `name` then reports the CPU set, so the result says
 * which backend computed it. One object per call.
 */
export function withCpuFallback(gpu: RiskKernels, cpu: RiskKernels): RiskKernels {
  const k = { name: gpu.name } as { -readonly [K in keyof RiskKernels]: RiskKernels[K] };
  const fallBack = (err: unknown): void => {
    if (!(err instanceof GpuError)) throw err;
    if (!warnedFallback) {
      warnedFallback = true;
      process.emitWarning(`${err.message}; computed on the CPU instead (further fallbacks are not reported)`, { code: 'ULTRA_PERF_GPU_FALLBACK' });
    }
    k.name = cpu.name;
  };
  for (const method of kKernelMethods) {
    const g = gpu[method] as (...args: unknown[]) => unknown;
    const c = cpu[method] as (...args: unknown[]) => unknown;
    (k as Record<string, unknown>)[method] = (...args: unknown[]): unknown => {
      let result: unknown;
      try {
        result = g(...args);
      } catch (err) {
        fallBack(err);
        return c(...args);
      }
      if (result instanceof Promise) {
        return result.catch((err: unknown) => {
          fallBack(err);
          return c(...args);
        });
      }
      return result;
    };
  }
  return k;
}

/** covariance() status for asset k with zero variance is kZeroVarianceStatus - k. */
export const kZeroVarianceStatus = ts.kZeroVariance;

/** The kernels for one call: `size` is the job's size in the unit riskThresholds[work] uses. */
export function kernelsFor(option: RiskBackendChoice | undefined, work: RiskWork, size: number): RiskKernels {
  switch (option) {
    case undefined:
    case 'auto':
      // After a sticky device fault the GPU is not tried at all (cudaKernelsOf).
      return cudaKernels !== null && cudaFault() === undefined && size >= thresholds[work]
        ? withCpuFallback(cudaKernels, defaultKernels)
        : defaultKernels;
    case 'ts':
      return tsKernels;
    case 'native':
      if (nativeKernels === null) {
        throw new BackendUnavailableError("backend: 'native' needs the CPU addon, which is not loaded (see backendInfo().nativeError)");
      }
      return nativeKernels;
    case 'cuda':
      if (!gpu.available() || cudaKernels === null) {
        throw new BackendUnavailableError(`backend: 'cuda' needs a CUDA device and the GPU addon: ${backendInfo().cudaError ?? 'gpu.available() is false'}`);
      }
      return cudaKernels;
  }
}
