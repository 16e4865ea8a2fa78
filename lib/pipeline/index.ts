export {
  RiskGate,
  RiskReject,
  kRiskRejectReason,
  kVaRRefreshUpdates,
  kMaxOrdersPerSecond,
  type RiskRejectCode,
  type RiskRejectReason,
  type RiskGateOptions,
  type RiskGateSymbol,
  type RiskGateVaRBudget,
  type RiskGateSnapshot,
  type RiskGateSymbolSnapshot,
} from './risk-gate.js';
export {
  readPricePanel,
  covarianceFromPanel,
  type PricePanel,
  type RiskCovariance,
  type PanelCovarianceOptions,
  type PanelCovariance,
} from './risk-gate-covariance.js';
