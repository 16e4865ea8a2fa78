/**
 * MatchingEngine: an L3 book with price-time priority, limit and market orders, GTC/IOC/FOK,
 * post-only, modify, cancel and self-trade prevention. Orders live in the C++ slab
 * (cpp/memory, through cpp/orderbook/order_pool.hpp) on the native backend and in a pool of
 * typed arrays on the TS one; both run the same algorithm and give the same reports.
 */
import { cpuAddon } from '../backend.js';
import { invalidRange, invalidType, withCode } from '../errors.js';
import { type EngineCore, TsEngineCore } from './engine-core.js';
import { type Decimal, Grid, lotsScratch, priceTicks, quantityLots } from './grid.js';
import { CancelCode, kCommandStride, kFillStride, kRejectReason, kStatus, RejectCode, StatusCode, View } from './layout.js';
import { BookReads, bookSide, checkOptions, checkOrderFields, checkSymbol, type BookSide, type OrderBookBackend, resolveBackend } from './reads.js';

export type SelfTradePrevention = 'none' | 'cancel-taker' | 'cancel-maker' | 'cancel-both';
export type OrderType = 'limit' | 'market';
export type TimeInForce = 'GTC' | 'IOC' | 'FOK';
export type OrderStatus = (typeof kStatus)[number];
/**
 * 'quantity-overflow': resting the order would push its level's total past 2^63 - 1 lots, or
 * a modify would give an order more than 2^63 - 1 lots filled plus open. A modify refused
 * this way before it moved leaves the order as it was; one refused after it traded (its new
 * price crossed) has left the book, as an order that runs out of memory does.
 */
export type RejectReason = 'post-only-would-take' | 'out-of-memory' | 'quantity-overflow';
/**
 * Why an order ended 'cancelled' (ExecutionReport.cancelReason):
 * 'fok-unfillable': fill-or-kill that could not fill completely, so nothing traded;
 * 'ioc-remainder': immediate-or-cancel, the part that did not fill at once;
 * 'market-remainder': a market order's unfilled rest (market orders never rest);
 * 'self-trade-prevention': selfTradePrevention ('cancel-taker' / 'cancel-both') cancelled it;
 * 'modified-to-zero': modify() to quantity 0.
 */
export type CancelReason = 'fok-unfillable' | 'ioc-remainder' | 'market-remainder' | 'self-trade-prevention' | 'modified-to-zero';
/** CancelCode (engine-core.ts, matching_engine.hpp CancelReason) -> CancelReason. */
const kCancelReason: Record<number, CancelReason> = {
  [CancelCode.fokUnfillable]: 'fok-unfillable',
  [CancelCode.iocRemainder]: 'ioc-remainder',
  [CancelCode.marketRemainder]: 'market-remainder',
  [CancelCode.selfTradePrevention]: 'self-trade-prevention',
  [CancelCode.modifiedToZero]: 'modified-to-zero',
};

export interface MatchingEngineOptions {
  symbol: string;
  tickSize: number;
  /** Quantity step. Default 1e-8: quantities are held as integer lots of it. */
  lotSize?: number;
  /** What happens when a taker would trade with a maker of the same ownerId (default 'none'). */
  selfTradePrevention?: SelfTradePrevention;
  /**
   * Whether prices below 0 are valid for this instrument (spreads, some futures and energy
   * contracts trade negative). Default false: a negative price is a RangeError naming the
   * argument. Zero is always valid.
   */
  allowNegativePrices?: boolean;
  backend?: OrderBookBackend;
}

export interface OrderRequest {
  side: BookSide;
  /** Default 'limit'. A market order has no price and never rests. */
  type?: OrderType;
  /**
   * Required for a limit order, on the tick grid: a number (the double nearest a multiple of
   * the tick), a decimal string ('75075.37698686', exact) or a bigint count of ticks;
   * |ticks| <= 2^53 - 1.
   */
  price?: Decimal;
  /** > 0, on the lot grid, at most 2^63 - 1 lots: a number, a decimal string or a bigint count of lots. */
  quantity: Decimal;
  /** Default 'GTC'. IOC cancels what does not fill at once; FOK fills completely or not at all. */
  timeInForce?: TimeInForce;
  /** Rejected (rejectReason 'post-only-would-take') if it would trade on arrival. Limit orders only. */
  postOnly?: boolean;
  /** An integer in [0, 2^32 - 1]; 0 (the default) is "no owner" and never self-trades. */
  ownerId?: number;
  /** Any finite number, kept with the order and shown by getOrder(). */
  clientId?: number;
}

export interface Fill {
  makerOrderId: number;
  takerOrderId: number;
  price: number;
  quantity: number;
}

