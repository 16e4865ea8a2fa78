// RiskGate (lib/pipeline/risk-gate.ts): every rule at its boundary (exactly at the limit
// accepted, one lot or tick past rejected), the order of the checks, the accounting of fills,
// the incremental VaR against a full recomputation and against lib/risk's portfolioVaRSync,
// the covariance of the S&P 500 panel (bench/data/prices, PROVENANCE.md), and bad input.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { SourceFormatError } from '../lib/errors.js';
import {
  RiskGate,
  type RiskGateOptions,
  RiskReject,
  covarianceFromPanel,
  kRiskRejectReason,
  kVaRRefreshUpdates,
  readPricePanel,
} from '../lib/pipeline/index.js';
import { covarianceMatrixSync, portfolioVaRSync } from '../lib/index.js';
import { normalQuantile } from '../lib/risk/detmath.js';
import { seeded as rng } from './fixtures/seeded.js';
import { thrown } from './helpers/thrown.js';

const kPanelFiles = ['sp500_dataset.csv.gz', 'sp500_index.csv.gz'].map((f) => new URL(`../bench/data/prices/${f}`, import.meta.url).pathname);
const panel = readPricePanel(kPanelFiles);

/** A one-symbol gate with every limit off unless `over` sets it; tick and lot worth 1. */
function gate(over: Partial<RiskGateOptions> = {}, symbol: Record<string, unknown> = {}): RiskGate {
  return new RiskGate({
    symbols: [{ name: 'X', maxOrderQuantity: Infinity, maxOrderNotional: Infinity, maxPosition: Infinity, ...symbol }],
    maxGrossExposure: Infinity,
    priceCollar: { fraction: Infinity },
    maxOrdersPerSecond: Infinity,
    ...over,
  });
}

const relClose = (actual: number, expected: number, rel: number): void => {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rel * Math.abs(expected));
};

describe('reason codes', () => {
  it('RiskReject and kRiskRejectReason name the same codes, 0 accepted then 1 … 9 in the order of the checks', () => {
    const camel = (s: string): string => s.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    expect(kRiskRejectReason.map((name, code) => [camel(name), code])).toEqual(Object.entries(RiskReject));
    expect(kRiskRejectReason).toEqual([
      'accepted',
      'kill-switch',
      'max-quantity',
      'max-notional',
      'no-reference-price',
      'price-collar',
      'position-limit',
      'gross-exposure',
      'var-budget',
      'rate-throttle',
    ]);
  });
});

