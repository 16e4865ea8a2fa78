/**
 * LOBSTER files (lobsterdata.com; bench/data/lobster/LOBSTER_SampleFiles_ReadMe.txt): a
 * message file (time, type, order id, size, price × 10⁴, direction) and an orderbook file
 * (ask price, ask size, bid price, bid size per level; row k = the book after message k),
 * headerless CSV, plain or gzip.
 *
 * - readLobsterMessages / readLobsterOrderbook parse a whole file into typed arrays, with a
 *   SourceFormatError naming the file and `line N` for anything the format does not allow.
 * - replayLobster seeds an MboBook from orderbook row 1, applies messages 2..N and checks the
 *   book's visible levels against every row, under the rules of a depth-N file (docs/pipeline.md
 *   "MboBook and LOBSTER replay"): refills are counted, every other difference is a mismatch.
 * - LobsterSource is the pipeline's MarketDataSource over the pair: decode(i) parses message
 *   line i and appends the refill/trim events the replay found at that row.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { OrderBookBackend } from '../../orderbook/reads.js';
import { invalidRange, invalidType, SourceFormatError } from '../../errors.js';
import { kMismatchStride, kReplaySummary } from '../../orderbook/layout.js';
import { MboBook, mboCoreOf } from '../../orderbook/mbo.js';
import { median } from '../../monitor/stats.js';
import { timeApply } from '../apply-rate.js';
import * as events from '../events.js';
import { EventList, type MarketDataSource } from '../events.js';
import type { ReconstructionResult } from '../report-data.js';

// Local copies of the shared tables (as mbo-core.ts): imports compiled to getters (tsx) cost
// more than the rest of decode() together.
const EventField = { ...events.EventField };
const EventOp = { ...events.EventOp };
const EventSide = { ...events.EventSide };
const kEventStride = events.kEventStride;

/** Progress of a long step: `done` of `total` records. */
export type ProgressFn = (done: number, total: number) => void;

/** A LOBSTER price (USD × 10⁴) is a count of 0.0001 ticks; sizes are shares. */
export const kLobsterTickSize = 0.0001;
/** The dummy price of an empty level (readme "Unoccupied Price Levels"): asks +9999999999, bids -9999999999. */
export const kLobsterEmptyPrice = 9999999999;
const kProgressEvery = 16384;

/**
 * Reads a file whole, gunzipping it when it starts with the gzip magic bytes. Returns a plain
 * Uint8Array over the bytes (not a Buffer: the parser's element reads then see one array class).
 */
