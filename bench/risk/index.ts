/**
 * Risk kernels beside NumPy: VaR+CVaR (10k, 1M returns), correlation (100 x 1,000 and
 * 500 x 2,520), Cholesky 100 x 100, simulateGBM 100k paths x 252 steps, monteCarloVaR
 * 5 assets x 1M paths, and normals per second from the Philox generator.
 *
 * The tinybench groups compare our native and TS backends (ratios in the table); jobs of
 * a millisecond or more run one call per sample (batch: 1), so the time budget bounds them.
 * NumPy
 * runs in a separate python3 process (bench/peers/risk_numpy.py) that times its own
 * calls as medians of single calls; so that the comparison is like for like, "extras"
 * re-times our functions the same way (median of single calls after a warm-up) and puts
 * all three side by side with ratios and the targets. Without NumPy the extras
 * say why and the rest runs.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

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
import { benchRoot, defineSuite } from '../lib/index.js';

const quick = process.argv.includes('--quick');
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

/** The targets on a 2-core machine: [native max ns, ts max ns] or a throughput. */
const targets: Record<Workload, string> = {
  'var-10k': 'native <= 10 µs, ts <= 30 µs (NumPy partition ~15 µs)',
  'var-1M': '-',
  'corr-100x1000': 'native <= 150 µs (NumPy corrcoef ~400 µs)',
  'corr-500x2520': '-',
  'cholesky-100': '-',
  'gbm-100kx252': 'native <= 50 ms, ts <= 600 ms',
  'mcvar-5x1M': 'native >= 50M paths/s (<= 20 ms)',
  'normals-1M': 'native >= 300M normals/s (<= 3.33 ms)',
};
const numpyPeer: Record<Workload, string> = {
  'var-10k': 'var-10k numpy partition',
  'var-1M': 'var-1M numpy partition',
  'corr-100x1000': 'corr-100x1000 numpy corrcoef',
  'corr-500x2520': 'corr-500x2520 numpy corrcoef',
  'cholesky-100': 'cholesky-100 numpy linalg',
  'gbm-100kx252': 'gbm-100kx252 numpy pcg64',
  'mcvar-5x1M': 'mcvar-5x1M numpy pcg64',
  'normals-1M': 'normals-1M numpy pcg64',
};

/** Median of single calls after a warm-up: the method bench/peers/risk_numpy.py uses. */
function medianOfCalls(fn: () => unknown, minReps: number, budgetMs: number): { medianNs: number; p99Ns: number; samples: number } {
  for (let i = 0; i < 3; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minReps || performance.now() - start < budgetMs) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0));
    if (samples.length >= 100_000 || (samples.length >= minReps && performance.now() - start > 4 * budgetMs)) break;
  }
  samples.sort((a, b) => a - b);
  return { medianNs: samples[samples.length >> 1]!, p99Ns: samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]!, samples: samples.length };
}

interface NumpyReport {
  available: boolean;
  reason?: string;
  numpy?: string;
  tasks?: Record<string, { medianNs: number; p99Ns: number; samples: number }>;
}

