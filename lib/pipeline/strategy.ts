/**
 * The pipeline's strategy stage: a plug-in function `(ctx) => void` run once per market-data
 * record, after the book has applied it (docs/pipeline.md "Running the pipeline").
 *
 * The context is one preallocated object per symbol, updated in place before each call, so a
 * strategy that keeps its own state in a typed array (or in numbers it only reads) allocates
 * nothing. Everything is in integers of the source: prices in ticks, sizes in lots, time in ns.
 * A strategy says what it wants with `quote` (the two working quotes it keeps), `order` (one
 * extra limit order) and `cancel`; the pipeline then sends every new order through the risk
 * gate and the venue. Calls are intents: nothing reaches the venue before the strategy returns.
 */
import { invalidRange, invalidType } from '../errors.js';
import { defineOptions, readOptions } from '../internal/options.js';

/** What a strategy sees and calls. One instance per symbol, reused for every record. */
export class StrategyContext {
  /** The symbol this context trades (the source's). */
  readonly symbol: string;
  /** Its index in the run's list of sources. */
  readonly symbolIndex: number;
  /** Best bid and ask in ticks, and their sizes in lots; NaN when the side is empty. */
  bidTicks = Number.NaN;
  bidLots = Number.NaN;
  askTicks = Number.NaN;
  askLots = Number.NaN;
  /** (bidTicks + askTicks) / 2 (may end in .5); NaN when a side is empty. */
  midTicks = Number.NaN;
  /** Our position in lots (buys minus sells filled so far). */
  position = 0;
  /** The record's time: ns since the source day's midnight (events.ts `time`). */
  timeNs = 0;
  /** The record's index in its source. */
  record = 0;
  /** The record's events (events.ts layout): `eventCount` of them from slot 0 of `events`. */
  events: Float64Array;
  eventCount = 0;
  /** Our working quotes as the venue holds them (0 lots: none on that side). */
  workingBidTicks = 0;
  workingBidLots = 0;
  workingAskTicks = 0;
  workingAskLots = 0;

  // Intents of the current call, read by the pipeline's risk stage.
  /** 1 when quote() or cancel() was called in this call. */
  quoteSet = 0;
  wantBidTicks = 0;
  wantBidLots = 0;
  wantAskTicks = 0;
  wantAskLots = 0;
  /** Extra orders: (side, ticks, lots) triples. */
  readonly orders: Float64Array;
  orderCount = 0;

  constructor(symbol: string, symbolIndex: number, events: Float64Array, maxOrders = 8) {
    this.symbol = symbol;
    this.symbolIndex = symbolIndex;
    this.events = events;
    this.orders = new Float64Array(3 * maxOrders);
  }

  /**
   * Sets the working quotes wanted on both sides: a bid of `bidLots` at `bidTicks` and an ask
   * of `askLots` at `askTicks` (0 lots: no quote on that side). A side that already rests at
   * that price and size is left alone; any other change cancels the old quote and sends a new
   * order (which loses its place). Integer ticks and lots; anything else is a RangeError.
   */
  quote(bidTicks: number, bidLots: number, askTicks: number, askLots: number): void {
    if (!Number.isInteger(bidTicks) || !Number.isInteger(askTicks)) throw invalidRange('bidTicks/askTicks', 'integer ticks', `${bidTicks}/${askTicks}`);
    if (!(Number.isInteger(bidLots) && bidLots >= 0 && Number.isInteger(askLots) && askLots >= 0)) {
      throw invalidRange('bidLots/askLots', 'integer lots >= 0', `${bidLots}/${askLots}`);
    }
    this.quoteSet = 1;
    this.wantBidTicks = bidTicks;
    this.wantBidLots = bidLots;
    this.wantAskTicks = askTicks;
    this.wantAskLots = askLots;
  }

  /**
   * Cancels the working quote on one side (0 bid, 1 ask) or both (-1), keeping the other's
   * wish as it stands.
   */
  cancel(side: -1 | 0 | 1): void {
    if (side !== -1 && side !== 0 && side !== 1) throw invalidType('side', '0 (bid), 1 (ask) or -1 (both)', side);
    if (this.quoteSet === 0) {
      this.quoteSet = 1;
      this.wantBidTicks = this.workingBidTicks;
      this.wantBidLots = this.workingBidLots;
      this.wantAskTicks = this.workingAskTicks;
      this.wantAskLots = this.workingAskLots;
    }
    if (side !== 1) this.wantBidLots = 0;
    if (side !== 0) this.wantAskLots = 0;
  }

  /**
   * One extra good-till-cancelled limit order (side 0 buy, 1 sell), outside the two quotes: it
   * rests until filled. At most `maxOrders` per call (RangeError past it).
   */
  order(side: 0 | 1, priceTicks: number, lots: number): void {
    if (side !== 0 && side !== 1) throw invalidType('side', '0 (buy) or 1 (sell)', side);
    if (!Number.isInteger(priceTicks)) throw invalidRange('priceTicks', 'integer ticks', priceTicks);
    if (!(Number.isInteger(lots) && lots > 0)) throw invalidRange('lots', 'integer lots > 0', lots);
    const k = this.orderCount;
    if (3 * k + 3 > this.orders.length) throw invalidRange('order()', `at most ${this.orders.length / 3} orders per record`, k + 1);
    this.orders[3 * k] = side;
    this.orders[3 * k + 1] = priceTicks;
    this.orders[3 * k + 2] = lots;
    this.orderCount = k + 1;
  }

  /** Clears the intents before a call (the pipeline does this). */
  resetIntents(): void {
    this.quoteSet = 0;
    this.orderCount = 0;
  }
}