export function readMaybeGzip(file: string): Uint8Array {
  let bytes: Buffer = readFileSync(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new SourceFormatError(file, 'byte 0', `not a readable gzip stream (${(err as Error).message})`, { cause: err });
    }
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

// ---- the line parser (one for the bulk reader and for decode) ----

const kPow10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** Parse state of parseFields: where the line ended and why it failed. */
const P = { next: 0, fields: 0, bad: -1, line: 0 };
/** Field values of the last parsed line (integers; the message time in ns). */
const F = new Float64Array(64);

/**
 * Parses the comma-separated numbers of the line starting at `start` into F (up to `max`
 * fields): field 0 as seconds with up to 9 decimals, in ns, when `timeFirst`, every other
 * field an integer with an optional minus. Sets P.next (the next line's start), P.fields,
 * P.bad (the first non-numeric field, or -1). Returns false at end of input.
 */
function parseFields(b: Uint8Array, start: number, max: number, timeFirst: boolean): boolean {
  const n = b.length;
  if (start >= n) return false;
  let i = start;
  let f = 0;
  P.bad = -1;
  for (;;) {
    // one field
    let neg = false;
    let c = i < n ? b[i]! : 10;
    if (c === 45) {
      neg = true;
      c = ++i < n ? b[i]! : 10;
    }
    let v = 0;
    let digits = 0;
    while (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
      c = ++i < n ? b[i]! : 10;
    }
    if (c === 46 && timeFirst && f === 0) {
      // fraction: up to 9 digits of ns, as an integer, then scaled once
      let frac = 0;
      let fd = 0;
      c = ++i < n ? b[i]! : 10;
      while (c >= 48 && c <= 57) {
        frac = frac * 10 + (c - 48);
        fd++;
        c = ++i < n ? b[i]! : 10;
      }
      if (fd > 9 && P.bad < 0) P.bad = f; // finer than ns
      digits += fd;
      v = v * 1e9 + (fd <= 9 ? frac * kPow10[9 - fd]! : 0);
    } else if (timeFirst && f === 0) {
      v *= 1e9;
    }
    if (digits === 0 || v > 9007199254740991) {
      if (P.bad < 0) P.bad = f;
      while (c !== 44 && c !== 10 && c !== 13) c = ++i < n ? b[i]! : 10;
    } else if (c !== 44 && c !== 10 && c !== 13) {
      if (P.bad < 0) P.bad = f;
      while (c !== 44 && c !== 10 && c !== 13) c = ++i < n ? b[i]! : 10;
    }
    if (f < max) F[f] = neg ? -v : v;
    f++;
    if (c === 44) {
      i++;
      continue;
    }
    // end of line: \n, \r\n or the end of input
    if (c === 13) i++;
    if (i < n && b[i] === 10) i++;
    break;
  }
  P.next = i;
  P.fields = f;
  return true;
}

/** Whether the line that just failed is the file's last one and has no newline: cut short. */
function truncatedLast(b: Uint8Array): boolean {
  return P.next >= b.length && b[b.length - 1] !== 10;
}

// ---- messages ----

/** A parsed message file: one event per message in the lib/pipeline/events.ts layout. */
export interface LobsterMessages {
  file: string;
  symbol: string;
  count: number;
  /** count × kEventStride doubles: op = LOBSTER type, time ns, orderId, side, price ticks, size lots, 0, aux = message number (1-based). */
  events: Float64Array;
  /** Byte offset of each line in `text` (count + 1 entries), for decode; a Uint32Array so decode indexes with small integers. */
  lineStart: Uint32Array;
  /** The (decompressed) file. */
  text: Uint8Array;
}

/** The symbol from a LOBSTER file name (TICKER_date_start_end_kind_level.csv). */
export function lobsterSymbol(file: string): string {
  const name = basename(file);
  const i = name.indexOf('_');
  return i > 0 ? name.slice(0, i) : name;
}

/**
 * Writes message line `F` (just parsed) as an event at `o` in out; returns '' or what is wrong
 * with it (the caller names the file and line).
 */
function messageEvent(out: Float64Array, o: number, number: number): string {
  const type = F[1]!;
  const dir = F[5]!;
  if (!(type >= 1 && type <= 7)) return `unknown message type ${type} (LOBSTER types are 1 to 7)`;
  if (type === 7) {
    // Halt: price -1 halt, 0 quote, 1 resume; direction -1; the other fields 0.
    if (dir !== -1 || !(F[4] === -1 || F[4] === 0 || F[4] === 1)) return `a trading-halt message (type 7) needs price -1, 0 or 1 and direction -1, found price ${F[4]} and direction ${dir}`;
  } else {
    if (!(dir === 1 || dir === -1)) return `direction must be 1 (buy) or -1 (sell), found ${dir}`;
    if (F[3]! < 0) return `size must be >= 0, found ${F[3]}`;
    if (type === 1 && F[3] === 0) return 'a new order (type 1) needs a size > 0, found 0';
    if (F[2]! < 0) return `order id must be >= 0, found ${F[2]}`;
    if (F[4]! < 0) return `price must be >= 0, found ${F[4]}`;
  }
  out[o + EventField.op] = type;
  out[o + EventField.time] = F[0]!;
  out[o + EventField.orderId] = F[2]!;
  out[o + EventField.side] = dir === 1 ? EventSide.buy : EventSide.sell;
  out[o + EventField.price] = F[4]!;
  out[o + EventField.size] = F[3]!;
  out[o + EventField.newOrderId] = 0;
  out[o + EventField.aux] = number;
  return '';
}

function fieldError(file: string, line: number, expected: number, b: Uint8Array, what: string): SourceFormatError {
  if (P.fields !== expected) {
    const cut = truncatedLast(b) && P.fields < expected;
    return new SourceFormatError(
      file,
      `line ${line}`,
      cut ? `truncated line: ${P.fields} of ${expected} fields (the file ends mid-line)` : `expected ${expected} comma-separated fields (${what}), found ${P.fields}`,
    );
  }
  return new SourceFormatError(file, `line ${line}`, `field ${P.bad + 1} is not ${P.bad === 0 && what.startsWith('time') ? 'a time in seconds with up to 9 decimals' : 'an integer'}`);
}

const kMessageColumns = 'time, type, order id, size, price, direction';

/**
 * Parses a LOBSTER message file (plain or .gz) into events. Throws SourceFormatError naming
 * the file and `line N` for a line without 6 fields (or cut short at the end of the file), a
 * non-numeric field, an unknown message type, a direction other than ±1 and time going
 * backwards.
 */
export function readLobsterMessages(file: string, options: { onProgress?: ProgressFn } = {}): LobsterMessages {
  const text = readMaybeGzip(file);
  return parseLobsterMessages(text, file, options.onProgress);
}

/** parseLobsterMessages on bytes already read (`file` names them in errors). */
export function parseLobsterMessages(text: Uint8Array, file: string, onProgress?: ProgressFn): LobsterMessages {
  let cap = Math.max(1024, Math.ceil(text.length / 36));
  let events = new Float64Array(cap * kEventStride);
  if (text.length >= 2 ** 32) throw new SourceFormatError(file, 'byte 4294967296', 'a message file of 4 GiB or more is not supported (split it by day)');
  let starts = new Uint32Array(cap + 1);
  let count = 0;
  let at = 0;
  let lastTime = -1;
  while (parseFields(text, at, 6, true)) {
    const line = count + 1;
    if (P.fields !== 6 || P.bad >= 0) {
      // A lone trailing newline ends the file.
      if (P.fields === 1 && P.bad === 0 && P.next >= text.length && P.next - at <= 2) break;
      throw fieldError(file, line, 6, text, kMessageColumns);
    }
    if (count === cap) {
      cap *= 2;
      const e = new Float64Array(cap * kEventStride);
      e.set(events);
      events = e;
      const s = new Uint32Array(cap + 1);
      s.set(starts);
      starts = s;
    }
    const problem = messageEvent(events, count * kEventStride, line);
    if (problem !== '') throw new SourceFormatError(file, `line ${line}`, problem);
    if (F[0]! < lastTime) throw new SourceFormatError(file, `line ${line}`, `time goes backwards: ${formatTime(F[0]!)} s after ${formatTime(lastTime)} s on the line before`);
    lastTime = F[0]!;
    starts[count] = at;
    count++;
    at = P.next;
    if (onProgress !== undefined && count % kProgressEvery === 0) onProgress(at, text.length);
  }
  starts[count] = at;
  if (count === 0) throw new SourceFormatError(file, 'line 1', 'no messages (an empty file)');
  onProgress?.(text.length, text.length);
  return { file, symbol: lobsterSymbol(file), count, events: events.subarray(0, count * kEventStride), lineStart: starts.subarray(0, count + 1), text };
}

function formatTime(ns: number): string {
  return (ns / 1e9).toFixed(9);
}

// ---- orderbook ----

/** A parsed orderbook file: row k (0-based) = the book after message k + 1. */
export interface LobsterOrderbook {
  file: string;
  count: number;
  /** Levels per side (the file's LEVEL): columns / 4. */
  depth: number;
  /** count × 4·depth integers: ask price, ask size, bid price, bid size per level, best first. */
  rows: Float64Array;
}

/**
 * Parses a LOBSTER orderbook file (plain or .gz). The depth is the first line's column count
 * / 4; a first line whose count is not a positive multiple of 4 is "depth not inferable", and
 * every other line must have as many columns. Errors name the file and `line N`.
 */
export function readLobsterOrderbook(file: string, options: { onProgress?: ProgressFn } = {}): LobsterOrderbook {
  const text = readMaybeGzip(file);
  return parseLobsterOrderbook(text, file, options.onProgress);
}

export function parseLobsterOrderbook(text: Uint8Array, file: string, onProgress?: ProgressFn): LobsterOrderbook {
  if (!parseFields(text, 0, F.length, false)) throw new SourceFormatError(file, 'line 1', 'no rows (an empty file)');
  const cols = P.fields;
  if (cols % 4 !== 0 || cols > F.length) {
    throw new SourceFormatError(file, 'line 1', `depth not inferable: ${cols} columns is not 4 per level (ask price, ask size, bid price, bid size) for 1 to ${F.length / 4} levels`);
  }
  const depth = cols / 4;
  let cap = Math.max(1024, Math.ceil(text.length / (cols * 5)));
  let rows = new Float64Array(cap * cols);
  let count = 0;
  let at = 0;
  while (parseFields(text, at, cols, false)) {
    const line = count + 1;
    if (P.fields !== cols || P.bad >= 0) {
      if (P.fields === 1 && P.bad === 0 && P.next >= text.length && P.next - at <= 2) break;
      throw fieldError(file, line, cols, text, `${depth} levels of ask price, ask size, bid price, bid size`);
    }
    if (count === cap) {
      cap *= 2;
      const r = new Float64Array(cap * cols);
      r.set(rows);
      rows = r;
    }
    const o = count * cols;
    for (let j = 0; j < cols; j++) {
      const v = F[j]!;
      if (j % 2 === 1 && v < 0) throw new SourceFormatError(file, `line ${line}`, `field ${j + 1} (a size) is negative: ${v}`);
      rows[o + j] = v;
    }
    count++;
    at = P.next;
    if (onProgress !== undefined && count % kProgressEvery === 0) onProgress(at, text.length);
  }
  onProgress?.(text.length, text.length);
  return { file, count, depth, rows: rows.subarray(0, count * cols) };
}

// ---- replay ----

/** One difference between the book and the exchange's row (the first few are kept). */
export interface LobsterMismatch {
  /** 1-based orderbook row (= message number). */
  row: number;
  side: 'bid' | 'ask';
  /** 1-based level. */
  level: number;
  /** [price ticks, size] or null for no level. */
  ours: [number, number] | null;
  theirs: [number, number] | null;
}

export interface LobsterReplayResult extends ReconstructionResult {
  /** Orderbook rows checked (messages 2..N). */
  rowsChecked: number;
  /** Orders dropped when their level left the visible depth. */
  forgottenOrders: number;
  /** The first mismatches (at most 10). */
  firstMismatches: LobsterMismatch[];
  backend: 'ts' | 'native';
  /** Wall time of the replay (apply + check), ms. */
  elapsedMs: number;
  /**
   * The events the check added after each message (refill `level`s, `trim`s, and a side's
   * resynchronisation after a mismatch): those of message index i (0-based) are extraEvents
   * [extraStart[i], extraStart[i + 1]) (event indices).
   */
  extraEvents: Float64Array;
  extraStart: Uint32Array;
}

export interface LobsterReplayOptions {
  /** A message file path or its parsed form. */
  messages: string | LobsterMessages;
  /** An orderbook file path or its parsed form. */
  orderbook: string | LobsterOrderbook;
  /** Levels to check per side; default (and at most) the orderbook file's depth. */
  depth?: number;
  backend?: OrderBookBackend;
  onProgress?: ProgressFn;
}

/** The `level` events that set up the book of orderbook row `r` (0-based), both sides. */
export function lobsterRowEvents(ob: LobsterOrderbook, r: number, depth = ob.depth): Float64Array {
  const list = new EventList();
  const cols = 4 * ob.depth;
  for (let side = 0; side < 2; side++) {
    for (let j = 0; j < depth; j++) {
      const o = r * cols + 4 * j + (side === 0 ? 2 : 0);
      const size = ob.rows[o + 1]!;
      if (size > 0) list.push(EventOp.level, 0, side, ob.rows[o]!, size, r + 1);
    }
  }
  return list.data.slice(0, list.count * kEventStride);
}

function asMessages(m: string | LobsterMessages): LobsterMessages {
  if (typeof m === 'string') return readLobsterMessages(m);
  if (m === null || typeof m !== 'object' || !(m.events instanceof Float64Array)) throw invalidType('messages', 'a message file path or readLobsterMessages() result', m);
  return m;
}

function asOrderbook(o: string | LobsterOrderbook): LobsterOrderbook {
  if (typeof o === 'string') return readLobsterOrderbook(o);
  if (o === null || typeof o !== 'object' || !(o.rows instanceof Float64Array)) throw invalidType('orderbook', 'an orderbook file path or readLobsterOrderbook() result', o);
  return o;
}

/**
 * Replays a LOBSTER message file into an MboBook and checks it against the orderbook file
 * after every message. The book starts from orderbook row 1 (the state after message 1,
 * which is therefore not applied), then for each message k = 2..N: apply it; compare the
 * book's best `depth` levels per side with row k, best first:
 * - equal: fine;
 * - the row has a level where the book has none, beyond the book's last level: a level that
 *   entered the visible depth from beyond it (a depth-N file has no messages for orders
 *   outside its N levels), taken from the row as a `level` event and counted as a refill;
 * - anything else: a mismatch, counted (once per row and side), the first 10 kept; that side
 *   is then reset from the row so one difference is not counted again on every later row.
 * After the check, levels beyond `depth` are dropped (`trim`, forgetting their orders).
 * Message types 5 (hidden execution), 6 (cross) and 7 (halt) change nothing visible.
 *
 * Throws SourceFormatError when the two files have different row counts.
 */
export function replayLobster(options: LobsterReplayOptions): LobsterReplayResult {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object with messages and orderbook', options);
  const msgs = asMessages(options.messages);
  const ob = asOrderbook(options.orderbook);
  if (msgs.count !== ob.count) {
    throw new SourceFormatError(
      ob.file,
      `line ${Math.min(msgs.count, ob.count) + 1}`,
      `the orderbook file has ${ob.count} rows but the message file ${msgs.file} has ${msgs.count} messages (one row per message)`,
    );
  }
  const depth = options.depth ?? ob.depth;
  if (!Number.isInteger(depth) || depth < 1 || depth > ob.depth) throw invalidRange('options.depth', `an integer from 1 to the file's depth, ${ob.depth}`, depth);
  const book = new MboBook({ symbol: msgs.symbol, tickSize: kLobsterTickSize, expectedOrders: 4096, ...(options.backend !== undefined ? { backend: options.backend } : {}) });
  const onProgress = options.onProgress;
  const t0 = performance.now();
  book.apply(lobsterRowEvents(ob, 0, depth));
  const cols = 4 * ob.depth;
  const extraStart = new Uint32Array(msgs.count + 1);
  const summary = new Float64Array(kReplaySummary);
  const core = mboCoreOf(book);
  // In chunks of rows, so a long replay can report progress; the book carries over.
  const chunk = onProgress === undefined ? msgs.count : 32768;
  const parts: Float64Array[] = [];
  let mismatches = 0;
  let refills = 0;
  let offset = 0;
  const first: LobsterMismatch[] = [];
  for (let at = 0; at < msgs.count - 1; at += chunk) {
    // Rows at..end as a window starting one row early: its row 0 is the state already reached.
    const end = Math.min(msgs.count, at + 1 + chunk);
    const n = end - at;
    const starts = new Uint32Array(n + 1);
    const extras = core.replayLobster(msgs.events.subarray(at * kEventStride), ob.rows.subarray(at * cols), n, cols, depth, starts, summary);
    if (summary[0]! < 0) {
      const k = at - summary[0]! - 1;
      // The message itself refused (a new order whose id is live): a bad file, named by its line.
      try {
        book.apply(msgs.events, k + 1, k);
      } catch (err) {
        throw new SourceFormatError(msgs.file, `line ${k + 1}`, `the book refuses this message: ${(err as Error).message}`);
      }
      throw new SourceFormatError(ob.file, `line ${k + 1}`, 'the row could not be applied as level events');
    }
    for (let j = 1; j <= n; j++) extraStart[at + j] = offset + starts[j]!;
    // aux holds the window's row number: make it the file's.
    if (at > 0) for (let j = EventField.aux; j < extras.length; j += kEventStride) extras[j]! += at;
    offset += extras.length / kEventStride;
    parts.push(extras);
    mismatches += summary[1]!;
    refills += summary[2]!;
    for (let q = 0; q < summary[3]! && first.length < 10; q++) {
      const f = summary.subarray(4 + q * kMismatchStride, 4 + (q + 1) * kMismatchStride);
      first.push({
        row: at + f[0]!,
        side: f[1] === 0 ? 'bid' : 'ask',
        level: f[2]!,
        ours: Number.isNaN(f[3]) ? null : [f[3]!, f[4]!],
        theirs: Number.isNaN(f[5]) ? null : [f[5]!, f[6]!],
      });
    }
    onProgress?.(end, msgs.count);
  }
  const extraEvents = parts.length === 1 ? parts[0]! : new Float64Array(offset * kEventStride);
  if (parts.length !== 1) {
    let o = 0;
    for (const p of parts) {
      extraEvents.set(p, o);
      o += p.length;
    }
  }
  const elapsedMs = performance.now() - t0;
  const stats = book.stats;
  return {
    symbol: msgs.symbol,
    source: basename(msgs.file),
    depth,
    messages: msgs.count,
    mismatches,
    refills,
    unknownOrders: stats.unknownOrders,
    rowsChecked: msgs.count - 1,
    forgottenOrders: stats.forgottenOrders,
    firstMismatches: first,
    backend: book.backend,
    elapsedMs,
    extraEvents,
    extraStart,
  };
}

// ---- the pipeline's source ----

export interface LobsterSourceOptions extends LobsterReplayOptions {}

/**
 * The pipeline's MarketDataSource over a LOBSTER message + orderbook pair. open() reads both
 * files and runs replayLobster once (its result is `reconstruction`), so that decode(i) can
 * append, after message i's own event, the refill `level` and `trim` events the check found
 * at that row: a book fed initial() and then every decode() equals the exchange's book
 * after every message. decode parses message line i from the file's text (the market-data
 * stage the pipeline times) and copies the precomputed extras: no allocation.
 *
 * @example
 * const src = LobsterSource.open({ messages: 'AAPL_..._message_1.csv.gz', orderbook: 'AAPL_..._orderbook_1.csv.gz' });
 * const book = new MboBook({ symbol: src.symbol, tickSize: src.tickSize });
 * book.apply(src.initial());
 * const out = new Float64Array(src.maxEventsPerRecord * kEventStride);
 * for (let i = 0; i < src.length; i++) book.apply(out, src.decode(i, out, 0));
 */
export class LobsterSource implements MarketDataSource {
  readonly kind = 'lobster' as const;
  readonly symbol: string;
  readonly tickSize = kLobsterTickSize;
  readonly lotSize = 1;
  readonly length: number;
  readonly maxEventsPerRecord: number;
  /** The replay check's result (0 mismatches expected on LOBSTER's own files). */
  readonly reconstruction: LobsterReplayResult;
  readonly messages: LobsterMessages;
  readonly orderbook: LobsterOrderbook;
  private readonly seed: Float64Array;
  private readonly extra: Float64Array;
  private readonly extraStart: Uint32Array;

  private constructor(messages: LobsterMessages, orderbook: LobsterOrderbook, result: LobsterReplayResult) {
    this.messages = messages;
    this.orderbook = orderbook;
    this.reconstruction = result;
    this.symbol = messages.symbol;
    this.length = messages.count;
    // The message, then per side at most a trim and `depth` levels (a resynchronisation).
    this.maxEventsPerRecord = 1 + 2 * (1 + (result.depth ?? orderbook.depth));
    this.seed = lobsterRowEvents(orderbook, 0, result.depth);
    this.extra = result.extraEvents;
    this.extraStart = result.extraStart;
  }

  /** Reads both files (paths or parsed) and runs the replay check that precomputes the refills. */
  static open(options: LobsterSourceOptions): LobsterSource {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'an object with messages and orderbook', options);
    const messages = asMessages(options.messages);
    const orderbook = asOrderbook(options.orderbook);
    const result = replayLobster({ ...options, messages, orderbook });
    return new LobsterSource(messages, orderbook, result);
  }

  /** The `level` events of orderbook row 1: the book after message 1 (a fresh copy). */
  initial(): Float64Array {
    return this.seed.slice();
  }

  /**
   * Message `index` (0-based) as its event plus the row's refill/trim events, written from
   * event slot `at` of `out`; returns the events written. Message 0 writes none: its effect
   * is already in initial().
   */
  decode(index: number, out: Float64Array, at: number): number {
    if (!(index >= 0 && index < this.length && Number.isInteger(index))) throw invalidRange('index', `a record index from 0 to ${this.length - 1}`, index);
    if (index === 0) return 0;
    const x = this.extraStart;
    const e0 = x[index]!;
    const n = 1 + x[index + 1]! - e0;
    const o = at * kEventStride;
    if (!(o >= 0 && o + n * kEventStride <= out.length)) throw invalidRange('out', `a Float64Array with room for ${n} events from slot ${at}`, out);
    const m = this.messages;
    const start = m.lineStart[index]!;
    parseFields(m.text, start, 6, true);
    const problem = P.fields === 6 && P.bad < 0 ? messageEvent(out, o, index + 1) : 'unreadable';
    if (problem !== '') throw new SourceFormatError(m.file, `line ${index + 1}`, problem);
    // A loop, not set(subarray()): no view object per record.
    const x0 = e0 * kEventStride;
    const len = (n - 1) * kEventStride;
    const extra = this.extra;
    for (let j = 0; j < len; j++) out[o + kEventStride + j] = extra[x0 + j]!;
    return n;
  }
}

