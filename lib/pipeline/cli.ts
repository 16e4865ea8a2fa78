/**
 * `npx ultra-performance pipeline --source <kind>:<file> ...`: the main job (job.ts) on a
 * user's own files, with the report written to `--out` (pipeline.html needs the optional
 * peer `echarts`; pipeline.json and the .hgrm files are written without it).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

import { UltraPerfError } from '../errors.js';
import { nearestKey } from '../internal/options.js';
import type { MarketDataSource } from './events.js';
import { availableBackends, runPipelineJob } from './job.js';
import type { ReconstructionResult } from './report-data.js';
import { writeReport } from './report.js';
import { BinanceSource } from './sources/binance.js';
import { ItchSource } from './sources/itch.js';
import { LobsterSource } from './sources/lobster.js';

export const kPipelineUsage = `Usage: ultra-performance pipeline --source <kind>:<file> [--source ...] [options]

  Runs market data -> MboBook -> strategy (quoteAroundMid) -> RiskGate -> simulated venue
  on your files and writes the report (docs/pipeline.md).

  --source lobster:<message file>[,<orderbook file>]
                       LOBSTER message + orderbook CSV (.csv or .csv.gz); the orderbook file
                       defaults to the message file's name with _message_ -> _orderbook_.
                       The book is checked against every orderbook row (mismatches reported).
  --source itch:<file>[#<symbol>]
                       NASDAQ TotalView-ITCH 5.0, u16 big-endian length-prefixed messages;
                       the symbol is needed when the file holds several stocks.
  --source binance:<file>[,<file>...]
                       Binance spot capture: depth snapshot + diff stream lines (gz or plain).
  --backend <b>        native | ts | both (default: both where the native addon loads)
  --runs <n>           maximum-rate runs per symbol, 1 to 1000; the median run by p99 is kept (default 3)
  --sweep <rates>      fixed-rate sweep on the first source, records/s, comma-separated
                       (e.g. 100000,300000,1000000); latency from each record's intended time
  --threads <counts>   events/s against worker threads, comma-separated, each 1 to 256 (e.g. 1,2,4)
  --var-prices <files> daily price panels (Date,<series>...) for the gate's VaR budget, comma-separated
  --var-end <date>     last date of the VaR covariance window (YYYY-MM-DD)
  --backtest <file>    daily index prices (Date,<series>) for the VaR backtest section
  --out <dir>          where the report goes, a folder (default ./pipeline-report)
  --json               print the report's data as JSON instead of the summary`;

const kValueFlags = ['source', 'backend', 'runs', 'sweep', 'threads', 'var-prices', 'var-end', 'backtest', 'out'] as const;
const kBoolFlags = ['json', 'help'] as const;

/** A bad command line: the message is for a person; exit code 2. */
export class UsageError extends UltraPerfError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_USAGE', message);
  }
}

interface Parsed {
  values: Map<string, string[]>;
  bools: Set<string>;
}

function parse(argv: readonly string[]): Parsed {
  const values = new Map<string, string[]>();
  const bools = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`Unexpected argument ${JSON.stringify(arg)}: every option starts with --.`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if ((kBoolFlags as readonly string[]).includes(name)) {
      bools.add(name);
      continue;
    }
    if (!(kValueFlags as readonly string[]).includes(name)) {
      const near = nearestKey(name, [...kValueFlags, ...kBoolFlags]);
      throw new UsageError(`Unknown option ${JSON.stringify(arg)}${near !== undefined ? `; did you mean "--${near}"?` : '.'}`);
    }
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new UsageError(`Option --${name} needs a value.`);
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return { values, bools };
}

function one(p: Parsed, name: string): string | undefined {
  const v = p.values.get(name);
  if (v !== undefined && v.length > 1) throw new UsageError(`Option --${name} was given ${v.length} times; give it once.`);
  return v?.[0];
}

/** Runs kept in memory at once (job.ts keeps every run's histograms to pick the median). */
const kMaxRuns = 1000;
/** Worker threads in one sharded run (each a V8 isolate and a queue). */
const kMaxThreads = 256;

function numbers(name: string, text: string | undefined, integer: boolean, max = Infinity): number[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(',').map((x) => Number(x));
  if (list.some((x) => !Number.isFinite(x) || x <= 0 || x > max || (integer && !Number.isInteger(x)))) {
    const up = max === Infinity ? '' : ` up to ${max}`;
    throw new UsageError(`Option --${name} takes ${integer ? 'positive integers' : 'positive numbers'}${up} separated by commas; got ${JSON.stringify(text)}.`);
  }
  return list;
}

