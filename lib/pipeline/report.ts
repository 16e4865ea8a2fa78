/**
 * The pipeline report: one self-contained HTML page (inline CSS, inline SVG charts, no script,
 * no external request) from a PipelineReportData, plus pipeline.json and one HdrHistogram
 * `.hgrm` file per recorded distribution.
 *
 * Charts are drawn in Node by Apache ECharts' server-side SVG renderer (`ssr: true`,
 * `renderToSVGString()`), an optional peer dependency loaded on first use: without it
 * renderReport throws ERR_ULTRA_PERF_MISSING_PEER, and writeReport has already written the
 * JSON and the .hgrm files by then.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { UltraPerfError, invalidType } from '../errors.js';
import type { LatencyHistogram } from '../monitor/histogram.js';
import { varKey } from './backtest-section.js';
import { kSeedTable, type LatencyDistribution, type PipelineReportData } from './report-data.js';

/** The part of the echarts module the report uses (typed here so echarts stays optional). */
interface EChartsInstance {
  setOption(option: Record<string, unknown>): void;
  renderToSVGString(): string;
  dispose(): void;
}
interface EChartsModule {
  init(dom: null, theme: null, options: { renderer: 'svg'; ssr: true; width: number; height: number }): EChartsInstance;
}

/**
 * Loads echarts with a dynamic import, once. `load` replaces the import (tests use it to
 * play a machine without echarts). Throws UltraPerfError ERR_ULTRA_PERF_MISSING_PEER saying
 * to install it when the import fails.
 */
export async function loadECharts(load: () => Promise<unknown> = () => import('echarts')): Promise<EChartsModule> {
  let mod: unknown;
  try {
    mod = await load();
  } catch (cause) {
    throw new UltraPerfError(
      'ERR_ULTRA_PERF_MISSING_PEER',
      'renderReport draws its charts with Apache ECharts, an optional peer dependency that is not installed: run `npm install echarts` ' +
        '(pipeline.json and the .hgrm files do not need it)',
      { cause },
    );
  }
  const m = mod as Partial<EChartsModule> & { default?: Partial<EChartsModule> };
  const api = typeof m.init === 'function' ? m : m.default;
  if (api === undefined || typeof api.init !== 'function') {
    throw new UltraPerfError('ERR_ULTRA_PERF_MISSING_PEER', 'the module loaded as echarts has no init(): install Apache ECharts 5.3 or later (`npm install echarts`)');
  }
  return api as EChartsModule;
}

// ---------------------------------------------------------------- formatting

const kEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => kEscapes[c]!);
}

const kDash = '—';

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Three significant digits, no exponent below 1e15. */
function sig3(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : 4;
  return v.toFixed(digits);
}

/** A duration in ns, shown in the unit that reads best: 640 ns, 12.3 µs, 0.18 ms, 1.52 s. */
export function formatNs(ns: unknown): string {
  if (!finite(ns)) return kDash;
  const a = Math.abs(ns);
  if (a < 1_000) return `${sig3(ns)} ns`;
  if (a < 100_000) return `${sig3(ns / 1_000)} µs`;
  if (a < 1e9) return `${sig3(ns / 1e6)} ms`;
  return `${sig3(ns / 1e9)} s`;
}

/** A rate with k/M/G before `unit`: formatRate(12.4e6) is '12.4 M/s', formatRate(5e5, ' ev/s') '500 k ev/s'. */
export function formatRate(perSecond: unknown, unit = '/s'): string {
  if (!finite(perSecond)) return kDash;
  const a = Math.abs(perSecond);
  const u = unit.startsWith('/') || unit === '' ? unit : unit.trimStart();
  const sep = unit.startsWith(' ') ? ' ' : '';
  if (a >= 1e9) return `${sig3(perSecond / 1e9)} G${sep}${u}`;
  if (a >= 1e6) return `${sig3(perSecond / 1e6)} M${sep}${u}`;
  if (a >= 1e3) return `${sig3(perSecond / 1e3)} k${sep}${u}`;
  return `${sig3(perSecond)}${unit}`;
}

function formatInt(v: unknown): string {
  return finite(v) ? Math.round(v).toLocaleString('en-US') : kDash;
}