describe('each rule at its boundary', () => {
  it('max-quantity: maxOrderQuantity lots pass, one more is refused', () => {
    const g = gate({}, { maxOrderQuantity: 100 });
    g.setMid(0, 1000);
    expect(g.check(0, 0, 1000, 100, 0)).toBe(RiskReject.accepted);
    expect(g.check(0, 1, 1000, 100, 0)).toBe(RiskReject.accepted);
    expect(g.check(0, 0, 1000, 101, 0)).toBe(RiskReject.maxQuantity);
    expect(g.check(0, 1, 1000, 101, 0)).toBe(RiskReject.maxQuantity);
    expect(g.rejects[RiskReject.maxQuantity]).toBe(2);
  });

  it('max-notional: price x quantity x tickSize x lotSize at the limit passes, one tick or one lot past is refused', () => {
    const g = gate({}, { tickSize: 0.01, lotSize: 1, maxOrderNotional: 10_000 });
    g.setMid(0, 10_000);
    expect(g.check(0, 0, 10_000, 100, 0)).toBe(0); // $100.00 x 100 = $10,000
    expect(g.check(0, 0, 10_001, 100, 0)).toBe(RiskReject.maxNotional);
    expect(g.check(0, 0, 9_901, 101, 0)).toBe(RiskReject.maxNotional);
    expect(g.check(0, 0, 9_900, 101, 0)).toBe(0);
  });

  it('max-notional: a limit that is not exact in binary ($585.40 at 10^-4 per tick) still admits the order exactly at it', () => {
    expect(585.4 / 0.0001).toBeLessThan(5_854_000); // the division alone would move the boundary a tick in
    const g = gate({}, { tickSize: 0.0001, maxOrderNotional: 585.4 });
    g.setMid(0, 5_854_000);
    expect(g.check(0, 0, 5_854_000, 1, 0)).toBe(0);
    expect(g.check(0, 0, 5_854_001, 1, 0)).toBe(RiskReject.maxNotional);
    expect(0.57 / (0.01 * 1)).toBeLessThan(57);
    const cents = gate({}, { tickSize: 0.01, maxOrderNotional: 0.57 });
    cents.setMid(0, 19);
    expect(cents.check(0, 1, 19, 3, 0)).toBe(0); // 19 ticks x 3 lots x 0.01 = 0.57
    expect(cents.check(0, 1, 20, 3, 0)).toBe(RiskReject.maxNotional);
    expect(cents.check(0, 1, 19, 4, 0)).toBe(RiskReject.maxNotional);
  });

  it('no-reference-price: refused until the first mid, accepted after', () => {
    const g = gate();
    expect(g.check(0, 0, 100, 1, 0)).toBe(RiskReject.noReferencePrice);
    expect(g.check(0, 1, 100, 1, 0)).toBe(RiskReject.noReferencePrice);
    g.setMid(0, 100);
    expect(g.check(0, 0, 100, 1, 0)).toBe(0);
  });

  it('price-collar: |price - mid| = fraction x mid passes on both sides, one tick further is refused', () => {
    const g = gate({ priceCollar: { fraction: 0.01 } });
    g.setMid(0, 10_000);
    expect(g.check(0, 0, 10_100, 1, 0)).toBe(0);
    expect(g.check(0, 1, 9_900, 1, 0)).toBe(0);
    expect(g.check(0, 0, 10_101, 1, 0)).toBe(RiskReject.priceCollar);
    expect(g.check(0, 1, 9_899, 1, 0)).toBe(RiskReject.priceCollar);
    // A buy far below the mid is as far out of the collar as a sell (fat-finger either way).
    expect(g.check(0, 0, 9_899, 1, 0)).toBe(RiskReject.priceCollar);
  });

  it('price-collar: 0.29 x 100 rounds to 28.999…96 in binary, and 29 ticks away still passes; a half-tick mid works', () => {
    expect(0.29 * 100).toBeLessThan(29);
    const g = gate({ priceCollar: { fraction: 0.29 } });
    g.setMid(0, 100);
    expect(g.check(0, 0, 129, 1, 0)).toBe(0);
    expect(g.check(0, 1, 71, 1, 0)).toBe(0);
    expect(g.check(0, 0, 130, 1, 0)).toBe(RiskReject.priceCollar);
    expect(g.check(0, 1, 70, 1, 0)).toBe(RiskReject.priceCollar);
    const half = gate({ priceCollar: { fraction: 0.01 } });
    half.setMid(0, 10_000.5); // band 100.005 ticks
    expect(half.check(0, 0, 10_100, 1, 0)).toBe(0);
    expect(half.check(0, 0, 10_101, 1, 0)).toBe(RiskReject.priceCollar);
    expect(half.check(0, 1, 9_901, 1, 0)).toBe(0);
    expect(half.check(0, 1, 9_900, 1, 0)).toBe(RiskReject.priceCollar);
  });

  it('position-limit: a fill to exactly maxPosition (long or short) passes, one lot past is refused', () => {
    const g = gate({}, { maxPosition: 300 });
    g.setMid(0, 50);
    expect(g.check(0, 0, 50, 300, 0)).toBe(0);
    expect(g.check(0, 0, 50, 301, 0)).toBe(RiskReject.positionLimit);
    g.onFill(0, 0, 50, 300);
    expect(g.check(0, 0, 50, 1, 0)).toBe(RiskReject.positionLimit);
    expect(g.check(0, 1, 50, 600, 0)).toBe(0); // to -300
    expect(g.check(0, 1, 50, 601, 0)).toBe(RiskReject.positionLimit);
    g.onFill(0, 1, 50, 600);
    expect(g.check(0, 1, 50, 1, 0)).toBe(RiskReject.positionLimit);
    expect(g.check(0, 0, 50, 600, 0)).toBe(0);
    const none = gate({}, { maxPosition: 0 });
    none.setMid(0, 50);
    expect(none.check(0, 0, 50, 1, 0)).toBe(RiskReject.positionLimit);
  });

  it('gross-exposure: Σ |position| x mid value at the limit passes, one lot past is refused; a reducing order passes above it', () => {
    const g = new RiskGate({
      symbols: [
        { name: 'A', tickSize: 0.5, lotSize: 2, maxOrderQuantity: Infinity, maxOrderNotional: Infinity, maxPosition: Infinity },
        { name: 'B', maxOrderQuantity: Infinity, maxOrderNotional: Infinity, maxPosition: Infinity },
      ],
      maxGrossExposure: 10_000,
      priceCollar: { fraction: Infinity },
      maxOrdersPerSecond: Infinity,
    });
    g.setMid(0, 100); // one lot of A is worth 100 x 0.5 x 2 = 100
    g.setMid(1, 50);
    g.onFill(0, 1, 100, 60); // short 60 A: 6,000
    expect(g.snapshot().grossExposure).toBe(6_000);
    expect(g.check(1, 0, 50, 80, 0)).toBe(0); // + 4,000 = 10,000
    expect(g.check(1, 1, 50, 80, 0)).toBe(0); // short counts the same
    expect(g.check(1, 0, 50, 81, 0)).toBe(RiskReject.grossExposure);
    expect(g.check(0, 1, 100, 41, 0)).toBe(RiskReject.grossExposure);
    expect(g.check(0, 1, 100, 40, 0)).toBe(0);
    // Crossing through flat: buying 100 A takes -60 to +40 (4,000), under the limit.
    expect(g.check(0, 0, 100, 100, 0)).toBe(0);
    expect(g.check(0, 0, 100, 161, 0)).toBe(RiskReject.grossExposure); // to +101: 10,100
    expect(g.check(0, 0, 100, 160, 0)).toBe(0);
    // The mid moves the exposure: 60 A at 200 is 12,000, over the limit. Covering passes, adding does not.
    g.setMid(0, 200);
    expect(g.snapshot().grossExposure).toBe(12_000);
    expect(g.check(0, 0, 200, 1, 0)).toBe(0);
    expect(g.check(0, 1, 200, 1, 0)).toBe(RiskReject.grossExposure);
    expect(g.check(1, 0, 50, 1, 0)).toBe(RiskReject.grossExposure);
  });

  it('var-budget: an order whose VaR is exactly the limit passes, one lot more is refused, a reducing order passes above it', () => {
    // σ² = 2^-14: every product below is exact, so the boundary is the same number on every path.
    const sigma = 2 ** -7;
    const covariance = { names: ['X'], matrix: new Float64Array([sigma * sigma]) };
    const z = normalQuantile(0.99);
    const probe = gate({ varBudget: { limit: 1e12, covariance, proxy: 'X' } });
    probe.setMid(0, 100);
    const limit = probe.varIfFilled(0, 0, 1_000);
    relClose(limit, z * sigma * 100_000, 1e-15);
    const g = gate({ varBudget: { limit, covariance } }, { riskSeries: 'X' });
    g.setMid(0, 100);
    expect(g.varIfFilled(0, 0, 1_000)).toBe(limit);
    expect(g.check(0, 0, 100, 1_000, 0)).toBe(0);
    expect(g.check(0, 1, 100, 1_000, 0)).toBe(0);
    expect(g.check(0, 0, 100, 1_001, 0)).toBe(RiskReject.varBudget);
    expect(g.check(0, 1, 100, 1_001, 0)).toBe(RiskReject.varBudget);
    g.onFill(0, 0, 100, 600);
    expect(g.check(0, 0, 100, 400, 0)).toBe(0);
    expect(g.check(0, 0, 100, 401, 0)).toBe(RiskReject.varBudget);
    expect(g.check(0, 1, 100, 1_600, 0)).toBe(0); // from +600 to -1,000
    expect(g.check(0, 1, 100, 1_601, 0)).toBe(RiskReject.varBudget);
    // The mid doubles: 600 lots now carry the VaR of 1,200; selling lowers it and passes.
    g.setMid(0, 200);
    relClose(g.var, z * sigma * 120_000, 1e-12);
    expect(g.var).toBeGreaterThan(limit);
    expect(g.check(0, 1, 200, 1, 0)).toBe(0);
    expect(g.check(0, 0, 200, 1, 0)).toBe(RiskReject.varBudget);
  });

  it('var-budget over two symbols: a hedge that lowers the VaR passes where the same order alone would not', () => {
    // Correlation 0.9: short B against long A lowers the VaR.
    const covariance = { names: ['A', 'B'], matrix: new Float64Array([1e-4, 0.9e-4, 0.9e-4, 1e-4]) };
    const g = new RiskGate({
      symbols: ['A', 'B'].map((name) => ({ name, maxOrderQuantity: Infinity, maxOrderNotional: Infinity, maxPosition: Infinity })),
      maxGrossExposure: Infinity,
      priceCollar: { fraction: Infinity },
      maxOrdersPerSecond: Infinity,
      varBudget: { limit: 1_000, covariance, confidence: 0.95, horizonDays: 10 },
    });
    g.setMid(0, 100);
    g.setMid(1, 100);
    const z = normalQuantile(0.95) * Math.sqrt(10);
    const lots = Math.floor(1_000 / (z * 0.01 * 100)); // the most A alone
    expect(g.check(0, 0, 100, lots, 0)).toBe(0);
    expect(g.check(0, 0, 100, lots + 1, 0)).toBe(RiskReject.varBudget);
    g.onFill(0, 0, 100, lots);
    expect(g.check(1, 0, 100, 1, 0)).toBe(RiskReject.varBudget); // long B adds risk
    expect(g.check(1, 1, 100, lots, 0)).toBe(0); // short B hedges
    g.onFill(1, 1, 100, lots);
    // Σ of the hedged book: w = (100 lots, -100 lots) x 100.
    const w = lots * 100;
    relClose(g.var, z * Math.sqrt(w * w * (1e-4 + 1e-4 - 2 * 0.9e-4)), 1e-12);
  });

  it('rate-throttle: maxOrdersPerSecond accepted in any 10^9 ns window; the next at exactly one window after the oldest passes', () => {
    const g = gate({ maxOrdersPerSecond: 3 });
    g.setMid(0, 10);
    expect([0, 1, 2].map((t) => g.check(0, 0, 10, 1, t))).toEqual([0, 0, 0]);
    expect(g.check(0, 0, 10, 1, 3)).toBe(RiskReject.rateThrottle);
    expect(g.check(0, 0, 10, 1, 999_999_999)).toBe(RiskReject.rateThrottle);
    expect(g.check(0, 0, 10, 1, 1_000_000_000)).toBe(0); // the order at 0 has left the window
    expect(g.check(0, 0, 10, 1, 1_000_000_000)).toBe(RiskReject.rateThrottle); // the one at 1 has not
    expect(g.check(0, 0, 10, 1, 1_000_000_001)).toBe(0);
    expect(g.check(0, 0, 10, 1, 1_000_000_002)).toBe(0);
    expect(g.check(0, 0, 10, 1, 1_000_000_002)).toBe(RiskReject.rateThrottle);
    expect(g.rejects[RiskReject.rateThrottle]).toBe(4);
    expect(g.rejects[0]).toBe(6);
  });

  it('rate-throttle: a clock of -Infinity is refused, not a way past the throttle', () => {
    const g = gate({ maxOrdersPerSecond: 2 });
    g.setMid(0, 10);
    const err = thrown(() => g.check(0, 0, 10, 1, -Infinity));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
    expect(err.message).toBe('Expected a finite time in ns for nowNs but received -Infinity');
    expect(g.rejects[0]).toBe(0);
    expect([5, 6, 7].map((t) => g.check(0, 0, 10, 1, t))).toEqual([0, 0, RiskReject.rateThrottle]);
  });

  it('rate-throttle counts accepted orders only: orders refused by another rule take no slot', () => {
    const g = gate({ maxOrdersPerSecond: 2 }, { maxOrderQuantity: 5 });
    g.setMid(0, 10);
    for (let i = 0; i < 10; i++) expect(g.check(0, 0, 10, 6, i)).toBe(RiskReject.maxQuantity);
    expect(g.check(0, 0, 10, 5, 10)).toBe(0);
    expect(g.check(0, 0, 10, 5, 11)).toBe(0);
    expect(g.check(0, 0, 10, 5, 12)).toBe(RiskReject.rateThrottle);
  });

  it('kill-switch: everything is refused while on, first of all rules; off lets orders through again', () => {
    const g = gate({}, { maxOrderQuantity: 5 });
    g.setMid(0, 10);
    g.killSwitch(true, 'ops desk');
    expect(g.killSwitchOn).toBe(true);
    expect(g.check(0, 0, 10, 1, 0)).toBe(RiskReject.killSwitch);
    expect(g.check(0, 0, 10, 6, 0)).toBe(RiskReject.killSwitch);
    expect(g.snapshot().killSwitch).toEqual({ on: true, reason: 'ops desk' });
    g.killSwitch(false);
    expect(g.check(0, 0, 10, 1, 0)).toBe(0);
    expect(g.snapshot().killSwitch).toEqual({ on: false, reason: null });
  });

  it('maxDrawdown: a PnL exactly maxDrawdown below its peak keeps trading, a cent more trips the kill switch', () => {
    const g = gate({ maxDrawdown: 100 }, { tickSize: 0.01 });
    g.setMid(0, 10_000);
    g.onFill(0, 0, 10_000, 10); // 10 lots at $100.00
    g.setMid(0, 11_000); // +$100: the peak
    expect(g.snapshot().pnl).toMatchObject({ total: 100, peak: 100, drawdown: 0 });
    g.setMid(0, 10_000); // back to 0: 100 below the peak
    expect(g.killSwitchOn).toBe(false);
    expect(g.check(0, 0, 10_000, 1, 0)).toBe(0);
    g.setMid(0, 9_999); // 100.10 below
    expect(g.killSwitchOn).toBe(true);
    expect(g.check(0, 1, 9_999, 1, 0)).toBe(RiskReject.killSwitch);
    expect(g.snapshot().killSwitch.reason).toMatch(/^max-drawdown: PnL -0\.1\d* is 100\.1\d* below its peak 100, beyond 100$/);
    // Switching off re-arms the limit from here.
    g.killSwitch(false);
    expect(g.snapshot().pnl.peak).toBeCloseTo(-0.1, 12);
    g.setMid(0, 9_900);
    expect(g.killSwitchOn).toBe(false);
    g.setMid(0, 9_000); // -100.00: 99.90 below the new peak
    expect(g.killSwitchOn).toBe(false);
    g.onFill(0, 1, 8_990, 10); // realise the loss at 89.90: -101.00, 100.90 below the new peak
    expect(g.killSwitchOn).toBe(true);
  });
});