/**
 * What one submit() or modify() did. filledQuantity, averagePrice and fills cover this call
 * only; remainingQuantity is what rests in the book afterwards (0 when nothing rests).
 * status: 'new' / 'partially-filled' (resting, without / with fills over its life),
 * 'filled', 'cancelled' (the remainder was cancelled: IOC, market, FOK kill, self-trade
 * prevention, modify to 0; see cancelReason) or 'rejected' (see rejectReason).
 */
export interface ExecutionReport {
  orderId: number;
  status: OrderStatus;
  filledQuantity: number;
  remainingQuantity: number;
  /**
   * Volume-weighted price of this call's fills (ticks x lots summed exactly, converted once:
   * one fill's average is its price); NaN when there were none.
   */
  averagePrice: number;
  fills: Fill[];
  rejectReason?: RejectReason;
  /** Set when status is 'cancelled': why the order (or its remainder) was cancelled. */
  cancelReason?: CancelReason;
}

/** A resting order as getOrder() shows it. */
export interface RestingOrder {
  orderId: number;
  side: BookSide;
  price: number;
  /** Open (remaining) quantity. */
  quantity: number;
  /** Filled over the order's life. */
  filledQuantity: number;
  ownerId: number;
  clientId?: number;
  postOnly: boolean;
}

export interface BatchResult {
  /** Commands run (all of them: a bad batch throws before running any). */
  processed: number;
  /** Fills the batch produced. */
  fills: number;
  /** Fills written to fillsOut (fewer than `fills` when it was too small; the rest are lost, the book is still right). */
  fillsWritten: number;
  /** The id the batch's first submit got; the n-th submit got firstOrderId + n - 1. */
  firstOrderId: number;
}

/** Operation codes of submitBatch command records. */
export const BatchOp = { limit: 0, market: 1, cancel: 2, modify: 3 } as const;

/** The hot calls into the core, one copy per backend (see L2Calls in book.ts for why). */
interface EngineCalls {
  submit(core: EngineCore): void;
  cancel(core: EngineCore): boolean;
  modify(core: EngineCore): void;
  query(core: EngineCore): boolean;
}
const kNativeCalls: EngineCalls = {
  submit: (core) => core.submit(),
  cancel: (core) => core.cancel(),
  modify: (core) => core.modify(),
  query: (core) => core.query(),
};
const kTsCalls: EngineCalls = {
  submit: (core) => core.submit(),
  cancel: (core) => core.cancel(),
  modify: (core) => core.modify(),
  query: (core) => core.query(),
};

const kStp: Record<SelfTradePrevention, number> = { none: 0, 'cancel-taker': 1, 'cancel-maker': 2, 'cancel-both': 3 };
const kTif: Record<TimeInForce, number> = { GTC: 0, IOC: 1, FOK: 2 };
const kMaxOwner = 4294967295;

/** An order id argument: a TypeError for a non-number, a RangeError for any other non-id. */
function checkOrderId(orderId: unknown): void {
  if (typeof orderId !== 'number') throw invalidType('orderId', 'an order id (a positive integer)', orderId);
  if (!Number.isSafeInteger(orderId) || orderId < 1) throw invalidRange('orderId', 'an order id (a positive integer)', orderId);
}

/**
 * The brand every ExecutionReportBuffer carries as an own field: the per-call check reads one property with a
 * constant key (an inline-cached load) where `instanceof` on a module binding walks the
 * prototype chain through a generic path (7% of a submitCommandInto in a CPU profile).
 */
const kReportBrand = Symbol('ExecutionReportBuffer');

/** The most fills an ExecutionReportBuffer is made or grown to hold (2^24: 512 MiB of fills). */
const kMaxReportFills = 16_777_216;

/**
 * A caller-owned, reusable ExecutionReport for MatchingEngine.submitInto / modifyInto, the
 * per-call path that allocates nothing: each call overwrites every field below with what
 * that call did, exactly what submit() / modify() would have returned.
 *
 * - orderId, status, filledQuantity, remainingQuantity, averagePrice, rejectReason,
 *   cancelReason: as in ExecutionReport (values in price and quantity units; averagePrice NaN
 *   without fills; rejectReason / cancelReason undefined unless the status is 'rejected' /
 *   'cancelled').
 * - fillCount: how many fills this call made; `fills` holds them as 4 doubles each
 *   (MatchingEngine.fillStride, the submitBatch fillsOut format):
 *   `[makerOrderId, takerOrderId, price, quantity]` at `fills[4 * i .. 4 * i + 3]` for
 *   i < fillCount (takerOrderId is orderId). Doubles past 4 * fillCount are stale.
 *
 * Capacity: room for `fillCapacity` fills (default 64; an integer from 1 to 16,777,216, or a
 * Float64Array of at least 4 doubles to use as the storage). A call that makes more fills than
 * fit grows the storage once, to max(fills, 2 x capacity), before writing: no fill is ever
 * dropped, and `fills` is then a new (non-shared) array, so read `report.fills` after each call
 * rather than keeping the array. Only a call past the capacity allocates.
 *
 * Errors (each with a `code`): the engine refuses a `report` that is not an
 * ExecutionReportBuffer (TypeError, ERR_INVALID_ARG_TYPE) or whose fills buffer was detached
 * (transferred to another thread; TypeError, ERR_INVALID_ARG_TYPE) before the order runs.
 * @example
 * const out = new ExecutionReportBuffer(16);
 * me.submitInto({ side: 'sell', price: 100, quantity: 1 }, out);
 * me.submitInto({ side: 'buy', price: 100, quantity: 1 }, out);
 * out.status;   // 'filled'
 * out.fills[2]; // 100, the first fill's price
 */
