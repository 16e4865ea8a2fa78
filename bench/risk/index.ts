/**
 * Risk kernels beside NumPy: VaR+CVaR (10k, 1M returns), correlation (100 x 1,000 and
 * 500 x 2,520), Cholesky 100 x 100 and 500 x 500, simulateGBM 100k paths x 252 steps,
 * monteCarloVaR 5 assets x 1M paths, and normals per second from the Philox generator.
 *
 * One group per workload, its peers our native path, our TS path and NumPy, all measured
 * in the same round-robin (bench/lib/suite.ts): NumPy runs in a python3 process
 * (bench/peers/risk_numpy.py) that takes its turn in each round. Without NumPy the peer is
 * skipped, saying why.
 *
 * One protocol, one figure per workload: the threaded workloads (everything but the 10k
 * VaR, which runs on one thread in microseconds and is batch-timed) are timed one call at a
 * time, each call kGapUs after the last (an untimed pause, longer than the pool's spin
 * window), as a caller that calls now and then does: the pool's workers have gone to sleep
 * and the call pays their wake-up. NumPy's calls are spaced the same way. Targets are
 * judged on these figures, the NumPy ratios as "at least N times as fast" (fasterThan).
 * corr-100x1000 also shows our call and NumPy's back to back (labelled so in the same
 * table), and the extras measure the pool's wake-up itself: the same spaced calls with
 * spinUs 0, the default and one longer than the gap (workers never sleep), with the CPU
 * time each call costs all threads together.
 */
import { backendInfo, cpuAddon } from '../../lib/backend.js';
import { nowNs } from '../../lib/monitor/clock.js';
import {
  calculateVaR,
  calculateVaRSync,
  choleskySync,
  correlationMatrixSync,
  monteCarloVaRSync,
  philoxNormals,
  riskPoolPolicy,
  setRiskPoolPolicy,
  simulateGBM,
  simulateGBMSync,
} from '../../lib/risk/index.js';
import { defineSuite, type Figure, formatNs, pauseUs, table, type TaskSpec } from '../lib/index.js';
import { NumpyPeer } from '../peers/numpy.js';

/** The pause before each call of a threaded workload: 10x the pool's default spin window. */
const kGapUs = 1000;
if (!(kGapUs > riskPoolPolicy.spinUs)) {
  throw new Error(`bench/risk: the gap between calls (${kGapUs} µs) must be longer than the pool's spin window (${riskPoolPolicy.spinUs} µs)`);
}

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
/** B B^T + n I, B an n x n standard normal matrix: symmetric positive definite. */
function spd(n: number, seed: number): Float64Array {
  const b = normals(n * n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += b[i * n + k]! * b[j * n + k]!;
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}
const spd100 = spd(100, 5);
const spd500 = spd(500, 6);
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
  'cholesky-500': (b: Backend) => choleskySync(spd500, 500, { backend: b }),
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
  'cholesky-500': 'cholesky-500 numpy linalg',
  'gbm-100kx252': 'gbm-100kx252 numpy pcg64',
  'mcvar-5x1M': 'mcvar-5x1M numpy pcg64',
  'normals-1M': 'normals-1M numpy pcg64',
};

const numpy = await NumpyPeer.start();
const numpyVersion = numpy instanceof NumpyPeer ? (numpy.hello.numpy ?? '?') : undefined;

const spaced = { gapUs: kGapUs } as const;
const backToBack = ', back-to-back';

/** The NumPy peer of a workload, as an 'external' task of its group (spaced unless gapUs is left out). */
function numpyPeer(w: Workload, extra: Partial<TaskSpec> = spaced, suffix = ''): TaskSpec {
  const task = numpyTask[w];
  const name = `numpy ${w}${suffix}`;
  if (!(numpy instanceof NumpyPeer)) return { name, external: () => Promise.resolve([]), skip: `NumPy peer: ${numpy.reason}` };
  // settleMs: OpenBLAS's threads keep polling ~0.1 s after each call; without the pause they
  // held one of the two cores through our next turn (500 x 2,520 measured 21 ms, not 12.5).
  return { name, external: (budgetMs, min, gapUs) => numpy.samples(task, budgetMs, min, gapUs), settleMs: 250, ...extra };
}

