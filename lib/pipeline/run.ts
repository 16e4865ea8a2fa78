/**
 * The pipeline's run loop (docs/pipeline.md "Running the pipeline"): per market-data record,
 *
 *   decode (marketData) → book apply (book) → strategy (signal) → pre-trade risk (risk)
 *   → venue: the market's trades against our quotes, then our cancels and orders (venue)
 *   → fills → risk.onFill, position, PnL
 *
 * each stage a plain function over one symbol's preallocated state (a `Lane`), so the loop
 * allocates nothing per record (checked in test/pipeline-run.test.ts with v8.GCProfiler).
 *
 * Timing. One clock read ends every record; in maximum-throughput mode it is also the next
 * record's arrival (records are fed as fast as the loop takes them), so a record costs one
 * read. Every `sampleEvery`-th record (by index, so the sample does not depend on content)
 * also reads the clock between stages for the per-stage histograms; those records stay out of
 * the record and tick-to-trade histograms, whose figures would otherwise carry the extra reads.
 * Tick-to-trade = from the record's arrival to the venue's acknowledgement of the orders it
 * caused (the return of the engine's batch), for records that sent at least one order.
 *
 * Fixed-rate mode (ratePerSec R): record k is due at t0 + k / R and the loop waits (spins)
 * until then; latency is measured from that intended time, not from when the loop got to it,
 * so a slow record's queueing delay is charged to every record that waited behind it. That is
 * the coordinated-omission correction of wrk2 (Gil Tene, github.com/giltene/wrk2: "latency
 * measured from the intended send time") and HdrHistogram's recordValueWithExpectedInterval;
 * the uncorrected service time (from the moment the loop started the record) is kept beside it
 * in `histograms.service`. `rateSweep` runs fixed rates upwards and reports the highest one
 * whose p99 stays ≤ 10 µs, as Chronicle Queue reports its throughput.
 */
import { invalidRange, invalidType } from '../errors.js';
import { defineOptions, type OptionSpec, readOptions } from '../internal/options.js';
import { nowNs } from '../monitor/clock.js';
import { LatencyHistogram } from '../monitor/histogram.js';
import { MboBook } from '../orderbook/mbo.js';
import { EventField, EventOp, kEventStride, type MarketDataSource } from './events.js';
import { distributionOf, type LatencyDistribution, type PipelineReportData, type RatePoint } from './report-data.js';
import { kRiskRejectReason } from './risk-gate.js';
import { quoteAroundMid, type Strategy, StrategyContext } from './strategy.js';
import { type FillModel, SimVenue } from './venue.js';

/** The book stage: MboBook's shape (lib/orderbook). */
export interface PipelineBook {
  /** Applies `count` events of the events.ts layout from event slot `from`. */
  apply(events: Float64Array, count: number, from: number): unknown;
  /** [bidPrice, bidSize, askPrice, askSize] as values, NaN for an empty side (BookReads.top). */
  readonly top: Float64Array;
}

/**
 * The risk stage: RiskGate's shape (lib/pipeline/risk-gate.ts). Symbols by index, sides 0 buy
 * / 1 sell, prices in ticks, quantities in lots, time in ns.
 */
export interface PipelineRisk {
  /** 0 to accept, else a reason code (> 0). */
  check(symbol: number, side: number, price: number, quantity: number, nowNs: number): number;
  /** The mid in ticks (may end in .5). */
  setMid(symbol: number, mid: number): void;
  onFill(symbol: number, side: number, price: number, quantity: number): void;
  /** The gate's index of a symbol name; absent: the source's index in options.sources. */
  symbolIndex?(name: string): number;
}

/** Time for the loop: `now()` in ns, `waitUntil(t)` returns once now() >= t, with that now(). */
export interface PipelineClock {
  now(): number;
  waitUntil(ns: number): number;
}

/** The process's monotonic clock (lib/monitor/clock.ts nowNs), spinning to wait. */
export const kSystemClock: PipelineClock = {
  now: nowNs,
  waitUntil(ns: number): number {
    let t = nowNs();
    while (t < ns) t = nowNs();
    return t;
  },
};

