/**
 * A Binance spot websocket capture as a `MarketDataSource`: one record per line of
 * `<local receive time, ns since epoch> <JSON>` (hftbacktest's collector format, gzip or
 * plain), holding the REST depth snapshot (`{"lastUpdateId", "bids", "asks"}`) and the
 * combined streams `<sym>@depth@100ms` (diff depth), `<sym>@bookTicker` and `<sym>@trade`.
 *
 * The book is rebuilt with Binance's rules for a local order book
 * (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams, "How to
 * manage a local order book correctly"):
 * - diffs that arrive before a snapshot are buffered (the one that straddles the snapshot can
 *   come first: line 6 vs line 8 in the BTCUSDT capture);
 * - at the snapshot: the book is cleared and set to its levels, then buffered and later
 *   diffs with `u` ≤ `lastUpdateId` are dropped, and the first one applied must have
 *   `U` ≤ `lastUpdateId` + 1 ≤ `u`;
 * - after that each diff must continue the last: `U` = previous `u` + 1 (spot). A diff
 *   carrying `pu` (the futures streams) must have `pu` = previous `u` instead; the spot
 *   capture has no `pu`.
 * - a diff that starts before the last one ended (`U` ≤ previous `u`, out of order) is a
 *   SourceFormatError naming the line. A diff that starts after `u` + 1 is a gap: it is
 *   counted (`gaps`), the book is cleared (one `clear` event) and marked `stale`, and diffs
 *   are buffered again until the next snapshot line of the capture resynchronises it (the
 *   collector writes a fresh REST snapshot when it sees a gap). No snapshot later in the
 *   file: the book stays empty and stale. `onGap: 'error'` throws instead.
 * - a snapshot that arrives while the book is synced past its `lastUpdateId` is ignored
 *   (`ignoredSnapshots`); a newer one replaces the book as the first one did.
 *
 * Events (lib/pipeline/events.ts): a snapshot is `clear` + one `level` per price level; each
 * applied diff entry is a `level` (size 0 removes the level); `aux` is the diff's final
 * update id `u` (the snapshot's `lastUpdateId` for snapshot levels). A trade line is one
 * `hiddenExecute` (the resting side from `m`, price and quantity, aux = trade id `t`): flow
 * for the pipeline's venue that leaves the visible book to the diffs. bookTicker lines give
 * 0 events (they are the ground truth the tests check the book against); the constructor
 * parses and checks every line once, so `decode` recognises them by their stream name
 * without parsing them again.
 *
 * Units: prices in ticks of `tickSize`, quantities in lots of `lotSize`, converted from the
 * decimal strings by string arithmetic (no float rounding); a value off that grid is a
 * SourceFormatError. Default tick: the symbol's exchange PRICE_FILTER tickSize (BTCUSDT and
 * ETHUSDT: 0.01, as of 2024-08), else 10⁻⁸. Default lot: 10⁻⁸, the 8 decimal places every
 * Binance quantity string carries: level totals in these captures have more decimals than
 * today's LOT_SIZE stepSize (BTCUSDT 25.426189 at 200000.00, step 0.00001), so the step
 * would not be exact. Time: the exchange event time `E` (ms) as ns since the UTC midnight
 * of the capture's first event (a capture that crosses midnight keeps counting past 24 h);
 * the snapshot, which has no `E`, takes the last event time before it. The receive
 * timestamp is not used (the recording clock ran ~1.27 s behind Binance).
 */

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { SourceFormatError, invalidType, invalidValue } from '../../errors.js';
import { EventField, EventOp, EventSide, kEventStride, type MarketDataSource } from '../events.js';

/** PRICE_FILTER tickSize of known spot symbols (GET /api/v3/exchangeInfo, 2024-08). */
const kKnownTickSize: Readonly<Record<string, string>> = { BTCUSDT: '0.01', ETHUSDT: '0.01' };
const kDefaultLot = '0.00000001';
const kMsPerDay = 86_400_000;

