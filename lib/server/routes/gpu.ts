/**
 * The gpu/* routes (SEED.md "API Endpoints"; DESIGN.md "HTTP control API"): the GPU's status,
 * and VaR, Monte Carlo and correlation over lib/risk. The compute routes validate, enforce the
 * configured caps (413/422 naming the cap), then run a named workload through `ctx.jobs`:
 * 200 with the result within `limits.syncWaitMs`, else 202 with a job resource to poll;
 * `?async=true` or `Prefer: respond-async` asks for the 202 at once. Without a GPU the CPU
 * addon (or TS) answers, and every answer names its `backend` (`gpu_accelerated` is true
 * only for 'cuda').
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

import type { GpuReading } from '../../monitor/gpu.js';
import type { GpuTiming } from '../../risk/gpu.js';
import type { RiskBackend, RiskBackendChoice, RiskWork } from '../../risk/kernels.js';
import { tooLarge, unprocessable } from '../http-errors.js';
import { GpuMonitor, backendInfo, gpu, riskThresholds } from '../lib.js';
import {
  CorrelationRequest,
  CorrelationResponse,
  GpuAsyncQuery,
  GpuStatusResponse,
  MonteCarloRequest,
  MonteCarloResponse,
  VaRRequest,
  VaRResponse,
} from '../schemas/gpu.js';
import type { ComponentReport, RouteModule, ServerContext } from '../types.js';
import type { CorrelationJobInput, GbmJobInput, VaRJobInput } from '../workloads/risk.js';

/** NVML refreshes its readings every 1/6 s to 1 s: a dashboard polling faster reads the same values, so they are kept 1 s. */
const kTelemetryMaxAgeMs = 1000;
/** Scenarios of a 'monte-carlo' VaR when `paths` is not given. */
const kDefaultVaRPaths = 100_000;

const kErrors = { 400: Type.Ref('ErrorResponse'), 413: Type.Ref('ErrorResponse'), 422: Type.Ref('ErrorResponse'), 503: Type.Ref('ErrorResponse') };

/** Which riskThresholds entry each function's 'auto' reads, in what unit. */
const kAutoWork: readonly { fn: 'calculateVaR' | 'simulateGBM' | 'monteCarloVaR' | 'correlationMatrix'; work: RiskWork; unit: string }[] = [
  { fn: 'calculateVaR', work: 'varObservations', unit: 'observations' },
  { fn: 'simulateGBM', work: 'gbmPathSteps', unit: 'paths × steps' },
  { fn: 'monteCarloVaR', work: 'monteCarloDraws', unit: 'paths × assets' },
  { fn: 'correlationMatrix', work: 'covarianceWork', unit: 'observations × assets²' },
];

/** What the routes measured: read by gpu/status and the component report. */
interface GpuRouteStats {
  computations: number;
  last?: { route: string; backend: RiskBackend; computationTimeMs: number; at: number };
}

/** RFC 7240 `Prefer: respond-async`, or `?async=true`. */
function wantsAsync(request: FastifyRequest): boolean {
  if ((request.query as { async?: boolean } | undefined)?.async === true) return true;
  const prefer = request.headers.prefer;
  if (prefer === undefined) return false;
  for (const header of Array.isArray(prefer) ? prefer : [prefer]) {
    for (const token of header.split(',')) {
      if (token.split(';')[0]!.trim().toLowerCase() === 'respond-async') return true;
    }
  }
  return false;
}

/**
 * Runs a request of at most limits.inlineWorkUnits `units` on the event loop and returns its
 * result; submits a bigger one as a job and answers with its result (returned) or a 202 job
 * resource (sent; undefined returned). Throws 503 with Retry-After when the job queue is full.
 * `onDone` sees every result, also of jobs that finish after their 202.
 */
