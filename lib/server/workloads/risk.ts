/** Heavy risk jobs (VaR, Monte Carlo, correlation) for the gpu/* routes. */
import type { Workload } from './index.js';

export const riskWorkloads: Record<string, Workload> = {};