function formatP(p: unknown): string {
  if (!finite(p)) return kDash;
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

function formatStat(v: unknown): string {
  return finite(v) ? v.toFixed(2) : kDash;
}

function percentLabel(confidence: number): string {
  return `${Math.round(confidence * 1000) / 10} %`;
}

/** 100 (1 - 10^-k) as the percentile plot labels it: 0 %, 90 %, 99 %, 99.9 % ... */
function nines(k: number): string {
  if (k === 0) return '0 %';
  if (Math.abs(k - Math.log10(2)) < 1e-9) return '50 %';
  return `${(100 * (1 - 10 ** -k)).toFixed(Math.max(0, Math.round(k) - 2))} %`;
}

// ---------------------------------------------------------------- charts

const kFont = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const kInk = '#1d232b';
const kMuted = '#4a5562';
const kGrid = '#e3e7ec';
const kPalette = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#0a7ea4', '#bc4c00', '#57606a', '#cf222e', '#116329', '#6639ba', '#953800'];
const kChartWidth = 1040;

interface ChartSpec {
  id: string;
  title: string;
  caption: string;
  height: number;
  option: Record<string, unknown> | null;
}

/**
 * What every chart shares. `legendRows` reserves room under the x axis: ECharts measures text
 * in Node with its own estimate, narrower than a browser's fonts, so the legend gets wide gaps
 * and a row budget of its own rather than one packed by that estimate.
 */
function baseOption(legendRows = 1, top = 24): Record<string, unknown> {
  return {
    animation: false,
    color: kPalette,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: kFont, color: kInk, fontSize: 12 },
    legend: { type: 'plain', bottom: 4, left: 40, right: 40, itemHeight: 14, textStyle: { color: kInk, fontSize: 12 }, itemGap: 22 },
    // ECharts wraps legend rows itemGap apart: a row takes itemHeight + itemGap.
    grid: { left: 84, right: 40, top, bottom: 70 + 36 * legendRows, containLabel: false },
  };
}

function axisStyle(name: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    nameLocation: 'middle',
    nameTextStyle: { color: kInk, fontSize: 13 },
    axisLine: { lineStyle: { color: kMuted } },
    axisLabel: { color: kInk, fontSize: 12 },
    splitLine: { show: true, lineStyle: { color: kGrid } },
    ...extra,
  };
}

/** A log-scale latency axis in µs, labelled in the unit that reads best. */
function latencyAxis(name: string): Record<string, unknown> {
  return axisStyle(name, { type: 'log', nameGap: 56, axisLabel: { color: kInk, fontSize: 12, formatter: (v: number) => axisUs(v) } });
}

/** µs for a chart axis: keeps three significant digits. */
function us(ns: number): number {
  return Number((ns / 1000).toPrecision(4));
}

function allDistributions(data: PipelineReportData): { label: string; d: LatencyDistribution }[] {
  const out: { label: string; d: LatencyDistribution }[] = [];
  for (const run of data.stages) for (const d of run.distributions) out.push({ label: `${d.name} · ${run.backend} · ${run.symbol}`, d });
  return out;
}

/** (a) HdrHistogram percentile plot: x = log10(1 / (1 - p)), labelled 0 %, 50 %, 90 %, 99 % ... */
function percentileChart(data: PipelineReportData): ChartSpec {
  // Tick-to-trade of every run, and the stages of the first run only: 8 lines per run made
  // 32 on the bench's report, too many to tell apart (the distributions table has them all).
  const first = data.stages[0];
  const lines = allDistributions(data).filter(({ d }, i) => (d.name === 'tickToTrade' || (first !== undefined && i < first.distributions.length)) && d.curve.some(([p]) => p < 100));
  let maxK = 5;
  const series = lines.map(({ label, d }) => {
    const points: [number, number][] = [];
    for (const [p, v] of d.curve) {
      if (!(p < 100) || !finite(v) || v <= 0) continue;
      const k = -Math.log10(1 - p / 100);
      maxK = Math.max(maxK, Math.ceil(k - 1e-9));
      points.push([Number(k.toFixed(6)), us(v)]);
    }
    const tickToTrade = d.name === 'tickToTrade';
    return { name: label, type: 'line', step: 'end', showSymbol: false, data: points, lineStyle: { width: tickToTrade ? 3 : 1.6 }, z: tickToTrade ? 3 : 2 };
  });
  const ticks = [0, Math.log10(2)];
  for (let k = 1; k <= maxK; k++) ticks.push(k);
  const option = {
    ...baseOption(Math.ceil(series.length / 4)),
    xAxis: axisStyle('Percentile (log scale of 1 / (1 − p))', {
      type: 'value',
      min: 0,
      max: maxK,
      nameGap: 30,
      axisTick: { customValues: ticks },
      axisLabel: { color: kInk, fontSize: 12, customValues: ticks, formatter: (k: number) => nines(k) },
      splitLine: { show: true, lineStyle: { color: kGrid } },
    }),
    yAxis: latencyAxis('Latency (µs, log scale)'),
    series,
  };
  return {
    id: 'percentiles',
    title: 'Latency by percentile (HdrHistogram plot)',
    caption:
      `Bold lines: tick-to-trade for each backend and symbol; thin lines: each stage of the first run${first === undefined ? '' : ` (${escapeHtml(first.backend)} · ${escapeHtml(first.symbol)})`} (every distribution is in the table below). Read across: at 99 % on the x axis, the line’s height is the p99. The x axis stretches the tail (each step right is ten times rarer), so the right end shows the worst one in 10⁴ or 10⁵ events.`,
    height: 440 + 36 * Math.ceil(series.length / 4),
    option: series.length > 0 ? option : null,
  };
}