async function runJob<T>(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  kind: string,
  input: unknown,
  units: number,
  onDone: (result: T) => void,
): Promise<T | undefined> {
  if (units <= ctx.limits.inlineWorkUnits && !wantsAsync(request)) {
    const result = await ctx.jobs.runInline<T>(kind, input);
    onDone(result);
    return result;
  }
  const job = ctx.jobs.submit(kind, input);
  void job.done.then(() => {
    if (job.state === 'done') onDone(job.result as T);
  });
  if (wantsAsync(request)) {
    const view = ctx.jobs.view(job);
    void reply.code(202).header('location', view.location).header('preference-applied', 'respond-async').send(view);
    return undefined;
  }
  return ctx.jobs.wait<T>(job, reply);
}

/**
 * Confidence is the probability kept, as everywhere in the library (docs/risk.md): the schema
 * keeps it in (0, 1), and the tail convention of the seed's example (0.05) is a 422 that names
 * the value and the level meant, never converted silently.
 */
function checkConfidence(argument: string, value: number | undefined): number {
  if (value === undefined) return 0.95;
  if (value > 0.5 && value < 1) return value;
  const tail = value < 0.5 ? `; confidence is the probability kept (0.95 means 95% VaR), not the tail probability: did you mean ${Number((1 - value).toPrecision(12))}?` : '';
  throw unprocessable(argument, `${value} is not a confidence level in (0.5, 1)${tail}`);
}

/** A 422 before any work when the backend asked for cannot run here (the library would throw BackendUnavailableError). */
function checkBackend(backend: RiskBackendChoice): void {
  if (backend === 'native' && !backendInfo().native) {
    throw unprocessable('backend', `'native' needs the CPU addon, which is not in use here (${backendInfo().nativeError ?? `ULTRA_PERF_BACKEND=${backendInfo().mode}`})`);
  }
  if (backend === 'cuda' && !gpu.available()) {
    throw unprocessable('backend', `'cuda' needs a CUDA device and the GPU addon: ${backendInfo().cudaError ?? 'none found'}`);
  }
}

/** The numbers as a Float64Array, refusing any that is not finite (JSON's 1e400 parses to Infinity; Ajv coerces "Infinity"). */
function finiteArray(argument: string, values: readonly number[], out: Float64Array = new Float64Array(values.length), offset = 0, stride = 1): Float64Array {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw unprocessable(`${argument}[${i}]`, `${v} is not a finite number`);
    out[offset + i * stride] = v;
  }
  return out;
}

function finiteNumber(argument: string, value: number | undefined): void {
  if (value !== undefined && !Number.isFinite(value)) throw unprocessable(argument, `${value} is not a finite number`);
}

