/**
 * The report's risk-on-real-data section: a rolling one-day VaR backtest of the S&P 500 index
 * (bench/data/prices/sp500_index.csv.gz, 1990–2022, from skfolio; see its PROVENANCE.md) with
 * a 250-day window, historical and parametric, at 99 % and 95 %, and the Kupiec and
 * Christoffersen tests of each (lib/risk/backtest.ts).
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

import { backendInfo } from '../backend.js';
import { SourceFormatError, invalidType } from '../errors.js';
import type { RiskBackendOption } from '../risk/kernels.js';
import { backtestVaR } from '../risk/backtest.js';
import { calculateVaRSync, type VaRMethod } from '../risk/var.js';
import type { BacktestRow, PipelineReportData } from './report-data.js';

export interface BacktestSectionOptions {
  /**
   * Backend of the VaR forecasts. Default: 'cuda' when the GPU addon found a device
   * (`backendInfo().cuda`), else 'auto'. Each row names the backend that ran.
   */
  backend?: RiskBackendOption;
  /** Returns in each forecast's window; default 250 (one trading year). */
  window?: number;
}

/** Daily closes of a `Date,<name>` CSV (gzip or plain): ISO dates and prices, oldest first. */
export interface PriceSeries {
  name: string;
  dates: string[];
  closes: Float64Array;
}

/**
 * Reads a two-column `Date,<series>` CSV, gzip-compressed or not. Throws SourceFormatError
 * naming the file and the line for a bad header, a bad date, a price that is not a positive
 * number, or dates out of order.
 * @example
 * const s = await readPriceSeries('bench/data/prices/sp500_index.csv.gz');
 * s.name; // 'SP500'
 * s.closes.length; // 8313
 */
export async function readPriceSeries(path: string): Promise<PriceSeries> {
  if (typeof path !== 'string') throw invalidType('path', 'a file path string', path);
  const raw = await readFile(path);
  const gzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  let text: string;
  try {
    text = (gzip ? gunzipSync(raw) : raw).toString('utf8');
  } catch (cause) {
    throw new SourceFormatError(path, 'byte 0', `not a readable gzip file (${(cause as Error).message})`, { cause });
  }
  const lines = text.split(/\r?\n/);
  const header = lines[0]!.split(',');
  if (header.length !== 2 || header[0]!.trim().toLowerCase() !== 'date') {
    throw new SourceFormatError(path, 'line 1', `expected a header "Date,<series>" but found ${JSON.stringify(lines[0]!.slice(0, 60))}`);
  }
  const dates: string[] = [];
  const closes: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const [date, price, extra] = line.split(',');
    if (extra !== undefined || price === undefined) throw new SourceFormatError(path, `line ${i + 1}`, `expected 2 fields but found ${line.split(',').length}`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date!)) throw new SourceFormatError(path, `line ${i + 1}`, `expected a date YYYY-MM-DD but found ${JSON.stringify(date)}`);
    const close = Number(price);
    if (!(close > 0 && close < Infinity)) throw new SourceFormatError(path, `line ${i + 1}`, `expected a positive price but found ${JSON.stringify(price)}`);
    if (dates.length > 0 && date! <= dates[dates.length - 1]!) {
      throw new SourceFormatError(path, `line ${i + 1}`, `date ${date} is not after the previous row's ${dates[dates.length - 1]}`);
    }
    dates.push(date!);
    closes.push(close);
  }
  if (closes.length < 2) throw new SourceFormatError(path, `line ${lines.length}`, `expected at least 2 prices but found ${closes.length}`);
  return { name: header[1]!.trim(), dates, closes: Float64Array.from(closes) };
}

const kCases: { method: VaRMethod & ('historical' | 'parametric'); confidence: number }[] = [
  { method: 'historical', confidence: 0.99 },
  { method: 'parametric', confidence: 0.99 },
  { method: 'historical', confidence: 0.95 },
  { method: 'parametric', confidence: 0.95 },
];

/** The key of one VaR line in `backtest.var`: 'historical 99%'. */
export function varKey(method: string, confidence: number): string {
  return `${method} ${Math.round(confidence * 1000) / 10}%`;
}

/**
 * The `backtest` object of PipelineReportData: simple daily returns of the price file, a
 * rolling VaR backtest (window 250 by default) for historical and parametric VaR at 99 % and
 * 95 %, one row each with exceptions, expected exceptions, Kupiec (LR_uc) and Christoffersen
 * conditional coverage (LR_cc) statistics and p-values, and the backend that computed the
 * forecasts. `dates` and `returns` start at the first forecast day; `var[key]` holds the
 * forecasts (positive losses) aligned with them, keyed 'historical 99%', 'parametric 95%'...
 * Throws SourceFormatError for an unreadable file, RangeError when it has no more prices than
 * the window, BackendUnavailableError when a backend is demanded and missing.
 * @example
 * const backtest = await backtestSection('bench/data/prices/sp500_index.csv.gz');
 * backtest.rows[0]; // { method: 'historical', confidence: 0.99, observations: 8062, exceptions: 132, expected: 80.62, ... }
 */
export async function backtestSection(
  pricesCsvGzPath: string,
  options: BacktestSectionOptions = {},
): Promise<PipelineReportData['backtest']> {
  const backend = options.backend ?? (backendInfo().cuda ? 'cuda' : 'auto');
  const window = options.window ?? 250;
  const prices = await readPriceSeries(pricesCsvGzPath);
  const returns = new Float64Array(prices.closes.length - 1);
  for (let i = 0; i < returns.length; i++) returns[i] = prices.closes[i + 1]! / prices.closes[i]! - 1;

  const rows: BacktestRow[] = [];
  const lines: Record<string, number[]> = {};
  for (const { method, confidence } of kCases) {
    const r = backtestVaR(returns, { window, confidence, method, backend });
    // backtestVaR does not say which kernels ran; one forecast of the same size with the same options does.
    const ran = calculateVaRSync(returns.subarray(0, window), { confidence, method, backend }).backend;
    rows.push({
      method,
      confidence,
      window,
      observations: r.observations,
      exceptions: r.exceptions,
      expected: r.expectedExceptions,
      kupiecStatistic: r.kupiec.statistic,
      kupiecPValue: r.kupiec.pValue,
      christoffersenStatistic: r.christoffersen.conditionalCoverage.statistic,
      christoffersenPValue: r.christoffersen.conditionalCoverage.pValue,
      backend: ran,
    });
    lines[varKey(method, confidence)] = Array.from(r.forecasts);
  }
  return {
    series: `${prices.name} daily simple returns, ${prices.dates[1]} to ${prices.dates[prices.dates.length - 1]}`,
    rows,
    dates: prices.dates.slice(window + 1),
    returns: Array.from(returns.subarray(window)),
    var: lines,
  };
}