export class ExecutionReportBuffer {
  orderId = 0;
  status: OrderStatus = 'new';
  filledQuantity = 0;
  remainingQuantity = 0;
  averagePrice = Number.NaN;
  rejectReason: RejectReason | undefined = undefined;
  cancelReason: CancelReason | undefined = undefined;
  /** Fills made by the last call, at fills[0 .. 4 * fillCount). */
  fillCount = 0;
  /** Own (not inherited) so that Object.create(ExecutionReportBuffer.prototype) is refused too. */
  private readonly [kReportBrand] = true;
  private store: Float64Array;
  private capacity: number;

  constructor(fillCapacity: number | Float64Array = 64) {
    if (fillCapacity instanceof Float64Array) {
      if (fillCapacity.length < kFillStride) {
        throw invalidRange('fillCapacity', 'a Float64Array of at least 4 doubles (room for one fill; an empty or detached array has none)', fillCapacity);
      }
      if (fillCapacity.length > kFillStride * kMaxReportFills) throw invalidRange('fillCapacity', `a Float64Array of at most ${kFillStride * kMaxReportFills} doubles`, fillCapacity);
      this.store = fillCapacity;
      this.capacity = Math.floor(fillCapacity.length / kFillStride);
      return;
    }
    if (typeof fillCapacity !== 'number') throw invalidType('fillCapacity', 'a number of fills or a Float64Array', fillCapacity);
    if (!Number.isInteger(fillCapacity) || fillCapacity < 1 || fillCapacity > kMaxReportFills) {
      throw invalidRange('fillCapacity', `an integer from 1 to ${kMaxReportFills}`, fillCapacity);
    }
    this.store = new Float64Array(kFillStride * fillCapacity);
    this.capacity = fillCapacity;
  }

  /** The fills, 4 doubles each (class comment); replaced by a larger array when a call outgrows it. */
  get fills(): Float64Array {
    return this.store;
  }

  /** How many fills `fills` has room for. */
  get fillCapacity(): number {
    return this.capacity;
  }

  /**
   * Makes room for at least `fills` fills now (growing to max(fills, 2 x capacity), keeping the
   * fills held), so a later call past today's capacity does not allocate; a no-op when they fit.
   * Returns the fills array.
   */
  reserve(fills: number): Float64Array {
    if (!Number.isInteger(fills) || fills < 0 || fills > kMaxReportFills) throw invalidRange('fills', `an integer from 0 to ${kMaxReportFills}`, fills);
    if (fills <= this.capacity) return this.store;
    const cap = Math.min(kMaxReportFills, Math.max(fills, 2 * this.capacity));
    const next = new Float64Array(kFillStride * cap);
    next.set(this.store.subarray(0, kFillStride * Math.min(this.fillCount, this.capacity)));
    this.store = next;
    this.capacity = cap;
    return next;
  }

  /**
   * The last call's report as a new ExecutionReport object, equal to what submit() / modify()
   * would have returned (allocates: for logs and tests, not the hot path).
   */
  toReport(): ExecutionReport {
    const f = this.store;
    const fills: Fill[] = new Array<Fill>(this.fillCount);
    for (let i = 0; i < this.fillCount; i++) {
      fills[i] = { makerOrderId: f[4 * i]!, takerOrderId: f[4 * i + 1]!, price: f[4 * i + 2]!, quantity: f[4 * i + 3]! };
    }
    const report: ExecutionReport = {
      orderId: this.orderId,
      status: this.status,
      filledQuantity: this.filledQuantity,
      remainingQuantity: this.remainingQuantity,
      averagePrice: this.averagePrice,
      fills,
    };
    if (this.rejectReason !== undefined) report.rejectReason = this.rejectReason;
    if (this.cancelReason !== undefined) report.cancelReason = this.cancelReason;
    return report;
  }
}