export interface PipelineOptions {
  /** One source per symbol; records are taken round-robin, one of each in turn. */
  sources: readonly MarketDataSource[];
  /** Picks MboBook's and MatchingEngine's cores. */
  backend: 'native' | 'ts';
  /** Makes the book of a source (default: an MboBook on `backend`). */
  makeBook?: (source: MarketDataSource, backend: 'native' | 'ts') => PipelineBook;
  /** Makes each symbol's strategy (default: quoteAroundMid() with its defaults, one per symbol). */
  makeStrategy?: (symbol: string, index: number) => Strategy;
  /**
   * The pre-trade risk gate (a RiskGate); null or absent: every order passes (counted as
   * accepted). Its clock is the records' exchange time (the latest seen over the run's
   * symbols), so the trading results do not depend on how fast the loop ran.
   */
  risk?: PipelineRisk | null;
  /** Names a risk reason code in the results (default: RiskGate's kRiskRejectReason). */
  reasonName?: (code: number) => string;
  /** Records per second in fixed-rate mode; absent: maximum throughput. */
  ratePerSec?: number;
  /** Per-stage clock reads on every k-th record (default 16; 1 = every record). */
  sampleEvery?: number;
  /** First record of each source (default 0) and how many to run (default: the rest). */
  firstRecord?: number;
  records?: number;
  venue?: { fillModel?: FillModel; feedLatencyNs?: number; orderLatencyNs?: number; maxOrders?: number };
  /** Default kSystemClock. A test passes a fake one. */
  clock?: PipelineClock;
  /** Filled with (symbolIndex, side 0/1, priceTicks, lots) per fill until full. */
  fillLog?: Float64Array;
  /** Filled with (due, start, end) ns per record until full (due = arrival: the intended time at a fixed rate). */
  latencyLog?: Float64Array;
}

/** What one symbol did. PnL in the instrument's currency. */
export interface SymbolResult {
  symbol: string;
  records: number;
  events: number;
  /** New orders the strategy asked for (quotes and extra orders). */
  orders: number;
  /** Orders that passed risk and reached the venue. */
  accepted: number;
  /** Refused orders by reason name (risk reasons, 'venue:would-take', 'venue:max-orders'). */
  rejects: Record<string, number>;
  cancels: number;
  fills: number;
  boughtLots: number;
  soldLots: number;
  /** boughtLots − soldLots. */
  position: number;
  /** Σ −side·price·qty over fills. */
  cash: number;
  /** Realised PnL (average-cost method). */
  realisedPnl: number;
  /** Average cost of the open position (0 when flat). */
  averagePrice: number;
  /** The last mid price (NaN when a side was empty). */
  mid: number;
  /** cash + position · mid = realised + position · (mid − average cost). */
  pnl: number;
}

export interface PipelineHistograms {
  marketData: LatencyHistogram;
  book: LatencyHistogram;
  signal: LatencyHistogram;
  risk: LatencyHistogram;
  venue: LatencyHistogram;
  tickToTrade: LatencyHistogram;
  /** Every (unsampled) record, arrival to done, orders or not. */
  record: LatencyHistogram;
  /** From when the loop started a record to done (= record at maximum throughput). */
  service: LatencyHistogram;
}

export interface PipelineResult {
  backend: 'native' | 'ts';
  mode: 'max' | 'fixed';
  /** Offered rate (fixed mode), 0 at maximum throughput. */
  ratePerSec: number;
  sampleEvery: number;
  records: number;
  events: number;
  elapsedNs: number;
  recordsPerSecond: number;
  eventsPerSecond: number;
  histograms: PipelineHistograms;
  symbols: SymbolResult[];
  trading: PipelineReportData['trading'];
}

const kMaxReasonCodes = 256;
/** Venue refusal codes, counted beside the risk codes. */
const kWouldTake = kMaxReasonCodes;
const kNoSlot = kMaxReasonCodes + 1;

/** RiskGate's reason names (kRiskRejectReason). */
function reasonName(code: number): string {
  return kRiskRejectReason[code] ?? `risk code ${code}`;
}

/** What createLane needs besides the source. */
export interface LaneSetup {
  backend: 'native' | 'ts';
  makeBook: (source: MarketDataSource, backend: 'native' | 'ts') => PipelineBook;
  makeStrategy: (symbol: string, index: number) => Strategy;
  venue: NonNullable<PipelineOptions['venue']>;
}

/**
 * One symbol's state for a run (runPipeline, and each shard worker): its book seeded with the
 * source's initial() events, its strategy and its venue. Records [first, end) of the source.
 */