/** Options of `BinanceSource`. */
export interface BinanceSourceOptions {
  /** The symbol (e.g. 'BTCUSDT'); default: the `s` of the first diff. Lines for another symbol are an error. */
  symbol?: string;
  /** Price tick as a decimal string ('0.01'); see the module docs for the default. */
  tickSize?: string;
  /** Quantity lot as a decimal string; default '0.00000001'. */
  lotSize?: string;
  /** A sequence gap: 'resync' (default: count, clear, stale until the next snapshot) or 'error'. */
  onGap?: 'resync' | 'error';
}

/** One input file's lines inside the source's records. */
interface Part {
  file: string;
  first: number;
}

/** A decimal step `mult × 10^-decimals`, e.g. '0.05' → { decimals: 2, mult: 5 }. */
interface Step {
  text: string;
  decimals: number;
  mult: number;
  value: number;
}

function parseStep(name: string, text: unknown): Step {
  if (typeof text !== 'string' || !/^\d+(\.\d+)?$/.test(text)) throw invalidValue(name, 'a positive decimal string such as "0.01"', text);
  const [int = '', frac = ''] = text.split('.');
  const trimmed = frac.replace(/0+$/, '');
  const digits = (int + trimmed).replace(/^0+/, '');
  const mult = digits === '' ? 0 : Number(digits);
  if (mult === 0 || trimmed.length > 8 || !Number.isSafeInteger(mult)) throw invalidValue(name, 'a positive decimal string of at most 8 decimals', text);
  return { text, decimals: trimmed.length, mult, value: Number(text) };
}

interface DepthDiff {
  line: number;
  first: number;
  last: number;
  prev: number;
  time: number;
  b: unknown;
  a: unknown;
}

/**
 * @example
 * const source = BinanceSource.fromFiles(['bench/data/binance-2024-08-08/spot/btcusdt_20240808.gz']);
 * const out = new Float64Array(source.maxEventsPerRecord * kEventStride);
 * source.initial();
 * for (let i = 0; i < source.length; i++) book.apply(out, source.decode(i, out, 0));
 */
export class BinanceSource implements MarketDataSource {
  readonly kind = 'binance' as const;
  readonly symbol: string;
  readonly tickSize: number;
  readonly lotSize: number;
  readonly length: number;
  readonly maxEventsPerRecord: number;

  /** Snapshots applied since `initial()`. */
  snapshots = 0;
  /** Snapshots that arrived while the book was synced past their lastUpdateId (not applied). */
  ignoredSnapshots = 0;
  /** Diffs applied to the book since `initial()`. */
  appliedDiffs = 0;
  /** Diffs dropped because the snapshot already held them (`u` ≤ lastUpdateId). */
  droppedDiffs = 0;
  /** Trade prints turned into `hiddenExecute` events since `initial()`. */
  trades = 0;
  /** Sequence gaps seen since `initial()`. */
  gaps = 0;
  /** True while no snapshot has been applied, or after a gap until the next snapshot. */
  stale = true;
  /** The book's update id: the last applied diff's `u`, or the snapshot's lastUpdateId (-1 before any). */
  lastUpdateId = -1;

  private readonly lines: string[];
  private readonly parts: Part[];
  private readonly tick: Step;
  private readonly lot: Step;
  private readonly failOnGap: boolean;
  private dayStartMs = -1;
  private buffered: DepthDiff[] = [];
  /** After a snapshot, before the first diff that straddles it. */
  private awaitingFirst = false;
  private lastTime = 0;
  private next = 0;
  private readonly scratch = new Float64Array(kEventStride);
  /** The stream prefix of the lines that never give events (bookTicker), recognised without parsing in decode. */
  private readonly quietPrefix: string;

  /**
   * Reads gzip or plain files whose lines together form one capture, in order (e.g. the
   * 0808 and 0809 halves). @throws SourceFormatError (`byte N`) for a truncated or corrupt
   * gzip, and as the constructor does.
   */
  static fromFiles(paths: readonly string[], options: BinanceSourceOptions = {}): BinanceSource {
    if (!Array.isArray(paths) || paths.length === 0 || paths.some((p) => typeof p !== 'string')) {
      throw invalidType('paths', 'a non-empty array of file paths', paths);
    }
    return new BinanceSource(
      paths.map((path) => ({ file: path, text: readCapture(path) })),
      options,
    );
  }

