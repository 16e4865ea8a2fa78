/**
 * Request and response schemas of the gpu/* routes. Bodies refuse unknown keys; every array
 * has an absolute `maxItems` ceiling (the library's own hard limits), and the configurable caps
 * (`limits.maxReturns`, `maxAssets`, `maxMatrixCells`, `maxPathSteps`, `maxInlineMatrixAssets`)
 * are enforced by the handlers with 413/422 naming the cap. JSON cannot carry NaN or Infinity,
 * but `1e400` parses to Infinity and Ajv coerces the string "Infinity": handlers check every
 * number is finite after parsing.
 */
import { Type, type Static } from 'typebox';

/** The library's hard limits (docs/risk.md "Limits", lib/risk/validate.ts): the absolute ceilings of the arrays here. */
const kMaxElements = 2 ** 28;
const kMaxAssets = 4096;
const kMaxPaths = 2 ** 27;
const kMaxSteps = 2 ** 24;
const kMaxSeed = Number.MAX_SAFE_INTEGER;
/** Most confidence levels one VaR request may ask for. */
const kMaxConfidenceLevels = 8;

/** A number or null, as one JSON Schema type list (an anyOf would make the serializer validate each branch). */
const nullableNumber = (description?: string) => Type.Unsafe<number | null>({ type: ['number', 'null'], ...(description !== undefined && { description }) });

export const RiskBackendName = Type.Enum(['native', 'ts', 'cuda'], {
  description: 'the backend that computed the answer: native (the CPU addon), ts (pure TypeScript) or cuda (the GPU addon)',
});

export const RiskBackendChoice = Type.Enum(['auto', 'native', 'ts', 'cuda'], {
  description:
    "default 'auto': the GPU at or above riskThresholds (none measured in this build, so never), else the CPU addon when loaded, else TS; " +
    "'native', 'ts' or 'cuda' force one (422 naming the reason when it is not available here)",
});

const Confidence = Type.Number({
  exclusiveMinimum: 0,
  exclusiveMaximum: 1,
  description: 'the probability kept, in (0.5, 1): 0.95 is 95% VaR (the loss exceeded on 5% of days). The tail convention (0.05) is refused with a 422 naming the value',
});

const AsyncQuery = Type.Object(
  { async: Type.Optional(Type.Boolean({ description: 'true: answer 202 with a job resource at once (as `Prefer: respond-async` does)' })) },
  { additionalProperties: false },
);
export { AsyncQuery as GpuAsyncQuery };

// ---------------------------------------------------------------- gpu/status

const GpuDevice = Type.Object(
  {
    index: Type.Integer(),
    name: Type.String(),
    totalMemory: Type.Number({ description: 'bytes of device memory' }),
    computeCapability: Type.String({ description: '"major.minor", e.g. "9.0"' }),
    multiprocessors: Type.Integer(),
    pciBusId: Type.String(),
  },
  { additionalProperties: false },
);