export function createLane(index: number, source: MarketDataSource, setup: LaneSetup, first: number, end: number): Lane {
  const book = setup.makeBook(source, setup.backend);
  const init = source.initial();
  if (init.length > 0) book.apply(init, init.length / kEventStride, 0);
  const v = setup.venue;
  const venue = new SimVenue({
    symbol: source.symbol,
    tickSize: source.tickSize,
    lotSize: source.lotSize,
    backend: setup.backend,
    fillModel: v.fillModel,
    feedLatencyNs: v.feedLatencyNs,
    orderLatencyNs: v.orderLatencyNs,
    maxOrders: v.maxOrders,
    maxTradesPerRecord: source.maxEventsPerRecord,
  });
  return new Lane(index, source, book, setup.makeStrategy(source.symbol, index), venue, first, end);
}

/** Gives the lanes of one run the gate's symbol indexes and one shared gate clock. */
export function attachRisk(lanes: readonly Lane[], risk: PipelineRisk | null): void {
  const riskClock = new Float64Array(1);
  for (const lane of lanes) {
    lane.riskClock = riskClock;
    if (risk !== null && risk.symbolIndex !== undefined) lane.riskSymbol = risk.symbolIndex(lane.symbol);
  }
}

/** One record through every stage with no timing (the shard workers' loop). */
export function stepRecord(lane: Lane, record: number, risk: PipelineRisk | null): void {
  lane.records++;
  decodeStage(lane, record);
  bookStage(lane);
  signalStage(lane, record);
  riskStage(lane, risk);
  venueStage(lane, risk, undefined, kNoLog);
}

const kNoLog = new Int32Array(1);

/** One symbol's preallocated state: its source, book, strategy, venue and ledger. */
export class Lane {
  readonly index: number;
  readonly source: MarketDataSource;
  readonly symbol: string;
  /** The symbol's index in the risk gate. */
  riskSymbol: number;
  /** The gate's clock, shared by the lanes of a run: the latest exchange time seen. */
  riskClock: Float64Array;
  readonly book: PipelineBook;
  readonly strategy: Strategy;
  readonly ctx: StrategyContext;
  readonly venue: SimVenue;
  readonly events: Float64Array;
  readonly tickSize: number;
  readonly lotSize: number;
  readonly invTick: number;
  readonly invLot: number;
  next: number;
  readonly end: number;
  eventCount = 0;
  timeNs = 0;
  lastMid = Number.NaN;
  /** Slot of our working bid / ask quote in the venue, -1 for none. */
  readonly quoteSlot = new Int32Array([-1, -1]);
  /** Decisions of the risk stage: (kind 0 cancel slot / 1 quote / 2 order, side, ticks, lots). */
  readonly decisions: Float64Array;
  decisionCount = 0;
  sent = 0;
  // Counters and ledger (ticks · lots for money, exact integers until the end).
  records = 0;
  totalEvents = 0;
  orders = 0;
  accepted = 0;
  cancels = 0;
  fills = 0;
  bought = 0;
  sold = 0;
  position = 0;
  cashTL = 0;
  realisedTL = 0;
  avgTicks = 0;
  readonly rejects = new Float64Array(kMaxReasonCodes + 2);

  constructor(index: number, source: MarketDataSource, book: PipelineBook, strategy: Strategy, venue: SimVenue, first: number, end: number) {
    this.index = index;
    this.source = source;
    this.symbol = source.symbol;
    this.riskSymbol = index;
    this.riskClock = new Float64Array(1);
    this.book = book;
    this.strategy = strategy;
    this.venue = venue;
    this.events = new Float64Array(kEventStride * Math.max(1, source.maxEventsPerRecord));
    this.ctx = new StrategyContext(source.symbol, index, this.events);
    this.tickSize = source.tickSize;
    this.lotSize = source.lotSize;
    this.invTick = 1 / source.tickSize;
    this.invLot = 1 / source.lotSize;
    this.decisions = new Float64Array(4 * (4 + this.ctx.orders.length / 3));
    this.next = first;
    this.end = end;
  }
}

// ---- the stages: plain functions over a lane --------------------------------------------

/** marketData: one raw record into the lane's event batch. */
function decodeStage(lane: Lane, record: number): void {
  const n = lane.source.decode(record, lane.events, 0);
  lane.eventCount = n;
  if (n > 0) lane.timeNs = lane.events[EventField.time]!;
  lane.totalEvents += n;
}