function axisUs(v: number): string {
  if (v >= 1000) return `${sig3(v / 1000)} ms`;
  if (v < 1) return `${Math.round(v * 1000)} ns`;
  return `${sig3(v)} µs`;
}

/** (b) p50 and p99 per stage, per backend run, as bars on a log axis. */
function stagesChart(data: PipelineReportData): ChartSpec {
  const names: string[] = [];
  for (const run of data.stages) for (const d of run.distributions) if (!names.includes(d.name)) names.push(d.name);
  const series: Record<string, unknown>[] = [];
  let smallest = Infinity;
  for (const run of data.stages) {
    for (const q of ['p50', 'p99'] as const) {
      series.push({
        name: `${q} · ${run.backend} · ${run.symbol}`,
        type: 'bar',
        barMaxWidth: 28,
        data: names.map((n) => {
          const d = run.distributions.find((x) => x.name === n);
          if (d === undefined || !finite(d[q]) || d[q] <= 0) return null;
          smallest = Math.min(smallest, d[q]);
          return d[q];
        }),
        label: { show: true, position: 'top', rotate: 90, align: 'left', verticalAlign: 'middle', distance: 4, fontSize: 11, color: kInk, formatter: (p: { value: number }) => formatNs(p.value) },
      });
    }
  }
  // Bars on a log axis grow from 1 (here 1 ns), so the axis starts at a power of ten below the
  // smallest bar and the bars rise from the bottom of the plot.
  const floor = finite(smallest) ? 10 ** Math.floor(Math.log10(smallest)) : 1;
  const option = {
    ...baseOption(Math.ceil(series.length / 4), 64),
    xAxis: axisStyle('Stage', { type: 'category', data: names, nameGap: 30, splitLine: { show: false } }),
    yAxis: axisStyle('Latency (log scale)', { type: 'log', min: floor, nameGap: 60, axisLabel: { color: kInk, fontSize: 12, formatter: (v: number) => formatNs(v) } }),
    series,
  };
  return {
    id: 'stages',
    title: 'Per-stage latency: median and p99',
    caption: 'Time spent in each stage of the pipeline at maximum rate (bars: median and 99th percentile, log scale), and end to end (tickToTrade).',
    height: 460,
    option: names.length > 0 && series.length > 0 ? option : null,
  };
}

/** (c) Latency vs offered rate with the 10 µs line and the highest rate under it. */
function rateChart(data: PipelineReportData): ChartSpec {
  const series: Record<string, unknown>[] = [];
  let first = true;
  for (const sweep of data.rateSweep) {
    const pts = [...sweep.points].sort((a, b) => a.offeredPerSecond - b.offeredPerSecond);
    for (const q of ['p50', 'p99', 'p999'] as const) {
      const s: Record<string, unknown> = {
        name: `${q === 'p999' ? 'p99.9' : q} · ${sweep.backend}`,
        type: 'line',
        symbol: 'circle',
        symbolSize: 6,
        data: pts.filter((p) => finite(p[q]) && p[q] > 0 && p.offeredPerSecond > 0).map((p) => [p.offeredPerSecond, us(p[q])]),
      };
      if (q === 'p99') {
        const marks: Record<string, unknown>[] = [];
        if (first) marks.push({ yAxis: 10, name: '10 µs', lineStyle: { color: '#cf222e', type: 'dashed', width: 1.5 }, label: { formatter: 'p99 target 10 µs', color: '#cf222e', position: 'insideStartTop' } });
        if (sweep.maxRateP99Under10us > 0) {
          marks.push({
            xAxis: sweep.maxRateP99Under10us,
            lineStyle: { type: 'dotted', width: 1.5 },
            label: { formatter: `${sweep.backend}: ${formatRate(sweep.maxRateP99Under10us, ' ev/s')}`, position: 'end', color: kInk, fontSize: 12 },
          });
        }
        if (marks.length > 0) s.markLine = { symbol: 'none', silent: true, data: marks };
        first = false;
      }
      series.push(s);
    }
  }
  const option = {
    ...baseOption(Math.ceil(series.length / 6), 40),
    xAxis: axisStyle('Offered rate (events/s, log scale)', { type: 'log', nameGap: 30, axisLabel: { color: kInk, fontSize: 12, formatter: (v: number) => formatRate(v, '') } }),
    yAxis: latencyAxis('Latency from intended send time (µs, log scale)'),
    series,
  };
  return {
    id: 'rate',
    title: 'Latency vs offered rate (coordinated omission corrected)',
    caption:
      'Events sent on a fixed schedule; latency counted from when each event should have been sent, so a stall counts against every event it delayed. The dashed line is the 10 µs p99 target; a dotted line marks, per backend, the highest offered rate whose p99 stayed under it.',
    height: 460,
    option: series.some((s) => (s.data as unknown[]).length > 0) ? option : null,
  };
}

