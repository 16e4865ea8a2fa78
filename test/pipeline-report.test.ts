/**
 * The pipeline report: built from histograms recorded here (seeded synthetic latencies) and the
 * real S&P 500 backtest section, rendered, checked for structure, written to disk, and opened
 * in headless Chromium the way a person would open it (no console errors, no failed or
 * external requests, every chart drawn), with a screenshot.
 *
 * Chromium: Debian's `chromium` package (`apt-get install chromium`), driven by puppeteer-core.
 * Outside CI a machine without it skips that one test ("skipped: no chromium"); with CI=true a
 * missing chromium fails it. PIPELINE_REPORT_SCREENSHOT=<file.png> keeps the screenshot (and the page
 * beside it, as <file>.html).
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LatencyHistogram } from '../lib/monitor/index.js';
import { backtestSection, readPriceSeries } from '../lib/pipeline/backtest-section.js';
import { distributionOf, kSeedTable, type PipelineReportData, type RatePoint } from '../lib/pipeline/report-data.js';
import { escapeHtml, formatNs, hgrmFileName, loadECharts, renderReport, writeReport } from '../lib/pipeline/report.js';
import { seeded } from './fixtures/seeded.js';

const kPrices = resolve('bench/data/prices/sp500_index.csv.gz');
const kStages: [string, number][] = [
  ['marketData', 180],
  ['book', 120],
  ['signal', 60],
  ['risk', 240],
  ['venue', 400],
];
/** A symbol and a reject reason that would break the page (and fire a request) if not escaped. */
const kHostileSymbol = 'GOOG<b>&"\'';
const kHostileReason = '<img src=x onerror=alert(1)>';

/** Seeded log-normal-ish latencies around `median` ns with a rare 20..200 µs stall. */
function record(h: LatencyHistogram, rnd: () => number, median: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
    const stall = rnd() < 0.0005 ? 20_000 + rnd() * 180_000 : 0;
    h.record(Math.round(median * Math.exp(0.35 * z) + stall));
  }
}

interface Built {
  data: PipelineReportData;
  histograms: Record<string, LatencyHistogram>;
}

async function build(): Promise<Built> {
  const histograms: Record<string, LatencyHistogram> = {};
  const stages: PipelineReportData['stages'] = [];
  for (const [backend, symbol, scale, seed] of [
    ['native', 'AAPL', 1, 1],
    ['ts', kHostileSymbol, 3, 2],
  ] as const) {
    const rnd = seeded(seed);
    const distributions = [];
    const total = new LatencyHistogram();
    for (const [name, median] of kStages) {
      const h = new LatencyHistogram();
      record(h, rnd, median * scale, 20_000);
      histograms[hgrmFileName(backend, symbol, name)] = h;
      distributions.push(distributionOf(name, h));
    }
    record(total, rnd, 1100 * scale, 20_000);
    histograms[hgrmFileName(backend, symbol, 'tickToTrade')] = total;
    distributions.push(distributionOf('tickToTrade', total));
    stages.push({ backend, symbol, events: 20_000, eventsPerSecond: 2.4e6 / scale, distributions });
  }

  // Fixed-rate sweep: latency from the intended send time, corrected for coordinated omission.
  const rateSweep: PipelineReportData['rateSweep'] = [];
  for (const [backend, capacity, seed] of [
    ['native', 800_000, 3],
    ['ts', 250_000, 4],
  ] as const) {
    const rnd = seeded(seed);
    const points: RatePoint[] = [];
    for (const offered of [10_000, 30_000, 100_000, 300_000, 1_000_000]) {
      const h = new LatencyHistogram();
      const load = offered / capacity;
      const median = 1000 / Math.max(0.05, 1 - Math.min(load, 0.95));
      const interval = 1e9 / offered;
      for (let i = 0; i < 5_000; i++) {
        const u = Math.max(rnd(), 1e-12);
        const stall = rnd() < 0.002 * load ? 50_000 * load : 0;
        h.recordCorrected(Math.round(median * (1 - Math.log(u) * 0.5) + stall), interval);
      }
      const s = distributionOf(`rate ${offered}`, h);
      points.push({ offeredPerSecond: offered, achievedPerSecond: Math.min(offered, capacity), p50: s.p50, p99: s.p99, p999: s.p999, max: s.max });
    }
    const under = points.filter((p) => p.p99 <= 10_000).map((p) => p.offeredPerSecond);
    rateSweep.push({ backend, points, maxRateP99Under10us: under.length > 0 ? Math.max(...under) : 0 });
  }

  const backtest = await backtestSection(kPrices, { backend: 'auto' });
  const data: PipelineReportData = {
    meta: {
      generatedAt: '2026-11-29T15:00:00.000Z',
      node: process.version,
      cpu: 'test CPU <fixture>',
      cores: 2,
      load: [0.5, 0.75],
      backend: 'native',
      command: 'npx ultra-performance pipeline --source lobster:"a&b.csv"',
      hiccups: { seconds: 2, thresholdNs: 10_000, stallsPerSecond: 2_150, lostFraction: 0.118, medianStallNs: 50_500, maxStallNs: 1_380_000 },
    },
    reconstruction: [
      { symbol: 'AAPL', source: 'lobster', depth: 1, messages: 118_497, mismatches: 0, refills: 29_000, unknownOrders: 1_200, nativeMessagesPerSecond: 12e6, tsMessagesPerSecond: 3.4e6 },
      { symbol: kHostileSymbol, source: 'lobster', depth: 10, messages: 147_916, mismatches: 0, refills: 37_000, unknownOrders: 2_100, nativeMessagesPerSecond: 11e6 },
    ],
    stages,
    rateSweep,
    threads: [
      { threads: 1, symbols: 2, eventsPerSecond: 2.4e6 },
      { threads: 2, symbols: 2, eventsPerSecond: 4.3e6 },
      { threads: 4, symbols: 4, eventsPerSecond: 4.5e6 },
    ],
    trading: { orders: 1000, accepted: 950, rejects: { maxQuantity: 30, [kHostileReason]: 20 }, fills: 400, positions: { AAPL: 3, [kHostileSymbol]: -2 }, pnl: 1234.5 },
    backtest,
    seed: kSeedTable,
  };
  return { data, histograms };
}