/** book: the events into the book. */
function bookStage(lane: Lane): void {
  if (lane.eventCount > 0) lane.book.apply(lane.events, lane.eventCount, 0);
}

/** signal: the strategy sees the top (ticks, lots), its position and quotes, and says what it wants. */
function signalStage(lane: Lane, record: number): void {
  const ctx = lane.ctx;
  const top = lane.book.top;
  const bid = top[0]!;
  const ask = top[2]!;
  ctx.bidTicks = Math.round(bid * lane.invTick);
  ctx.bidLots = Math.round(top[1]! * lane.invLot);
  ctx.askTicks = Math.round(ask * lane.invTick);
  ctx.askLots = Math.round(top[3]! * lane.invLot);
  ctx.midTicks = (ctx.bidTicks + ctx.askTicks) / 2;
  ctx.position = lane.position;
  ctx.timeNs = lane.timeNs;
  ctx.record = record;
  ctx.eventCount = lane.eventCount;
  const venue = lane.venue;
  const b = lane.quoteSlot[0]!;
  const a = lane.quoteSlot[1]!;
  ctx.workingBidTicks = b >= 0 ? venue.slotTicks[b]! : 0;
  ctx.workingBidLots = b >= 0 ? venue.slotLots[b]! : 0;
  ctx.workingAskTicks = a >= 0 ? venue.slotTicks[a]! : 0;
  ctx.workingAskLots = a >= 0 ? venue.slotLots[a]! : 0;
  ctx.resetIntents();
  lane.strategy(ctx);
}

function decide(lane: Lane, kind: number, side: number, ticks: number, lots: number): void {
  const d = lane.decisions;
  const at = 4 * lane.decisionCount;
  d[at] = kind;
  d[at + 1] = side;
  d[at + 2] = ticks;
  d[at + 3] = lots;
  lane.decisionCount++;
}

/** One new order through the gate; true when it may go to the venue. */
function checkOrder(lane: Lane, risk: PipelineRisk | null, side: number, ticks: number, lots: number): boolean {
  lane.orders++;
  const ctx = lane.ctx;
  // Our quotes rest: one that would trade at once on arrival is refused (venue.ts fill model).
  if (side === 0 ? ticks >= ctx.askTicks : ticks <= ctx.bidTicks) {
    lane.rejects[kWouldTake]!++;
    return false;
  }
  if (risk !== null) {
    const code = risk.check(lane.riskSymbol, side, ticks, lots, lane.riskClock[0]!);
    if (code !== 0) {
      lane.rejects[code > 0 && code < kMaxReasonCodes ? code : 0]!++;
      return false;
    }
  }
  lane.accepted++;
  return true;
}

/** risk: each new order the strategy asked for goes through the gate; changed quotes are cancelled. */
function riskStage(lane: Lane, risk: PipelineRisk | null): void {
  const ctx = lane.ctx;
  lane.decisionCount = 0;
  if (lane.timeNs > lane.riskClock[0]!) lane.riskClock[0] = lane.timeNs;
  const mid = ctx.midTicks;
  if (risk !== null && mid > 0 && mid !== lane.lastMid) risk.setMid(lane.riskSymbol, mid);
  lane.lastMid = mid;
  if (ctx.quoteSet === 1) {
    const venue = lane.venue;
    for (let side = 0; side < 2; side++) {
      const wantTicks = side === 0 ? ctx.wantBidTicks : ctx.wantAskTicks;
      const wantLots = side === 0 ? ctx.wantBidLots : ctx.wantAskLots;
      const slot = lane.quoteSlot[side]!;
      let working = slot >= 0;
      if (working && (wantLots === 0 || venue.slotTicks[slot] !== wantTicks || venue.slotLots[slot] !== wantLots)) {
        decide(lane, 0, side, slot, 0);
        lane.quoteSlot[side] = -1;
        working = false;
      }
      if (!working && wantLots > 0 && checkOrder(lane, risk, side, wantTicks, wantLots)) decide(lane, 1, side, wantTicks, wantLots);
    }
  }
  const orders = ctx.orders;
  for (let k = 0; k < ctx.orderCount; k++) {
    const side = orders[3 * k]!;
    const ticks = orders[3 * k + 1]!;
    const lots = orders[3 * k + 2]!;
    if (checkOrder(lane, risk, side, ticks, lots)) decide(lane, 2, side, ticks, lots);
  }
}