describe('the order of the checks and what a rejection leaves', () => {
  it('an order that fails every rule gets the first; taking the causes away one by one walks the codes 1 … 9', () => {
    const covariance = { names: ['X'], matrix: new Float64Array([1e-4]) };
    const g = new RiskGate({
      symbols: [{ name: 'X', maxOrderQuantity: 10, maxOrderNotional: 1_000, maxPosition: 20 }, { name: 'Y', maxOrderQuantity: 1e6, maxOrderNotional: 1e9, maxPosition: 1e6 }],
      maxGrossExposure: 1_600,
      priceCollar: { fraction: 0.1 },
      maxOrdersPerSecond: 1,
      varBudget: { limit: 5, covariance, proxy: 'X' },
    });
    g.killSwitch(true);
    expect(g.check(0, 0, 200, 11, 0)).toBe(RiskReject.killSwitch);
    g.killSwitch(false);
    expect(g.check(0, 0, 200, 11, 0)).toBe(RiskReject.maxQuantity);
    expect(g.check(0, 0, 200, 10, 0)).toBe(RiskReject.maxNotional);
    expect(g.check(0, 0, 100, 10, 0)).toBe(RiskReject.noReferencePrice);
    g.setMid(0, 50);
    expect(g.check(0, 0, 100, 10, 0)).toBe(RiskReject.priceCollar);
    g.setMid(0, 100);
    g.onFill(0, 0, 100, 15);
    expect(g.check(0, 0, 100, 10, 0)).toBe(RiskReject.positionLimit);
    g.setMid(1, 100);
    g.onFill(1, 0, 100, 10); // gross 2,500
    expect(g.check(0, 0, 100, 5, 0)).toBe(RiskReject.grossExposure);
    g.onFill(1, 1, 100, 10); // gross 1,500
    expect(g.check(0, 0, 100, 1, 0)).toBe(RiskReject.varBudget); // gross 1,600; VaR 1,600 x 1% x 2.33 = 37.2
    g.onFill(0, 1, 100, 15); // flat
    expect(g.check(0, 0, 100, 2, 0)).toBe(0); // VaR 4.65 <= 5
    expect(g.check(0, 0, 100, 2, 1)).toBe(RiskReject.rateThrottle);
    expect([...g.rejects]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('a rejected order changes nothing but its reason counter', () => {
    const g = gate({ maxOrdersPerSecond: 1, maxGrossExposure: 1_000 }, { maxPosition: 5 });
    g.setMid(0, 100);
    g.onFill(0, 0, 100, 3);
    const before = g.snapshot();
    expect(g.check(0, 0, 100, 3, 0)).toBe(RiskReject.positionLimit);
    const after = g.snapshot();
    expect(after.rejects['position-limit']).toBe(1);
    expect({ ...after, rejects: before.rejects, orders: before.orders }).toEqual(before);
    // The throttle slot is still free.
    expect(g.check(0, 0, 100, 2, 0)).toBe(0);
  });
});

describe('fills: positions, average cost, PnL', () => {
  it('average cost: adds move the average, reductions realise against it, crossing flat opens the rest at the fill price', () => {
    const g = gate({}, { tickSize: 0.5, lotSize: 2 }); // a tick·lot is worth 1
    g.onFill(0, 0, 100, 10);
    g.onFill(0, 0, 110, 10);
    let s = g.snapshot().symbols[0]!;
    expect(s).toMatchObject({ position: 20, averagePrice: 105, realisedPnl: 0, mark: 100 }); // mark: the first fill, no mid yet
    g.onFill(0, 1, 120, 5);
    s = g.snapshot().symbols[0]!;
    expect(s).toMatchObject({ position: 15, averagePrice: 105, realisedPnl: 75 });
    g.onFill(0, 1, 100, 20); // closes 15 at -5 each, opens 5 short at 100
    s = g.snapshot().symbols[0]!;
    expect(s).toMatchObject({ position: -5, averagePrice: 100, realisedPnl: 0 });
    g.setMid(0, 90);
    const snap = g.snapshot();
    expect(snap.symbols[0]).toMatchObject({ unrealisedPnl: 50, exposure: 450, mark: 90 });
    expect(snap.pnl).toMatchObject({ realised: 0, unrealised: 50, total: 50 });
    g.onFill(0, 0, 90, 5);
    expect(g.snapshot().symbols[0]).toMatchObject({ position: 0, averagePrice: 0, realisedPnl: 50, unrealisedPnl: 0, exposure: 0 });
    expect(g.snapshot().fills).toBe(5);
  });

  it('random fills and mids: realised + unrealised equals cash + marked positions, and exposure the sum of |values|', () => {
    const names = ['A', 'B', 'C'];
    const g = new RiskGate({
      symbols: names.map((name, i) => ({ name, tickSize: [0.01, 0.0001, 1][i], lotSize: [1, 100, 0.5][i], maxOrderQuantity: Infinity, maxOrderNotional: Infinity, maxPosition: Infinity })),
      maxGrossExposure: Infinity,
      priceCollar: { fraction: Infinity },
      maxOrdersPerSecond: Infinity,
    });
    const mult = [0.01, 0.01, 0.5];
    const random = rng(7);
    const pos = [0, 0, 0];
    const mark = [NaN, NaN, NaN];
    let cash = 0;
    for (let step = 0; step < 3_000; step++) {
      const i = Math.floor(random() * 3);
      const price = 1_000 + Math.floor(random() * 200);
      if (random() < 0.4) {
        g.setMid(i, price);
        mark[i] = price;
      } else {
        const side = random() < 0.5 ? 0 : 1;
        const qty = 1 + Math.floor(random() * 50);
        g.onFill(i, side, price, qty);
        pos[i]! += side === 0 ? qty : -qty;
        cash -= (side === 0 ? qty : -qty) * price * mult[i]!;
        if (Number.isNaN(mark[i])) mark[i] = price;
      }
    }
    const snap = g.snapshot();
    const marked = pos.reduce((sum, p, i) => sum + (p === 0 ? 0 : p * mark[i]! * mult[i]!), 0);
    const gross = pos.reduce((sum, p, i) => sum + (p === 0 ? 0 : Math.abs(p * mark[i]! * mult[i]!)), 0);
    expect(snap.symbols.map((s) => s.position)).toEqual(pos);
    const tolerance = 1e-9 * (Math.abs(cash) + Math.abs(marked));
    expect(Math.abs(snap.pnl.total - (cash + marked))).toBeLessThanOrEqual(tolerance);
    expect(Math.abs(snap.pnl.realised + snap.pnl.unrealised - (cash + marked))).toBeLessThanOrEqual(tolerance);
    relClose(snap.grossExposure, gross, 1e-12);
  });
});

describe('the VaR, incrementally per fill', () => {
  const cov = covarianceFromPanel(panel, { end: '2012-06-20' });
  const symbols = [...cov.names.filter((n) => n !== 'SP500'), 'GOOG'];

  it(`matches a full z·sqrt(wᵀΣw) recomputation to 1e-9 after every one of 5,000 random fills and mids (refresh every ${kVaRRefreshUpdates})`, () => {
    const g = new RiskGate({
      symbols: symbols.map((name) => ({ name, tickSize: 0.0001, maxOrderQuantity: Infinity, maxOrderNotional: Infinity, maxPosition: Infinity })),
      maxGrossExposure: Infinity,
      priceCollar: { fraction: Infinity },
      maxOrdersPerSecond: Infinity,
      varBudget: { limit: 1e9, covariance: cov, confidence: 0.975, horizonDays: 10 },
    });
    const n = symbols.length;
    expect(g.snapshot().symbols.map((s) => s.riskSeries)).toEqual([...symbols.slice(0, -1), 'SP500']);
    const sigma = g.covariance;
    // Σ is the panel's, rows picked by series: GOOG's row is the index's.
    const k = cov.names.indexOf('SP500');
    expect(sigma[n * n - 1]).toBe(cov.matrix[k * cov.names.length + k]);
    const scale = normalQuantile(0.975) * Math.sqrt(10);
    const random = rng(2012);
    const pos = new Float64Array(n);
    const mark = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      mark[i] = 100_000 + Math.floor(random() * 5_000_000);
      g.setMid(i, mark[i]!);
    }
    let worst = 0;
    for (let step = 0; step < 5_000; step++) {
      const i = Math.floor(random() * n);
      if (random() < 0.3) {
        mark[i] = Math.max(1, mark[i]! + Math.floor((random() - 0.5) * 20_000));
        g.setMid(i, mark[i]!);
      } else {
        const side = random() < 0.5 ? 0 : 1;
        const qty = 1 + Math.floor(random() * 500);
        const predicted = g.varIfFilled(i, side, qty);
        g.onFill(i, side, mark[i]!, qty);
        pos[i]! += side === 0 ? qty : -qty;
        relClose(g.var, predicted, 1e-9);
      }
      let q = 0;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) q += pos[a]! * mark[a]! * 1e-4 * sigma[a * n + b]! * pos[b]! * mark[b]! * 1e-4;
      const full = scale * Math.sqrt(q);
      if (full > 0) worst = Math.max(worst, Math.abs(g.var - full) / full);
    }
    expect(worst).toBeLessThanOrEqual(1e-9);
    expect(g.snapshot().var).toEqual({ value: g.var, limit: 1e9, confidence: 0.975, horizonDays: 10 });
  });

  it("equals lib/risk's portfolioVaRSync (parametric, sample σ) on de-meaned panel returns, to 1e-9", () => {
    const assets = ['AAPL', 'JPM', 'XOM', 'MSFT', 'SP500'];
    const cols = assets.map((a) => panel.names.indexOf(a));
    const last = panel.dates.indexOf('2012-06-20');
    const T = 500;
    const m = panel.names.length;
    const returns = new Float64Array(T * assets.length);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < assets.length; j++) {
        const row = last - T + t;
        returns[t * assets.length + j] = Math.log(panel.prices[(row + 1) * m + cols[j]!]! / panel.prices[row * m + cols[j]!]!);
      }
    }
    // De-meaned, so the mean term of portfolioVaR's μ + σz is (all but) zero, as delta-normal assumes.
    for (let j = 0; j < assets.length; j++) {
      let mean = 0;
      for (let t = 0; t < T; t++) mean += returns[t * assets.length + j]!;
      mean /= T;
      for (let t = 0; t < T; t++) returns[t * assets.length + j]! -= mean;
    }
    const { matrix } = covarianceMatrixSync(returns, { observations: T, assets: assets.length });
    const g = new RiskGate({
      symbols: assets.map((name) => ({ name, tickSize: 0.01, maxOrderQuantity: Infinity, maxOrderNotional: Infinity, maxPosition: Infinity })),
      maxGrossExposure: Infinity,
      priceCollar: { fraction: Infinity },
      maxOrdersPerSecond: Infinity,
      varBudget: { limit: 1e9, covariance: { names: assets, matrix }, confidence: 0.99, horizonDays: 5 },
    });
    const random = rng(99);
    const pos = [0, 0, 0, 0, 0];
    const mids = [2_500, 4_000, 8_000, 3_000, 130_000];
    mids.forEach((mid, i) => g.setMid(i, mid));
    for (let step = 0; step < 400; step++) {
      const i = Math.floor(random() * assets.length);
      const side = random() < 0.5 ? 0 : 1;
      const qty = 1 + Math.floor(random() * 1_000);
      g.onFill(i, side, mids[i]!, qty);
      pos[i]! += side === 0 ? qty : -qty;
      if (step % 40 === 39) {
        const weights = pos.map((p, j) => p * mids[j]! * 0.01);
        const ref = portfolioVaRSync({ returns, assets: assets.length, weights, method: 'parametric', confidence: 0.99, horizonDays: 5 });
        relClose(g.var, ref.var, 1e-9);
      }
    }
  });
});

