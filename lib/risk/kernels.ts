/**
 * The risk kernels behind one interface, implemented twice (the CPU addon and pure TS),
 * chosen once at load (`defaultKernels`) and per call by the `backend` option. Async
 * forms: native ones run on the libuv pool and the addon's own thread pool; TS ones run
 * on the main thread, yielding to the event loop (setImmediate) between chunks of about
 * kTsChunkMs of work (GBM and Monte Carlo) or once before the work (everything else).
 */
import { cpuAddon } from '../backend.js';
import type { RiskAddon } from '../addon-types.js';
import { BackendUnavailableError } from '../errors.js';
import { gpu } from './gpu.js';
import * as ts from './kernels-ts.js';
import { fillNormalsTs } from './philox.js';

/** Which implementation a result came from. */
export type RiskBackend = 'native' | 'ts' | 'cuda';
/**
 * Per-call choice: 'auto' (the GPU above the sizes in `riskThresholds` once GPU kernels
 * exist, else the CPU addon, else TS), 'cpu' (the CPU addon; BackendUnavailableError
 * without it), 'ts' (pure TS), 'cuda' (the GPU; BackendUnavailableError without one).
 */
export type RiskBackendOption = 'auto' | 'cpu' | 'ts' | 'cuda';

/**
 * The one place that says when 'auto' sends work to the GPU: the smallest job, in the
 * unit named, for which a GPU kernel is expected to beat the CPU addon. GPU risk kernels
 * are a later issue; until they land nothing reaches these thresholds' GPU branch.
 */
export const riskThresholds = {
  /** simulateGBM: paths x steps. */
  gbmPathSteps: 50_000_000,
  /** monteCarloVaR: paths x assets. */
  monteCarloDraws: 20_000_000,
  /** correlationMatrix / covarianceMatrix: observations x assets^2. */
  covarianceWork: 2_000_000_000,
  /** calculateVaR / portfolioVaR: observations. */
  varObservations: 100_000_000,
} as const;

export type RiskWork = keyof typeof riskThresholds;

export interface GbmKernelArgs extends ts.GbmArgs {}

export interface RiskKernels {
  readonly name: RiskBackend;
  historical(values: Float64Array, sign: number, confidence: number, out: Float64Array): number;
  historicalAsync(values: Float64Array, sign: number, confidence: number, out: Float64Array): Promise<number>;
  moments(values: Float64Array, sign: number, out: Float64Array): number;
  momentsAsync(values: Float64Array, sign: number, out: Float64Array): Promise<number>;
  portfolioReturns(returns: Float64Array, observations: number, assets: number, weights: Float64Array, out: Float64Array): number;
  portfolioReturnsAsync(returns: Float64Array, observations: number, assets: number, weights: Float64Array, out: Float64Array): Promise<number>;
  covariance(data: Float64Array, observations: number, assets: number, method: 0 | 1, lambda: number, correlation: boolean, out: Float64Array): number;
  covarianceAsync(data: Float64Array, observations: number, assets: number, method: 0 | 1, lambda: number, correlation: boolean, out: Float64Array): Promise<number>;
  cholesky(a: Float64Array, n: number, lower: Float64Array, pivot: Float64Array): number;
  choleskyAsync(a: Float64Array, n: number, lower: Float64Array, pivot: Float64Array): Promise<number>;
  gbm(args: GbmKernelArgs, terminal: Float64Array, kept: Float64Array | null): void;
  gbmAsync(args: GbmKernelArgs, terminal: Float64Array, kept: Float64Array | null): Promise<void>;
  portfolioLosses(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, losses: Float64Array): void;
  portfolioLossesAsync(weights: Float64Array, means: Float64Array, lower: Float64Array, assets: number, paths: number, horizon: number, seed: number, losses: Float64Array): Promise<void>;
  fillNormals(out: Float64Array, seed: number, stream: number, first: number): void;
}

/** Work per TS chunk between event-loop turns, in units of normals drawn. */
const kTsChunkNormals = 1 << 17;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function afterYield<T>(fn: () => T): Promise<T> {
  await yieldToLoop();
  return fn();
}