const GpuReading = Type.Object(
  {
    index: Type.Integer(),
    name: Type.String(),
    utilizationPercent: nullableNumber('percent of the last sample period (1/6 s to 1 s) in which a kernel ran'),
    memoryUtilizationPercent: nullableNumber(),
    memoryTotalBytes: nullableNumber(),
    memoryUsedBytes: nullableNumber(),
    memoryFreeBytes: nullableNumber(),
    temperatureC: nullableNumber(),
    powerW: nullableNumber(),
    clocksMhz: Type.Object(
      { graphics: nullableNumber(), sm: nullableNumber(), memory: nullableNumber(), video: nullableNumber() },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const AutoPick = Type.Object(
  {
    work: Type.String({ description: 'the riskThresholds key' }),
    unit: Type.String({ description: 'what the size counts' }),
    threshold: nullableNumber('size at or above which auto sends the work to the GPU; null: not measured on a device, so never'),
    below: RiskBackendName,
    atOrAbove: RiskBackendName,
  },
  { additionalProperties: false },
);

const LastComputation = Type.Object(
  {
    route: Type.String(),
    backend: RiskBackendName,
    computationTimeMs: Type.Number({ description: "the library's computeTimeMs for the request, ms" }),
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const GpuStatusResponse = Type.Object(
  {
    available: Type.Boolean({ description: 'the GPU addon is loaded and at least one CUDA device answered its probe' }),
    device_count: Type.Integer({ description: 'CUDA devices found at load time' }),
    cudaError: Type.Optional(Type.String({ description: 'why the GPU addon is not used, from the loader' })),
    native: Type.Boolean({ description: 'the CPU addon is loaded' }),
    nativeError: Type.Optional(Type.String({ description: 'why the CPU addon is not used' })),
    backendMode: Type.Enum(['auto', 'native', 'ts'], { description: 'ULTRA_PERF_BACKEND in force' }),
    defaultBackend: RiskBackendName,
    devices: Type.Array(GpuDevice, { maxItems: 64 }),
    telemetry: Type.Object(
      {
        available: Type.Boolean({ description: 'NVML (read through the CPU addon) gives readings' }),
        reason: Type.Optional(Type.String()),
        readAt: Type.Optional(Type.String({ format: 'date-time', description: 'when the readings were taken (at most 1 s old)' })),
        devices: Type.Array(GpuReading, { maxItems: 64 }),
      },
      { additionalProperties: false },
    ),
    auto: Type.Object(
      { calculateVaR: AutoPick, simulateGBM: AutoPick, monteCarloVaR: AutoPick, correlationMatrix: AutoPick },
      { additionalProperties: false, description: "which backend backend: 'auto' picks for each function, below and at or above its threshold" },
    ),
    computations: Type.Integer({ description: 'risk computations these routes finished since the server started' }),
    lastComputation: Type.Optional(LastComputation),
    lastDeviceTiming: Type.Optional(
      Type.Object(
        {
          kernelMs: Type.Number({ description: 'device time of the kernels (CUDA events)' }),
          copyMs: Type.Number({ description: 'device time of the host<->device copies, summed (CUDA events)' }),
          hostMs: Type.Number({ description: 'the rest of the wall time: allocation, launches, round trips' }),
          wallMs: Type.Number({ description: 'host wall time of the whole call' }),
          totalMs: Type.Number({ description: 'device span from the first copy in to the last copy out, host work in between included' }),
        },
        { additionalProperties: false, description: 'times of the last GPU call (lib/risk/gpu.ts GpuTiming)' },
      ),
    ),
  },
  { additionalProperties: false, description: 'the GPU devices, why a backend is not used, and the backend each risk function picks' },
);
export type GpuStatusResponse = Static<typeof GpuStatusResponse>;

// ---------------------------------------------------------------- gpu/var-calculation

export const VaRMethod = Type.Enum(['historical', 'parametric', 'cornish-fisher', 'monte-carlo'], {
  description: "default 'historical'; 'monte-carlo' simulates a normal with the series' mean and sample variance (monteCarloVaR)",
});

export const VaRRequest = Type.Object(
  {
    returns: Type.Array(Type.Number(), {
      minItems: 2,
      maxItems: kMaxElements,
      description: 'simple per-period returns (a loss is the negated return); at most limits.maxReturns (413 past it)',
    }),
    confidenceLevel: Type.Optional(Confidence),
    confidenceLevels: Type.Optional(Type.Array(Confidence, { minItems: 1, maxItems: kMaxConfidenceLevels, description: 'default [0.95]' })),
    method: Type.Optional(VaRMethod),
    ddof: Type.Optional(Type.Enum([0, 1], { description: 'moment convention of parametric and cornish-fisher: 1 sample (default), 0 population' })),
    horizonDays: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'scales VaR and CVaR by √horizonDays; default 1' })),
    portfolioValue: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'multiplies VaR and CVaR (money); default 1 (return units)' })),
    paths: Type.Optional(Type.Integer({ minimum: 2, maximum: kMaxPaths, description: "monte-carlo only: scenarios, default 100000, at most limits.maxPathSteps (422)" })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: kMaxSeed, description: 'monte-carlo only: default random, reported back' })),
    backend: Type.Optional(RiskBackendChoice),
  },
  { additionalProperties: false },
);
export type VaRRequest = Static<typeof VaRRequest>;