/** A fill of ours: position, cash, average-cost realised PnL, the gate, the log. */
function onFill(lane: Lane, risk: PipelineRisk | null, side: number, ticks: number, lots: number, log: Float64Array | undefined, logAt: Int32Array): void {
  lane.fills++;
  const sign = side === 0 ? 1 : -1;
  if (side === 0) lane.bought += lots;
  else lane.sold += lots;
  lane.cashTL -= sign * ticks * lots;
  const pos = lane.position;
  if (pos === 0 || (pos > 0) === (sign > 0)) {
    const held = Math.abs(pos);
    lane.avgTicks = (lane.avgTicks * held + ticks * lots) / (held + lots);
  } else {
    const closing = Math.min(lots, Math.abs(pos));
    lane.realisedTL += closing * (ticks - lane.avgTicks) * (pos > 0 ? 1 : -1);
    if (lots > closing) lane.avgTicks = ticks;
  }
  lane.position = pos + sign * lots;
  if (lane.position === 0) lane.avgTicks = 0;
  if (risk !== null) risk.onFill(lane.riskSymbol, side, ticks, lots);
  if (log !== undefined && 4 * logAt[0]! + 4 <= log.length) {
    const at = 4 * logAt[0]!;
    log[at] = lane.index;
    log[at + 1] = side;
    log[at + 2] = ticks;
    log[at + 3] = lots;
    logAt[0]!++;
  }
}

/** venue: the market's trades hit our resting quotes, then our cancels and new orders go in; fills come back. */
function venueStage(lane: Lane, risk: PipelineRisk | null, log: Float64Array | undefined, logAt: Int32Array): void {
  const venue = lane.venue;
  venue.timeNs = lane.timeNs;
  venue.begin();
  const ev = lane.events;
  for (let e = 0; e < lane.eventCount; e++) {
    const at = kEventStride * e;
    const op = ev[at + EventField.op];
    if (op === EventOp.execute || op === EventOp.hiddenExecute) {
      venue.marketTrade(ev[at + EventField.side]!, ev[at + EventField.price]!, ev[at + EventField.size]!);
    }
  }
  const d = lane.decisions;
  let sent = 0;
  for (let k = 0; k < lane.decisionCount; k++) {
    const kind = d[4 * k]!;
    const side = d[4 * k + 1]!;
    if (kind === 0) {
      venue.cancel(d[4 * k + 2]!);
      lane.cancels++;
      sent++;
      continue;
    }
    const slot = venue.freeSlot();
    if (slot < 0) {
      lane.accepted--;
      lane.rejects[kNoSlot]!++;
      continue;
    }
    venue.send(slot, side, d[4 * k + 2]!, d[4 * k + 3]!);
    if (kind === 1) lane.quoteSlot[side] = slot;
    sent++;
  }
  lane.sent = sent;
  const n = venue.flush();
  const f = venue.fills;
  for (let k = 0; k < n; k++) onFill(lane, risk, f[4 * k + 1]!, f[4 * k + 2]!, f[4 * k + 3]!, log, logAt);
  // A quote that filled completely is no longer working.
  for (let side = 0; side < 2; side++) {
    const slot = lane.quoteSlot[side]!;
    if (slot >= 0 && venue.slotState[slot] !== 1 && venue.slotState[slot] !== 2) lane.quoteSlot[side] = -1;
  }
}

// ---- the loop ---------------------------------------------------------------------------

const checkedBy = (where: string): OptionSpec => ({ check: null, checkedBy: where });
const kRunSpecs = Object.fromEntries(
  ['sources', 'backend', 'makeBook', 'makeStrategy', 'risk', 'reasonName', 'ratePerSec', 'sampleEvery', 'firstRecord', 'records', 'venue', 'clock', 'fillLog', 'latencyLog'].map(
    (k) => [k, checkedBy('runPipeline')],
  ),
);
/** The pipeline's option tables: strict keys (a misspelt one is named with the nearest), values checked where they are used. */
const kRunSchema = defineOptions('runPipeline', kRunSpecs);
const { ratePerSec: _rate, ...kSweepBase } = kRunSpecs;
const kSweepSchema = defineOptions('rateSweep', { ...kSweepBase, rates: checkedBy('rateSweep'), p99BoundNs: checkedBy('rateSweep'), stopWhenSaturated: checkedBy('rateSweep') });
/** `venue` of runPipeline and runSharded. */
export const kPipelineVenueSchema = defineOptions(
  'pipeline venue',
  Object.fromEntries(['fillModel', 'feedLatencyNs', 'orderLatencyNs', 'maxOrders'].map((k) => [k, checkedBy('SimVenue')])),
);