describe('the covariance of the S&P 500 panel (bench/data/prices)', () => {
  it('reads the 20 stocks and the index, joined on 8,313 common days', () => {
    expect(panel.names).toEqual([
      ...'AAPL,AMD,BAC,BBY,CVX,GE,HD,JNJ,JPM,KO,LLY,MRK,MSFT,PEP,PFE,PG,RRC,UNH,WMT,XOM'.split(','),
      'SP500',
    ]);
    expect(panel.dates.length).toBe(8_313);
    expect([panel.dates[0], panel.dates.at(-1)]).toEqual(['1990-01-02', '2022-12-28']);
    const row = panel.dates.indexOf('2012-06-20');
    expect(panel.prices[row * 21]).toBe(17.78); // AAPL, split-adjusted
    expect(panel.prices[row * 21 + 20]).toBe(1355.69); // the index
  });

  it('EWMA (RiskMetrics λ = 0.94) over the 250 returns to 2012-06-20 equals the weighted sum written out', () => {
    // `end` on a Sunday: the window ends on the Friday before it.
    expect(covarianceFromPanel(panel, { end: '2012-06-24' }).to).toBe('2012-06-22');
    const c = covarianceFromPanel(panel, { end: '2012-06-20' });
    expect([c.method, c.lambda, c.window, c.to]).toEqual(['ewma', 0.94, 250, '2012-06-20']);
    expect(c.from).toBe(panel.dates[panel.dates.indexOf('2012-06-20') - 250]);
    const last = panel.dates.indexOf('2012-06-20');
    const r = (row: number, col: number): number => Math.log(panel.prices[(row + 1) * 21 + col]! / panel.prices[row * 21 + col]!);
    let num = 0;
    let den = 0;
    for (let age = 0; age < 250; age++) {
      const row = last - 1 - age;
      const wgt = 0.94 ** age;
      num += wgt * r(row, 0) * r(row, 20);
      den += wgt;
    }
    relClose(c.matrix[0 * 21 + 20]!, num / den, 1e-12);
    relClose(c.matrix[20 * 21 + 0]!, num / den, 1e-12);
    expect(Math.sqrt(c.matrix[0]!)).toBeGreaterThan(0.005); // AAPL's daily σ, a percent or two
    expect(Math.sqrt(c.matrix[0]!)).toBeLessThan(0.05);
  });

  it("'pearson' is the sample covariance of the window's log returns", () => {
    const c = covarianceFromPanel(panel, { method: 'pearson', window: 60, end: '2008-10-15' });
    const last = panel.dates.indexOf(c.to);
    const xs: number[] = [];
    for (let t = last - 60; t < last; t++) xs.push(Math.log(panel.prices[(t + 1) * 21 + 8]! / panel.prices[t * 21 + 8]!)); // JPM
    const mean = xs.reduce((a, b) => a + b, 0) / 60;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / 59;
    relClose(c.matrix[8 * 21 + 8]!, variance, 1e-12);
    expect(c.lambda).toBeUndefined();
  });
});