  /**
   * Splits, checks and sizes the capture: one dry pass parses every line with the same rules
   * `decode` uses, so a bad line is reported here with its file and line number.
   * @throws SourceFormatError (`line N`) for a line that is not `<ns> <JSON>`, an unknown
   *   stream, a missing field, a value off the tick or lot grid, another symbol, a diff out
   *   of order, or (onGap 'error') a gap.
   */
  constructor(inputs: readonly { file: string; text: string }[], options: BinanceSourceOptions = {}) {
    if (!Array.isArray(inputs) || inputs.length === 0) throw invalidType('inputs', 'a non-empty array of { file, text }', inputs);
    this.lines = [];
    this.parts = [];
    for (const input of inputs) {
      if (typeof input?.text !== 'string' || typeof input.file !== 'string') throw invalidType('inputs[i]', '{ file: string, text: string }', input);
      this.parts.push({ file: input.file, first: this.lines.length });
      const split = input.text.split('\n');
      if (split[split.length - 1] === '') split.pop();
      for (const line of split) this.lines.push(line);
    }
    this.length = this.lines.length;
    if (options.onGap !== undefined && options.onGap !== 'resync' && options.onGap !== 'error') {
      throw invalidValue('options.onGap', "'resync' or 'error'", options.onGap);
    }
    this.failOnGap = options.onGap === 'error';
    if (options.symbol !== undefined && (typeof options.symbol !== 'string' || !/^[A-Z0-9]+$/.test(options.symbol))) {
      throw invalidValue('options.symbol', 'an upper-case Binance symbol such as "BTCUSDT"', options.symbol);
    }
    this.symbol = options.symbol ?? this.findSymbol();
    this.tick = parseStep('options.tickSize', options.tickSize ?? kKnownTickSize[this.symbol] ?? kDefaultLot);
    this.lot = parseStep('options.lotSize', options.lotSize ?? kDefaultLot);
    this.tickSize = this.tick.value;
    this.lotSize = this.lot.value;

    const lower = this.symbol.toLowerCase();
    this.quietPrefix = `{"stream":"${lower}@bookTicker"`;
    this.reset();
    let most = 1;
    for (let i = 0; i < this.length; i++) most = Math.max(most, this.process(i, null, 0));
    this.maxEventsPerRecord = most;
    this.reset();
  }

  /** Resets the book state; the book starts empty, so there are no events. */
  initial(): Float64Array {
    this.reset();
    return new Float64Array(0);
  }

  decode(index: number, out: Float64Array, at: number): number {
    if (index !== this.next) throw invalidValue('index', `record ${this.next} (Binance records are decoded in order after initial())`, index);
    return this.process(index, out, at);
  }

  /** 'file, line N' of record `index` (1-based line in its own file). */
  whereOf(index: number): { file: string; where: string } {
    let part = this.parts[0]!;
    for (const p of this.parts) if (p.first <= index) part = p;
    return { file: part.file, where: `line ${index - part.first + 1}` };
  }

  /** The raw text of record `index` (receive timestamp, space, JSON). */
  lineText(index: number): string {
    return this.lines[index]!;
  }

  private reset(): void {
    this.snapshots = 0;
    this.ignoredSnapshots = 0;
    this.appliedDiffs = 0;
    this.droppedDiffs = 0;
    this.gaps = 0;
    this.trades = 0;
    this.stale = true;
    this.lastUpdateId = -1;
    this.buffered = [];
    this.awaitingFirst = false;
    this.lastTime = 0;
    this.next = 0;
  }

  private fail(index: number, message: string): never {
    const { file, where } = this.whereOf(index);
    throw new SourceFormatError(file, where, message);
  }