/** The <figure> of one chart in the page. */
function figure(html: string, id: string): string {
  const start = html.indexOf(`<figure class="chart" id="chart-${id}"`);
  expect(start, `chart ${id} is in the page`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</figure>', start));
}

/** Series indexes ECharts tagged on the data elements it drew (ecmeta_ssr_type="chart"), with their element count. */
function drawnSeries(svg: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of svg.matchAll(/<path\b[^>]*>/g)) {
    const tag = m[0];
    if (!tag.includes('ecmeta_ssr_type="chart"')) continue;
    const index = /ecmeta_series_index="(\d+)"/.exec(tag);
    const d = /\bd="([^"]*)"/.exec(tag);
    if (index === null || d === null || d[1]!.length < 4) continue;
    out.set(Number(index[1]), (out.get(Number(index[1])) ?? 0) + 1);
  }
  return out;
}

/** Stroke colours of the unfilled, untagged paths with at least `segments` line segments: one per line series. */
function lineStrokes(svg: string, segments: number): Set<string> {
  const out = new Set<string>();
  for (const m of svg.matchAll(/<path d="([^"]*)"([^>]*)>/g)) {
    const [, d, attrs] = m;
    if (attrs!.includes('ecmeta_') || !attrs!.includes('fill="none"')) continue;
    const stroke = /stroke="([^"]+)"/.exec(attrs!);
    if (stroke !== null && (d!.match(/L/g) ?? []).length >= segments) out.add(stroke[1]!);
  }
  return out;
}

function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('which', [name], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not on PATH under this name
    }
  }
  return undefined;
}

let built: Built;
let html: string;
let dir: string;