describe('bad input', () => {
  const base = (): RiskGateOptions => ({
    symbols: [{ name: 'X', maxOrderQuantity: 10, maxOrderNotional: 100, maxPosition: 10 }],
    maxGrossExposure: 100,
    priceCollar: { fraction: 0.01 },
    maxOrdersPerSecond: 10,
  });
  const covariance = { names: ['X', 'SP500'], matrix: new Float64Array([1e-4, 0, 0, 1e-4]) };

  it.each([
    ['no options', undefined, TypeError, 'ERR_INVALID_ARG_TYPE', /^Expected an options object \{ symbols, .* for options but received undefined$/],
    ['empty symbols', { symbols: [] }, TypeError, 'ERR_INVALID_ARG_TYPE', /^Expected a non-empty array of symbol objects for options\.symbols but received \[\]$/],
    ['a symbol without name', { symbols: [{ maxOrderQuantity: 1, maxOrderNotional: 1, maxPosition: 1 }] }, TypeError, 'ERR_INVALID_ARG_TYPE', /^Expected a non-empty string for options\.symbols\[0\]\.name but received undefined$/],
    ['a fractional lot limit', { symbols: [{ name: 'X', maxOrderQuantity: 1.5, maxOrderNotional: 1, maxPosition: 1 }] }, RangeError, 'ERR_OUT_OF_RANGE', /^Expected an integer number of lots >= 1, or Infinity for options\.symbols\[0\]\.maxOrderQuantity but received 1\.5$/],
    ['a negative position limit', { symbols: [{ name: 'X', maxOrderQuantity: 1, maxOrderNotional: 1, maxPosition: -1 }] }, RangeError, 'ERR_OUT_OF_RANGE', /options\.symbols\[0\]\.maxPosition but received -1$/],
    ['a string notional', { symbols: [{ name: 'X', maxOrderQuantity: 1, maxOrderNotional: '1', maxPosition: 1 }] }, TypeError, 'ERR_INVALID_ARG_TYPE', /options\.symbols\[0\]\.maxOrderNotional but received "1"$/],
    ['a zero tick size', { symbols: [{ name: 'X', tickSize: 0, maxOrderQuantity: 1, maxOrderNotional: 1, maxPosition: 1 }] }, RangeError, 'ERR_OUT_OF_RANGE', /options\.symbols\[0\]\.tickSize but received 0$/],
    ['a repeated name', { symbols: [{ name: 'X', maxOrderQuantity: 1, maxOrderNotional: 1, maxPosition: 1 }, { name: 'X', maxOrderQuantity: 1, maxOrderNotional: 1, maxPosition: 1 }] }, TypeError, 'ERR_INVALID_ARG_VALUE', /^Expected a name no earlier symbol has for options\.symbols\[1\]\.name but received "X"$/],
    ['a negative gross limit', { maxGrossExposure: -5 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.maxGrossExposure but received -5$/],
    ['a collar in bps', { priceCollar: { bps: 100 } }, TypeError, 'ERR_ULTRA_PERF_UNKNOWN_OPTION', /^unknown option 'bps' for RiskGate priceCollar; the options are 'fraction'$/],
    ['a zero collar', { priceCollar: { fraction: 0 } }, RangeError, 'ERR_OUT_OF_RANGE', /options\.priceCollar\.fraction but received 0$/],
    ['a fractional rate', { maxOrdersPerSecond: 2.5 }, RangeError, 'ERR_OUT_OF_RANGE', /^Expected an integer in \[1, 16777216\], or Infinity for options\.maxOrdersPerSecond but received 2\.5$/],
    ['a missing rate', { maxOrdersPerSecond: undefined }, TypeError, 'ERR_INVALID_ARG_TYPE', /options\.maxOrdersPerSecond but received undefined$/],
    ['a zero drawdown', { maxDrawdown: 0 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.maxDrawdown but received 0$/],
    ['a tail confidence', { varBudget: { limit: 1, covariance, confidence: 0.01 } }, RangeError, 'ERR_OUT_OF_RANGE', /for options\.varBudget\.confidence but received 0\.01: confidence is the probability kept .* did you mean 0\.99\?$/],
    ['no VaR limit', { varBudget: { covariance } }, TypeError, 'ERR_INVALID_ARG_TYPE', /options\.varBudget\.limit but received undefined$/],
    ['a covariance without names', { varBudget: { limit: 1, covariance: { matrix: [1] } } }, TypeError, 'ERR_INVALID_ARG_TYPE', /^Expected a covariance \{ names: string\[\], matrix: Float64Array \} .* for options\.varBudget\.covariance but received an object of type Object$/],
    ['a covariance of the wrong size', { varBudget: { limit: 1, covariance: { names: ['X'], matrix: [1, 0, 0, 1] } } }, RangeError, 'ERR_OUT_OF_RANGE', /^Expected 1 numbers \(an n x n matrix, n = 1\) for options\.varBudget\.covariance\.matrix/],
    ['an asymmetric covariance', { varBudget: { limit: 1, covariance: { names: ['X', 'Y'], matrix: [1, 0.5, 0.4, 1] } } }, RangeError, 'ERR_OUT_OF_RANGE', /a symmetric matrix .* for options\.varBudget\.covariance\.matrix/],
    ['a proxy the covariance lacks', { varBudget: { limit: 1, covariance: { names: ['Y'], matrix: [1] } } }, TypeError, 'ERR_INVALID_ARG_VALUE', /^Expected a series of options\.varBudget\.covariance\.names \(X maps to it\) for options\.varBudget\.proxy but received "SP500"$/],
  ])('%s', (_what, over, Class, code, message) => {
    const options = over === undefined ? undefined : { ...base(), ...(over as object) };
    const err = thrown(() => new RiskGate(options as never));
    expect(err).toBeInstanceOf(Class);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('a tickSize x lotSize that underflows is refused (every notional would read 0 and the currency limits never bind)', () => {
    const tiny = { ...base(), symbols: [{ ...base().symbols[0]!, tickSize: 1e-200, lotSize: 1e-200 }] };
    expect(() => new RiskGate(tiny)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.symbols[0].tickSize × lotSize but received 0') }));
  });

  it('a riskSeries the covariance lacks names the symbol option; a covariance with a negative eigenvalue is refused', () => {
    const bad = { ...base(), symbols: [{ ...base().symbols[0]!, riskSeries: 'QQQ' }], varBudget: { limit: 1, covariance } };
    expect(() => new RiskGate(bad)).toThrow(/^Expected a series of .* for options\.symbols\[0\]\.riskSeries but received "QQQ"$/);
    const two = {
      ...base(),
      symbols: [base().symbols[0]!, { name: 'Y', maxOrderQuantity: 1, maxOrderNotional: 1, maxPosition: 1 }],
      varBudget: { limit: 1, covariance: { names: ['X', 'Y'], matrix: new Float64Array([1, 2, 2, 1]) } },
    };
    const err = thrown(() => new RiskGate(two));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
    expect(err.message).toMatch(/^Expected a positive semi-definite covariance over the symbols' series \(.*symmetric positive semi-definite matrix.*\) for options\.varBudget\.covariance\.matrix but received /);
  });

  it('check, onFill, setMid, varIfFilled and killSwitch name the bad argument and its value', () => {
    const g = new RiskGate(base());
    g.setMid(0, 100);
    const R = 'ERR_OUT_OF_RANGE';
    const T = 'ERR_INVALID_ARG_TYPE';
    const cases: [() => unknown, Function, string, string | RegExp][] = [
      [() => g.check(1, 0, 100, 1, 0), RangeError, R, 'Expected a symbol index, an integer in [0, 0] for symbol but received 1'],
      [() => g.check(0.5, 0, 100, 1, 0), RangeError, R, 'Expected a symbol index, an integer in [0, 0] for symbol but received 0.5'],
      [() => g.check('0' as never, 0, 100, 1, 0), TypeError, T, 'Expected a symbol index, an integer in [0, 0] for symbol but received "0"'],
      [() => g.check(0, 2, 100, 1, 0), RangeError, R, 'Expected 0 (buy) or 1 (sell) for side but received 2'],
      [() => g.check(0, 0, 100.5, 1, 0), RangeError, R, `Expected a positive integer number of ticks (at most ${Number.MAX_SAFE_INTEGER}) for price but received 100.5`],
      [() => g.check(0, 0, -1, 1, 0), RangeError, R, /for price but received -1$/],
      [() => g.check(0, 0, 100, 0, 0), RangeError, R, /for quantity but received 0$/],
      [() => g.check(0, 0, 100, NaN, 0), RangeError, R, /for quantity but received NaN$/],
      [() => g.check(0, 0, 100, 1, NaN), RangeError, R, 'Expected a finite time in ns for nowNs but received NaN'],
      [() => g.onFill(0, 1, 100, 2.5), RangeError, R, /for quantity but received 2\.5$/],
      [() => g.onFill(3, 1, 100, 1), RangeError, R, /for symbol but received 3$/],
      [() => g.setMid(0, 0), RangeError, R, 'Expected a positive price in ticks for mid but received 0'],
      [() => g.setMid(0, Infinity), RangeError, R, 'Expected a positive price in ticks for mid but received Infinity'],
      [() => g.varIfFilled(0, 1, -3), RangeError, R, 'Expected a positive integer number of lots for quantity but received -3'],
      [() => g.killSwitch('yes' as never), TypeError, T, 'Expected a boolean for on but received "yes"'],
      [() => g.symbolIndex('Y'), TypeError, 'ERR_INVALID_ARG_VALUE', 'Expected one of the gate\'s symbols (X) for name but received "Y"'],
    ];
    for (const [call, Class, code, message] of cases) {
      const err = thrown(call);
      expect(err).toBeInstanceOf(Class);
      expect(err.code).toBe(code);
      if (typeof message === 'string') expect(err.message).toBe(message);
      else expect(err.message).toMatch(message);
    }
    expect(g.symbolIndex('X')).toBe(0);
    expect(g.check(0, 0, 100, 1, 5)).toBe(0);
    const back = thrown(() => g.check(0, 0, 100, 1, 4));
    expect(back).toBeInstanceOf(RangeError);
    expect(back.code).toBe('ERR_OUT_OF_RANGE');
    expect(back.message).toBe("Expected a clock that does not go back for nowNs but received 4, before the last accepted order's 5");
    // Nothing was counted for the calls that threw.
    expect(g.snapshot().orders).toBe(1);
  });

  it('readPricePanel names the file and the line of a bad row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'risk-gate-'));
    const file = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const cases: [string, string][] = [
      [file('fields.csv', 'Date,A,B\n2020-01-01,1,2\n2020-01-02,1\n'), 'line 3: expected 3 fields (a date and 2 prices) but found 2'],
      [file('price.csv', 'Date,A\n2020-01-01,1\n2020-01-02,-4\n'), 'line 3: expected a positive price for A but found "-4"'],
      [file('empty-cell.csv', 'Date,A\n2020-01-01,\n'), 'line 2: expected a positive price for A but found ""'],
      [file('order.csv', 'Date,A\n2020-01-02,1\n2020-01-01,1\n'), 'line 3: dates must increase: "2020-01-01" follows "2020-01-02"'],
      [file('header.csv', 'Date\n2020-01-01\n'), 'line 1: expected a header "Date,<series>,..." with at least one series but found "Date"'],
      [file('rows.csv', 'Date,A\n'), 'line 2: no price rows after the header'],
    ];
    for (const [path, where] of cases) {
      const err = thrown(() => readPricePanel(path));
      expect(err).toBeInstanceOf(SourceFormatError);
      expect(err.code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
      expect(err.message).toBe(`${path}, ${where}`);
    }
    const a = file('a.csv', 'Date,A\n2020-01-01,1\n2020-01-02,2\n');
    expect(() => readPricePanel([a, a])).toThrow(/^Expected files whose series names differ \("A" is in two of them\) for files/);
    expect(() => readPricePanel([a, file('b.csv', 'Date,B\n2021-01-01,1\n')])).toThrow(/^Expected files with at least one date in common for files/);
    expect(readPricePanel([a, file('c.csv', 'Date,C\n2020-01-02,7\n2020-01-03,8\n')])).toEqual({ dates: ['2020-01-02'], names: ['A', 'C'], prices: Float64Array.of(2, 7) });
    expect(() => readPricePanel([])).toThrow(/^Expected a file path or a non-empty array of file paths for files but received \[\]$/);
    expect(() => covarianceFromPanel(panel, { window: 9_000 })).toThrow(/^Expected at most 8312 returns \(the panel has 8313 prices up to 2022-12-28\) for options\.window but received 9000$/);
    for (const end of ['garbage', '2012-6-20', '2012-02-30', '20120620']) {
      // Compared as text, these used to pick the whole panel or a wrong window without a word.
      expect(() => covarianceFromPanel(panel, { end })).toThrow(`Expected a date as YYYY-MM-DD (e.g. 2012-06-20) for options.end but received ${JSON.stringify(end)}`);
    }
    expect(() => covarianceFromPanel(panel, { end: '1989-12-31' })).toThrow(/^Expected a date on or after the panel's first date, 1990-01-02 for options\.end but received "1989-12-31"$/);
    expect(() => covarianceFromPanel({ names: ['A'] } as never)).toThrow(/^Expected a PricePanel \{ dates, names, prices \}.* for panel but received /);
  });
});
