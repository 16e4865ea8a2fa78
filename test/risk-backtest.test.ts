// VaR backtest on real data: the S&P 500 index 1990-2022 (bench/data/prices, PROVENANCE.md),
// parametric VaR over a 250-day window, against NumPy + SciPy
// (test/fixtures/risk/backtest_reference.py wrote sp500-backtest-reference.json).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { backtestVaR, calculateVaRSync, chiSquareSf, christoffersenTest, kupiecTest } from '../lib/index.js';

interface Reference {
  observations: number;
  exceptions: number;
  n00: number;
  n01: number;
  n10: number;
  n11: number;
  lruc: number;
  puc: number;
  lrind: number;
  pind: number;
  lrcc: number;
  pcc: number;
}
const reference = JSON.parse(readFileSync(new URL('./fixtures/risk/sp500-backtest-reference.json', import.meta.url), 'utf8')) as {
  parametric: Record<string, Reference>;
  chi2sf: Record<string, number>;
};

function sp500Returns(): Float64Array {
  const text = gunzipSync(readFileSync(new URL('../bench/data/prices/sp500_index.csv.gz', import.meta.url))).toString('utf8');
  const prices = text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => Number(line.split(',')[1]));
  const r = new Float64Array(prices.length - 1);
  for (let i = 1; i < prices.length; i++) r[i - 1] = prices[i]! / prices[i - 1]! - 1;
  return r;
}

const close = (actual: number, expected: number, rel: number): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-300);
};

describe('backtestVaR on the S&P 500 index, 1990-2022 (parametric, 250-day window)', () => {
  const returns = sp500Returns();
  it.each(['0.99', '0.95'])('matches NumPy/SciPy at %s: exceptions, transitions, LR_uc, LR_ind, LR_cc and their p-values', (conf) => {
    const ref = reference.parametric[conf]!;
    const r = backtestVaR(returns, { confidence: Number(conf), method: 'parametric', window: 250 });
    expect(r.observations).toBe(ref.observations);
    expect(r.exceptions).toBe(ref.exceptions);
    expect(r.christoffersen.transitions).toEqual({ n00: ref.n00, n01: ref.n01, n10: ref.n10, n11: ref.n11 });
    close(r.kupiec.statistic, ref.lruc, 1e-9);
    close(r.kupiec.pValue, ref.puc, 1e-7);
    close(r.christoffersen.independence.statistic, ref.lrind, 1e-9);
    close(r.christoffersen.independence.pValue, ref.pind, 1e-7);
    close(r.christoffersen.conditionalCoverage.statistic, ref.lrcc, 1e-9);
    close(r.christoffersen.conditionalCoverage.pValue, ref.pcc, 1e-7);
    expect(r.expectedExceptions).toBeCloseTo(ref.observations * (1 - Number(conf)), 9);
  });

  it('forecasts are calculateVaRSync of the window before each day, and a hit is a loss beyond it', () => {
    const r = backtestVaR(returns, { confidence: 0.99, window: 250 });
    for (const i of [0, 1, 4000, r.observations - 1]) {
      expect(r.forecasts[i]).toBe(calculateVaRSync(returns.subarray(i, i + 250), { confidence: 0.99 }).var);
      expect(r.hits[i]).toBe(-returns[i + 250]! > r.forecasts[i]! ? 1 : 0);
    }
    expect(r.method).toBe('historical');
    // 33 years with 2008 and 2020 in them: a 99% historical VaR is exceeded more often than 1%.
    expect(r.exceptions).toBeGreaterThan(r.expectedExceptions);
  });
});

describe('coverage statistics', () => {
  it('chiSquareSf agrees with SciPy for 1, 2, 3 and 7 degrees of freedom', () => {
    for (const [key, expected] of Object.entries(reference.chi2sf)) {
      const [x, k] = key.split(':').map(Number) as [number, number];
      close(chiSquareSf(x, k), expected, 1e-12);
    }
    expect(chiSquareSf(0, 1)).toBe(1);
    expect(chiSquareSf(Infinity, 2)).toBe(0);
  });

  it('Kupiec is 0 when the exception rate is exactly the expected one, and handles 0 and all exceptions', () => {
    expect(kupiecTest(10, 1000, 0.99).statistic).toBeCloseTo(0, 12);
    expect(kupiecTest(10, 1000, 0.99).pValue).toBeCloseTo(1, 12);
    // x = 0: LR = -2 T ln(1 - p)
    close(kupiecTest(0, 500, 0.99).statistic, -2 * 500 * Math.log(0.99), 1e-12);
    // x = T: LR = -2 T ln(p)
    close(kupiecTest(5, 5, 0.99).statistic, -2 * 5 * Math.log(0.01), 1e-12);
  });

  it('Christoffersen independence is 0 without exceptions, and larger for clustered than for spread ones', () => {
    const noHits = new Uint8Array(100);
    const r = christoffersenTest(noHits, 0.99);
    expect(r.independence.statistic).toBe(0);
    expect(r.transitions).toEqual({ n00: 99, n01: 0, n10: 0, n11: 0 });
    // Clustered exceptions are penalised more than spread ones with the same count.
    const clustered = new Uint8Array(200);
    clustered.fill(1, 100, 110);
    const spread = new Uint8Array(200);
    for (let i = 0; i < 10; i++) spread[i * 20 + 5] = 1;
    expect(christoffersenTest(clustered, 0.95).independence.statistic).toBeGreaterThan(christoffersenTest(spread, 0.95).independence.statistic);
  });

  it('bad input is a RangeError naming the argument, with a code', () => {
    const returns = sp500Returns().subarray(0, 100);
    expect(() => backtestVaR(returns, { window: 100 })).toThrow(/more than options\.window \(100\) returns for returns/);
    expect(() => backtestVaR(returns, { window: 1 })).toThrow(RangeError);
    expect(() => backtestVaR(returns, { windw: 50 } as never)).toThrow(/unknown option 'windw' for backtestVaR; did you mean 'window'\?/);
    expect(() => kupiecTest(11, 10, 0.99)).toThrow(/for exceptions/);
    expect(() => christoffersenTest([0, 2, 1], 0.99)).toThrow(/for hits\[1\]/);
    expect(() => chiSquareSf(1, 0)).toThrow(/for degreesOfFreedom/);
    let caught: unknown;
    try {
      kupiecTest(-1, 10, 0.99);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect((caught as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
  });
});