/** The one count an option takes (a list is refused rather than cut to its first entry). */
function count(name: string, text: string | undefined, max: number): number | undefined {
  const list = numbers(name, text, true, max);
  if (list !== undefined && list.length > 1) throw new UsageError(`Option --${name} takes one count, not a list; got ${JSON.stringify(text)}.`);
  return list?.[0];
}

/** A file to read: it exists and is not a folder (a folder would fail later as a bare EISDIR). */
function existing(file: string, what: string): string {
  if (!existsSync(file)) throw new UsageError(`${what} ${JSON.stringify(file)} does not exist.`);
  if (statSync(file).isDirectory()) throw new UsageError(`${what} ${JSON.stringify(file)} is a folder; name a file in it.`);
  return file;
}

/** Opens one `--source` spec; LOBSTER's replay check result goes to `checks`. */
export function openSource(spec: string, checks: ReconstructionResult[], progress: (line: string) => void): MarketDataSource {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? '' : spec.slice(0, colon);
  const rest = spec.slice(colon + 1);
  if (kind === 'lobster') {
    const [messages = '', orderbook = messages.replace(/_message_/, '_orderbook_')] = rest.split(',');
    if (orderbook === messages) throw new UsageError(`--source lobster:${rest}: name the orderbook file too (lobster:<message file>,<orderbook file>); the message file's name has no _message_ to derive it from.`);
    existing(messages, 'LOBSTER message file');
    existing(orderbook, 'LOBSTER orderbook file');
    let last = 0;
    const source = LobsterSource.open({
      messages,
      orderbook,
      backend: 'ts',
      onProgress: (done, total) => {
        if (done - last >= total / 4 || done === total) {
          last = done;
          progress(`reading and checking ${messages}: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
        }
      },
    });
    const r = source.reconstruction;
    progress(`${r.symbol}: ${r.messages.toLocaleString('en-US')} messages, ${r.mismatches} mismatches, ${r.refills.toLocaleString('en-US')} refills`);
    checks.push(r);
    return source;
  }
  if (kind === 'itch') {
    const hash = rest.lastIndexOf('#');
    const file = hash < 0 ? rest : rest.slice(0, hash);
    const symbol = hash < 0 ? undefined : rest.slice(hash + 1);
    return ItchSource.fromFile(existing(file, 'ITCH file'), symbol === undefined ? {} : { symbol });
  }
  if (kind === 'binance') {
    const files = rest.split(',');
    for (const f of files) existing(f, 'Binance capture');
    return BinanceSource.fromFiles(files);
  }
  throw new UsageError(`--source ${JSON.stringify(spec)}: expected <kind>:<file> with kind lobster, itch or binance.`);
}

/** --var-end: a real calendar date, checked here so the message names the flag. */
function varEnd(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const d = new Date(`${text}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== text) {
    throw new UsageError(`--var-end takes a date as YYYY-MM-DD (e.g. 2012-06-20); got ${JSON.stringify(text)}.`);
  }
  return text;
}

function us(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(2)} µs`;
}

/**
 * Runs the command; returns the exit code (0 ok, 1 a failed run or a bad file, 2 a bad command line).
 * Progress goes to stderr, the summary (or --json) to stdout.
 */
export async function pipelineCommand(argv: readonly string[]): Promise<number> {
  const progress = (line: string) => process.stderr.write(`[pipeline] ${line}\n`);
  try {
    const p = parse(argv);
    if (p.bools.has('help')) {
      console.log(kPipelineUsage);
      return 0;
    }
    const specs = p.values.get('source') ?? [];
    if (specs.length === 0) throw new UsageError('Give at least one --source <kind>:<file>.');
    const backendFlag = one(p, 'backend') ?? 'both';
    const available = availableBackends();
    let backends: ('native' | 'ts')[];
    if (backendFlag === 'both') backends = available;
    else if (backendFlag === 'ts') backends = ['ts'];
    else if (backendFlag === 'native') {
      if (!available.includes('native')) throw new UsageError('--backend native: the native addon is not loaded here (npx ultra-performance status says why).');
      backends = ['native'];
    } else throw new UsageError(`--backend takes native, ts or both; got ${JSON.stringify(backendFlag)}.`);
    const runs = count('runs', one(p, 'runs'), kMaxRuns) ?? 3;
    const rates = numbers('sweep', one(p, 'sweep'), false);
    const threads = numbers('threads', one(p, 'threads'), true, kMaxThreads);
    const varPrices = one(p, 'var-prices')?.split(',').map((f) => existing(f, 'price file'));
    const end = varEnd(one(p, 'var-end'));
    const backtest = one(p, 'backtest');
    const out = resolve(one(p, 'out') ?? 'pipeline-report');
    // Checked before the run, not after it: the report is the last step.
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${JSON.stringify(out)} is a file; the report needs a folder (it writes pipeline.html, pipeline.json and .hgrm files there).`);

    const checks: ReconstructionResult[] = [];
    const sources = specs.map((s) => openSource(s, checks, progress));
    const names = new Set(sources.map((s) => s.symbol));
    if (names.size !== sources.length) throw new UsageError(`Two sources have the same symbol (${sources.map((s) => s.symbol).join(', ')}); give each symbol once.`);
    const command = `ultra-performance pipeline ${argv.join(' ')}`;
    const { report, histograms } = await runPipelineJob({
      sources,
      backends,
      runs,
      reconstruction: checks,
      varPrices,
      varEnd: end,
      sweep: rates === undefined ? undefined : { rates, records: Math.min(200_000, ...sources.map((s) => s.length)) },
      threads: threads === undefined ? undefined : { counts: threads, runs: 1, replicas: Math.max(1, Math.ceil(Math.max(...threads) / sources.length)) },
      backtest: backtest === undefined ? undefined : { prices: existing(backtest, 'backtest price file') },
      command,
      onProgress: progress,
    });
    let written = '';
    try {
      const w = await writeReport(out, report, histograms);
      written = `report: ${w.html} (+ pipeline.json, ${w.hgrm.length} .hgrm)`;
    } catch (err) {
      if (!(err instanceof UltraPerfError) || err.code !== 'ERR_ULTRA_PERF_MISSING_PEER') throw err;
      written = `report: ${out}/pipeline.json and ${Object.keys(histograms).length} .hgrm written; no pipeline.html: ${err.message}`;
    }
    if (p.bools.has('json')) {
      console.log(JSON.stringify(report, null, 2));
      progress(written);
      return 0;
    }
    const lines = ['backend  symbol        events/s   t2t p50    t2t p99    book p50   risk p50   venue p50'];
    for (const s of report.stages) {
      const d = (n: string) => s.distributions.find((x) => x.name === n)!;
      lines.push(
        [s.backend.padEnd(8), s.symbol.padEnd(12), `${(s.eventsPerSecond / 1e3).toFixed(0)} k`.padStart(9), ...['tickToTrade', 'tickToTrade', 'book', 'risk', 'venue'].map((n, k) => us(k === 1 ? d(n).p99 : d(n).p50).padStart(10))].join(' '),
      );
    }
    for (const r of report.reconstruction) {
      if (r.depth !== undefined) lines.push(`${r.symbol}: book checked after every message at depth ${r.depth}: ${r.mismatches} mismatches, ${r.refills} refills`);
    }
    const t = report.trading;
    lines.push(`orders ${t.orders}, accepted ${t.accepted}, fills ${t.fills}, PnL ${t.pnl.toFixed(2)}; rejects ${JSON.stringify(t.rejects)}`);
    for (const s of report.rateSweep) {
      // 0 means no offered rate kept p99 under 10 µs, not a rate of 0: say so, with the lowest rate tried.
      const lowest = Math.min(...s.points.map((q) => q.offeredPerSecond));
      const rate = s.maxRateP99Under10us > 0 ? `${s.maxRateP99Under10us.toLocaleString('en-US')} records/s` : `none of the rates offered (p99 ${us(s.points.find((q) => q.offeredPerSecond === lowest)?.p99 ?? NaN)} at the lowest, ${lowest.toLocaleString('en-US')} records/s)`;
      lines.push(`${s.backend}: highest offered rate with p99 <= 10 µs: ${rate}`);
    }
    lines.push(written);
    console.log(lines.join('\n'));
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${kPipelineUsage}`);
      return 2;
    }
    console.error(`ultra-performance pipeline: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
