/**
 * RiskGate on the hot path (lib/pipeline/risk-gate.ts): what one pre-trade check costs when it
 * runs every rule and is accepted, when the kill switch stops it at the first rule and when the
 * VaR budget stops it at the last arithmetic one; what a fill and a new mid cost with 21 symbols
 * in the VaR (the S&P 500 panel's 20 stocks and GOOG on the index, bench/data/prices). Every task
 * is checked to allocate nothing (allocationCheck). Batch mode: the clock's own cost is taken
 * out, so these are per-call costs inside a loop, not single cold calls.
 */
import { fileURLToPath } from 'node:url';

import { RiskGate, covarianceFromPanel, readPricePanel } from '../../lib/pipeline/index.js';
import { defineSuite } from '../lib/index.js';

const files = ['sp500_dataset.csv.gz', 'sp500_index.csv.gz'].map((f) => fileURLToPath(new URL(`../data/prices/${f}`, import.meta.url)));
const covariance = covarianceFromPanel(readPricePanel(files), { end: '2012-06-20' });
const names = [...covariance.names.filter((n) => n !== 'SP500'), 'GOOG'];

function makeGate(varLimit: number): RiskGate {
  const gate = new RiskGate({
    symbols: names.map((name) => ({ name, tickSize: 0.0001, maxOrderQuantity: 10_000, maxOrderNotional: 5e6, maxPosition: 100_000 })),
    maxGrossExposure: 1e9,
    priceCollar: { fraction: 0.05 },
    maxOrdersPerSecond: 1_000_000,
    varBudget: { limit: varLimit, covariance },
    maxDrawdown: 1e9,
  });
  names.forEach((_, i) => gate.setMid(i, 1_000_000 + 10_000 * i));
  // A book across every symbol, so the VaR state is dense.
  names.forEach((_, i) => gate.onFill(i, i % 2, 1_000_000 + 10_000 * i, 100 + 10 * i));
  return gate;
}

const accepted = makeGate(1e9);
const killed = makeGate(1e9);
killed.killSwitch(true, 'bench');
const overBudget = makeGate(1);
const fills = makeGate(1e9);
const mids = makeGate(1e9);

let clock = 0;
let flip = 0;
const price0 = 1_000_000;
const price5 = 1_050_000;
// The side on which 100 lots of symbol 5 raise the VaR (a reducing order would pass rule 8).
const raising = overBudget.varIfFilled(5, 0, 100) > overBudget.var ? 0 : 1;
// Each task must take the path its name says, or its figure means nothing.
for (const [gate, side, code] of [[accepted, 0, 0], [killed, 0, 1], [overBudget, raising, 8]] as const) {
  const got = gate.check(5, side, price5, 100, 0);
  if (got !== code) throw new Error(`riskgate bench: expected code ${code} but the gate answered ${got}`);
}

export default defineSuite({
  name: 'riskgate',
  description: 'RiskGate.check / onFill / setMid, 21 symbols with a VaR budget over the S&P 500 panel',
  groups: [
    {
      name: 'check',
      description: 'one pre-trade check (number code back)',
      tasks: [
        {
          name: 'check accepted (all 9 rules)',
          // 2 µs apart: 500k/s, inside the 1M/s throttle, so every check is accepted.
          fn: () => accepted.check(5, 0, price5, 100, (clock += 2_000)),
          allocationCheck: 200_000,
        },
        { name: 'check kill-switch (rule 1)', fn: () => killed.check(5, 0, price5, 100, clock), allocationCheck: 200_000 },
        { name: 'check var-budget (rule 8)', fn: () => overBudget.check(5, raising, price5, 100, clock), allocationCheck: 200_000 },
      ],
    },
    {
      name: 'state',
      description: 'a fill (position, PnL, exposure, VaR u = Σw: O(n)) and a new mid under a position',
      tasks: [
        { name: 'onFill (n = 21)', fn: () => fills.onFill(0, (flip ^= 1), price0, 10), allocationCheck: 200_000 },
        { name: 'setMid under a position (n = 21)', fn: () => mids.setMid(0, price0 + ((flip ^= 1) === 0 ? 100 : -100)), allocationCheck: 200_000 },
      ],
    },
  ],
});