beforeAll(async () => {
  built = await build();
  html = await renderReport(built.data);
  dir = await mkdtemp(join(tmpdir(), 'pipeline-report-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('backtestSection (S&P 500, 1990–2022)', () => {
  it('reads the price file and backtests four models over 8,062 forecast days', async () => {
    const prices = await readPriceSeries(kPrices);
    expect(prices.name).toBe('SP500');
    expect(prices.closes.length).toBe(8313);
    const b = built.data.backtest;
    expect(b.rows.map((r) => `${r.method} ${r.confidence}`)).toEqual(['historical 0.99', 'parametric 0.99', 'historical 0.95', 'parametric 0.95']);
    for (const r of b.rows) {
      expect(r.window).toBe(250);
      expect(r.observations).toBe(8313 - 1 - 250);
      expect(r.expected).toBeCloseTo(r.observations * (1 - r.confidence), 9);
      expect(r.exceptions).toBeGreaterThan(0);
      expect(r.kupiecPValue).toBeGreaterThanOrEqual(0);
      expect(r.christoffersenPValue).toBeLessThanOrEqual(1);
      expect(['native', 'ts', 'cuda']).toContain(r.backend);
    }
    expect(b.dates).toHaveLength(8062);
    expect(b.returns).toHaveLength(8062);
    expect(b.dates[0]! > '1990-12-01' && b.dates.at(-1) === '2022-12-28').toBe(true);
    for (const line of Object.values(b.var)) expect(line).toHaveLength(8062);
    // The 99 % lines are the forecasts the exception counts were taken from.
    const hist99 = b.var['historical 99%']!;
    expect(b.returns.filter((r, i) => -r > hist99[i]!).length).toBe(b.rows[0]!.exceptions);
  });

  it('a bad price file is refused naming the file and the line', async () => {
    const bad = join(dir, 'bad.csv');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'Date,X\n2020-01-02,10\n2020-01-01,11\n'));
    await expect(readPriceSeries(bad)).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT', where: 'line 3' });
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'Date,X\n2020-01-02,abc\n'));
    await expect(readPriceSeries(bad)).rejects.toThrow(/bad\.csv, line 2: expected a positive price but found "abc"/);
  });
});