function positiveInteger(value: unknown, argument: string, min: number): number {
  if (typeof value !== 'number') throw invalidType(argument, `an integer >= ${min}`, value);
  if (!Number.isInteger(value) || value < min) throw invalidRange(argument, `an integer >= ${min}`, value);
  return value;
}

function newHistogram(): LatencyHistogram {
  return new LatencyHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, significantFigures: 3 });
}

/** The default book stage: an MboBook on the run's backend. */
export function mboBook(source: MarketDataSource, backend: 'native' | 'ts'): PipelineBook {
  return new MboBook({ symbol: source.symbol, tickSize: source.tickSize, lotSize: source.lotSize, backend });
}

/**
 * Runs the pipeline over `sources` and returns its histograms, per-symbol trading results and
 * the report's trading section. Synchronous: the loop owns the thread until the last record.
 * @example
 * const run = runPipeline({ sources: [lobster], backend: 'native' });
 * run.histograms.tickToTrade.percentile(99); // ns
 * runPipeline({ sources: [lobster], backend: 'native', ratePerSec: 200_000 }); // coordinated omission corrected
 */
export function runPipeline(options: PipelineOptions): PipelineResult {
  readOptions(kRunSchema, options, { required: true, what: 'an object of runPipeline options' });
  readOptions(kPipelineVenueSchema, options.venue, { argument: 'options.venue', what: 'an object of venue options' });
  const sources = options.sources;
  if (!Array.isArray(sources) || sources.length === 0) throw invalidType('options.sources', 'a non-empty array of MarketDataSource', sources);
  const backend = options.backend;
  if (backend !== 'native' && backend !== 'ts') throw invalidType('options.backend', "'native' or 'ts'", backend);
  const makeBook = options.makeBook ?? mboBook;
  const sampleEvery = positiveInteger(options.sampleEvery ?? 16, 'options.sampleEvery', 1);
  const first = positiveInteger(options.firstRecord ?? 0, 'options.firstRecord', 0);
  const rate = options.ratePerSec;
  if (rate !== undefined && !(typeof rate === 'number' && rate > 0 && Number.isFinite(rate))) throw invalidRange('options.ratePerSec', 'records per second > 0', rate);
  const clock = options.clock ?? kSystemClock;
  const risk = options.risk ?? null;
  const makeStrategy = options.makeStrategy ?? (() => quoteAroundMid());
  const v = options.venue ?? {};

  const lanes: Lane[] = [];
  let total = 0;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    const end = options.records === undefined ? source.length : Math.min(source.length, first + positiveInteger(options.records, 'options.records', 0));
    lanes.push(createLane(i, source, { backend, makeBook, makeStrategy, venue: v }, Math.min(first, end), end));
    total += Math.max(0, end - Math.min(first, end));
  }

  const h: PipelineHistograms = {
    marketData: newHistogram(),
    book: newHistogram(),
    signal: newHistogram(),
    risk: newHistogram(),
    venue: newHistogram(),
    tickToTrade: newHistogram(),
    record: newHistogram(),
    service: newHistogram(),
  };
  attachRisk(lanes, risk);
  const logAt = new Int32Array(1);
  const elapsed = loop(lanes, total, rate ?? 0, sampleEvery, clock, risk, h, options.fillLog, logAt, options.latencyLog);

  const name = options.reasonName ?? reasonName;
  const symbols = lanes.map((lane) => laneResult(lane, name));
  let events = 0;
  for (const s of symbols) events += s.events;
  return {
    backend,
    mode: rate === undefined ? 'max' : 'fixed',
    ratePerSec: rate ?? 0,
    sampleEvery,
    records: total,
    events,
    elapsedNs: elapsed,
    recordsPerSecond: elapsed > 0 ? (total * 1e9) / elapsed : 0,
    eventsPerSecond: elapsed > 0 ? (events * 1e9) / elapsed : 0,
    histograms: h,
    symbols,
    trading: tradingOf(symbols),
  };
}