/** (d) Throughput vs worker threads. */
function threadsChart(data: PipelineReportData): ChartSpec {
  const pts = [...data.threads].sort((a, b) => a.threads - b.threads);
  const option = {
    ...baseOption(),
    xAxis: axisStyle('Worker threads', { type: 'category', data: pts.map((p) => `${p.threads} (${p.symbols} sym)`), nameGap: 30, splitLine: { show: false } }),
    yAxis: axisStyle('Events per second', { type: 'value', min: 0, nameGap: 60, axisLabel: { color: kInk, fontSize: 12, formatter: (v: number) => formatRate(v, '') } }),
    series: [
      {
        name: 'events/s',
        type: 'bar',
        barMaxWidth: 60,
        data: pts.map((p) => (finite(p.eventsPerSecond) ? p.eventsPerSecond : null)),
        label: { show: true, position: 'top', color: kInk, formatter: (p: { value: number }) => formatRate(p.value) },
      },
    ],
  };
  return {
    id: 'threads',
    title: 'Throughput vs worker threads',
    caption: `Symbols sharded over worker_threads, one queue per worker. This machine has ${escapeHtml(data.meta.cores)} cores; points beyond that share cores.`,
    height: 380,
    option: pts.length > 0 ? option : null,
  };
}

/** (e) S&P 500 daily returns with the rolling 99 % VaR lines and their exceptions. */
function backtestChart(data: PipelineReportData): ChartSpec {
  const b = data.backtest;
  const n = Math.min(b.dates.length, b.returns.length);
  const series: Record<string, unknown>[] = [
    {
      name: 'daily return',
      type: 'line',
      showSymbol: false,
      // minmax keeps both extremes of each pixel column (lttb drops the crashes).
      sampling: 'minmax',
      lineStyle: { width: 0.8, color: '#8c959f' },
      itemStyle: { color: '#8c959f' },
      data: b.dates.slice(0, n).map((d, i) => [d, Number((b.returns[i]! * 100).toFixed(3))]),
    },
  ];
  const colours: Record<string, string> = { historical: '#1f6feb', parametric: '#bc4c00' };
  for (const method of ['historical', 'parametric'] as const) {
    const line = b.var[varKey(method, 0.99)];
    if (line === undefined) continue;
    series.push({
      name: `−VaR 99 % ${method}`,
      type: 'line',
      showSymbol: false,
      sampling: 'lttb',
      lineStyle: { width: 1.4, color: colours[method] },
      itemStyle: { color: colours[method] },
      data: b.dates.slice(0, n).map((d, i) => [d, Number((-line[i]! * 100).toFixed(3))]),
    });
    const hits: [string, number][] = [];
    for (let i = 0; i < n; i++) if (-b.returns[i]! > line[i]!) hits.push([b.dates[i]!, Number((b.returns[i]! * 100).toFixed(3))]);
    series.push({
      name: `exceptions · ${method}`,
      type: 'scatter',
      symbol: method === 'historical' ? 'circle' : 'triangle',
      symbolSize: method === 'historical' ? 5 : 6,
      itemStyle: { color: method === 'historical' ? '#0a3069' : '#953800', opacity: 0.85 },
      data: hits,
    });
  }
  const option = {
    ...baseOption(2),
    xAxis: axisStyle('', { type: 'time', splitLine: { show: false }, axisLabel: { color: kInk, fontSize: 12, hideOverlap: true } }),
    yAxis: axisStyle('Daily return (%)', { type: 'value', nameGap: 44, axisLabel: { color: kInk, fontSize: 12, formatter: '{value} %' } }),
    series,
  };
  return {
    id: 'backtest',
    title: 'VaR backtest: S&P 500 daily returns with the rolling one-day 99 % VaR',
    caption: `${escapeHtml(b.series)}. The VaR lines are drawn as losses below zero (−VaR); a marker is a day whose loss went past that day’s forecast. At 99 %, about one day in a hundred should.`,
    height: 460,
    option: n > 0 ? option : null,
  };
}

