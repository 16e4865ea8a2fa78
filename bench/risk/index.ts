/**
 * Risk kernels beside NumPy: VaR+CVaR (10k, 1M returns), correlation (100 x 1,000 and
 * 500 x 2,520), Cholesky 100 x 100, simulateGBM 100k paths x 252 steps, monteCarloVaR
 * 5 assets x 1M paths, and normals per second from the Philox generator.
 *
 * One group per workload, its peers our native path, our TS path and NumPy, all measured
 * in the same round-robin (bench/lib/suite.ts): NumPy runs in a python3 process
 * (bench/peers/risk_numpy.py) that takes its turn in each round, timing single calls as
 * our jobs of a millisecond or more are (batch: 1). Each workload thus has one figure per
 * peer, and the targets are judged on it. Without NumPy the peer is skipped, saying why.
 */
import { backendInfo, cpuAddon } from '../../lib/backend.js';
import {
  calculateVaR,
  calculateVaRSync,
  choleskySync,
  correlationMatrixSync,
  monteCarloVaRSync,
  philoxNormals,
  simulateGBM,
  simulateGBMSync,
} from '../../lib/risk/index.js';
import { defineSuite, type TaskSpec } from '../lib/index.js';
import { NumpyPeer } from '../peers/numpy.js';

const noNative = cpuAddon === null ? `the CPU addon is not loaded (${backendInfo().nativeError ?? 'unknown reason'})` : undefined;
const skipNative = noNative ? { skip: noNative } : {};

function normals(n: number, seed: number, scale = 1): Float64Array {
  const z = new Float64Array(n);
  philoxNormals(z, { seed });
  if (scale !== 1) for (let i = 0; i < n; i++) z[i] = z[i]! * scale;
  return z;
}

const r10k = normals(10_000, 1, 0.01);
const r1m = normals(1_000_000, 2, 0.01);
const c100 = normals(100 * 1000, 3, 0.01);
const c500 = normals(500 * 2520, 4, 0.01);
const spd100 = (() => {
  const b = normals(100 * 100, 5);
  const a = new Float64Array(100 * 100);
  for (let i = 0; i < 100; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? 100 : 0;
      for (let k = 0; k < 100; k++) s += b[i * 100 + k]! * b[j * 100 + k]!;
      a[i * 100 + j] = s;
      a[j * 100 + i] = s;
    }
  }
  return a;
})();
const gbm = { spot: 100, drift: 0.05, volatility: 0.2, steps: 252, dt: 1 / 252, paths: 100_000, seed: 1 };
const cov5 = new Float64Array(25).map((_, k) => (Math.floor(k / 5) === k % 5 ? 1e-4 : 0.3e-4));
const mc = { weights: [0.2, 0.2, 0.2, 0.2, 0.2], means: [0, 0, 0, 0, 0], covariance: cov5, paths: 1_000_000, seed: 1 };
const z1m = new Float64Array(1_000_000);

type Backend = 'native' | 'ts';
const work = {
  'var-10k': (b: Backend) => calculateVaRSync(r10k, { backend: b }),
  'var-1M': (b: Backend) => calculateVaRSync(r1m, { backend: b }),
  'corr-100x1000': (b: Backend) => correlationMatrixSync(c100, { observations: 1000, assets: 100, backend: b }),
  'corr-500x2520': (b: Backend) => correlationMatrixSync(c500, { observations: 2520, assets: 500, backend: b }),
  'cholesky-100': (b: Backend) => choleskySync(spd100, 100, { backend: b }),
  'gbm-100kx252': (b: Backend) => simulateGBMSync({ ...gbm, backend: b }),
  'mcvar-5x1M': (b: Backend) => monteCarloVaRSync({ ...mc, backend: b }),
  'normals-1M': (b: Backend) => philoxNormals(z1m, { seed: 7, backend: b }),
} as const;
type Workload = keyof typeof work;

const numpyTask: Record<Workload, string> = {
  'var-10k': 'var-10k numpy partition',
  'var-1M': 'var-1M numpy partition',
  'corr-100x1000': 'corr-100x1000 numpy corrcoef',
  'corr-500x2520': 'corr-500x2520 numpy corrcoef',
  'cholesky-100': 'cholesky-100 numpy linalg',
  'gbm-100kx252': 'gbm-100kx252 numpy pcg64',
  'mcvar-5x1M': 'mcvar-5x1M numpy pcg64',
  'normals-1M': 'normals-1M numpy pcg64',
};

const numpy = await NumpyPeer.start();
const numpyVersion = numpy instanceof NumpyPeer ? (numpy.hello.numpy ?? '?') : undefined;

/** The NumPy peer of a workload, as an 'external' task of its group. */
function numpyPeer(w: Workload, extra: Partial<TaskSpec> = {}): TaskSpec {
  const task = numpyTask[w];
  if (!(numpy instanceof NumpyPeer)) return { name: `numpy ${w}`, external: () => Promise.resolve([]), skip: `NumPy peer: ${numpy.reason}` };
  return { name: `numpy ${w}`, external: (budgetMs, min) => numpy.samples(task, budgetMs, min), ...extra };
}