const VaRAtConfidence = Type.Object(
  {
    confidence: Type.Number(),
    var: Type.Number({ description: 'Value at Risk, a positive loss (times portfolioValue, scaled by √horizonDays)' }),
    cvar: Type.Number({ description: 'Conditional VaR (expected shortfall), >= var' }),
    computeTimeMs: Type.Number({ description: "the library's computeTimeMs for this level, ms" }),
  },
  { additionalProperties: false },
);

export const VaRResponse = Type.Object(
  {
    method: VaRMethod,
    observations: Type.Integer(),
    horizonDays: Type.Number(),
    portfolioValue: Type.Number(),
    ddof: Type.Enum([0, 1]),
    results: Type.Array(VaRAtConfidence, { maxItems: kMaxConfidenceLevels }),
    var_95: Type.Optional(Type.Number({ description: 'the seed name: VaR at 0.95, when asked' })),
    cvar_95: Type.Optional(Type.Number()),
    var_99: Type.Optional(Type.Number({ description: 'the seed name: VaR at 0.99, when asked' })),
    cvar_99: Type.Optional(Type.Number()),
    paths: Type.Optional(Type.Integer({ description: 'monte-carlo: scenarios drawn' })),
    seed: Type.Optional(Type.Integer({ description: 'monte-carlo: the seed used (pass it back to repeat the draws)' })),
    backend: RiskBackendName,
    gpu_accelerated: Type.Boolean({ description: "backend is 'cuda'" }),
    computation_time_ms: Type.Number({ description: "sum of the library's computeTimeMs over the levels, ms" }),
  },
  { additionalProperties: false, description: 'VaR and CVaR per confidence level, and the backend that computed them' },
);
export type VaRResponse = Static<typeof VaRResponse>;

// ---------------------------------------------------------------- gpu/monte-carlo

export const MonteCarloRequest = Type.Object(
  {
    paths: Type.Integer({ minimum: 2, maximum: kMaxPaths, description: 'number of paths (even with antithetic)' }),
    steps: Type.Integer({ minimum: 1, maximum: kMaxSteps, description: 'steps per path; paths × steps at most limits.maxPathSteps (422)' }),
    spot: Type.Number({ exclusiveMinimum: 0, description: 'S0' }),
    drift: Type.Number({ description: 'μ per unit of time (per year with the default dt)' }),
    volatility: Type.Number({ minimum: 0, description: 'σ per √(unit of time)' }),
    dt: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'length of a step in units of time; default 1/252 (a trading day of a year). Give dt or horizon, not both' })),
    horizon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'T = steps × dt in units of time (years by default); dt = horizon / steps' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: kMaxSeed, description: 'default random, reported back' })),
    antithetic: Type.Optional(Type.Boolean({ description: 'pair each path with its mirror; default false' })),
    confidenceLevel: Type.Optional(Confidence),
    backend: Type.Optional(RiskBackendChoice),
  },
  { additionalProperties: false },
);
export type MonteCarloRequest = Static<typeof MonteCarloRequest>;