function renderChart(echarts: EChartsModule, spec: ChartSpec): string {
  const head = `<figure class="chart" id="chart-${spec.id}" data-chart="${spec.id}"><figcaption><h3>${escapeHtml(spec.title)}</h3><p>${spec.caption}</p></figcaption>`;
  if (spec.option === null) return `${head}<p class="empty">No data for this chart in this run.</p></figure>`;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: kChartWidth, height: spec.height });
  try {
    chart.setOption(spec.option);
    // ECharts escapes the text it draws; the SVG goes in as is.
    return `${head}<div class="svg">${chart.renderToSVGString()}</div></figure>`;
  } finally {
    // An undisposed SSR chart keeps a timer that holds the process open.
    chart.dispose();
  }
}

// ---------------------------------------------------------------- tables

/** A table; `head` null makes a two-column key/value table (no header row, values beside their keys). */
function table(id: string, caption: string, head: string[] | null, rows: string[][], note?: string): string {
  const thead = head === null ? '' : `<thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead>`;
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('\n');
  const empty = `<tr><td colspan="${head?.length ?? 2}">no data</td></tr>`;
  return `<table id="table-${id}"${head === null ? ' class="kv"' : ''}><caption>${caption}</caption>${thead}<tbody>\n${body || empty}\n</tbody></table>${note ? `<p class="note">${note}</p>` : ''}`;
}

/** Our stage names for each row of the seed's table (the seed had a cache lookup we do not have). */
const kSeedRows: { label: string; seed: keyof PipelineReportData['seed']; ours: string | null }[] = [
  { label: 'Market data processing', seed: 'marketData', ours: 'marketData' },
  { label: 'Order book update', seed: 'book', ours: 'book' },
  { label: 'Risk calculation', seed: 'risk', ours: 'risk' },
  { label: 'Cache lookup', seed: 'cache', ours: null },
  { label: 'Total pipeline (tick to trade)', seed: 'total', ours: 'tickToTrade' },
];

function seedTable(data: PipelineReportData): string {
  const seed = { ...kSeedTable, ...data.seed };
  const head = ['Stage', 'Seed (SEED.md)'];
  for (const run of data.stages) {
    const who = `${escapeHtml(run.backend)} · ${escapeHtml(run.symbol)}`;
    head.push(`Ours p50<br><span class="sub">${who}</span>`, `Ours p99<br><span class="sub">${who}</span>`, `Seed ÷ our p50<br><span class="sub">${who}</span>`);
  }
  const rows = kSeedRows.map(({ label, seed: key, ours }) => {
    const row = [escapeHtml(label), formatNs(seed[key])];
    for (const run of data.stages) {
      const d = ours === null ? undefined : run.distributions.find((x) => x.name === ours);
      if (d === undefined) {
        row.push(ours === null ? 'not a stage here' : kDash, kDash, kDash);
        continue;
      }
      const ratio = finite(d.p50) && d.p50 > 0 ? `${sig3(seed[key] / d.p50)}×` : kDash;
      row.push(formatNs(d.p50), formatNs(d.p99), `<strong>${ratio}</strong>`);
    }
    return row;
  });
  // Our stages the seed did not list.
  const extra = new Set<string>();
  for (const run of data.stages) for (const d of run.distributions) if (!kSeedRows.some((r) => r.ours === d.name)) extra.add(d.name);
  for (const name of extra) {
    const row = [escapeHtml(name), 'not in the seed'];
    for (const run of data.stages) {
      const d = run.distributions.find((x) => x.name === name);
      row.push(d ? formatNs(d.p50) : kDash, d ? formatNs(d.p99) : kDash, kDash);
    }
    rows.push(row);
  }
  return table('seed', 'The seed’s end-to-end table beside ours', head, rows, 'The seed reported single figures per stage; ours are the median and 99th percentile of every event at maximum rate. “Seed ÷ our p50” is how many times faster the median is.');
}

function distributionsTable(data: PipelineReportData): string {
  const rows: string[][] = [];
  for (const run of data.stages) {
    for (const d of run.distributions) {
      rows.push([
        `${escapeHtml(d.name)} <span class="sub">${escapeHtml(run.backend)} · ${escapeHtml(run.symbol)}</span>`,
        formatInt(d.count),
        formatNs(d.mean),
        formatNs(d.p50),
        formatNs(d.p90),
        formatNs(d.p99),
        formatNs(d.p999),
        formatNs(d.p9999),
        formatNs(d.max),
        d.hgrm ? `<a href="${escapeHtml(encodeURIComponent(d.hgrm))}">${escapeHtml(d.hgrm)}</a>` : kDash,
      ]);
    }
  }
  const runs =
    data.stages.map((r) => `${escapeHtml(r.backend)} · ${escapeHtml(r.symbol)}: ${formatInt(r.events)} events at ${formatRate(r.eventsPerSecond, ' ev/s')}`).join('; ') +
    '. marketData, book, signal, risk, venue: each stage’s time on every 16th record (those records read the clock between stages and are left out of the rest); tickToTrade: from a record’s arrival to the venue’s acknowledgement of the orders it caused, for records that sent one; record: every other record, arrival to done; service: from when the loop took the record to done (equal to record at maximum rate; without the wait behind earlier records at a fixed rate).';
  return table('distributions', 'Latency distributions at maximum rate', ['Distribution', 'Count', 'Mean', 'p50', 'p90', 'p99', 'p99.9', 'p99.99', 'Max', '.hgrm'], rows, runs);
}