/** Native and TS of a workload, one sample = one call (jobs of a millisecond or more). */
function ours(w: Workload, extra: { native?: Partial<TaskSpec>; ts?: Partial<TaskSpec> } = {}, batch: 1 | 'auto' = 1): TaskSpec[] {
  return [
    { name: `native ${w}`, fn: () => work[w]('native'), batch, ...extra.native, ...skipNative },
    { name: `ts ${w}`, fn: () => work[w]('ts'), batch, ...extra.ts },
  ];
}

export default defineSuite({
  name: 'risk',
  description: 'VaR/CVaR, correlation, Cholesky, GBM, Monte Carlo VaR and the Philox generator: native vs TS vs NumPy',
  timeMs: 1000,
  warmupMs: 250,
  rounds: 10,
  groups: [
    {
      name: 'var-10k',
      description: 'calculateVaRSync on 10,000 returns, historical (VaR + CVaR at 95%); NumPy np.partition',
      tasks: [...ours('var-10k', { native: { target: { maxNs: 10_000 } }, ts: { target: { maxNs: 30_000 } } }, 'auto'), numpyPeer('var-10k')],
    },
    {
      name: 'var-10k-methods',
      description: 'calculateVaRSync on 10,000 returns, parametric and Cornish-Fisher (no NumPy idiom)',
      tasks: [
        { name: 'native parametric 10k', fn: () => calculateVaRSync(r10k, { method: 'parametric', backend: 'native' }), ...skipNative },
        { name: 'ts parametric 10k', fn: () => calculateVaRSync(r10k, { method: 'parametric', backend: 'ts' }) },
        { name: 'native cornish-fisher 10k', fn: () => calculateVaRSync(r10k, { method: 'cornish-fisher', backend: 'native' }), ...skipNative },
      ],
    },
    {
      name: 'var-1M',
      description: 'VaR + CVaR of 1,000,000 returns (historical: sampled threshold + quickselect; threaded)',
      needsIdleCores: true,
      tasks: [
        ...ours('var-1M'),
        { name: 'native calculateVaR 1M (async)', fn: () => calculateVaR(r1m, { backend: 'native' }), mode: 'async', ...skipNative },
        numpyPeer('var-1M'),
      ],
    },
    {
      name: 'corr-100x1000',
      description: 'correlationMatrixSync, 100 assets x 1,000 observations (Pearson); NumPy corrcoef',
      tasks: [...ours('corr-100x1000', { native: { target: { maxNs: 150_000 } } }), numpyPeer('corr-100x1000')],
    },
    {
      name: 'corr-500x2520',
      description: 'correlationMatrixSync, 500 assets x 2,520 observations (Pearson; threaded); NumPy corrcoef',
      needsIdleCores: true,
      tasks: [...ours('corr-500x2520'), numpyPeer('corr-500x2520')],
    },
    {
      name: 'cholesky-100',
      description: 'choleskySync of a 100 x 100 SPD matrix; NumPy linalg.cholesky (LAPACK)',
      tasks: [...ours('cholesky-100', {}, 'auto'), numpyPeer('cholesky-100')],
    },
    {
      name: 'gbm-100kx252',
      description: 'simulateGBM, 100,000 paths x 252 exact log-normal steps (25.2M normals, threaded), terminal values + VaR',
      needsIdleCores: true,
      tasks: [
        ...ours('gbm-100kx252', {
          native: { target: { maxNs: 50e6 }, rate: { per: 25.2e6, unit: 'normals/s' } },
          ts: { target: { maxNs: 600e6 }, rate: { per: 25.2e6, unit: 'normals/s' } },
        }),
        { name: 'native gbm-100kx252 (async)', fn: () => simulateGBM({ ...gbm, backend: 'native' }), mode: 'async', rate: { per: 25.2e6, unit: 'normals/s' }, ...skipNative },
        numpyPeer('gbm-100kx252', { rate: { per: 25.2e6, unit: 'normals/s' } }),
      ],
    },
    {
      name: 'mcvar-5x1M',
      description: 'monteCarloVaRSync, 5 correlated assets x 1,000,000 paths (threaded)',
      needsIdleCores: true,
      tasks: [
        ...ours('mcvar-5x1M', {
          native: { target: { minRate: 50e6 }, rate: { per: 1e6, unit: 'paths/s' } },
          ts: { rate: { per: 1e6, unit: 'paths/s' } },
        }),
        numpyPeer('mcvar-5x1M', { rate: { per: 1e6, unit: 'paths/s' } }),
      ],
    },
    {
      name: 'normals-1M',
      description: 'philoxNormals into a Float64Array(1,000,000) (threaded); NumPy standard_normal (PCG64)',
      needsIdleCores: true,
      tasks: [
        ...ours('normals-1M', {
          native: { target: { minRate: 300e6 }, rate: { per: 1e6, unit: 'normals/s' } },
          ts: { rate: { per: 1e6, unit: 'normals/s' } },
        }),
        numpyPeer('normals-1M', { rate: { per: 1e6, unit: 'normals/s' } }),
      ],
    },
  ],
  extras: () => {
    if (numpy instanceof NumpyPeer) numpy.close();
    return {
      numpy: numpyVersion !== undefined ? { version: numpyVersion } : { skipped: (numpy as { reason: string }).reason },
      riskThreads: cpuAddon?.riskThreads ?? 1,
    };
  },
});