  private findSymbol(): string {
    for (let i = 0; i < this.length; i++) {
      const m = /"s":"([A-Z0-9]+)"/.exec(this.lines[i]!);
      if (m) return m[1]!;
    }
    return this.fail(0, 'no line names a symbol ("s"); pass options.symbol');
  }

  private parse(index: number): Record<string, unknown> {
    const line = this.lines[index]!;
    const space = line.indexOf(' ');
    if (space <= 0 || !/^\d+$/.test(line.slice(0, space))) {
      this.fail(index, `not a "<receive ns> <JSON>" line: ${JSON.stringify(line.slice(0, 40))}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(line.slice(space + 1));
    } catch (cause) {
      const { file, where } = this.whereOf(index);
      throw new SourceFormatError(file, where, `invalid JSON: ${(cause as Error).message}`, { cause });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(index, 'the JSON is not an object');
    return value as Record<string, unknown>;
  }

  private num(index: number, obj: Record<string, unknown>, key: string): number {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(index, `field "${key}" is ${JSON.stringify(v)}, expected a non-negative integer`);
    return v;
  }

  /** Exact decimal string → integer count of `step` (string arithmetic, no float). */
  private units(index: number, text: unknown, step: Step, what: string): number {
    if (typeof text !== 'string') this.fail(index, `${what} ${JSON.stringify(text)} is not a decimal string`);
    const n = text.length;
    let int = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      int = int * 10 + c;
    }
    if (i === 0) this.fail(index, `${what} ${JSON.stringify(text)} is not a decimal string`);
    let frac = 0;
    let fracDigits = 0;
    if (i < n) {
      if (text.charCodeAt(i) !== 46 || i === n - 1) this.fail(index, `${what} ${JSON.stringify(text)} is not a decimal string`);
      for (i++; i < n; i++) {
        const c = text.charCodeAt(i) - 48;
        if (c < 0 || c > 9) this.fail(index, `${what} ${JSON.stringify(text)} is not a decimal string`);
        if (fracDigits < step.decimals) {
          frac = frac * 10 + c;
          fracDigits++;
        } else if (c !== 0) {
          this.fail(index, `${what} ${text} is not a multiple of ${step.text}`);
        }
      }
    }
    for (; fracDigits < step.decimals; fracDigits++) frac *= 10;
    const scaled = int * 10 ** step.decimals + frac;
    if (!Number.isSafeInteger(scaled)) this.fail(index, `${what} ${text} is too large to be exact in units of ${step.text}`);
    if (scaled % step.mult !== 0) this.fail(index, `${what} ${text} is not a multiple of ${step.text}`);
    return scaled / step.mult;
  }

  private timeOf(index: number, ms: number): number {
    if (this.dayStartMs < 0) this.dayStartMs = Math.floor(ms / kMsPerDay) * kMsPerDay;
    if (ms < this.dayStartMs) this.fail(index, `event time E ${ms} is before the capture's first day`);
    return (ms - this.dayStartMs) * 1e6;
  }

  /** One level event into `out` (or only counted when `out` is null). */
  private level(out: Float64Array | null, slot: number, side: number, price: number, size: number, time: number, id: number): void {
    const o = out ?? this.scratch;
    const b = out === null ? 0 : slot * kEventStride;
    o[b + EventField.op] = EventOp.level;
    o[b + EventField.time] = time;
    o[b + EventField.orderId] = 0;
    o[b + EventField.side] = side;
    o[b + EventField.price] = price;
    o[b + EventField.size] = size;
    o[b + EventField.newOrderId] = 0;
    o[b + EventField.aux] = id;
  }

  private clear(out: Float64Array | null, slot: number, time: number): void {
    this.level(out, slot, 0, 0, 0, time, this.lastUpdateId);
    if (out !== null) out[slot * kEventStride + EventField.op] = EventOp.clear;
  }

  /** Writes one side's `[[price, qty], …]` as level events; returns how many. */
  private levels(index: number, entries: unknown, side: number, out: Float64Array | null, at: number, time: number, id: number, key: string): number {
    if (!Array.isArray(entries)) this.fail(index, `field "${key}" is not an array of [price, quantity]`);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k] as unknown;
      if (!Array.isArray(e) || e.length < 2) this.fail(index, `${key}[${k}] is not a [price, quantity] pair`);
      const price = this.units(index, e[0], this.tick, `${key}[${k}] price`);
      const size = this.units(index, e[1], this.lot, `${key}[${k}] quantity`);
      this.level(out, at + k, side, price, size, time, id);
    }
    return entries.length;
  }

