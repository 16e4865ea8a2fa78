/**
 * The covariance behind RiskGate's VaR budget: daily prices from CSV files (a date column,
 * then one column per series), joined on the date, turned into the covariance matrix of daily
 * log returns over a window that ends on a chosen date.
 *
 * The estimator is lib/risk's `covarianceMatrixSync`:
 * - 'ewma' (default): RiskMetrics, λ = 0.94 for daily data (J.P. Morgan/Reuters, "RiskMetrics —
 *   Technical Document", 4th ed., 1996, §5.2 and table 5.9): zero mean, weights ∝ λ^age,
 *   normalised to sum 1, over the last `window` returns (0.94^250 ≈ 2·10⁻⁷, so the 250-day
 *   truncation changes nothing that matters).
 * - 'pearson': the sample covariance (T − 1) of the window's returns.
 *
 * The repository's panel is bench/data/prices/ (S&P 500 index and 20 stocks, daily, 1990–2022,
 * see its PROVENANCE.md). It is not shipped in the npm package: callers pass their own files.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { SourceFormatError, invalidRange, invalidType, invalidValue } from '../errors.js';
import { defineOptions, integerCheck, nonEmptyStringCheck, oneOfCheck, readOptions } from '../internal/options.js';
import { covarianceMatrixSync } from '../risk/matrix.js';
import { kMaxAssets } from '../risk/validate.js';

/** Daily prices of several series on common dates. */
export interface PricePanel {
  /** Row dates as written in the files (ISO `YYYY-MM-DD` sorts correctly), strictly increasing. */
  dates: string[];
  /** Column (series) names, in file order. */
  names: string[];
  /** dates.length x names.length prices, row-major: prices[row * names.length + column]. */
  prices: Float64Array;
}

/** A covariance of daily log returns, named by series: what `varBudget.covariance` takes. */
export interface RiskCovariance {
  /** Series names; matrix rows and columns follow this order. */
  names: readonly string[];
  /** names.length² entries, row-major, symmetric, in (daily log return)². */
  matrix: Float64Array;
}

export interface PanelCovarianceOptions {
  /** Daily returns in the window; default 250 (one trading year). The window needs window + 1 prices. */
  window?: number;
  /** Default 'ewma' (RiskMetrics). */
  method?: 'ewma' | 'pearson';
  /** EWMA decay in (0, 1); default 0.94 (RiskMetrics, daily). */
  lambda?: number;
  /** Last date used (inclusive), `YYYY-MM-DD`; the latest row on or before it ends the window. Default: the panel's last date. */
  end?: string;
}

export interface PanelCovariance extends RiskCovariance {
  method: 'ewma' | 'pearson';
  /** The decay used ('ewma'), undefined for 'pearson'. */
  lambda: number | undefined;
  /** Returns in the window. */
  window: number;
  /** Date of the first price of the window (its first return runs from here to the next row). */
  from: string;
  /** Date of the last price of the window. */
  to: string;
}

const kPanelCovariance = defineOptions('covarianceFromPanel', {
  window: { check: integerCheck(2, 1_000_000), default: 250 },
  method: { check: oneOfCheck(['ewma', 'pearson']), default: 'ewma' },
  lambda: {
    check: (value, argument) => {
      if (typeof value !== 'number' || !(value > 0 && value < 1)) throw invalidRange(argument, 'a decay factor in (0, 1)', value);
      return value;
    },
    default: 0.94,
  },
  end: { check: isoDateCheck },
});

/**
 * A calendar date as YYYY-MM-DD: `end` is compared with the panel's dates as text, so any other
 * spelling ('garbage', '2012-6-1') would silently pick the wrong window (or the whole panel).
 */
function isoDateCheck(value: unknown, argument: string): string {
  const what = 'a date as YYYY-MM-DD (e.g. 2012-06-20)';
  if (typeof value !== 'string') throw invalidType(argument, what, value);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m === null ? undefined : new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (d === undefined || d.toISOString().slice(0, 10) !== value) throw invalidValue(argument, what, value);
  return value;
}

function readText(file: string): string {
  const bytes = readFileSync(file);
  // gzip magic 1f 8b: the panel files are stored compressed.
  const raw = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  return raw.toString('utf8');
}

function parseCsv(file: string): PricePanel {
  const lines = readText(file).split('\n');
  const header = lines[0]!.replace(/\r$/, '').split(',');
  if (header.length < 2 || header[0]!.trim() === '') {
    throw new SourceFormatError(file, 'line 1', `expected a header "Date,<series>,..." with at least one series but found ${JSON.stringify(lines[0]!.slice(0, 60))}`);
  }
  const names = header.slice(1).map((s) => s.trim());
  const cols = names.length;
  const dates: string[] = [];
  const values: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue;
    const cells = line.split(',');
    if (cells.length !== cols + 1) {
      throw new SourceFormatError(file, `line ${i + 1}`, `expected ${cols + 1} fields (a date and ${cols} prices) but found ${cells.length}`);
    }
    const date = cells[0]!.trim();
    if (dates.length > 0 && !(date > dates[dates.length - 1]!)) {
      throw new SourceFormatError(file, `line ${i + 1}`, `dates must increase: ${JSON.stringify(date)} follows ${JSON.stringify(dates[dates.length - 1])}`);
    }
    dates.push(date);
    for (let j = 1; j <= cols; j++) {
      const v = Number(cells[j]);
      if (cells[j]!.trim() === '' || !(v > 0) || !Number.isFinite(v)) {
        throw new SourceFormatError(file, `line ${i + 1}`, `expected a positive price for ${names[j - 1]} but found ${JSON.stringify(cells[j])}`);
      }
      values.push(v);
    }
  }
  if (dates.length === 0) throw new SourceFormatError(file, 'line 2', 'no price rows after the header');
  return { dates, names, prices: Float64Array.from(values) };
}