function reconstructionTable(data: PipelineReportData): string {
  const rows = data.reconstruction.map((r) => [
    escapeHtml(r.symbol),
    escapeHtml(r.source),
    r.depth === undefined ? 'full' : formatInt(r.depth),
    formatInt(r.messages),
    `<strong class="${r.mismatches === 0 ? 'ok' : 'bad'}">${formatInt(r.mismatches)}</strong>`,
    formatInt(r.refills),
    formatInt(r.unknownOrders),
    formatRate(r.nativeMessagesPerSecond, ' msg/s'),
    formatRate(r.tsMessagesPerSecond, ' msg/s'),
  ]);
  return table(
    'reconstruction',
    'Book reconstruction against the exchange’s book',
    ['Symbol', 'Source', 'Depth', 'Messages', 'Mismatches', 'Refills', 'Unknown orders', 'Native', 'TS'],
    rows,
    'After every message our market-by-order book is compared with the exchange’s. A refill is a level that entered the visible depth from beyond it (taken from the file); every other difference is a mismatch.',
  );
}

function rateTable(data: PipelineReportData): string {
  const rows: string[][] = [];
  for (const sweep of data.rateSweep) {
    for (const p of [...sweep.points].sort((a, b) => a.offeredPerSecond - b.offeredPerSecond)) {
      rows.push([
        `${formatRate(p.offeredPerSecond, ' ev/s')} <span class="sub">${escapeHtml(sweep.backend)}</span>`,
        formatRate(p.achievedPerSecond, ' ev/s'),
        formatNs(p.p50),
        formatNs(p.p99),
        formatNs(p.p999),
        formatNs(p.max),
        sweep.maxRateP99Under10us > 0 && p.offeredPerSecond === sweep.maxRateP99Under10us ? '<strong>highest with p99 ≤ 10 µs</strong>' : '',
      ]);
    }
  }
  const h = data.meta.hiccups;
  const floor =
    h === undefined
      ? ''
      : `<p class="note">The machine’s own floor, measured before the sweep with jHiccup’s method (one thread reading the clock back to back for ${sig3(h.seconds)} s): ${sig3(h.stallsPerSecond)} stalls above ${formatNs(h.thresholdNs)} per second, median ${formatNs(h.medianStallNs)}, longest ${formatNs(h.maxStallNs)}, ${sig3(100 * h.lostFraction)} % of the time lost. A record that arrives during a stall waits for its end, so a p99 at or under ${formatNs(h.thresholdNs)} needs that share below 1 %.</p>`;
  return table('rate', 'Fixed-rate sweep', ['Offered', 'Achieved', 'p50', 'p99', 'p99.9', 'Max', ''], rows) + floor;
}

function tradingTable(data: PipelineReportData): string {
  const t = data.trading;
  const rejects = Object.entries(t.rejects);
  const positions = Object.entries(t.positions);
  const rows: string[][] = [
    ['Orders sent', formatInt(t.orders)],
    ['Accepted by the risk gate', formatInt(t.accepted)],
    ['Rejected', rejects.length === 0 ? '0' : rejects.map(([k, v]) => `${escapeHtml(k)}: ${formatInt(v)}`).join(', ')],
    ['Fills', formatInt(t.fills)],
    ['Final positions (lots)', positions.length === 0 ? 'flat' : positions.map(([k, v]) => `${escapeHtml(k)}: ${formatInt(v)}`).join(', ')],
    ['PnL (realised + marked to mid)', finite(t.pnl) ? t.pnl.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : kDash],
  ];
  return table('trading', 'Trading summary', null, rows);
}