export const MonteCarloResponse = Type.Object(
  {
    paths: Type.Integer(),
    steps: Type.Integer(),
    dt: Type.Number(),
    horizon: Type.Number({ description: 'steps × dt' }),
    seed: Type.Integer(),
    antithetic: Type.Boolean(),
    confidence: Type.Number(),
    var: Type.Number({ description: 'VaR of the loss S0 − S(T) per unit held (historical definition over the paths)' }),
    cvar: Type.Number({ description: 'CVaR of the same loss, >= var' }),
    var_95: Type.Optional(Type.Number({ description: 'the seed name, when confidence is 0.95' })),
    cvar_95: Type.Optional(Type.Number()),
    var_99: Type.Optional(Type.Number({ description: 'the seed name, when confidence is 0.99' })),
    cvar_99: Type.Optional(Type.Number()),
    terminal: Type.Object(
      {
        mean: Type.Number({ description: 'mean of S(T) (expectation S0·e^{μT})' }),
        stdError: Type.Number({ description: 'standard error of the mean (from pair averages with antithetic)' }),
        std: Type.Number({ description: 'sample standard deviation of S(T) (n − 1)' }),
        min: Type.Number(),
        max: Type.Number(),
        percentiles: Type.Array(
          Type.Object({ percentile: Type.Number({ description: 'in (0, 100)' }), value: Type.Number() }, { additionalProperties: false }),
          { maxItems: 16, description: "S(T) at 1, 5, 25, 50, 75, 95, 99 percent, linear interpolation (NumPy's default)" },
        ),
      },
      { additionalProperties: false },
    ),
    backend: RiskBackendName,
    gpu_accelerated: Type.Boolean(),
    computation_time_ms: Type.Number({ description: "the library's computeTimeMs (the simulation and its VaR), ms" }),
  },
  { additionalProperties: false, description: 'the simulation summarised (never the paths), and the backend that ran it' },
);
export type MonteCarloResponse = Static<typeof MonteCarloResponse>;

// ---------------------------------------------------------------- gpu/correlation-matrix

export const CorrelationRequest = Type.Object(
  {
    data: Type.Optional(
      Type.Array(Type.Number(), {
        maxItems: kMaxElements,
        description: 'observations × assets, row-major (data[t·assets + j], the layout of correlationMatrix); needs assets (and observations, checked)',
      }),
    ),
    series: Type.Optional(
      Type.Array(Type.Array(Type.Number(), { maxItems: kMaxElements }), {
        minItems: 1,
        maxItems: kMaxAssets,
        description: 'one array of observations per asset (assets × observations), all the same length; give data or series, not both',
      }),
    ),
    assets: Type.Optional(Type.Integer({ minimum: 1, maximum: kMaxAssets, description: 'at most limits.maxAssets (413)' })),
    observations: Type.Optional(Type.Integer({ minimum: 2, maximum: kMaxElements })),
    method: Type.Optional(Type.Enum(['pearson', 'ewma'], { description: "default 'pearson'" })),
    lambda: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'EWMA decay; default 0.94' })),
    output: Type.Optional(
      Type.Enum(['matrix', 'summary'], {
        description: "'matrix' (default): the matrix and its summary, up to limits.maxInlineMatrixAssets assets (413 past it); 'summary': the summary only",
      }),
    ),
    backend: Type.Optional(RiskBackendChoice),
  },
  { additionalProperties: false },
);
export type CorrelationRequest = Static<typeof CorrelationRequest>;

export const CorrelationResponse = Type.Object(
  {
    assets: Type.Integer(),
    observations: Type.Integer(),
    method: Type.Enum(['pearson', 'ewma']),
    matrix: Type.Optional(Type.Array(Type.Number(), { description: 'assets × assets, row-major, symmetric, diagonal 1 (output matrix)' })),
    summary: Type.Object(
      {
        pairs: Type.Integer({ description: 'off-diagonal pairs, assets·(assets − 1)/2' }),
        meanCorrelation: nullableNumber('mean off-diagonal correlation; null with one asset'),
        minCorrelation: nullableNumber(),
        maxCorrelation: nullableNumber(),
        topPairs: Type.Array(
          Type.Object({ i: Type.Integer(), j: Type.Integer(), correlation: Type.Number() }, { additionalProperties: false }),
          { maxItems: 10, description: 'the pairs of largest |correlation|, largest first (ties: lower i, then j)' },
        ),
      },
      { additionalProperties: false },
    ),
    backend: RiskBackendName,
    gpu_accelerated: Type.Boolean(),
    computation_time_ms: Type.Number({ description: "the library's computeTimeMs, ms" }),
  },
  { additionalProperties: false, description: 'the correlation matrix (up to limits.maxInlineMatrixAssets assets) and its summary' },
);
export type CorrelationResponse = Static<typeof CorrelationResponse>;