describe('renderReport', () => {
  it('draws every chart with all its series and data points', () => {
    // Tick-to-trade of every run, and every stage of the first run.
    const lines = built.data.stages.length + built.data.stages[0]!.distributions.length - 1;
    // Bars, symbols and scatter points carry ECharts' series index; line paths carry their colour.
    const percentiles = figure(html, 'percentiles');
    expect(lineStrokes(percentiles, 40).size, 'one line per tick-to-trade, and per stage of the first run').toBe(lines);

    const stages = drawnSeries(figure(html, 'stages'));
    expect([...stages.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect([...stages.values()].reduce((a, b) => a + b, 0), 'a bar per stage per series').toBe(6 * 4);

    const rate = figure(html, 'rate');
    const rateSeries = built.data.rateSweep.length * 3;
    const ratePoints = drawnSeries(rate);
    for (let s = 0; s < rateSeries; s++) expect(ratePoints.get(s), `rate series ${s} points`).toBeGreaterThanOrEqual(5);
    expect(lineStrokes(rate, 4).size).toBe(rateSeries);

    expect(drawnSeries(figure(html, 'threads'))).toEqual(new Map([[0, 3]]));

    const backtest = figure(html, 'backtest');
    expect(lineStrokes(backtest, 200).size, 'returns and two VaR lines').toBe(3);
    const [historical99, parametric99] = built.data.backtest.rows;
    expect(drawnSeries(backtest), 'one marker per exception').toEqual(
      new Map([
        [2, historical99!.exceptions],
        [4, parametric99!.exceptions],
      ]),
    );
  });

  it('labels the percentile axis 50 % .. 99.999 % and marks the 10 µs line and the highest rate under it', () => {
    const p = figure(html, 'percentiles');
    for (const label of ['50 %', '90 %', '99 %', '99.9 %', '99.99 %', '99.999 %']) expect(p).toContain(`>${label}</text>`);
    const r = figure(html, 'rate');
    expect(r).toContain('p99 target 10 µs');
    for (const sweep of built.data.rateSweep) if (sweep.maxRateP99Under10us > 0) expect(r).toContain(`${sweep.backend}: `);
  });

  it('has every table, the seed’s figures beside ours, and no NaN or undefined', () => {
    for (const id of ['seed', 'distributions', 'reconstruction', 'rate', 'trading', 'backtest', 'meta']) expect(html).toMatch(new RegExp(`<table id="table-${id}"[ >]`));
    // The machine's hiccup floor is stated under the sweep, with its figures.
    expect(html).toMatch(/2[,.]?150 stalls above 10(\.0)? µs per second, median 50\.5 µs, longest 1\.38 ms, 11\.8 % of the time lost/);
    const seed = html.slice(html.indexOf('<table id="table-seed">'), html.indexOf('</table>', html.indexOf('<table id="table-seed">')));
    for (const ns of [12_000, 23_000, 180_000, 2_300, 220_000]) expect(seed).toContain(formatNs(ns));
    expect(seed).toContain('12.0 µs');
    expect(seed).toContain('0.180 ms');
    const aapl = built.data.stages[0]!.distributions.find((d) => d.name === 'tickToTrade')!;
    expect(seed).toContain(formatNs(aapl.p50));
    expect(seed).toMatch(/\d+×/);
    const backtest = html.slice(html.indexOf('<table id="table-backtest">'));
    expect(backtest).toContain('historical 99 %');
    expect(backtest).toContain('parametric 95 %');
    expect(html).not.toMatch(/\bNaN\b/);
    expect(html).not.toContain('undefined');
    expect(html).not.toContain('Infinity');
  });

  it('escapes every string from the data and makes no external reference', () => {
    expect(html).not.toContain(kHostileSymbol);
    expect(html).not.toContain(kHostileReason);
    expect(html).toContain(escapeHtml(kHostileSymbol));
    expect(html).toContain(escapeHtml(kHostileReason));
    expect(html).toContain('test CPU &lt;fixture&gt;');
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/\b(?:src|href)="(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*['"]?(?:https?:)?\/\//i);
  });

  it('says to install echarts when it is missing', async () => {
    const missing = () => Promise.reject(new Error("Cannot find package 'echarts'"));
    await expect(loadECharts(missing)).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_MISSING_PEER', message: expect.stringContaining('npm install echarts') });
  });
});

describe('writeReport', () => {
  it('writes pipeline.html, pipeline.json and one .hgrm per distribution', async () => {
    const written = await writeReport(dir, built.data, built.histograms);
    const files = (await readdir(dir)).sort();
    expect(files).toContain('pipeline.html');
    expect(files).toContain('pipeline.json');
    expect(written.hgrm).toHaveLength(Object.keys(built.histograms).length);
    const json = JSON.parse(await readFile(written.json, 'utf8')) as PipelineReportData;
    for (const run of json.stages) {
      for (const d of run.distributions) {
        expect(d.hgrm).toBe(hgrmFileName(run.backend, run.symbol, d.name));
        const text = await readFile(join(dir, d.hgrm!), 'utf8');
        expect(text.startsWith('       Value     Percentile TotalCount 1/(1-Percentile)\n\n')).toBe(true);
        expect(text).toMatch(new RegExp(`#\\[Max     = +[\\d.]+, Total count    = +${d.count}\\]`));
      }
    }
    expect(json.backtest.rows).toEqual(built.data.backtest.rows);
    const page = await readFile(written.html, 'utf8');
    expect(page).toContain('.hgrm</a>');
  });

  it('opens in headless Chromium with no console errors or failed requests, every chart drawn', async (ctx) => {
    const chromium = findChromium();
    if (chromium === undefined) {
      if (process.env.CI === 'true') throw new Error('chromium not found on PATH: CI installs Debian’s chromium (.ci/run) for this test');
      console.warn('skipped: no chromium');
      ctx.skip('skipped: no chromium');
      return;
    }
    const { html: file } = await writeReport(dir, built.data, built.histograms);
    const puppeteer = (await import('puppeteer-core')).default;
    const browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none'],
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1200, height: 900 });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
      page.on('request', (r) => requests.push(r.url()));
      const url = pathToFileURL(file).href;
      const response = await page.goto(url, { waitUntil: 'load' });
      expect(response?.ok()).toBe(true);
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);

      const charts = await page.$$eval('figure.chart', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          const paths = svg ? [...svg.querySelectorAll('path')].filter((p) => (p.getAttribute('d') ?? '').length > 3 && p.getTotalLength() > 0) : [];
          return { id: f.id, hasSvg: svg !== null, width: box?.width ?? 0, height: box?.height ?? 0, paths: paths.length };
        }),
      );
      expect(charts.map((c) => c.id)).toEqual(['chart-percentiles', 'chart-stages', 'chart-rate', 'chart-threads', 'chart-backtest']);
      for (const c of charts) {
        expect(c.hasSvg, c.id).toBe(true);
        expect(c.width, c.id).toBeGreaterThan(600);
        expect(c.height, c.id).toBeGreaterThan(250);
        expect(c.paths, c.id).toBeGreaterThan(5);
      }
      // The page fits its width: nothing forces a horizontal scroll at 1200 px.
      const scroll = (await page.evaluate('document.documentElement.scrollWidth')) as number;
      expect(scroll).toBeLessThanOrEqual(1200);

      const shot = join(dir, 'pipeline.png');
      await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
      const png = await readFile(shot);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(50_000);
      const keep = process.env.PIPELINE_REPORT_SCREENSHOT;
      if (keep) {
        await copyFile(shot, keep);
        await copyFile(file, keep.replace(/\.png$/, '') + '.html');
      }
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