/** What measureLobster reports: medians over `runs`, messages per second of wall time. */
export interface LobsterThroughput {
  backend: 'ts' | 'native';
  messages: number;
  /** Events in the stream apply-only replays: the messages plus the refill/trim events. */
  events: number;
  runs: number;
  /** book.apply() over the whole day's events (seeded from row 1), one call. */
  applyOnlyMessagesPerSecond: number;
  /** replayLobster: apply and check every row (compare, refill, trim), in the core. */
  applyAndCheckMessagesPerSecond: number;
}

/**
 * Book-reconstruction throughput over a source's whole file, the median of `runs` (default 7)
 * after one warm-up: "apply only" applies initial() and then every decode()d event in one
 * apply() call (events decoded once, beforehand, so only the book is timed); "apply + check"
 * is replayLobster (apply, compare with every orderbook row, refill, trim).
 */
export function measureLobster(source: LobsterSource, options: { backend?: OrderBookBackend; runs?: number; onProgress?: ProgressFn } = {}): LobsterThroughput {
  const runs = options.runs ?? 7;
  if (!Number.isInteger(runs) || runs < 1) throw invalidRange('options.runs', 'a positive integer', runs);
  const backend = options.backend;
  const check: number[] = [];
  // Each run times apply-only (timeApply) and then the full replay with its compare/refill.
  const timing = timeApply(source, {
    runs,
    ...(backend !== undefined ? { backend } : {}),
    afterRun: (r) => {
      const res = replayLobster({ messages: source.messages, orderbook: source.orderbook, depth: source.reconstruction.depth, ...(backend !== undefined ? { backend } : {}) });
      if (r > 0) check.push(res.elapsedMs);
      options.onProgress?.(r, runs);
    },
  });
  return {
    backend: timing.backend,
    messages: source.length,
    events: timing.events,
    runs,
    applyOnlyMessagesPerSecond: (source.length / median(timing.runsMs)) * 1000,
    applyAndCheckMessagesPerSecond: (source.length / median(check)) * 1000,
  };
}
