// GPU risk bench: end-to-end time from JS (warm) for the GPU and the CPU addon on the
// same inputs in the same run, the device time of the GPU call from CUDA events
// (kernels alone, and copies included), and the floor the H100 datasheet sets. Then the
// crossover sizes that riskThresholds should hold on this machine.
// Plain Node over dist/ (no node_modules): NODE=/path/to/node bash bench/gpu/run.sh.
// Writes bench/results/gpu-<device>.json and .md: a device run is rare, so its report is committed.
// The copy-bound cases are timed again in a child process with pinned staging off
// (ULTRA_PERF_CUDA_TEST_HOOKS=pageable, cuda/device.cuh): the gain of the pinned path, side by side.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { lib, normals, root, spd } from '../../test/gpu/helpers.mjs';
import { formatMs, formatRate, formatRatio } from '../lib/format.mjs';

const { backendInfo, gpu } = lib;

const info = backendInfo();
if (!info.cuda) {
  console.error(`bench:gpu needs a CUDA device: ${info.cudaError}`);
  process.exit(1);
}
const device = info.devices[0];
const quick = process.argv.includes('--quick');
// The child's mode: only the copy-bound cases, GPU only, one JSON line on stdout.
const copiesOnly = process.argv.includes('--copies');

// H100 SXM datasheet figures the issue measures against.
const kHbmBytesPerS = 3.35e12;
const kFp64FlopsPerS = 34e12;

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { median: at(0.5), p99: at(0.99), samples: s.length };
}

/** Warm calls, then `reps` timed ones; for the GPU also the event timings of each call. */
async function time(fn, backend, reps) {
  for (let i = 0; i < 2; i++) await fn(backend);
  const wall = [];
  const kernel = [];
  const device = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = await fn(backend);
    wall.push(performance.now() - t0);
    if (r.backend !== backend) throw new Error(`asked for ${backend}, computed on ${r.backend}`);
    if (backend === 'cuda') {
      const t = gpu.lastTiming();
      kernel.push(t.kernelMs);
      device.push(t.totalMs);
    }
  }
  return { wall: stats(wall), kernel: kernel.length ? stats(kernel) : null, device: device.length ? stats(device) : null };
}

const returns100M = () => normals(quick ? 10_000_000 : 100_000_000, 1, 0.01);
const corrData = (T, N) => normals(T * N, 2, 0.01);
const mc5 = { weights: [0.3, 0.25, 0.2, 0.15, 0.1], means: [1e-4, 2e-4, 0, -1e-4, 5e-5], covariance: spd(5, 3) };

const cases = [
  {
    name: 'simulateGBM 100k paths x 252 steps',
    target: '<= 1 ms end to end',
    setup: () => null,
    run: (_, backend) => lib.simulateGBM({ spot: 100, drift: 0.05, volatility: 0.2, steps: 252, paths: 100_000, seed: 42, backend }),
    floor: () => ({ ms: (100_000 * 8 * 2) / kHbmBytesPerS * 1e3, what: 'writing S(T) and the losses once' }),
    rate: (ms) => formatRate((100_000 * 252) / (ms / 1e3), 'steps/s'),
    reps: [20, 5],
  },
  {
    name: `monteCarloVaR 5 assets, ${quick ? '2^24' : '2^26'} paths`,
    target: '>= 20G paths/s',
    setup: () => null,
    run: (_, backend) => lib.monteCarloVaR({ ...mc5, paths: quick ? 2 ** 24 : 2 ** 26, seed: 7, confidence: 0.99, backend }),
    floor: () => ({ ms: ((quick ? 2 ** 24 : 2 ** 26) * 16) / kHbmBytesPerS * 1e3, what: 'writing and reading each loss once' }),
    rate: (ms) => formatRate((quick ? 2 ** 24 : 2 ** 26) / (ms / 1e3), 'paths/s'),
    reps: [10, 3],
  },
  {
    name: 'correlationMatrix 4,096 assets x 10,000 observations',
    target: '<= 20 ms end to end',
    setup: () => corrData(quick ? 2000 : 10_000, 4096),
    run: (data, backend) => lib.correlationMatrix(data, { observations: quick ? 2000 : 10_000, assets: 4096, backend }),
    floor: () => ({ ms: (4096 * 4096 * (quick ? 2000 : 10_000)) / kFp64FlopsPerS * 1e3, what: 'N^2 T FP64 flops of the SYRK at 34 TFLOP/s' }),
    rate: (ms) => `${((4096 * 4096 * (quick ? 2000 : 10_000)) / (ms / 1e3) / 1e12).toFixed(2)} TFLOP/s`,
    reps: [10, 2],
    copyBound: true,
  },
  {
    name: `calculateVaR historical ${quick ? '10M' : '100M'} returns`,
    target: '<= 25 ms end to end',
    setup: returns100M,
    run: (data, backend) => lib.calculateVaR(data, { confidence: 0.99, backend }),
    floor: () => ({ ms: ((quick ? 1e7 : 1e8) * 8) / kHbmBytesPerS * 1e3, what: 'reading the returns once from HBM (the copy in is extra)' }),
    rate: (ms) => `${((quick ? 1e7 : 1e8) * 8 / (ms / 1e3) / 1e9).toFixed(1)} GB/s of returns`,
    reps: [10, 3],
    copyBound: true,
  },
];