/** Native and TS of a workload, one call per sample, spaced by kGapUs (batch 'auto': back to back, batch-timed). */
function ours(w: Workload, extra: { native?: Partial<TaskSpec>; ts?: Partial<TaskSpec> } = {}, batch: 1 | 'auto' = 1): TaskSpec[] {
  const gap = batch === 1 ? spaced : {};
  return [
    { name: `native ${w}`, fn: () => work[w]('native'), batch, ...gap, ...extra.native, ...skipNative },
    { name: `ts ${w}`, fn: () => work[w]('ts'), batch, ...gap, ...extra.ts },
  ];
}

/** A ratio target: at least `factor` times as fast as the NumPy peer of the workload. */
const beatNumpy = (w: Workload, factor: number) => ({ fasterThan: { peer: `numpy ${w}`, factor } });

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
      tasks: [...ours('var-10k', { native: { target: { maxNs: 10_000 } }, ts: { target: { maxNs: 30_000 } } }, 'auto'), numpyPeer('var-10k', {})],
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
        { name: 'native calculateVaR 1M (async)', fn: () => calculateVaR(r1m, { backend: 'native' }), mode: 'async', ...spaced, ...skipNative },
        numpyPeer('var-1M'),
      ],
    },
    {
      name: 'corr-100x1000',
      description: 'correlationMatrixSync, 100 assets x 1,000 observations (Pearson); NumPy corrcoef',
      needsIdleCores: true,
      tasks: [
        ...ours('corr-100x1000', { native: { target: { maxNs: 150_000, ...beatNumpy('corr-100x1000', 1.5) } } }),
        numpyPeer('corr-100x1000'),
        { name: `native corr-100x1000${backToBack}`, fn: () => work['corr-100x1000']('native'), batch: 1, ...skipNative },
        numpyPeer('corr-100x1000', {}, backToBack),
      ],
    },
    {
      name: 'corr-500x2520',
      description: 'correlationMatrixSync, 500 assets x 2,520 observations (Pearson; threaded); NumPy corrcoef',
      needsIdleCores: true,
      tasks: [...ours('corr-500x2520', { native: { target: beatNumpy('corr-500x2520', 1.5) } }), numpyPeer('corr-500x2520')],
    },
    {
      name: 'cholesky-100',
      description: 'choleskySync of a 100 x 100 SPD matrix; NumPy linalg.cholesky (LAPACK)',
      tasks: [...ours('cholesky-100', { native: { target: beatNumpy('cholesky-100', 1) } }), numpyPeer('cholesky-100')],
    },
    {
      name: 'cholesky-500',
      description: 'choleskySync of a 500 x 500 SPD matrix; NumPy linalg.cholesky (LAPACK)',
      tasks: [...ours('cholesky-500', { native: { target: beatNumpy('cholesky-500', 1) } }), numpyPeer('cholesky-500')],
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
        { name: 'native gbm-100kx252 (async)', fn: () => simulateGBM({ ...gbm, backend: 'native' }), mode: 'async', ...spaced, rate: { per: 25.2e6, unit: 'normals/s' }, ...skipNative },
        numpyPeer('gbm-100kx252', { ...spaced, rate: { per: 25.2e6, unit: 'normals/s' } }),
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
        numpyPeer('mcvar-5x1M', { ...spaced, rate: { per: 1e6, unit: 'paths/s' } }),
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
        numpyPeer('normals-1M', { ...spaced, rate: { per: 1e6, unit: 'normals/s' } }),
      ],
    },
  ],
  extras: () => {
    if (numpy instanceof NumpyPeer) numpy.close();
    return {
      numpy: numpyVersion !== undefined ? { version: numpyVersion } : { skipped: (numpy as { reason: string }).reason },
      riskThreads: cpuAddon?.riskThreads ?? 1,
      gapUs: kGapUs,
      ...poolWakeUp(),
    };
  },
});