/** A report argument of submitInto / modifyInto: an ExecutionReportBuffer whose fills are live. */
function checkReportBuffer(report: unknown): asserts report is ExecutionReportBuffer {
  if (typeof report !== 'object' || report === null || (report as { [kReportBrand]?: unknown })[kReportBrand] !== true) {
    throw invalidType('report', 'an ExecutionReportBuffer', report);
  }
  // Its array always has room for fillCapacity >= 1 fills; a length of 0 means it was transferred.
  if ((report as ExecutionReportBuffer).fills.length === 0) {
    throw withCode(new TypeError('Expected a Float64Array for report.fills but received one whose buffer is detached (transferred or closed)'), 'ERR_INVALID_ARG_TYPE');
  }
}

/**
 * An L3 matching engine with price-time priority.
 *
 * submitBatch(commands, fillsOut?) runs many commands in one call. Each command is 6 doubles
 * (MatchingEngine.commandStride):
 * - limit  `[0, side (0 buy / 1 sell), price, quantity, flags, ownerId]`
 * - market `[1, side, 0, quantity, flags, ownerId]`
 * - cancel `[2, orderId, 0, 0, 0, 0]`
 * - modify `[3, orderId, price or NaN (keep), quantity or NaN (keep), 0, 0]`
 * where flags = timeInForce (0 GTC, 1 IOC, 2 FOK) + 4 if post-only. Each fill is written to
 * fillsOut as 4 doubles (MatchingEngine.fillStride): `[makerOrderId, takerOrderId, price,
 * quantity]`. The whole batch is validated first; a bad command throws a RangeError naming
 * its index and nothing runs. Cancels and modifies of ids that are not resting do nothing.
 *
 * Per call without allocation: submitInto(order, report) and modifyInto(orderId, changes,
 * report) run what submit() and modify() run and write the report into a caller-owned
 * ExecutionReportBuffer; submitCommandInto(commands, index, report) runs one command in the
 * packed format above the same way, with no object to read (docs/orderbook.md).
 *
 * @example
 * import { MatchingEngine } from 'ultra-performance';
 * const me = new MatchingEngine({ symbol: 'BTC-USD', tickSize: 0.5, lotSize: 0.001, selfTradePrevention: 'cancel-taker' });
 * const maker = me.submit({ side: 'sell', price: 100, quantity: 2, ownerId: 1 });
 * const taker = me.submit({ side: 'buy', price: 100.5, quantity: 0.5, ownerId: 2 });
 * taker.status; // 'filled'
 * taker.fills;  // [{ makerOrderId: maker.orderId, takerOrderId: taker.orderId, price: 100, quantity: 0.5 }]
 * me.modify(maker.orderId, { quantity: 1 }); // shrinks in place, keeps priority
 * me.cancel(maker.orderId); // true
 */
export class MatchingEngine extends BookReads {
  static readonly commandStride = kCommandStride;
  static readonly fillStride = kFillStride;

  readonly symbol: string;
  readonly tickSize: number;
  readonly lotSize: number;
  readonly selfTradePrevention: SelfTradePrevention;
  /** Whether this engine accepts prices below 0 (options.allowNegativePrices). */
  readonly allowNegativePrices: boolean;
  readonly backend: 'ts' | 'native';
  private readonly core: EngineCore;
  private readonly calls: EngineCalls;
  private readonly lot: Grid;
  private bigFills = new Float64Array(0);

  constructor(options: MatchingEngineOptions) {
    const o = checkOptions(options, 'MatchingEngine');
    const symbol = checkSymbol(o.symbol);
    // Checked (a boolean, default false) by checkOptions: reads.ts kBookSpecs.
    const negative = o.allowNegativePrices === true;
    const tick = new Grid(o.tickSize as number, 'tickSize', 'price', undefined, negative);
    const lot = new Grid(o.lotSize === undefined ? 1e-8 : (o.lotSize as number), 'lotSize', 'quantity');
    const stpName = o.selfTradePrevention === undefined ? 'none' : o.selfTradePrevention;
    const stp = typeof stpName === 'string' ? kStp[stpName as SelfTradePrevention] : undefined;
    if (stp === undefined || !Object.hasOwn(kStp, stpName as string)) {
      throw invalidType('selfTradePrevention', "'none', 'cancel-taker', 'cancel-maker' or 'cancel-both'", stpName);
    }
    const backend = resolveBackend(o.backend, 'MatchingEngine');
    const core: EngineCore =
      backend === 'native'
        ? cpuAddon!.orderbookEngineCreate(tick.num, tick.den, lot.num, lot.den, stp, negative)
        : new TsEngineCore(tick.num, tick.den, lot.num, lot.den, stp, negative);
    super(core.view instanceof Float64Array ? core.view : new Float64Array(core.view), tick, lot, true);
    this.symbol = symbol;
    this.tickSize = tick.step;
    this.lotSize = lot.step;
    this.selfTradePrevention = stpName as SelfTradePrevention;
    this.allowNegativePrices = negative;
    this.backend = backend;
    this.core = core;
    this.calls = backend === 'native' ? kNativeCalls : kTsCalls;
    this.lot = lot;
  }