export const gpuRoutes: RouteModule = (app, ctx) => {
  const stats: GpuRouteStats = { computations: 0 };
  const info = backendInfo();
  const monitor = new GpuMonitor();
  let readings: { at: number; devices: GpuReading[] } | undefined;
  // What 'auto' picks (lib/risk/kernels.ts kernelsFor): the CPU addon if loaded, else TS; the GPU at or above a threshold when
  // there is one. Fixed once the addons are loaded; only the thresholds can change (setRiskThresholds).
  const cpuBackend: RiskBackend = info.native ? 'native' : 'ts';
  const autoPicks = kAutoWork.map((w) => ({ ...w, below: cpuBackend, atOrAbove: info.cuda ? ('cuda' as const) : cpuBackend }));
  app.addHook('onClose', async () => monitor.close());

  /** Counts a finished computation of `route` (the job's result names its backend and compute time). */
  const recordFor =
    (route: string) =>
    (result: { backend: RiskBackend; computation_time_ms: number }): void => {
      stats.computations++;
      stats.last = { route, backend: result.backend, computationTimeMs: result.computation_time_ms, at: Date.now() };
    };

  ctx.components.set('gpu_acceleration', (): ComponentReport => ({
    // Without a GPU the risk routes still answer, on the CPU: working, without acceleration.
    health: info.cuda ? 'ok' : 'degraded',
    available: info.cuda,
    device_count: info.devices.length,
    backend: info.cuda ? 'cuda' : cpuBackend,
    ...(info.cudaError !== undefined && { reason: info.cudaError }),
    computations: stats.computations,
    ...(stats.last !== undefined && { last_backend: stats.last.backend, last_computation_ms: stats.last.computationTimeMs }),
  }));

  app.get(
    '/gpu/status',
    {
      schema: {
        tags: ['gpu'],
        operationId: 'gpuStatus',
        summary: 'GPU devices, why the GPU addon is not used, and which backend each risk function picks',
        description:
          'Cheap (polled by the dashboard): the devices found when the addon loaded, NVML readings (memory in bytes, power in W, ' +
          'temperature in °C, clocks in MHz; at most 1 s old), the backend `auto` picks per function, and the last computation these routes ran (ms).',
        response: { 200: GpuStatusResponse },
      },
    },
    () => {
      const now = Date.now();
      let telemetryError: string | undefined;
      if (monitor.available && (readings === undefined || now - readings.at >= kTelemetryMaxAgeMs)) {
        try {
          readings = { at: now, devices: monitor.readAll() };
        } catch (err) {
          // A device that fell off the bus is a reading to report, not a failed status request.
          telemetryError = `NVML read failed: ${(err as Error).message}`;
          readings = undefined;
        }
      }
      const auto = Object.fromEntries(
        autoPicks.map(({ fn, work, ...pick }) => {
          const threshold = riskThresholds[work];
          return [fn, { work, ...pick, threshold: Number.isFinite(threshold) ? threshold : null }];
        }),
      );
      let lastDeviceTiming: GpuTiming | undefined;
      if (stats.last?.backend === 'cuda') {
        try {
          lastDeviceTiming = gpu.lastTiming();
        } catch {
          lastDeviceTiming = undefined;
        }
      }
      return {
        available: info.cuda,
        device_count: info.devices.length,
        ...(info.cudaError !== undefined && { cudaError: info.cudaError }),
        native: info.native,
        ...(info.nativeError !== undefined && { nativeError: info.nativeError }),
        backendMode: info.mode,
        defaultBackend: cpuBackend,
        devices: info.devices,
        telemetry: {
          available: monitor.available,
          ...((telemetryError ?? monitor.reason) !== undefined && { reason: telemetryError ?? monitor.reason }),
          ...(readings !== undefined && { readAt: new Date(readings.at).toISOString() }),
          devices: readings?.devices ?? [],
        },
        auto: auto as GpuStatusResponse['auto'],
        computations: stats.computations,
        ...(stats.last !== undefined && { lastComputation: { ...stats.last, at: new Date(stats.last.at).toISOString() } }),
        ...(lastDeviceTiming !== undefined && { lastDeviceTiming }),
      } satisfies GpuStatusResponse;
    },
  );

  app.post(
    '/gpu/var-calculation',
    {
      schema: {
        tags: ['gpu'],
        operationId: 'gpuVarCalculation',
        summary: 'VaR and CVaR of a return series at one or more confidence levels',
        description:
          'Losses are positive (a 2% loss is 0.02, times portfolioValue). confidenceLevel(s) is the probability kept: 0.95 is 95% VaR; ' +
          'the tail convention (0.05) is refused with 422. Historical (NumPy linear quantile), parametric (normal), Cornish-Fisher, or ' +
          'Monte Carlo on a normal fitted to the series. The seed names var_95/cvar_95/var_99/cvar_99 appear for those levels; ' +
          'computation_time_ms is the library\'s compute time in ms; backend names what computed it. 202 + job resource past limits.syncWaitMs.',
        querystring: GpuAsyncQuery,
        body: VaRRequest,
        response: { 200: VaRResponse, 202: Type.Ref('JobView'), ...kErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.returns.length > ctx.limits.maxReturns) throw tooLarge('returns', ctx.limits.maxReturns, body.returns.length, 'returns');
      if (body.confidenceLevel !== undefined && body.confidenceLevels !== undefined) {
        throw unprocessable('confidenceLevels', 'give confidenceLevel or confidenceLevels, not both');
      }
      const confidences = body.confidenceLevels ?? (body.confidenceLevel !== undefined ? [body.confidenceLevel] : [0.95]);
      confidences.forEach((c, i) => checkConfidence(body.confidenceLevels !== undefined ? `confidenceLevels[${i}]` : 'confidenceLevel', c));
      const method = body.method ?? 'historical';
      if (method !== 'monte-carlo') {
        if (body.paths !== undefined) throw unprocessable('paths', `only method 'monte-carlo' draws paths (method is '${method}')`);
        if (body.seed !== undefined) throw unprocessable('seed', `only method 'monte-carlo' draws random numbers (method is '${method}')`);
      }
      const paths = method === 'monte-carlo' ? (body.paths ?? kDefaultVaRPaths) : undefined;
      if (paths !== undefined && paths > ctx.limits.maxPathSteps) {
        throw unprocessable('paths', `${paths} scenarios of one asset is more than the cap of ${ctx.limits.maxPathSteps} paths × steps (limits.maxPathSteps)`);
      }
      finiteNumber('horizonDays', body.horizonDays);
      finiteNumber('portfolioValue', body.portfolioValue);
      const backend = body.backend ?? 'auto';
      checkBackend(backend);
      const input: VaRJobInput = {
        returns: finiteArray('returns', body.returns),
        confidences,
        method,
        ddof: body.ddof ?? 1,
        horizonDays: body.horizonDays ?? 1,
        portfolioValue: body.portfolioValue ?? 1,
        backend,
        ...(paths !== undefined && { paths }),
        ...(body.seed !== undefined && { seed: body.seed }),
      };
      return (await runJob<VaRResponse>(ctx, request, reply, 'gpu.var-calculation', input, input.returns.length * confidences.length * (paths ?? 1), recordFor('gpu/var-calculation'))) ?? reply;
    },
  );

  app.post(
    '/gpu/monte-carlo',
    {
      schema: {
        tags: ['gpu'],
        operationId: 'gpuMonteCarlo',
        summary: 'Geometric Brownian motion paths, summarised: S(T) statistics and the VaR/CVaR of S0 − S(T)',
        description:
          'Exact log-normal steps S(t+dt) = S(t)·exp((μ − σ²/2)dt + σ√dt·Z) on the Philox stream (the same seed gives the same numbers on every backend). ' +
          'dt (default 1/252, μ and σ annual) or horizon (T, dt = horizon/steps). paths × steps at most limits.maxPathSteps (422). ' +
          'The answer is bounded: mean, std, standard error, min, max and percentiles of S(T), never the paths. Times in ms.',
        querystring: GpuAsyncQuery,
        body: MonteCarloRequest,
        response: { 200: MonteCarloResponse, 202: Type.Ref('JobView'), ...kErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const pathSteps = body.paths * body.steps;
      if (pathSteps > ctx.limits.maxPathSteps) {
        throw unprocessable('paths × steps', `${body.paths} × ${body.steps} = ${pathSteps}; the cap is ${ctx.limits.maxPathSteps} (limits.maxPathSteps)`);
      }
      if (body.dt !== undefined && body.horizon !== undefined) throw unprocessable('horizon', 'give dt or horizon (= steps × dt), not both');
      for (const name of ['spot', 'drift', 'volatility', 'dt', 'horizon'] as const) finiteNumber(name, body[name]);
      if (body.antithetic === true && body.paths % 2 !== 0) throw unprocessable('paths', `${body.paths} is odd; antithetic paths come in pairs`);
      const confidence = checkConfidence('confidenceLevel', body.confidenceLevel);
      const backend = body.backend ?? 'auto';
      checkBackend(backend);
      const input: GbmJobInput = {
        paths: body.paths,
        steps: body.steps,
        spot: body.spot,
        drift: body.drift,
        volatility: body.volatility,
        dt: body.horizon !== undefined ? body.horizon / body.steps : (body.dt ?? 1 / 252),
        antithetic: body.antithetic ?? false,
        confidence,
        backend,
        ...(body.seed !== undefined && { seed: body.seed }),
      };
      return (await runJob<MonteCarloResponse>(ctx, request, reply, 'gpu.monte-carlo', input, pathSteps, recordFor('gpu/monte-carlo'))) ?? reply;
    },
  );

  app.post(
    '/gpu/correlation-matrix',
    {
      schema: {
        tags: ['gpu'],
        operationId: 'gpuCorrelationMatrix',
        summary: 'Correlation matrix (Pearson or EWMA) of several return series, and a summary of it',
        description:
          'data: observations × assets row-major (data[t·assets + j]) with assets; or series: one array per asset. ' +
          'assets at most limits.maxAssets and assets × observations at most limits.maxMatrixCells (413). The matrix (assets² numbers, ' +
          'row-major) is answered inline up to limits.maxInlineMatrixAssets assets (413 past it); output \'summary\' answers only the ' +
          'mean/min/max off-diagonal correlation and the 10 pairs of largest |ρ|, for any size. A constant asset is refused (422). Times in ms.',
        querystring: GpuAsyncQuery,
        body: CorrelationRequest,
        response: { 200: CorrelationResponse, 202: Type.Ref('JobView'), ...kErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const { limits } = ctx;
      let data: Float64Array;
      let assets: number;
      let observations: number;
      if ((body.data === undefined) === (body.series === undefined)) throw unprocessable('data', 'give data (observations × assets, row-major) or series (one array per asset), one of them');
      if (body.series !== undefined) {
        const series = body.series;
        assets = series.length;
        observations = series[0]!.length;
        if (body.assets !== undefined && body.assets !== assets) throw unprocessable('assets', `${body.assets}, but series holds ${assets} arrays`);
        if (assets > limits.maxAssets) throw tooLarge('assets', limits.maxAssets, assets, 'assets');
        if (body.observations !== undefined && body.observations !== observations) throw unprocessable('observations', `${body.observations}, but series[0] holds ${observations}`);
        series.forEach((s, j) => {
          if (s.length !== observations) throw unprocessable(`series[${j}]`, `holds ${s.length} observations, series[0] ${observations}: every asset needs the same number`);
        });
        if (assets * observations > limits.maxMatrixCells) throw tooLarge('assets × observations', limits.maxMatrixCells, assets * observations, 'cells');
        if (observations < 2) throw unprocessable('series[0]', `holds ${observations} observation; a correlation needs at least 2`);
        data = new Float64Array(assets * observations);
        series.forEach((s, j) => finiteArray(`series[${j}]`, s, data, j, assets));
      } else {
        const flat = body.data!;
        if (body.assets === undefined) throw unprocessable('assets', 'required with data (observations × assets, row-major)');
        assets = body.assets;
        if (assets > limits.maxAssets) throw tooLarge('assets', limits.maxAssets, assets, 'assets');
        if (flat.length > limits.maxMatrixCells) throw tooLarge('data', limits.maxMatrixCells, flat.length, 'cells (assets × observations)');
        if (flat.length % assets !== 0) throw unprocessable('data', `holds ${flat.length} numbers, not a multiple of assets (${assets})`);
        observations = flat.length / assets;
        if (body.observations !== undefined && body.observations !== observations) {
          throw unprocessable('observations', `${body.observations}, but data holds ${flat.length} numbers = ${observations} observations × ${assets} assets`);
        }
        if (observations < 2) throw unprocessable('data', `holds ${observations} observation per asset; a correlation needs at least 2`);
        data = finiteArray('data', flat);
      }
      const output = body.output ?? 'matrix';
      if (output === 'matrix' && assets > limits.maxInlineMatrixAssets) {
        throw tooLarge('matrix', limits.maxInlineMatrixAssets, assets, `assets (limits.maxInlineMatrixAssets; ask output 'summary' for more)`);
      }
      finiteNumber('lambda', body.lambda);
      const backend = body.backend ?? 'auto';
      checkBackend(backend);
      const input: CorrelationJobInput = {
        data,
        observations,
        assets,
        method: body.method ?? 'pearson',
        lambda: body.lambda ?? 0.94,
        inline: output === 'matrix',
        backend,
      };
      return (await runJob<CorrelationResponse>(ctx, request, reply, 'gpu.correlation-matrix', input, assets * assets * observations, recordFor('gpu/correlation-matrix'))) ?? reply;
    },
  );
};