function runNumpy(): NumpyReport {
  const script = join(benchRoot, 'peers', 'risk_numpy.py');
  const child = spawnSync('python3', [script, ...(quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 20 });
  if (child.error) return { available: false, reason: `python3 did not run: ${child.error.message}` };
  if (child.status !== 0) return { available: false, reason: `python3 exited ${String(child.status)}: ${child.stderr.trim().split('\n').pop() ?? ''}` };
  try {
    return JSON.parse(child.stdout) as NumpyReport;
  } catch {
    return { available: false, reason: `the NumPy peer printed something that is not JSON: ${child.stdout.slice(0, 100)}` };
  }
}

function fmt(ns: number | undefined): string {
  if (ns === undefined) return '-';
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export default defineSuite({
  name: 'risk',
  description: 'VaR/CVaR, correlation, Cholesky, GBM, Monte Carlo VaR and the Philox generator: native vs TS vs NumPy',
  timeMs: 1000,
  warmupMs: 250,
  groups: [
    {
      name: 'var-10k',
      description: 'calculateVaRSync on 10,000 returns (VaR + CVaR at 95%)',
      tasks: [
        { name: 'native historical 10k', fn: () => work['var-10k']('native'), ...skipNative },
        { name: 'ts historical 10k', fn: () => work['var-10k']('ts') },
        { name: 'native parametric 10k', fn: () => calculateVaRSync(r10k, { method: 'parametric', backend: 'native' }), ...skipNative },
        { name: 'ts parametric 10k', fn: () => calculateVaRSync(r10k, { method: 'parametric', backend: 'ts' }) },
        { name: 'native cornish-fisher 10k', fn: () => calculateVaRSync(r10k, { method: 'cornish-fisher', backend: 'native' }), ...skipNative },
      ],
    },
    {
      name: 'var-1M',
      description: 'VaR + CVaR of 1,000,000 returns (historical: sampled threshold + quickselect)',
      tasks: [
        { name: 'native historical 1M', fn: () => work['var-1M']('native'), batch: 1, ...skipNative },
        { name: 'ts historical 1M', fn: () => work['var-1M']('ts'), batch: 1 },
        { name: 'native calculateVaR 1M (async)', fn: () => calculateVaR(r1m, { backend: 'native' }), mode: 'async', ...skipNative },
      ],
    },
    {
      name: 'corr-100x1000',
      description: 'correlationMatrixSync, 100 assets x 1,000 observations (Pearson)',
      tasks: [
        { name: 'native corr 100x1000', fn: () => work['corr-100x1000']('native'), batch: 1, ...skipNative },
        { name: 'ts corr 100x1000', fn: () => work['corr-100x1000']('ts'), batch: 1 },
      ],
    },
    {
      name: 'corr-500x2520',
      description: 'correlationMatrixSync, 500 assets x 2,520 observations (Pearson)',
      tasks: [
        { name: 'native corr 500x2520', fn: () => work['corr-500x2520']('native'), batch: 1, ...skipNative },
        { name: 'ts corr 500x2520', fn: () => work['corr-500x2520']('ts'), batch: 1, minSamples: 8 },
      ],
    },
    {
      name: 'cholesky-100',
      description: 'choleskySync of a 100 x 100 SPD matrix',
      tasks: [
        { name: 'native cholesky 100', fn: () => work['cholesky-100']('native'), ...skipNative },
        { name: 'ts cholesky 100', fn: () => work['cholesky-100']('ts') },
      ],
    },
    {
      name: 'gbm-100kx252',
      description: 'simulateGBM, 100,000 paths x 252 exact log-normal steps (25.2M normals), terminal values + VaR',
      tasks: [
        { name: 'native gbm sync', fn: () => work['gbm-100kx252']('native'), batch: 1, ...skipNative },
        { name: 'native gbm async', fn: () => simulateGBM({ ...gbm, backend: 'native' }), mode: 'async', ...skipNative },
        { name: 'ts gbm sync', fn: () => work['gbm-100kx252']('ts'), batch: 1, minSamples: 8 },
      ],
    },
    {
      name: 'mcvar-5x1M',
      description: 'monteCarloVaRSync, 5 correlated assets x 1,000,000 paths',
      tasks: [
        { name: 'native mcvar 5x1M', fn: () => work['mcvar-5x1M']('native'), batch: 1, ...skipNative },
        { name: 'ts mcvar 5x1M', fn: () => work['mcvar-5x1M']('ts'), batch: 1, minSamples: 8 },
      ],
    },
    {
      name: 'normals-1M',
      description: 'philoxNormals into a Float64Array(1,000,000)',
      tasks: [
        { name: 'native normals 1M', fn: () => work['normals-1M']('native'), batch: 1, ...skipNative },
        { name: 'ts normals 1M', fn: () => work['normals-1M']('ts'), batch: 1 },
      ],
    },
  ],
  extras: () => {
    const numpy = runNumpy();
    const budget = quick ? 200 : 1000;
    const rows: Record<string, unknown>[] = [];
    for (const name of Object.keys(work) as Workload[]) {
      const heavy = name.startsWith('gbm') || name.startsWith('mcvar') || name === 'corr-500x2520';
      const nat = noNative ? undefined : medianOfCalls(() => work[name]('native'), heavy ? 5 : 20, budget);
      const ts = medianOfCalls(() => work[name]('ts'), heavy ? 3 : 10, name.startsWith('gbm') ? 0 : budget);
      const np = numpy.available ? numpy.tasks?.[numpyPeer[name]] : undefined;
      const row: Record<string, unknown> = {
        workload: name,
        nativeMedianNs: nat?.medianNs,
        tsMedianNs: ts.medianNs,
        numpyMedianNs: np?.medianNs,
        numpyTask: np ? numpyPeer[name] : undefined,
        nativeVsNumpy: nat && np ? nat.medianNs / np.medianNs : undefined,
        tsVsNumpy: np ? ts.medianNs / np.medianNs : undefined,
        tsVsNative: nat ? ts.medianNs / nat.medianNs : undefined,
        target: targets[name],
      };
      if (name === 'normals-1M') {
        row.nativeNormalsPerSec = nat ? 1e6 / (nat.medianNs / 1e9) : undefined;
        row.tsNormalsPerSec = 1e6 / (ts.medianNs / 1e9);
      }
      if (name === 'mcvar-5x1M') {
        row.nativePathsPerSec = nat ? 1e6 / (nat.medianNs / 1e9) : undefined;
        row.tsPathsPerSec = 1e6 / (ts.medianNs / 1e9);
      }
      if (name === 'gbm-100kx252') row.nativeNormalsPerSec = nat ? 25.2e6 / (nat.medianNs / 1e9) : undefined;
      rows.push(row);
    }
    const ratio = (x: unknown) => (typeof x === 'number' ? `${x.toFixed(2)}×` : '-');
    console.log('\n-- side by side (median of single calls; ratio < 1 means faster than NumPy)');
    console.log(`  ${'workload'.padEnd(15)} ${'native'.padStart(10)} ${'ts'.padStart(10)} ${'numpy'.padStart(10)} ${'nat/np'.padStart(8)} ${'ts/np'.padStart(8)}  target`);
    for (const r of rows) {
      console.log(
        `  ${String(r.workload).padEnd(15)} ${fmt(r.nativeMedianNs as number | undefined).padStart(10)} ${fmt(r.tsMedianNs as number).padStart(10)} ` +
          `${fmt(r.numpyMedianNs as number | undefined).padStart(10)} ${ratio(r.nativeVsNumpy).padStart(8)} ${ratio(r.tsVsNumpy).padStart(8)}  ${String(r.target)}`,
      );
    }
    if (!numpy.available) console.log(`  NumPy peer skipped: ${numpy.reason ?? 'unknown reason'}`);
    return {
      numpy: numpy.available ? { version: numpy.numpy, tasks: numpy.tasks } : { skipped: numpy.reason },
      riskThreads: cpuAddon?.riskThreads ?? 1,
      sideBySide: rows,
    };
  },
});