  protected levelsOf(): (side: number, n: number, out: Float64Array, units: number) => number {
    const core = this.core;
    return (side, n, out, units) => core.levels(side, n, out, units);
  }

  /**
   * Submits an order and returns what happened to it.
   * @example
   * me.submit({ side: 'buy', type: 'market', quantity: 1, timeInForce: 'FOK' });
   */
  submit(order: OrderRequest): ExecutionReport {
    this.writeSubmitArgs(order);
    this.calls.submit(this.core);
    return this.report();
  }

  /**
   * submit() without the report object: runs the same order, with the same checks and errors,
   * and writes what happened into `report`, a caller-owned ExecutionReportBuffer reused call
   * after call, so a steady loop allocates nothing. `report` is checked before the order runs
   * (a wrong one is an error and nothing happens); it is returned for chaining.
   * @example
   * const out = new ExecutionReportBuffer();
   * me.submitInto({ side: 'buy', price: 100, quantity: 1 }, out);
   * for (let i = 0; i < out.fillCount; i++) trade(out.fills[4 * i], out.fills[4 * i + 2], out.fills[4 * i + 3]);
   */
  submitInto(order: OrderRequest, report: ExecutionReportBuffer): ExecutionReportBuffer {
    checkReportBuffer(report);
    this.writeSubmitArgs(order);
    this.calls.submit(this.core);
    return this.reportInto(report);
  }

  /** Checks an order as submit() does and writes it to the view's argument slots. */
  private writeSubmitArgs(order: OrderRequest): void {
    if (typeof order !== 'object' || order === null) throw invalidType('order', 'an order object', order);
    // Also refuses an array, a Map or a class instance (reads.ts checkOrderFields).
    checkOrderFields(order, 'submit');
    const side = bookSide(order.side, 'order.side');
    const type = order.type;
    let market: number;
    if (type === undefined || type === 'limit') market = 0;
    else if (type === 'market') market = 1;
    else throw invalidType('order.type', "'limit' or 'market'", type);
    let ticks = 0;
    if (market === 0) ticks = priceTicks(this.tick, order.price, 'order.price');
    else if (order.price !== undefined) throw invalidType('order.price', 'no price for a market order', order.price);
    const lots = quantityLots(this.lot, order.quantity, 'order.quantity', true);
    const correction = lotsScratch.correction;
    const tifName = order.timeInForce;
    const tif = tifName === undefined ? 0 : typeof tifName === 'string' && Object.hasOwn(kTif, tifName) ? kTif[tifName] : -1;
    if (tif < 0) throw invalidType('order.timeInForce', "'GTC', 'IOC' or 'FOK'", tifName);
    const post = order.postOnly;
    if (post !== undefined && typeof post !== 'boolean') throw invalidType('order.postOnly', 'a boolean', post);
    if (post === true && market === 1) throw invalidType('order.postOnly', 'false or nothing for a market order', post);
    const owner = order.ownerId === undefined ? 0 : order.ownerId;
    if (typeof owner !== 'number' || !Number.isInteger(owner) || owner < 0 || owner > kMaxOwner) {
      throw invalidType('order.ownerId', 'an integer in [0, 4294967295]', owner);
    }
    const client = order.clientId === undefined ? Number.NaN : order.clientId;
    if (order.clientId !== undefined && (typeof client !== 'number' || !Number.isFinite(client))) {
      throw invalidType('order.clientId', 'a finite number', order.clientId);
    }
    const v = this.view;
    const a = View.args;
    v[a] = side;
    v[a + 1] = market;
    v[a + 2] = ticks;
    v[a + 3] = lots;
    v[a + 4] = tif;
    v[a + 5] = post === true ? 1 : 0;
    v[a + 6] = owner;
    v[a + 7] = client;
    v[a + 8] = correction;
  }

  /**
   * Cancels a resting order; false when the id is not resting (unknown, filled, cancelled).
   * A non-number orderId is a TypeError and a number that is not a positive safe integer (NaN,
   * 1.5, 0) a RangeError, here as in modify() and getOrder().
   * @example
   * me.cancel(42); // true or false
   */
  cancel(orderId: number): boolean {
    checkOrderId(orderId);
    this.view[View.args] = orderId;
    return this.calls.cancel(this.core);
  }