// Sizes for the crossover: the work unit of each riskThresholds key.
const crossovers = [
  {
    key: 'gbmPathSteps',
    sizes: [1_000, 10_000, 50_000, 200_000].map((paths) => ({ size: paths * 100, run: (b) => lib.simulateGBM({ spot: 100, drift: 0, volatility: 0.2, steps: 100, paths, seed: 1, backend: b }) })),
  },
  {
    key: 'monteCarloDraws',
    sizes: [2_000, 20_000, 200_000, 2_000_000].map((paths) => ({ size: paths * 5, run: (b) => lib.monteCarloVaR({ ...mc5, paths, seed: 1, backend: b }) })),
  },
  {
    key: 'covarianceWork',
    sizes: [[1000, 32], [1000, 128], [2000, 256], [5000, 512]].map(([T, N]) => {
      const data = corrData(T, N);
      return { size: T * N * N, run: (b) => lib.covarianceMatrix(data, { observations: T, assets: N, backend: b }) };
    }),
  },
  {
    key: 'varObservations',
    sizes: [10_000, 100_000, 1_000_000, 10_000_000].map((n) => {
      const data = normals(n, 5, 0.01);
      return { size: n, run: (b) => lib.calculateVaR(data, { confidence: 0.99, backend: b }) };
    }),
  },
];

if (copiesOnly) {
  const out = {};
  for (const c of cases.filter((x) => x.copyBound)) {
    const input = c.setup();
    out[c.name] = await time((b) => c.run(input, b), 'cuda', c.reps[0]);
  }
  console.log(`COPIES ${JSON.stringify(out)}`);
  process.exit(0);
}

const results = [];
for (const c of cases) {
  const input = c.setup();
  const g = await time((b) => c.run(input, b), 'cuda', c.reps[0]);
  const r = await time((b) => c.run(input, b), 'native', c.reps[1]);
  const floor = c.floor();
  results.push({ name: c.name, target: c.target, gpu: g, cpu: r, floor, gpuRate: c.rate(g.wall.median), cpuRate: c.rate(r.wall.median) });
  console.log(`${c.name}: GPU ${formatMs(g.wall.median)} (kernels ${formatMs(g.kernel.median)}), CPU ${formatMs(r.wall.median)}, CPU / GPU ${formatRatio(r.wall.median / g.wall.median)}`);
}

const thresholds = {};
for (const c of crossovers) {
  let found = Infinity;
  const points = [];
  for (const s of c.sizes) {
    const g = await time(s.run, 'cuda', 7);
    const r = await time(s.run, 'native', 7);
    points.push({ size: s.size, gpuMs: g.wall.median, cpuMs: r.wall.median });
    if (found === Infinity && g.wall.median < r.wall.median) found = s.size;
  }
  thresholds[c.key] = { crossover: found, points };
  console.log(`${c.key}: GPU wins from ${found}`);
}