interface PolicyRun {
  spinUs: number;
  calls: number;
  medianNs: number;
  p99Ns: number;
  /** process.cpuUsage (user + system, all threads) over the timed calls and their pauses, per call. */
  cpuPerCallNs: number;
}

/**
 * The pool's idle policy, measured: native corr-100x1000 called kGapUs apart with spinUs 0
 * (workers sleep at once), the default, and 2 x kGapUs (workers spin through the pause and
 * never sleep), the policies taking turns round by round. The difference of the medians of
 * the first and the last is what a sleeping pool's wake-up costs the call; the CPU column
 * is what spinning costs (a core busy through the pause).
 */
function poolWakeUp(): { pool?: { policies: PolicyRun[]; wakeUpNs: number; gapUs: number }; figures?: Figure[] } {
  if (cpuAddon === null) return {};
  const quick = process.argv.includes('--quick');
  const rounds = quick ? 3 : 10;
  const callsPerRound = quick ? 10 : 40;
  const defaultSpin = riskPoolPolicy.spinUs;
  const policies = [0, defaultSpin, 2 * kGapUs];
  const samples = policies.map(() => [] as number[]);
  const cpu = policies.map(() => 0);
  const call = () => work['corr-100x1000']('native');
  try {
    for (let round = 0; round < rounds; round++) {
      policies.forEach((spinUs, i) => {
        setRiskPoolPolicy({ spinUs });
        call(); // the workers go idle under this policy
        const before = process.cpuUsage();
        for (let k = 0; k < callsPerRound; k++) {
          pauseUs(kGapUs);
          const t0 = nowNs();
          call();
          samples[i]!.push(nowNs() - t0);
        }
        const used = process.cpuUsage(before);
        cpu[i]! += (used.user + used.system) * 1000;
      });
    }
  } finally {
    setRiskPoolPolicy({ spinUs: defaultSpin });
  }
  const pct = (v: number[], p: number) => {
    const sorted = Float64Array.from(v).sort();
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  };
  const runs: PolicyRun[] = policies.map((spinUs, i) => ({
    spinUs,
    calls: samples[i]!.length,
    medianNs: pct(samples[i]!, 50),
    p99Ns: pct(samples[i]!, 99),
    cpuPerCallNs: cpu[i]! / samples[i]!.length,
  }));
  const wakeUpNs = runs[0]!.medianNs - runs[runs.length - 1]!.medianNs;
  const what = (spinUs: number) =>
    spinUs === 0 ? 'spinUs 0: sleep at once' : spinUs > kGapUs ? `spinUs ${spinUs}: spin through the pause` : `spinUs ${spinUs} (default): sleep after ${spinUs} µs`;
  console.log(`\n-- pool idle policy: native corr-100x1000, calls ${formatNs(kGapUs * 1000)} apart, policies in turn (${rounds} rounds x ${callsPerRound} calls)`);
  console.log(
    table(
      ['policy', 'median', 'p99', 'CPU per call (all threads)'],
      runs.map((r) => [what(r.spinUs), formatNs(r.medianNs), formatNs(r.p99Ns), formatNs(r.cpuPerCallNs)]),
      ['l', 'r', 'r', 'r'],
    ),
  );
  console.log(`  wake-up cost seen by the call (median, sleep at once - never sleep): ${formatNs(wakeUpNs)}`);
  return {
    pool: { policies: runs, wakeUpNs, gapUs: kGapUs },
    figures: runs.map((r) => ({ group: 'pool', name: `corr-100x1000 ${formatNs(kGapUs * 1000)} apart, spinUs ${r.spinUs}`, unit: 'ns', median: r.medianNs, p99: r.p99Ns })),
  };
}