  /**
   * Changes a resting order's price and/or open quantity (a cancel/replace). Shrinking the
   * quantity at the same price keeps time priority; anything else re-enters the order at the
   * back of its new level, and if the new price crosses it trades at once as the aggressor.
   * Quantity 0 cancels. An id that is not resting is a RangeError. Prices and quantities as in
   * submit().
   *
   * A post-only order whose new price would take is rejected (`status: 'rejected'`,
   * `rejectReason: 'post-only-would-take'`) and, as at every major venue, the original stays
   * working unchanged with its priority; the report's remainingQuantity is what still rests.
   *
   * Under self-trade prevention the amended order is the taker: moving it onto the same owner's
   * resting order applies the engine's policy with the amended order as the aggressor, so
   * 'cancel-taker' and 'cancel-both' cancel the amended order (status 'cancelled', and it no
   * longer rests), and 'cancel-maker' cancels the owner's resting order instead.
   * @example
   * me.modify(id, { quantity: 0.5 });          // keeps priority
   * me.modify(id, { price: 101, quantity: 2 }); // loses priority
   */
  modify(orderId: number, changes: { price?: Decimal; quantity?: Decimal }): ExecutionReport {
    this.runModify(orderId, changes);
    return this.report();
  }

  /**
   * modify() without the report object: the same change, checks and errors (an id that is not
   * resting is a RangeError), with what happened written into `report` (see submitInto).
   * @example
   * me.modifyInto(id, { price: 101 }, out).status; // 'new', 'partially-filled', 'filled', ...
   */
  modifyInto(orderId: number, changes: { price?: Decimal; quantity?: Decimal }, report: ExecutionReportBuffer): ExecutionReportBuffer {
    checkReportBuffer(report);
    this.runModify(orderId, changes);
    return this.reportInto(report);
  }

  /**
   * One command in submitBatch's packed format (class comment: 6 doubles, limit / market /
   * cancel / modify) run as a per-call command, its report written into `report`: the
   * per-call path with no objects at all, neither an order nor a report. `commands[6 * index
   * .. 6 * index + 5]` is the command; a bad one throws the RangeError submitBatch gives
   * (naming its index) and nothing runs. Returns true when the command acted: a limit or
   * market order always (its report is in `report`), a cancel or modify when the id was
   * resting (a modify's report is in `report`); false for a cancel or modify of an id that is
   * not resting (as in submitBatch: nothing happens and `report` is left as it was). A cancel
   * never writes `report`. Orders submitted this way have no clientId.
   * @example
   * const cmd = new Float64Array([BatchOp.limit, 0, 100, 1, 0, 0]); // buy 1 at 100, GTC
   * me.submitCommandInto(cmd, 0, out); // true; out.orderId, out.status, out.fills ...
   */
  submitCommandInto(commands: Float64Array, index: number, report: ExecutionReportBuffer): boolean {
    if (!(commands instanceof Float64Array)) throw invalidType('commands', 'a Float64Array of 6-double commands', commands);
    if (!Number.isInteger(index) || index < 0 || kCommandStride * index + kCommandStride > commands.length) {
      if (commands.length < kCommandStride) {
        throw invalidRange('commands', 'at least one 6-double command (an empty, detached or shorter array has none)', commands);
      }
      throw invalidRange('index', `an integer from 0 to ${Math.floor(commands.length / kCommandStride) - 1} (the commands in commands)`, index);
    }
    checkReportBuffer(report);
    const at = kCommandStride * index;
    const op = commands[at]!;
    const a1 = commands[at + 1]!;
    const v = this.view;
    const a = View.args;
    if (op === 3 || op === 2) {
      if (!(a1 >= 1 && a1 <= 9007199254740991 && Math.floor(a1) === a1)) this.badCommand(commands, index);
      if (op === 2) {
        v[a] = a1;
        return this.calls.cancel(this.core);
      }
      const price = commands[at + 2]!;
      const qty = commands[at + 3]!;
      let ticks = Number.NaN;
      let lots = Number.NaN;
      if (price === price) {
        ticks = this.tick.toUnits(price);
        if (!(ticks >= this.tick.minTicks && ticks <= 9007199254740991)) this.badCommand(commands, index);
      }
      if (qty === qty) {
        lots = this.lot.toUnits(qty);
        if (!(lots >= 0 && lots <= 9223372036854774784)) this.badCommand(commands, index);
      }
      v[a] = a1;
      v[a + 1] = ticks;
      v[a + 2] = lots;
      v[a + 3] = 0;
      this.calls.modify(this.core);
      if (v[View.reportStatus] === StatusCode.rejected && v[View.reportReject] === RejectCode.unknownOrder) return false;
      this.reportInto(report);
      return true;
    }
    const market = op === 1;
    const price = commands[at + 2]!;
    const flags = commands[at + 4]!;
    const owner = commands[at + 5]!;
    const ticks = market ? 0 : this.tick.toUnits(price);
    const lots = this.lot.toUnits(commands[at + 3]!);
    const tif = flags & 3;
    if (
      !(op === 0 || market) ||
      !(a1 === 0 || a1 === 1) ||
      !(ticks >= this.tick.minTicks && ticks <= 9007199254740991) ||
      !(lots > 0 && lots <= 9223372036854774784) ||
      !(flags >= 0 && flags <= 6 && Math.floor(flags) === flags && tif !== 3 && !(market && flags >= 4)) ||
      !(owner >= 0 && owner <= kMaxOwner && Math.floor(owner) === owner)
    ) {
      this.badCommand(commands, index);
    }
    v[a] = a1;
    v[a + 1] = market ? 1 : 0;
    v[a + 2] = ticks;
    v[a + 3] = lots;
    v[a + 4] = tif;
    v[a + 5] = flags >= 4 ? 1 : 0;
    v[a + 6] = owner;
    v[a + 7] = Number.NaN;
    v[a + 8] = 0;
    this.calls.submit(this.core);
    this.reportInto(report);
    return true;
  }