/** The hot loop. Returns the elapsed ns from the first record's arrival to the last one's end. */
function loop(
  lanes: Lane[],
  total: number,
  rate: number,
  sampleEvery: number,
  clock: PipelineClock,
  risk: PipelineRisk | null,
  h: PipelineHistograms,
  fillLog: Float64Array | undefined,
  logAt: Int32Array,
  latencyLog: Float64Array | undefined,
): number {
  const fixed = rate > 0;
  const interval = fixed ? 1e9 / rate : 0;
  const logCap = latencyLog === undefined ? 0 : Math.floor(latencyLog.length / 3);
  const t0 = clock.now();
  let end = t0;
  // Round-robin: one record of each source in turn, skipping the ones that ran out.
  let li = lanes.length - 1;
  for (let k = 0; k < total; k++) {
    do li = li + 1 === lanes.length ? 0 : li + 1;
    while (lanes[li]!.next >= lanes[li]!.end);
    const lane = lanes[li]!;
    const record = lane.next++;
    let due: number;
    let start: number;
    if (fixed) {
      due = t0 + Math.round(k * interval);
      start = clock.waitUntil(due);
    } else {
      due = end;
      start = end;
    }
    lane.records++;
    if (k % sampleEvery === 0) {
      decodeStage(lane, record);
      const t1 = clock.now();
      bookStage(lane);
      const t2 = clock.now();
      signalStage(lane, record);
      const t3 = clock.now();
      riskStage(lane, risk);
      const t4 = clock.now();
      venueStage(lane, risk, fillLog, logAt);
      end = clock.now();
      h.marketData.record(t1 - start);
      h.book.record(t2 - t1);
      h.signal.record(t3 - t2);
      h.risk.record(t4 - t3);
      h.venue.record(end - t4);
    } else {
      decodeStage(lane, record);
      bookStage(lane);
      signalStage(lane, record);
      riskStage(lane, risk);
      venueStage(lane, risk, fillLog, logAt);
      end = clock.now();
      const latency = end - due;
      h.record.record(latency);
      h.service.record(end - start);
      if (lane.sent > 0) h.tickToTrade.record(latency);
    }
    if (k < logCap) {
      latencyLog![3 * k] = due;
      latencyLog![3 * k + 1] = start;
      latencyLog![3 * k + 2] = end;
    }
  }
  return end - t0;
}

/** A lane's counters and ledger as its SymbolResult (`name` names the risk reason codes). */
export function laneResult(lane: Lane, name: (code: number) => string = reasonName): SymbolResult {
  const rejects: Record<string, number> = {};
  for (let code = 0; code < lane.rejects.length; code++) {
    const n = lane.rejects[code]!;
    if (n === 0) continue;
    const key = code === kWouldTake ? 'venue:would-take' : code === kNoSlot ? 'venue:max-orders' : name(code);
    rejects[key] = (rejects[key] ?? 0) + n;
  }
  const money = lane.tickSize * lane.lotSize;
  const midTicks = lane.ctx.midTicks;
  const cash = lane.cashTL * money;
  return {
    symbol: lane.symbol,
    records: lane.records,
    events: lane.totalEvents,
    orders: lane.orders,
    accepted: lane.accepted,
    rejects,
    cancels: lane.cancels,
    fills: lane.fills,
    boughtLots: lane.bought,
    soldLots: lane.sold,
    position: lane.position,
    cash,
    realisedPnl: lane.realisedTL * money,
    averagePrice: lane.avgTicks * lane.tickSize,
    mid: midTicks * lane.tickSize,
    pnl: lane.position === 0 ? cash : (lane.cashTL + lane.position * midTicks) * money,
  };
}

/** The report's trading section over symbols (positions in lots, PnL summed in currency). */
export function tradingOf(symbols: readonly SymbolResult[]): PipelineReportData['trading'] {
  const trading: PipelineReportData['trading'] = { orders: 0, accepted: 0, rejects: {}, fills: 0, positions: {}, pnl: 0 };
  for (const s of symbols) {
    trading.orders += s.orders;
    trading.accepted += s.accepted;
    trading.fills += s.fills;
    trading.positions[s.symbol] = (trading.positions[s.symbol] ?? 0) + s.position;
    trading.pnl += s.pnl;
    for (const [k, n] of Object.entries(s.rejects)) trading.rejects[k] = (trading.rejects[k] ?? 0) + n;
  }
  return trading;
}

// ---- summaries for the report ----------------------------------------------------------