function backtestTable(data: PipelineReportData): string {
  const rows = data.backtest.rows.map((r) => [
    `${escapeHtml(r.method)} ${percentLabel(r.confidence)}`,
    formatInt(r.window),
    formatInt(r.observations),
    formatInt(r.exceptions),
    finite(r.expected) ? r.expected.toFixed(1) : kDash,
    formatStat(r.kupiecStatistic),
    `<span class="${r.kupiecPValue < 0.05 ? 'bad' : 'ok'}">${formatP(r.kupiecPValue)}</span>`,
    formatStat(r.christoffersenStatistic),
    `<span class="${r.christoffersenPValue < 0.05 ? 'bad' : 'ok'}">${formatP(r.christoffersenPValue)}</span>`,
    escapeHtml(r.backend),
  ]);
  return table(
    'backtest',
    'VaR backtest: exceptions and coverage tests',
    ['Model', 'Window (days)', 'Days', 'Exceptions', 'Expected', 'Kupiec LR<sub>uc</sub>', 'p-value', 'Christoffersen LR<sub>cc</sub>', 'p-value', 'Backend'],
    rows,
    'Kupiec (1995): is the exception rate right (χ², 1 degree of freedom)? Christoffersen (1998) conditional coverage: right rate and no clustering (χ², 2 degrees). A p-value under 0.05 (red) rejects the model at 5 %.',
  );
}

function metaTable(data: PipelineReportData): string {
  const m = data.meta;
  const rows: string[][] = [
    ['Generated', escapeHtml(m.generatedAt)],
    ['Machine', `${escapeHtml(m.cpu)}, ${formatInt(m.cores)} cores`],
    ['Load average (1 min), start → end', `${finite(m.load[0]) ? m.load[0].toFixed(2) : kDash} → ${finite(m.load[1]) ? m.load[1].toFixed(2) : kDash}`],
    ['Node.js', escapeHtml(m.node)],
    ['Backend', escapeHtml([...new Set([m.backend, ...data.stages.map((r) => r.backend)])].join(', '))],
    ['Command', `<code>${escapeHtml(m.command)}</code>`],
  ];
  return table('meta', 'Run', null, rows);
}

// ---------------------------------------------------------------- page