/** A strategy: called once per record with the symbol's context; allocates nothing if written so. */
export type Strategy = (ctx: StrategyContext) => void;

export interface QuoteAroundMidOptions {
  /** Distance between our bid and ask, in ticks (>= 1). Default 2. */
  spreadTicks?: number;
  /** Lots per quote (>= 1). Default 100. */
  size?: number;
  /** Ticks the quotes move against our inventory per lot held (>= 0). Default 0.01. */
  skewTicksPerLot?: number;
  /** Largest |position| in lots a fill of our quotes may reach (>= 0). Default 1000. */
  maxPosition?: number;
  /** Re-quote only when the mid has moved this many ticks (>= 0) since the last quote, or our position changed. Default 1. */
  requoteTicks?: number;
  /**
   * The price grid quotes go on, in ticks (an integer >= 1, default 1). LOBSTER and ITCH
   * prices are in 10⁻⁴ USD while NASDAQ quotes in cents above $1: 100 there.
   */
  quoteStepTicks?: number;
}

/** The largest price a quote may carry, in ticks (exact in a double; the engine's and the gate's bound). */
const kMaxTicks = Number.MAX_SAFE_INTEGER;

function positiveNumber(value: unknown, argument: string, min: number, integer: boolean): number {
  if (typeof value !== 'number') throw invalidType(argument, integer ? 'an integer' : 'a number', value);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw invalidRange(argument, `${integer ? 'an integer' : 'a finite number'} >= ${min}`, value);
  }
  return value;
}

/** quoteAroundMid's options: strict keys; values checked by positiveNumber below. */
const kQuoteSchema = defineOptions(
  'quoteAroundMid',
  Object.fromEntries(['spreadTicks', 'size', 'skewTicksPerLot', 'maxPosition', 'requoteTicks', 'quoteStepTicks'].map((k) => [k, { check: null, checkedBy: 'quoteAroundMid' }])),
);

/**
 * The default strategy: a market maker quoting around the mid with inventory skew, in the
 * style of hftbacktest's grid/market-making examples (after Avellaneda and Stoikov, a
 * reservation price shifted against inventory). With mid m (ticks), position q (lots):
 *
 *   r   = m − skewTicksPerLot · q                     (reservation price)
 *   bid = s · floor((r − spreadTicks / 2) / s),  ask = s · ceil((r + spreadTicks / 2) / s)
 *   bid ≤ bestAsk − s and ask ≥ bestBid + s            (our quotes never take)
 *   bidLots = min(size, maxPosition − q),  askLots = min(size, maxPosition + q)   (≥ 0)
 *   a side priced outside 1 … 2^53 − 1 ticks is not quoted (lots 0)
 *
 * with s = quoteStepTicks (a best price off that grid is first rounded onto it, away from the
 * other side). It re-quotes when |m − m_last| ≥ requoteTicks or q changed since the last quote (so the
 * skew follows fills), and pulls both quotes while a side of the book is empty. Its state is
 * a Float64Array made here, one per call of quoteAroundMid: make one strategy per symbol.
 * @example
 * const strategy = quoteAroundMid({ spreadTicks: 4, size: 100, skewTicksPerLot: 0.02, maxPosition: 500, requoteTicks: 1 });
 */
export function quoteAroundMid(options: QuoteAroundMidOptions = {}): Strategy {
  readOptions(kQuoteSchema, options, { what: 'an object of quoteAroundMid options' });
  const spread = positiveNumber(options.spreadTicks ?? 2, 'options.spreadTicks', 1, true);
  const size = positiveNumber(options.size ?? 100, 'options.size', 1, true);
  const skew = positiveNumber(options.skewTicksPerLot ?? 0.01, 'options.skewTicksPerLot', 0, false);
  const maxPosition = positiveNumber(options.maxPosition ?? 1000, 'options.maxPosition', 0, true);
  const requote = positiveNumber(options.requoteTicks ?? 1, 'options.requoteTicks', 0, false);
  const step = positiveNumber(options.quoteStepTicks ?? 1, 'options.quoteStepTicks', 1, true);
  const half = spread / 2;
  // [last mid, last position, quoted (0/1)]
  const state = new Float64Array([Number.NaN, 0, 0]);
  return function quoteAroundMidStrategy(ctx: StrategyContext): void {
    const m = ctx.midTicks;
    if (m !== m) {
      if (state[2] === 1) {
        ctx.cancel(-1);
        state[2] = 0;
        state[0] = Number.NaN;
      }
      return;
    }
    const q = ctx.position;
    if (state[2] === 1 && Math.abs(m - state[0]!) < requote && q === state[1]) return;
    const r = m - skew * q;
    let bid = step * Math.floor((r - half) / step);
    let ask = step * Math.ceil((r + half) / step);
    const bidCap = step * Math.ceil(ctx.askTicks / step) - step;
    const askFloor = step * Math.floor(ctx.bidTicks / step) + step;
    if (bid > bidCap) bid = bidCap;
    if (ask < askFloor) ask = askFloor;
    // A side whose price falls outside 1 .. 2^53 - 1 ticks (a spread or a skew wider than the
    // price itself) is pulled rather than sent: the gate and the engine refuse such a price.
    const bidLots = bid >= 1 && bid <= kMaxTicks ? Math.max(0, Math.min(size, maxPosition - q)) : 0;
    const askLots = ask >= 1 && ask <= kMaxTicks ? Math.max(0, Math.min(size, maxPosition + q)) : 0;
    ctx.quote(bid, bidLots, ask, askLots);
    state[0] = m;
    state[1] = q;
    state[2] = 1;
  };
}
