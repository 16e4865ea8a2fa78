export { gpu, type GpuMemoryInfo, type GpuTiming } from './gpu.js';
export {
  calculateVaR,
  calculateVaRSync,
  portfolioVaR,
  portfolioVaRSync,
  type VaRMethod,
  type VaROptions,
  type VaRResult,
  type PortfolioVaROptions,
} from './var.js';
export {
  correlationMatrix,
  correlationMatrixSync,
  covarianceMatrix,
  covarianceMatrixSync,
  cholesky,
  choleskySync,
  type MatrixOptions,
  type MatrixResult,
  type CholeskyResult,
} from './matrix.js';
export {
  simulateGBM,
  simulateGBMSync,
  monteCarloVaR,
  monteCarloVaRSync,
  type GBMOptions,
  type GBMResult,
  type MonteCarloVaROptions,
  type MonteCarloVaRResult,
} from './montecarlo.js';
export { philoxNormals, type NormalsOptions } from './normals.js';
export { riskPoolPolicy, setRiskPoolPolicy, type RiskPoolPolicy, type RiskPoolInfo } from './pool.js';
export { riskThresholds, setRiskThresholds, type RiskThresholds, type RiskBackend, type RiskBackendOption } from './kernels.js';
export {
  backtestVaR,
  chiSquareSf,
  christoffersenTest,
  kupiecTest,
  type ChristoffersenResult,
  type LikelihoodRatioTest,
  type VaRBacktestOptions,
  type VaRBacktestResult,
} from './backtest.js';