const kStyle = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f8fa; color: ${kInk}; font: 15px/1.5 ${kFont}; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 40px 0 12px; padding-bottom: 6px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 16px; margin: 0 0 4px; }
p { margin: 6px 0; }
.lede { color: ${kMuted}; margin-bottom: 20px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 14px; }
.card b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.card span { color: ${kMuted}; font-size: 13px; }
figure.chart { margin: 20px 0; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px; }
figcaption p { color: ${kMuted}; font-size: 14px; max-width: 900px; }
.svg { overflow-x: auto; margin-top: 8px; }
.svg svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 12px 0 4px; font-variant-numeric: tabular-nums; font-size: 14px; border: 1px solid #d0d7de; }
caption { text-align: left; font-weight: 600; font-size: 16px; padding: 8px 0; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e3e7ec; text-align: right; vertical-align: top; }
thead th { background: #eef1f4; font-weight: 600; }
tbody th, thead th:first-child { text-align: left; font-weight: 500; }
.sub { color: ${kMuted}; font-size: 12px; font-weight: 400; }
.note { color: ${kMuted}; font-size: 13px; }
.ok { color: #1a7f37; } .bad { color: #cf222e; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eef1f4; padding: 1px 4px; border-radius: 4px; word-break: break-all; }
.empty { color: ${kMuted}; font-style: italic; }
table.kv { width: auto; min-width: 60%; }
table.kv td { text-align: left; }
table.kv tbody th { width: 18em; color: ${kMuted}; }
a { color: #0550ae; }
`;

function headline(data: PipelineReportData): string {
  const cards: string[] = [];
  for (const run of data.stages) {
    const t = run.distributions.find((d) => d.name === 'tickToTrade');
    if (t === undefined) continue;
    const who = `${escapeHtml(run.backend)} · ${escapeHtml(run.symbol)}`;
    cards.push(`<div class="card"><b>${formatNs(t.p50)}</b><span>tick-to-trade p50, ${who}</span></div>`);
    cards.push(`<div class="card"><b>${formatNs(t.p99)}</b><span>tick-to-trade p99, ${who}</span></div>`);
    if (finite(t.p50) && t.p50 > 0) cards.push(`<div class="card"><b>${sig3(data.seed.total / t.p50)}×</b><span>faster than the seed’s ${formatNs(data.seed.total)} total (p50), ${who}</span></div>`);
  }
  for (const sweep of data.rateSweep) {
    cards.push(`<div class="card"><b>${sweep.maxRateP99Under10us > 0 ? formatRate(sweep.maxRateP99Under10us, ' ev/s') : 'none'}</b><span>highest rate with p99 ≤ 10 µs, ${escapeHtml(sweep.backend)}</span></div>`);
  }
  for (const r of data.reconstruction) {
    cards.push(`<div class="card"><b>${formatInt(r.mismatches)}</b><span>mismatches, ${escapeHtml(r.symbol)} (${formatInt(r.messages)} messages)</span></div>`);
  }
  return cards.length > 0 ? `<div class="cards">${cards.join('')}</div>` : '';
}

/**
 * The report as one HTML page: headline figures, the five charts (percentile plot,
 * per-stage breakdown, latency vs offered rate, throughput vs threads, VaR backtest) as
 * inline SVG drawn by ECharts, and the tables (seed vs ours, distributions, reconstruction,
 * rate sweep, trading, backtest, run). No script and no external request; every string from
 * `data` is escaped. Throws ERR_ULTRA_PERF_MISSING_PEER when echarts is not installed.
 * @example
 * const html = await renderReport(data);
 * await writeFile('bench/results/pipeline.html', html);
 */
export async function renderReport(data: PipelineReportData): Promise<string> {
  if (data === null || typeof data !== 'object') throw invalidType('data', 'a PipelineReportData object', data);
  const echarts = await loadECharts();
  const charts = [percentileChart(data), stagesChart(data), rateChart(data), threadsChart(data), backtestChart(data)].map((spec) => renderChart(echarts, spec));
  const [percentiles, stages, rate, threads, backtest] = charts;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>ultra-performance pipeline report</title>
<style>${kStyle}</style>
</head>
<body>
<main>
<h1>Pipeline report</h1>
<p class="lede">Market data → book → signal → pre-trade risk → order → venue, measured end to end. Generated ${escapeHtml(data.meta.generatedAt)} on ${escapeHtml(data.meta.cpu)} (${formatInt(data.meta.cores)} cores), Node ${escapeHtml(data.meta.node)}.</p>
${headline(data)}
<h2>Latency</h2>
${percentiles}
${stages}
${seedTable(data)}
${distributionsTable(data)}
<h2>Rate and threads</h2>
${rate}
${rateTable(data)}
${threads}
<h2>Book reconstruction</h2>
${reconstructionTable(data)}
<h2>Trading</h2>
${tradingTable(data)}
<h2>Risk on real data</h2>
${backtest}
${backtestTable(data)}
<h2>Run</h2>
${metaTable(data)}
</main>
</body>
</html>
`;
}

/** The `.hgrm` file name writeReport gives a distribution: `<backend>-<symbol>-<name>.hgrm`, reduced to [A-Za-z0-9._-]. */
export function hgrmFileName(backend: string, symbol: string, name: string): string {
  return `${[backend, symbol, name].map((s) => String(s).replace(/[^A-Za-z0-9._-]+/g, '_')).join('-')}.hgrm`;
}

export interface WrittenReport {
  /** Absolute or dir-relative paths as joined from `dir`. */
  html: string;
  json: string;
  hgrm: string[];
}

/**
 * Writes the report into `dir` (created if missing): one `.hgrm` per entry of `histograms`
 * (keyed by file name, see hgrmFileName; HdrHistogram text, ns recorded, µs printed), then
 * `pipeline.json` (data, with each distribution's `hgrm` set where its file was written), then
 * `pipeline.html`. The JSON and the .hgrm files are on disk before the HTML is rendered, so
 * they stay when renderReport throws for a missing echarts.
 * @example
 * await writeReport('bench/results', data, { [hgrmFileName('native', 'AAPL', 'tickToTrade')]: tickToTrade });
 */
export async function writeReport(dir: string, data: PipelineReportData, histograms: Record<string, LatencyHistogram> = {}): Promise<WrittenReport> {
  if (typeof dir !== 'string' || dir === '') throw invalidType('dir', 'a directory path', dir);
  await mkdir(dir, { recursive: true });
  const hgrm: string[] = [];
  const written = new Set<string>();
  for (const [file, h] of Object.entries(histograms)) {
    if (!/^[A-Za-z0-9._-]+\.hgrm$/.test(file)) throw invalidType(`histograms[${JSON.stringify(file)}]`, 'a key that is a plain .hgrm file name', file);
    const path = join(dir, file);
    await writeFile(path, h.outputPercentileDistribution());
    hgrm.push(path);
    written.add(file);
  }
  const out: PipelineReportData = {
    ...data,
    stages: data.stages.map((run) => ({
      ...run,
      distributions: run.distributions.map((d) => {
        const file = hgrmFileName(run.backend, run.symbol, d.name);
        return written.has(file) ? { ...d, hgrm: file } : d;
      }),
    })),
  };
  const json = join(dir, 'pipeline.json');
  await writeFile(json, `${JSON.stringify(out, null, 2)}\n`);
  const html = join(dir, 'pipeline.html');
  await writeFile(html, await renderReport(out));
  return { html, json, hgrm };
}
