// Binance spot capture as a pipeline source (lib/pipeline/sources/binance.ts, issue 13 items 2
// and 8): the book rebuilt from the REST snapshot and the diff-depth stream equals every
// bookTicker of the capture that names an update id the book reaches; buffering of diffs that
// arrive before the snapshot; gaps counted and resynchronised; exact decimal units; bad files.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { afterAll, describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { SourceFormatError } from '../lib/errors.js';
import { MboBook } from '../lib/orderbook/mbo.js';
import { EventField, EventOp, kEventStride } from '../lib/pipeline/events.js';
import { BinanceSource } from '../lib/pipeline/sources/binance.js';

import { catchError } from './pipeline-sources-helpers.js';

const kDir = 'bench/data/binance-2024-08-08/spot';
const tmp = mkdtempSync(join(tmpdir(), 'binance-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A small L2 book: price ticks → lots per side, fed with the source's events. */
class LevelBook {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  apply(out: Float64Array, n: number): void {
    for (let k = 0; k < n; k++) {
      const o = k * kEventStride;
      const op = out[o + EventField.op];
      if (op === EventOp.clear) {
        this.bids.clear();
        this.asks.clear();
        continue;
      }
      if (op === EventOp.hiddenExecute) continue; // a trade print: flow for the venue, the diffs move the levels
      expect(op).toBe(EventOp.level);
      const side = out[o + EventField.side] === 0 ? this.bids : this.asks;
      const price = out[o + EventField.price]!;
      const size = out[o + EventField.size]!;
      if (size === 0) side.delete(price);
      else side.set(price, size);
    }
  }
  /** [bid ticks, bid lots, ask ticks, ask lots]. */
  top(): [number, number, number, number] {
    let bid = -Infinity;
    let ask = Infinity;
    for (const p of this.bids.keys()) bid = Math.max(bid, p);
    for (const p of this.asks.keys()) ask = Math.min(ask, p);
    return [bid, this.bids.get(bid) ?? 0, ask, this.asks.get(ask) ?? 0];
  }
}

/** MboBook behind the same two calls: the pipeline's book, fed the same level events. */
class MboAdapter {
  readonly book: MboBook;
  private readonly bid = new Float64Array(3);
  private readonly ask = new Float64Array(3);
  constructor(source: BinanceSource, backend: 'ts' | 'native') {
    this.book = new MboBook({ symbol: source.symbol, tickSize: source.tickSize, lotSize: source.lotSize, backend });
  }
  apply(out: Float64Array, n: number): void {
    this.book.apply(out, n);
  }
  top(): [number, number, number, number] {
    const b = this.book.unitLevels(0, 1, this.bid) === 1;
    const a = this.book.unitLevels(1, 1, this.ask) === 1;
    return [b ? this.bid[0]! : -Infinity, b ? this.bid[1]! : 0, a ? this.ask[0]! : Infinity, a ? this.ask[1]! : 0];
  }
}
/** MboBook's backends here: native once the CPU addon has the MBO binding (branch mbo builds it). */
const backends: ('ts' | 'native')[] = typeof (cpuAddon as { orderbookMboCreate?: unknown } | null)?.orderbookMboCreate === 'function' ? ['ts', 'native'] : ['ts'];

interface Ticker { u: number; b: string; B: string; a: string; A: string }

/** Float parsing, independent of the source's string arithmetic (exact enough at 2 and 8 decimals for these magnitudes). */
const ticks = (s: string): number => Math.round(Number.parseFloat(s) * 100);
const lots = (s: string): number => Math.round(Number.parseFloat(s) * 1e8);

function replayAgainstTickers(source: BinanceSource) {
  const tickers = new Map<number, Ticker>();
  let tickerLines = 0;
  for (let i = 0; i < source.length; i++) {
    const line = source.lineText(i);
    if (!line.includes('@bookTicker')) continue;
    tickerLines++;
    const t = (JSON.parse(line.slice(line.indexOf(' ') + 1)) as { data: Ticker }).data;
    tickers.set(t.u, t);
  }
  const books = [new LevelBook(), ...backends.map((b) => new MboAdapter(source, b))];
  const out = new Float64Array(source.maxEventsPerRecord * kEventStride);
  expect(source.initial().length).toBe(0);
  let matched = 0;
  const mismatches: string[] = [];
  const mboMatched = backends.map(() => 0);
  let bookStates = 0;
  let lastSeen = -1;
  for (let i = 0; i < source.length; i++) {
    const n = source.decode(i, out, 0);
    for (const book of books) book.apply(out, n);
    if (source.stale || source.lastUpdateId === lastSeen) continue;
    lastSeen = source.lastUpdateId;
    bookStates++;
    const t = tickers.get(lastSeen);
    if (t === undefined) continue;
    const want = [ticks(t.b), lots(t.B), ticks(t.a), lots(t.A)];
    const got = books[0]!.top();
    if (got.every((v, k) => v === want[k])) matched++;
    else mismatches.push(`u ${t.u}: book ${got.join(' ')} vs bookTicker ${want.join(' ')}`);
    for (let k = 1; k < books.length; k++) if (books[k]!.top().every((v, j) => v === want[j])) mboMatched[k - 1]!++;
  }
  return { tickerLines, matched, mismatches, bookStates, mboMatched };
}

describe('BinanceSource on the spot captures of 2024-08-08 23:54 → 00:05 UTC', () => {
  it('reads the files PROVENANCE.md describes', () => {
    const sha = (f: string) => createHash('sha256').update(readFileSync(join(kDir, f))).digest('hex');
    expect(['btcusdt_20240808.gz', 'btcusdt_20240809.gz', 'ethusdt_20240808.gz', 'ethusdt_20240809.gz'].map(sha)).toEqual([
      '5d263f4c5379cfc27379ef0e22779aa33804463d1b69c292e9c0714e31f2e1b4',
      '2981a27474b8903133cc66e25f4da561140dd061c942b84801b9d8c60e4b3599',
      '179a67651ec90f8d299c033f85df29027315a30a738eae74a1388d560f80a737',
      '7be2b6113ced0cdb125bfa7607aacb18acd1f3cea9a248d1f53c627c7eed6bb8',
    ]);
  });

  for (const [symbol, applied, matchedWant, tickerLinesWant] of [
    ['btcusdt', 6493, 1072, 73_174],
    ['ethusdt', 6468, 1056, 58_758],
  ] as const) {
    it(`${symbol}: the rebuilt best bid/ask equals every bookTicker at a book update id`, () => {
      const source = BinanceSource.fromFiles([join(kDir, `${symbol}_20240808.gz`), join(kDir, `${symbol}_20240809.gz`)]);
      expect([source.symbol, source.tickSize, source.lotSize]).toEqual([symbol.toUpperCase(), 0.01, 1e-8]);
      const r = replayAgainstTickers(source);
      // bookTicker is per update id, the diff stream a 100 ms batch: only the tickers whose
      // `u` is the last id of an applied diff describe a book this replay reaches.
      console.log(`${symbol}: bookTicker matched ${r.matched}/${r.matched + r.mismatches.length} at book update ids; ${r.tickerLines} bookTicker lines, ${r.bookStates} book states`);
      expect(r.mismatches).toEqual([]);
      expect(r.matched).toBe(matchedWant);
      expect(r.mboMatched).toEqual(backends.map(() => matchedWant)); // MboBook fed the same events agrees on every one
      expect(r.tickerLines).toBe(tickerLinesWant);
      expect([source.appliedDiffs, source.gaps, source.snapshots, source.droppedDiffs, source.stale]).toEqual([applied, 0, 1, 2, false]);
    });
  }

  it('buffers the BTCUSDT diff that straddles the snapshot, which arrives two lines before it', () => {
    const source = BinanceSource.fromFiles([join(kDir, 'btcusdt_20240808.gz')]);
    const out = new Float64Array(source.maxEventsPerRecord * kEventStride);
    source.initial();
    const snapshotLine = 7; // line 8
    expect(source.lineText(snapshotLine)).toMatch(/^\d+ \{"lastUpdateId":50093239218,/);
    const straddling = JSON.parse(source.lineText(5).split(' ')[1]!).data as { U: number; u: number; E: number };
    expect(straddling.U <= 50093239219 && straddling.u >= 50093239219).toBe(true);
    // Before the snapshot no line touches the book (a trade line is one hiddenExecute, flow only).
    for (let i = 0; i < snapshotLine; i++) {
      const n = source.decode(i, out, 0);
      for (let k = 0; k < n; k++) expect(out[k * kEventStride + EventField.op]).toBe(EventOp.hiddenExecute);
    }
    expect(source.stale).toBe(true);
    const n = source.decode(snapshotLine, out, 0);
    expect(out[EventField.op]).toBe(EventOp.clear);
    expect(out[kEventStride + EventField.op]).toBe(EventOp.level);
    expect(out[kEventStride + EventField.aux]).toBe(50093239218);
    expect(out[(n - 1) * kEventStride + EventField.aux]).toBe(straddling.u); // the buffered diff, applied at the snapshot
    expect([source.stale, source.lastUpdateId, source.droppedDiffs, source.appliedDiffs]).toEqual([false, straddling.u, 2, 1]);
    // Exchange time E → ns since UTC midnight of the first event (2024-08-08).
    const firstE = JSON.parse(source.lineText(0).split(' ')[1]!).data.E as number;
    expect(out[(n - 1) * kEventStride + EventField.time]).toBe((straddling.E - Math.floor(firstE / 86_400_000) * 86_400_000) * 1e6);
    // The first snapshot bid, exactly: 61837.63000000 × 3.78826000
    expect([out[kEventStride + EventField.price], out[kEventStride + EventField.size]]).toEqual([6_183_763, 378_826_000]);
  });

  it('the 0809 half alone has no snapshot: the book stays empty and stale', () => {
    const source = BinanceSource.fromFiles([join(kDir, 'btcusdt_20240809.gz')]);
    const r = replayAgainstTickers(source);
    expect([r.matched, r.bookStates, source.appliedDiffs, source.snapshots, source.stale]).toEqual([0, 0, 0, 0, true]);
  });
});

const E0 = 1_723_161_600_000; // 2024-08-09 00:00:00 UTC
const line = (obj: unknown): string => `1723161600000000000 ${JSON.stringify(obj)}`;
const snap = (id: number, bid = '100.00', ask = '101.00') => line({ lastUpdateId: id, bids: [[bid, '1.00000000']], asks: [[ask, '2.00000000']] });
const diff = (U: number, u: number, b: string[][] = [], a: string[][] = [], extra: Record<string, unknown> = {}) =>
  line({ stream: 'xyzusdt@depth@100ms', data: { e: 'depthUpdate', E: E0 + u, s: 'XYZUSDT', U, u, b, a, ...extra } });
const ticker = (u: number) => line({ stream: 'xyzusdt@bookTicker', data: { u, s: 'XYZUSDT', b: '100.00', B: '1', a: '101.00', A: '2' } });

function run(lines: string[], options = {}) {
  const source = new BinanceSource([{ file: 'cap.txt', text: lines.join('\n') + '\n' }], { tickSize: '0.01', ...options });
  const out = new Float64Array(source.maxEventsPerRecord * kEventStride);
  const rows: number[][] = [];
  source.initial();
  for (let i = 0; i < source.length; i++) {
    const n = source.decode(i, out, 0);
    for (let k = 0; k < n; k++) rows.push(Array.from(out.subarray(k * kEventStride, (k + 1) * kEventStride)));
  }
  return { source, rows };
}

describe('BinanceSource sequence rules (synthetic captures)', () => {
  it('snapshot, diffs before and after it, level events in exact units', () => {
    const { source, rows } = run([diff(5, 9), diff(10, 12, [['100.50', '0.00000001']]), snap(11), ticker(12), diff(13, 13, [], [['101.00', '0']])]);
    const t = (u: number) => u * 1e6;
    expect(rows).toEqual([
      [EventOp.clear, t(12), 0, 0, 0, 0, 0, -1],
      [EventOp.level, t(12), 0, 0, 10_000, 100_000_000, 0, 11],
      [EventOp.level, t(12), 0, 1, 10_100, 200_000_000, 0, 11],
      [EventOp.level, t(12), 0, 0, 10_050, 1, 0, 12],
      [EventOp.level, t(13), 0, 1, 10_100, 0, 0, 13],
    ]);
    expect([source.droppedDiffs, source.appliedDiffs, source.gaps, source.stale, source.lastUpdateId, source.maxEventsPerRecord]).toEqual([1, 2, 0, false, 13, 4]);
  });

  it('a trade line is one hiddenExecute: resting side from m, exact price and quantity, the trade id in aux; time never goes back', () => {
    const trade = (t: number, E: number, p: string, q: string, m: boolean) => line({ stream: 'xyzusdt@trade', data: { e: 'trade', E, s: 'XYZUSDT', t, p, q, T: E, m, M: true } });
    const { source, rows } = run([snap(10), diff(11, 11, [['100.50', '1']]), trade(7, E0 + 5, '100.50', '0.25', true), trade(8, E0 + 14, '101.00', '0.00000003', false)]);
    const trades = rows.filter((r) => r[EventField.op] === EventOp.hiddenExecute);
    expect(trades).toEqual([
      [EventOp.hiddenExecute, 11e6, 0, 0, 10_050, 25_000_000, 0, 7], // E 5 < the diff's time 11: kept at 11
      [EventOp.hiddenExecute, 14e6, 0, 1, 10_100, 3, 0, 8],
    ]);
    expect(source.trades).toBe(2);
    expect(() => run([snap(10), trade(9, E0 + 12, '100.005', '1', true)])).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT', message: expect.stringContaining('trade price') }));
    expect(() => run([snap(10), line({ stream: 'xyzusdt@trade', data: { e: 'trade', E: E0 + 12, s: 'XYZUSDT', t: 9, p: '100.00', q: '1', m: 'yes' } })])).toThrow(
      expect.objectContaining({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT', message: expect.stringContaining('"m"') }),
    );
  });

  it('a gap: counted, the book cleared and stale until the next snapshot resynchronises it', () => {
    const { source, rows } = run([snap(10), diff(11, 12), diff(15, 16, [['99.00', '1']]), diff(17, 18), snap(17, '98.00', '99.50'), diff(19, 19), diff(20, 20)]);
    expect(rows.map((r) => r[EventField.op])).toEqual([
      EventOp.clear, EventOp.level, EventOp.level, // snapshot 10
      EventOp.clear, // gap at U 15
      EventOp.clear, EventOp.level, EventOp.level, // snapshot 17 (diff 17-18 applied with it, no levels)
    ]);
    expect([source.gaps, source.snapshots, source.stale, source.lastUpdateId, source.appliedDiffs]).toEqual([1, 2, false, 20, 4]);
    const e = catchError(() => run([snap(10), diff(11, 12), diff(15, 16)], { onGap: 'error' }));
    expect(e).toBeInstanceOf(SourceFormatError);
    expect(e.message).toBe('cap.txt, line 3: sequence gap: diff U 15 after update id 12 (13 expected)');
  });

  it('a snapshot the synced book is already past is ignored; a newer one replaces the book', () => {
    const { source, rows } = run([snap(10), diff(11, 14), snap(12, '90.00', '91.00'), diff(15, 16), snap(20, '95.00', '96.00'), diff(17, 19), diff(20, 21)]);
    expect(rows.map((r) => r[EventField.op])).toEqual([EventOp.clear, EventOp.level, EventOp.level, EventOp.clear, EventOp.level, EventOp.level]);
    expect(rows[4]![EventField.price]).toBe(9_500);
    expect([source.ignoredSnapshots, source.snapshots, source.droppedDiffs, source.gaps, source.lastUpdateId, source.stale]).toEqual([1, 2, 1, 0, 21, false]);
  });

  it('a snapshot older than every buffered diff is a gap, too', () => {
    const { source } = run([diff(20, 25), snap(10), diff(26, 27)]);
    expect([source.gaps, source.stale, source.appliedDiffs]).toEqual([1, true, 0]);
  });

  it('futures diffs follow pu = previous u', () => {
    const { source } = run([snap(10), diff(9, 12, [], [], { pu: 8 }), diff(14, 15, [], [], { pu: 12 })]);
    expect([source.appliedDiffs, source.gaps]).toEqual([2, 0]);
    expect(run([snap(10), diff(9, 12, [], [], { pu: 8 }), diff(14, 15, [], [], { pu: 13 })]).source.gaps).toBe(1);
  });

  it('out-of-order sequence numbers name the line', () => {
    expect(catchError(() => run([snap(10), diff(11, 14), diff(13, 15)])).message).toBe(
      'cap.txt, line 3: diff out of order: U 13 u 15 after update id 14',
    );
    expect(catchError(() => run([diff(11, 14), diff(12, 15), snap(20)])).message).toMatch(/line 2: diff out of order: U 12 u 15 after buffered u 14/);
    expect(catchError(() => run([snap(10), diff(12, 11)])).message).toMatch(/line 2: diff with U 12 > u 11/);
  });

  it('bad lines: not JSON, unknown stream, missing field, off-grid value, another symbol', () => {
    const where = (lines: string[], options = {}) => {
      const e = catchError(() => run(lines, { symbol: 'XYZUSDT', ...options }));
      expect(e).toBeInstanceOf(SourceFormatError);
      expect(e.code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
      return e.message;
    };
    expect(where([snap(1), 'garbage'])).toMatch(/^cap\.txt, line 2: not a "<receive ns> <JSON>" line/);
    expect(where([snap(1), '123 {"stream":'])).toMatch(/^cap\.txt, line 2: invalid JSON/);
    expect(where([line({ stream: 'xyzusdt@kline_1m', data: { s: 'XYZUSDT' } })])).toMatch(/line 1: unknown stream "xyzusdt@kline_1m"/);
    expect(where([snap(1), diff(2, 3).replace('"U":2,', '')])).toMatch(/line 2: field "U" is undefined/);
    expect(where([snap(1), diff(2, 3, [['100.005', '1']])])).toMatch(/line 2: b\[0\] price 100\.005 is not a multiple of 0\.01/);
    expect(where([snap(1), diff(2, 3, [['100.00', '1.5']])], { lotSize: '1' })).toMatch(/line 2: b\[0\] quantity 1\.5 is not a multiple of 1/);
    expect(where([snap(1), diff(2, 3, [['1e5', '1']])])).toMatch(/line 2: b\[0\] price "1e5" is not a decimal string/);
    expect(where([snap(1), diff(2, 3).replace('"s":"XYZUSDT"', '"s":"ABCUSDT"')])).toMatch(/line 2: symbol "ABCUSDT", this source reads XYZUSDT/);
    expect(() => new BinanceSource([{ file: 'x', text: snap(1) }], { symbol: 'XYZUSDT', tickSize: '0' })).toThrow(/options\.tickSize/);
    expect(where([snap(1)], { symbol: undefined })).toBe('cap.txt, line 1: no line names a symbol ("s"); pass options.symbol');
  });

  it('bad files: a truncated gzip, an ITCH file given as a capture; errors name the file and line', () => {
    const gz = readFileSync(join(kDir, 'ethusdt_20240808.gz'));
    const cut = join(tmp, 'cut.gz');
    writeFileSync(cut, gz.subarray(0, 100_000));
    const e = catchError(() => BinanceSource.fromFiles([cut]));
    expect(e).toBeInstanceOf(SourceFormatError);
    expect(e.message).toBe(`${cut}, byte 100000: truncated gzip: the compressed stream ends at byte 100000 before its end marker`);
    const itch = catchError(() => BinanceSource.fromFiles(['bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin'], { symbol: 'AAPL' }));
    expect(itch.message).toMatch(/locate-13-10k\.bin, line 1: not a "<receive ns> <JSON>" line/);
    // The second file's line numbers are its own.
    const a = join(tmp, 'a.gz');
    const b = join(tmp, 'b.txt');
    writeFileSync(a, gzipSync(`${snap(10)}\n${diff(11, 12)}\n`));
    writeFileSync(b, `${diff(13, 14)}\n${diff(12, 16)}\n`);
    expect(catchError(() => BinanceSource.fromFiles([a, b], { tickSize: '0.01' })).message).toBe(`${b}, line 2: diff out of order: U 12 u 16 after update id 14`);
  });
});