  /**
   * A trade print as one `hiddenExecute` event: market flow for the pipeline's venue, no
   * change to the visible book (the diff stream carries the levels' changes). `m` true means
   * the buyer was the maker, so the resting side was the bid. aux = the trade id `t`.
   */
  private trade(index: number, data: Record<string, unknown>, out: Float64Array | null, at: number): number {
    const price = this.units(index, data.p, this.tick, 'trade price "p"');
    const size = this.units(index, data.q, this.lot, 'trade quantity "q"');
    if (typeof data.m !== 'boolean') this.fail(index, `field "m" is ${JSON.stringify(data.m)}, expected true or false (buyer is the maker)`);
    const time = Math.max(this.lastTime, this.timeOf(index, this.num(index, data, 'E')));
    this.lastTime = time;
    this.level(out, at, data.m ? EventSide.buy : EventSide.sell, price, size, time, this.num(index, data, 't'));
    if (out !== null) out[at * kEventStride + EventField.op] = EventOp.hiddenExecute;
    this.trades++;
    return 1;
  }

  private applyDiff(d: DepthDiff, out: Float64Array | null, at: number): number {
    // Diffs buffered before a snapshot take effect at the snapshot: times stay monotonic.
    const time = Math.max(this.lastTime, this.timeOf(d.line, d.time));
    this.lastTime = time;
    let n = this.levels(d.line, d.b, EventSide.buy, out, at, time, d.last, 'b');
    n += this.levels(d.line, d.a, EventSide.sell, out, at + n, time, d.last, 'a');
    this.lastUpdateId = d.last;
    this.appliedDiffs++;
    return n;
  }

  /**
   * Feeds one diff to the synced book: dropped if the snapshot holds it, applied if it
   * continues the sequence, a gap (cleared, stale, buffering again) if it skips ahead.
   */
  private feed(d: DepthDiff, out: Float64Array | null, at: number): number {
    if (this.awaitingFirst) {
      if (d.last <= this.lastUpdateId) {
        this.droppedDiffs++;
        return 0;
      }
      if (d.first <= this.lastUpdateId + 1) {
        this.awaitingFirst = false;
        this.stale = false;
        return this.applyDiff(d, out, at);
      }
      return this.gap(d, out, at, `the first diff after snapshot ${this.lastUpdateId} starts at U ${d.first}`);
    }
    const continues = d.prev >= 0 ? d.prev === this.lastUpdateId : d.first === this.lastUpdateId + 1;
    if (continues) return this.applyDiff(d, out, at);
    if (d.prev >= 0 ? d.prev < this.lastUpdateId : d.first <= this.lastUpdateId) {
      this.fail(d.line, `diff out of order: U ${d.first}${d.prev >= 0 ? ` pu ${d.prev}` : ''} u ${d.last} after update id ${this.lastUpdateId}`);
    }
    return this.gap(d, out, at, `diff U ${d.first}${d.prev >= 0 ? ` pu ${d.prev}` : ''} after update id ${this.lastUpdateId} (${this.lastUpdateId + 1} expected)`);
  }

  private gap(d: DepthDiff, out: Float64Array | null, at: number, what: string): number {
    if (this.failOnGap) this.fail(d.line, `sequence gap: ${what}`);
    this.gaps++;
    this.stale = true;
    this.awaitingFirst = false;
    this.buffered = [d];
    this.clear(out, at, this.lastTime);
    return 1;
  }