  /** Checks and runs a modify; the report is left in the view. */
  private runModify(orderId: number, changes: { price?: Decimal; quantity?: Decimal }): void {
    checkOrderId(orderId);
    if (typeof changes !== 'object' || changes === null) throw invalidType('changes', 'an object with price and/or quantity', changes);
    checkOrderFields(changes, 'modify');
    const ticks = changes.price === undefined ? Number.NaN : priceTicks(this.tick, changes.price, 'changes.price');
    const lots = changes.quantity === undefined ? Number.NaN : quantityLots(this.lot, changes.quantity, 'changes.quantity', false);
    const v = this.view;
    v[View.args] = orderId;
    v[View.args + 1] = ticks;
    v[View.args + 2] = lots;
    v[View.args + 3] = changes.quantity === undefined ? 0 : lotsScratch.correction;
    this.calls.modify(this.core);
    if (v[View.reportStatus] === StatusCode.rejected && v[View.reportReject] === RejectCode.unknownOrder) {
      throw invalidRange('orderId', 'the id of a resting order', orderId);
    }
  }

  /**
   * A resting order, or undefined when the id is not resting. orderId is checked as in cancel().
   * @example
   * me.getOrder(id)?.quantity;
   */
  getOrder(orderId: number): RestingOrder | undefined {
    checkOrderId(orderId);
    const v = this.view;
    v[View.args] = orderId;
    if (!this.calls.query(this.core)) return undefined;
    const order: RestingOrder = {
      orderId: v[View.queryOrderId]!,
      side: v[View.querySide] === 0 ? 'buy' : 'sell',
      price: v[View.queryPrice]!,
      quantity: v[View.queryQuantity]!,
      filledQuantity: v[View.queryFilledQuantity]!,
      ownerId: v[View.queryOwner]!,
      postOnly: v[View.queryPostOnly] === 1,
    };
    const client = v[View.queryClientId]!;
    if (client === client) order.clientId = client;
    return order;
  }

  /**
   * Runs packed commands in one call (format in the class comment) and writes fills to
   * fillsOut when given.
   * @example
   * const cmds = new Float64Array([0, 1, 100, 1, 0, 0,   0, 0, 100, 1, 1, 0]);
   * const fills = new Float64Array(4 * 16);
   * me.submitBatch(cmds, fills); // { processed: 2, fills: 1, fillsWritten: 1, firstOrderId }
   */
  /**
   * Throws the error the per-call API gives for a bad price or quantity in command i (off the
   * grid, beyond the largest, not finite), naming its index in commands; returns when the fault
   * is elsewhere in the command (the caller then names the whole command).
   */
  private explainBadCommand(commands: Float64Array, i: number): void {
    const at = kCommandStride * i;
    const op = commands[at];
    const price = commands[at + 2]!;
    const qty = commands[at + 3]!;
    if (op === 0 || op === 1) {
      if (op === 0) priceTicks(this.tick, price, `commands[${at + 2}] (command ${i}, price)`);
      quantityLots(this.lot, qty, `commands[${at + 3}] (command ${i}, quantity)`, true);
    } else if (op === 3) {
      if (price === price) priceTicks(this.tick, price, `commands[${at + 2}] (command ${i}, price)`);
      if (qty === qty) quantityLots(this.lot, qty, `commands[${at + 3}] (command ${i}, quantity)`, false);
    }
  }

  /** Throws the error for a bad command i of commands (explainBadCommand's, else one naming the whole command). */
  private badCommand(commands: Float64Array, i: number): never {
    this.explainBadCommand(commands, i);
    throw invalidRange(`commands[${kCommandStride * i}..${kCommandStride * i + 5}] (command ${i})`, 'a valid command (see MatchingEngine.submitBatch)', Array.from(commands.subarray(kCommandStride * i, kCommandStride * i + kCommandStride)));
  }