/** The per-stage and tick-to-trade distributions of a run, in the report's order. */
export function stageDistributions(run: PipelineResult): LatencyDistribution[] {
  const h = run.histograms;
  return [
    distributionOf('marketData', h.marketData),
    distributionOf('book', h.book),
    distributionOf('signal', h.signal),
    distributionOf('risk', h.risk),
    distributionOf('venue', h.venue),
    distributionOf('tickToTrade', h.tickToTrade),
    distributionOf('record', h.record),
  ];
}

export interface RateSweepOptions extends Omit<PipelineOptions, 'ratePerSec'> {
  /** Offered rates, records per second, in increasing order. */
  rates: readonly number[];
  /** The p99 bound the sweep reports against, ns (default 10,000: Chronicle's 10 µs). */
  p99BoundNs?: number;
  /** Stop after the first rate whose p99 is above 10× the bound (default true). */
  stopWhenSaturated?: boolean;
}

export interface RateSweepResult {
  points: RatePoint[];
  /** The highest offered rate whose tick-to-trade p99 stayed ≤ the bound; 0 if none. */
  maxRateP99Under10us: number;
  runs: PipelineResult[];
}

/**
 * Fixed-rate runs at each offered rate (fresh books and venues each time), latency measured
 * from each record's intended time (coordinated omission corrected). A point's percentiles are
 * tick-to-trade's; `maxRateP99Under10us` is the highest rate whose p99 stayed ≤ p99BoundNs.
 * @example
 * rateSweep({ sources: [lobster], backend: 'native', records: 50_000, rates: [1e5, 2e5, 5e5, 1e6] }).maxRateP99Under10us;
 */
export function rateSweep(options: RateSweepOptions): RateSweepResult {
  readOptions(kSweepSchema, options, { required: true, what: 'an object of rateSweep options' });
  const { rates, p99BoundNs = 10_000, stopWhenSaturated = true, ...rest } = options;
  if (!Array.isArray(rates) || rates.length === 0) throw invalidType('options.rates', 'a non-empty array of records per second', rates);
  const points: RatePoint[] = [];
  const runs: PipelineResult[] = [];
  let best = 0;
  for (const rate of rates) {
    const run = runPipeline({ ...rest, ratePerSec: rate });
    runs.push(run);
    const t = run.histograms.tickToTrade.count > 0 ? run.histograms.tickToTrade : run.histograms.record;
    const p99 = t.percentile(99);
    points.push({
      offeredPerSecond: rate,
      achievedPerSecond: run.recordsPerSecond,
      p50: t.percentile(50),
      p99,
      p999: t.percentile(99.9),
      max: t.max,
    });
    if (p99 <= p99BoundNs && rate > best) best = rate;
    if (stopWhenSaturated && p99 > 10 * p99BoundNs) break;
  }
  return { points, maxRateP99Under10us: best, runs };
}

/**
 * What one clock read costs here, ns (median of `rounds` loops of `reads` reads): the
 * pipeline's nowNs (process.hrtime.bigint into a BigUint64Array, allocation-free),
 * `Number(process.hrtime.bigint())` and performance.now().
 * @example
 * measureClockReads(); // { nowNs: 38, hrtimeBigint: 45, performanceNow: 41 }
 */
export function measureClockReads(reads = 200_000, rounds = 7): { nowNs: number; hrtimeBigint: number; performanceNow: number } {
  const median = (f: () => number) => {
    const xs: number[] = [];
    for (let r = 0; r < rounds; r++) xs.push(f());
    xs.sort((a, b) => a - b);
    return xs[xs.length >> 1]!;
  };
  const sink = new Float64Array(1);
  const a = () => {
    const t0 = nowNs();
    let s = 0;
    for (let i = 0; i < reads; i++) s += nowNs();
    sink[0] = s;
    return (nowNs() - t0) / reads;
  };
  const b = () => {
    const t0 = nowNs();
    let s = 0;
    for (let i = 0; i < reads; i++) s += Number(process.hrtime.bigint());
    sink[0] = s;
    return (nowNs() - t0) / reads;
  };
  const c = () => {
    const t0 = nowNs();
    let s = 0;
    for (let i = 0; i < reads; i++) s += performance.now();
    sink[0] = s;
    return (nowNs() - t0) / reads;
  };
  return { nowNs: median(a), hrtimeBigint: median(b), performanceNow: median(c) };
}