  private process(index: number, out: Float64Array | null, at: number): number {
    this.next = index + 1;
    if (out !== null) {
      // The constructor's dry pass parsed and checked every line: bookTicker and trade lines
      // are known good and give no events, so decode skips their JSON.parse.
      const line = this.lines[index]!;
      const json = line.indexOf(' ') + 1;
      if (line.startsWith(this.quietPrefix, json)) return 0;
    }
    const msg = this.parse(index);
    if ('lastUpdateId' in msg) {
      const id = this.num(index, msg, 'lastUpdateId');
      if (!this.stale && id <= this.lastUpdateId) {
        // The synced book is already past this snapshot: it has nothing new.
        this.ignoredSnapshots++;
        return 0;
      }
      this.clear(out, at, this.lastTime);
      let n = 1;
      this.lastUpdateId = id;
      n += this.levels(index, msg.bids, EventSide.buy, out, at + n, this.lastTime, id, 'bids');
      n += this.levels(index, msg.asks, EventSide.sell, out, at + n, this.lastTime, id, 'asks');
      this.snapshots++;
      this.awaitingFirst = true;
      this.stale = true;
      const pending = this.buffered;
      this.buffered = [];
      for (const d of pending) {
        n += this.feed(d, out, at + n);
        if (this.buffered.length > 0) {
          // A gap inside the buffer: what follows waits for the next snapshot.
          this.buffered.push(...pending.slice(pending.indexOf(d) + 1));
          break;
        }
      }
      return n;
    }
    const stream = msg.stream;
    const data = msg.data as Record<string, unknown> | undefined;
    if (typeof stream !== 'string' || data === null || typeof data !== 'object') {
      this.fail(index, 'neither a depth snapshot ("lastUpdateId") nor a combined-stream message ("stream", "data")');
    }
    const at1 = stream.indexOf('@');
    const kind = at1 < 0 ? '' : stream.slice(at1 + 1);
    const s = data.s;
    if (s !== this.symbol) this.fail(index, `symbol ${JSON.stringify(s)}, this source reads ${this.symbol}`);
    if (kind === 'bookTicker') return 0;
    if (kind === 'trade') return this.trade(index, data, out, at);
    if (kind !== 'depth' && kind !== 'depth@100ms' && kind !== 'depth@0ms' && kind !== 'depth@250ms' && kind !== 'depth@500ms') {
      this.fail(index, `unknown stream ${JSON.stringify(stream)} (expected <symbol>@depth@100ms, @bookTicker or @trade)`);
    }
    if (data.e !== 'depthUpdate') this.fail(index, `depth stream message with event type ${JSON.stringify(data.e)}, expected "depthUpdate"`);
    const d: DepthDiff = {
      line: index,
      first: this.num(index, data, 'U'),
      last: this.num(index, data, 'u'),
      prev: 'pu' in data ? this.num(index, data, 'pu') : -1,
      time: this.num(index, data, 'E'),
      b: data.b,
      a: data.a,
    };
    if (d.first > d.last) this.fail(index, `diff with U ${d.first} > u ${d.last}`);
    if (this.snapshots === 0 || (this.stale && !this.awaitingFirst)) {
      const before = this.buffered[this.buffered.length - 1];
      if (before !== undefined && d.first <= before.last) {
        this.fail(index, `diff out of order: U ${d.first} u ${d.last} after buffered u ${before.last}`);
      }
      this.lastTime = this.timeOf(index, d.time);
      if (this.buffered.length >= 100_000) this.buffered.shift();
      this.buffered.push(d);
      return 0;
    }
    return this.feed(d, out, at);
  }
}

/** A capture file's text: gunzipped when it starts with the gzip magic, else read as UTF-8. */
function readCapture(path: string): string {
  const bytes = readFileSync(path);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes.toString('utf8');
  try {
    return gunzipSync(bytes).toString('utf8');
  } catch (cause) {
    const message = (cause as Error).message;
    const truncated = /unexpected end of file/i.test(message);
    throw new SourceFormatError(
      path,
      `byte ${truncated ? bytes.length : 0}`,
      truncated ? `truncated gzip: the compressed stream ends at byte ${bytes.length} before its end marker` : `corrupt gzip: ${message}`,
      { cause },
    );
  }
}