export const tsKernels: RiskKernels = {
  name: 'ts',
  historical: ts.historicalTail,
  historicalAsync: (v, s, c, o) => afterYield(() => ts.historicalTail(v, s, c, o)),
  moments: ts.lossMoments,
  momentsAsync: (v, s, o) => afterYield(() => ts.lossMoments(v, s, o)),
  portfolioReturns: ts.portfolioReturns,
  portfolioReturnsAsync: (r, t, a, w, o) => afterYield(() => ts.portfolioReturns(r, t, a, w, o)),
  covariance: ts.covariance,
  covarianceAsync: (d, t, a, m, l, c, o) => afterYield(() => ts.covariance(d, t, a, m, l, c, o)),
  cholesky: ts.cholesky,
  choleskyAsync: (a, n, l, p) => afterYield(() => ts.cholesky(a, n, l, p)),
  gbm(args, terminal, kept) {
    ts.simulateGbmRange(args, terminal, kept, 0, args.paths);
  },
  async gbmAsync(args, terminal, kept) {
    // Even chunk sizes keep antithetic pairs together.
    const chunk = Math.max(2, 2 * Math.floor(kTsChunkNormals / Math.max(1, args.steps) / 2));
    for (let from = 0; from < args.paths; from += chunk) {
      await yieldToLoop();
      ts.simulateGbmRange(args, terminal, kept, from, Math.min(args.paths, from + chunk));
    }
  },
  portfolioLosses(w, m, l, assets, paths, horizon, seed, losses) {
    ts.portfolioLossesRange(w, m, l, assets, horizon, seed, losses, 0, paths);
  },
  async portfolioLossesAsync(w, m, l, assets, paths, horizon, seed, losses) {
    const chunk = Math.max(1, Math.floor(kTsChunkNormals / assets));
    for (let from = 0; from < paths; from += chunk) {
      await yieldToLoop();
      ts.portfolioLossesRange(w, m, l, assets, horizon, seed, losses, from, Math.min(paths, from + chunk));
    }
  },
  fillNormals(out, seed, stream, first) {
    fillNormalsTs(out, 0, out.length, seed, stream, first);
  },
};

function nativeKernelsOf(addon: RiskAddon): RiskKernels {
  return {
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
  };
}

/** The CPU addon's kernels, or null under the TS backend. Chosen once. */
export const nativeKernels: RiskKernels | null = cpuAddon === null ? null : nativeKernelsOf(cpuAddon);
/** What 'auto' uses below the GPU thresholds. Chosen once. */
export const defaultKernels: RiskKernels = nativeKernels ?? tsKernels;
/** GPU kernels: a later issue. The seam: 'auto' and 'cuda' look here first. */
const cudaKernels: RiskKernels | null = null;

/** covariance() status for asset k with zero variance is kZeroVarianceStatus - k. */
export const kZeroVarianceStatus = ts.kZeroVariance;

const kBackendOptions: readonly string[] = ['auto', 'cpu', 'ts', 'cuda'];

/** Checks a `backend` option value. */
export function isBackendOption(value: unknown): value is RiskBackendOption {
  return typeof value === 'string' && kBackendOptions.includes(value);
}

/** The kernels for one call: `size` is the job's size in the unit riskThresholds[work] uses. */
export function kernelsFor(option: RiskBackendOption | undefined, work: RiskWork, size: number): RiskKernels {
  switch (option) {
    case undefined:
    case 'auto':
      return cudaKernels !== null && size >= riskThresholds[work] ? cudaKernels : defaultKernels;
    case 'ts':
      return tsKernels;
    case 'cpu':
      if (nativeKernels === null) {
        throw new BackendUnavailableError("backend: 'cpu' needs the CPU addon, which is not loaded (see backendInfo().nativeError)");
      }
      return nativeKernels;
    case 'cuda':
      if (!gpu.available()) throw new BackendUnavailableError("backend: 'cuda' needs a CUDA device and the GPU addon (gpu.available() is false)");
      if (cudaKernels === null) throw new BackendUnavailableError("backend: 'cuda' risk kernels are not in this build yet");
      return cudaKernels;
  }
}