// The copy-bound cases with pinned staging off, in a child (the hook is read once per process).
const pageable = (() => {
  const args = [process.argv[1], '--copies', ...(quick ? ['--quick'] : [])];
  const r = spawnSync(process.execPath, [...process.execArgv, ...args], {
    env: { ...process.env, ULTRA_PERF_CUDA_TEST_HOOKS: 'pageable' },
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('COPIES '));
  if (r.status !== 0 || line === undefined) {
    console.error(`the pageable comparison failed (status ${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
    return null;
  }
  return JSON.parse(line.slice('COPIES '.length));
})();
for (const r of results) {
  const p = pageable?.[r.name];
  if (p) console.log(`${r.name}: pinned ${formatMs(r.gpu.wall.median)} vs pageable ${formatMs(p.wall.median)} end to end (device incl. copies ${formatMs(r.gpu.device.median)} vs ${formatMs(p.device.median)})`);
}

const outDir = join(root, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const slug = device.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const meta = { date: new Date().toISOString(), device, cpu: info.cpu, node: process.version, quick };
writeFileSync(join(outDir, `gpu-${slug}.json`), `${JSON.stringify({ meta, results, thresholds, pageable }, null, 2)}\n`);

const ms = formatMs;
const lines = [
  `# GPU risk kernels on ${device.name}`,
  '',
  `Measured ${meta.date} by \`bench/gpu/run.sh\`${quick ? ' (--quick sizes)' : ''}: ${device.name} (compute ${device.computeCapability}, ${(device.totalMemory / 2 ** 30).toFixed(0)} GiB), CPU ${info.cpu.model} (${info.cpu.cores} cores), Node ${process.version}.`,
  'End to end is wall time from JS (warm, async API); device times are CUDA events around the GPU call (kernels alone / first copy in to last copy out). p99 is over the samples taken.',
  '',
  '| job | target | GPU end to end median / p99 | kernels | device incl. copies | CPU addon median / p99 | CPU / GPU | GPU rate | floor |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ...results.map((r) => `| ${r.name} | ${r.target} | ${ms(r.gpu.wall.median)} / ${ms(r.gpu.wall.p99)} | ${ms(r.gpu.kernel.median)} | ${ms(r.gpu.device.median)} | ${ms(r.cpu.wall.median)} / ${ms(r.cpu.wall.p99)} | ${formatRatio(r.cpu.wall.median / r.gpu.wall.median)} | ${r.gpuRate} | ${ms(r.floor.ms)} (${r.floor.what}) |`),
  '',
  '## Pinned staging against pageable copies',
  '',
  'The same calls with pinned staging off (`ULTRA_PERF_CUDA_TEST_HOOKS=pageable`, a child process), medians; the arithmetic is in docs/gpu-tests.md.',
  '',
  '| job | pinned end to end | pageable end to end | pinned device incl. copies | pageable device incl. copies |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...results
    .filter((r) => pageable?.[r.name])
    .map((r) => `| ${r.name} | ${ms(r.gpu.wall.median)} | ${ms(pageable[r.name].wall.median)} | ${ms(r.gpu.device.median)} | ${ms(pageable[r.name].device.median)} |`),
  ...(pageable ? [] : ['', '(the pageable run failed: see the console)']),
  '',
  '## Crossover (for riskThresholds)',
  '',
  '| key | smallest size where the GPU won | points (size: GPU / CPU) |',
  '| --- | ---: | --- |',
  ...Object.entries(thresholds).map(([k, v]) => `| ${k} | ${v.crossover} | ${v.points.map((p) => `${p.size}: ${ms(p.gpuMs)} / ${ms(p.cpuMs)}`).join('; ')} |`),
  '',
];
writeFileSync(join(outDir, `gpu-${slug}.md`), lines.join('\n'));
console.log(lines.join('\n'));