/**
 * Reads one or more daily price CSV files (plain or gzip) and joins them on the date (rows
 * present in every file are kept). Each file: a header `Date,<name>,...`, then one row per
 * day with strictly increasing dates and positive prices. Errors: SourceFormatError
 * (ERR_ULTRA_PERF_SOURCE_FORMAT) naming the file and line; a series name repeated across
 * files or a join with no common date is a RangeError naming `files`.
 * @example
 * import { readPricePanel, covarianceFromPanel } from 'ultra-performance';
 * const panel = readPricePanel(['bench/data/prices/sp500_dataset.csv.gz', 'bench/data/prices/sp500_index.csv.gz']);
 * const cov = covarianceFromPanel(panel, { end: '2012-06-20' }); // RiskMetrics EWMA, 250 days
 */
export function readPricePanel(files: string | readonly string[]): PricePanel {
  const list = typeof files === 'string' ? [files] : files;
  if (!Array.isArray(list) || list.length === 0 || list.some((f) => typeof f !== 'string')) {
    throw invalidType('files', 'a file path or a non-empty array of file paths', files);
  }
  let panel = parseCsv(list[0]!);
  for (let f = 1; f < list.length; f++) {
    const next = parseCsv(list[f]!);
    const clash = next.names.find((n) => panel.names.includes(n));
    if (clash !== undefined) throw invalidRange('files', `files whose series names differ (${JSON.stringify(clash)} is in two of them)`, files);
    const row = new Map<string, number>();
    next.dates.forEach((d, i) => row.set(d, i));
    const a = panel.names.length;
    const b = next.names.length;
    const dates: string[] = [];
    const prices: number[] = [];
    for (let i = 0; i < panel.dates.length; i++) {
      const j = row.get(panel.dates[i]!);
      if (j === undefined) continue;
      dates.push(panel.dates[i]!);
      for (let k = 0; k < a; k++) prices.push(panel.prices[i * a + k]!);
      for (let k = 0; k < b; k++) prices.push(next.prices[j * b + k]!);
    }
    if (dates.length === 0) throw invalidRange('files', 'files with at least one date in common', files);
    panel = { dates, names: [...panel.names, ...next.names], prices: Float64Array.from(prices) };
  }
  if (panel.names.length > kMaxAssets) throw invalidRange('files', `at most ${kMaxAssets} series`, files);
  return panel;
}

function checkPanel(panel: unknown): PricePanel {
  const p = panel as Partial<PricePanel> | null;
  if (
    typeof p !== 'object' ||
    p === null ||
    !Array.isArray(p.dates) ||
    !Array.isArray(p.names) ||
    !(p.prices instanceof Float64Array) ||
    p.prices.length !== p.dates.length * p.names.length ||
    p.names.length === 0
  ) {
    throw invalidType('panel', 'a PricePanel { dates, names, prices } (prices: a Float64Array of dates.length x names.length)', panel);
  }
  return p as PricePanel;
}

/**
 * The covariance matrix of daily log returns ln(p[t+1] / p[t]) of every series in `panel`, over
 * the `window` returns ending on `end` (see the module header for the estimators and sources).
 * Errors: a panel with fewer than window + 1 rows up to `end` is a RangeError naming
 * options.window; an `end` before the panel's first date names options.end.
 * @example
 * import { readPricePanel, covarianceFromPanel } from 'ultra-performance';
 * const cov = covarianceFromPanel(readPricePanel('prices.csv'), { method: 'pearson', window: 500 });
 * cov.matrix[0]; // variance of the first series' daily log return
 */
export function covarianceFromPanel(panel: PricePanel, options?: PanelCovarianceOptions): PanelCovariance {
  const p = checkPanel(panel);
  const o = readOptions(kPanelCovariance, options);
  const window = o.window as number;
  const method = o.method as 'ewma' | 'pearson';
  const end = o.end as string | undefined;
  let last = p.dates.length - 1;
  if (end !== undefined) {
    while (last >= 0 && p.dates[last]! > end) last--;
    if (last < 0) throw invalidValue('options.end', `a date on or after the panel's first date, ${p.dates[0]}`, end);
  }
  const first = last - window;
  if (first < 0) {
    throw invalidRange('options.window', `at most ${last} returns (the panel has ${last + 1} prices up to ${p.dates[last]})`, window);
  }
  const n = p.names.length;
  const returns = new Float64Array(window * n);
  for (let t = 0; t < window; t++) {
    for (let j = 0; j < n; j++) returns[t * n + j] = Math.log(p.prices[(first + t + 1) * n + j]! / p.prices[(first + t) * n + j]!);
  }
  const { matrix } = covarianceMatrixSync(returns, { observations: window, assets: n, method, lambda: o.lambda as number });
  return {
    names: [...p.names],
    matrix,
    method,
    lambda: method === 'ewma' ? (o.lambda as number) : undefined,
    window,
    from: p.dates[first]!,
    to: p.dates[last]!,
  };
}