  submitBatch(commands: Float64Array, fillsOut?: Float64Array): BatchResult {
    if (!(commands instanceof Float64Array)) throw invalidType('commands', 'a Float64Array of 6-double commands', commands);
    if (commands.length % kCommandStride !== 0) throw invalidRange('commands.length', 'a multiple of 6', commands.length);
    if (fillsOut !== undefined && !(fillsOut instanceof Float64Array)) throw invalidType('fillsOut', 'a Float64Array', fillsOut);
    const n = commands.length / kCommandStride;
    const r = this.core.batch(commands, n, fillsOut ?? null);
    if (r < 0) this.badCommand(commands, -r - 1);
    const v = this.view;
    const fills = v[View.batchFills]!;
    const cap = fillsOut === undefined ? 0 : Math.floor(fillsOut.length / kFillStride);
    return { processed: r, fills, fillsWritten: Math.min(fills, cap), firstOrderId: v[View.batchFirstOrderId]! };
  }

  /**
   * submitBatch for loops that must not allocate (lib/pipeline/venue.ts): runs the first
   * `count` commands of `commands` (same format and checks) and returns how many fills they
   * produced, with no result object; the id the first submit got is then `lastBatchFirstOrderId`.
   * @example
   * const fills = me.submitBatchCount(cmds, 2, fillsOut); // fillsOut holds min(fills, capacity) fills
   */
  submitBatchCount(commands: Float64Array, count: number, fillsOut: Float64Array): number {
    if (!(commands instanceof Float64Array)) throw invalidType('commands', 'a Float64Array of 6-double commands', commands);
    if (!(fillsOut instanceof Float64Array)) throw invalidType('fillsOut', 'a Float64Array', fillsOut);
    if (!Number.isInteger(count) || count < 0 || count * kCommandStride > commands.length) {
      throw invalidRange('count', `an integer from 0 to commands.length / 6 (${commands.length / kCommandStride})`, count);
    }
    const r = this.core.batch(commands, count, fillsOut);
    if (r < 0) this.badCommand(commands, -r - 1);
    return this.view[View.batchFills]!;
  }

  /** The id the first submit of the last submitBatch / submitBatchCount got. */
  get lastBatchFirstOrderId(): number {
    return this.view[View.batchFirstOrderId]!;
  }

  /**
   * Where the last report's n fills are, as (makerOrderId, price, quantity) triples: the view
   * from View.fills, or, past the view's 256, bigFills from 0 (copied from the core).
   */
  private fillsOf(n: number): Float64Array {
    if (n <= View.fillCapacity) return this.view;
    if (this.bigFills.length < 3 * n) this.bigFills = new Float64Array(6 * n);
    this.core.copyFills(this.bigFills);
    return this.bigFills;
  }

  private report(): ExecutionReport {
    const v = this.view;
    const n = v[View.reportFillCount]!;
    const id = v[View.reportOrderId]!;
    const src = this.fillsOf(n);
    const base = src === v ? View.fills : 0;
    const fills: Fill[] = new Array<Fill>(n);
    for (let i = 0; i < n; i++) {
      fills[i] = { makerOrderId: src[base + 3 * i]!, takerOrderId: id, price: src[base + 3 * i + 1]!, quantity: src[base + 3 * i + 2]! };
    }
    const status = kStatus[v[View.reportStatus]!]!;
    const report: ExecutionReport = {
      orderId: id,
      status,
      filledQuantity: v[View.reportFilledQuantity]!,
      remainingQuantity: v[View.reportRemainingQuantity]!,
      averagePrice: v[View.reportAveragePrice]!,
      fills,
    };
    if (status === 'rejected') report.rejectReason = kRejectReason[v[View.reportReject]!] as RejectReason;
    else if (status === 'cancelled') report.cancelReason = kCancelReason[v[View.reportReject]!]!;
    return report;
  }

  /** The view's last report (and its fills, from the core past the view's 256) into `out`. */
  private reportInto(out: ExecutionReportBuffer): ExecutionReportBuffer {
    const v = this.view;
    const n = v[View.reportFillCount]!;
    const id = v[View.reportOrderId]!;
    const fills = n > out.fillCapacity ? out.reserve(n) : out.fills;
    if (n > 0) {
      const src = this.fillsOf(n);
      for (let i = 0, s = src === v ? View.fills : 0, d = 0; i < n; i++, s += 3, d += 4) {
        fills[d] = src[s]!;
        fills[d + 1] = id;
        fills[d + 2] = src[s + 1]!;
        fills[d + 3] = src[s + 2]!;
      }
    }
    const code = v[View.reportStatus]!;
    out.orderId = id;
    out.status = kStatus[code]!;
    out.filledQuantity = v[View.reportFilledQuantity]!;
    out.remainingQuantity = v[View.reportRemainingQuantity]!;
    out.averagePrice = v[View.reportAveragePrice]!;
    out.fillCount = n;
    out.rejectReason = code === StatusCode.rejected ? (kRejectReason[v[View.reportReject]!] as RejectReason) : undefined;
    out.cancelReason = code === StatusCode.cancelled ? kCancelReason[v[View.reportReject]!] : undefined;
    return out;
  }
}
