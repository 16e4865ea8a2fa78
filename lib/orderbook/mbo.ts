/**
 * MboBook: a market-by-order (L3) book driven by a feed's order ids, with the L2 reads of
 * OrderBook (BookReads). Its hot path is apply(), which takes events in the one layout of
 * lib/pipeline/events.ts (integer ticks and lots) and, on the native backend, applies a whole
 * batch in one call. The single-event methods take values on the tick and lot grids.
 */
import { cpuAddon } from '../backend.js';
import { invalidRange, invalidType, invalidValue, withCode } from '../errors.js';
import { booleanCheck, defineOptions, integerCheck, readOptions } from '../internal/options.js';
import { EventField, EventOp, kEventStride } from '../pipeline/events.js';
import { Grid, priceTicks, quantityLots } from './grid.js';
import { Mbo, MboReason } from './layout.js';
import { type MboCore, TsMboCore } from './mbo-core.js';
import { BookReads, type BookSide, bookSide, checkSymbol, type OrderBookBackend, resolveBackend } from './reads.js';

export interface MboBookOptions {
  symbol: string;
  /** Price step; every price must be a multiple of it. An event's `price` is a count of these ticks. */
  tickSize: number;
  /** Size step (default 1: shares); every size must be a multiple of it. An event's `size` is a count of these lots. */
  lotSize?: number;
  /** Whether prices below 0 are valid (default false), as OrderBook's option. */
  allowNegativePrices?: boolean;
  /** Orders the book expects to hold at once, 1 to 2^22: sizes the order pool and id map up front (both grow past it, so this is a hint, not a limit). Default 1024. */
  expectedOrders?: number;
  /** 'auto' (default): native when the CPU addon is loaded. 'native' without it throws BackendUnavailableError. */
  backend?: OrderBookBackend;
}

/** A resting order as order() returns it: price and size as values on the grids. */
export interface MboOrder {
  side: BookSide;
  price: number;
  size: number;
}

/** Counters since the book was made (clear() keeps them). */
export interface MboStats {
  /** Events (reduce, delete, execute, replace) for order ids the book did not hold: acted on the level at (side, price). */
  unknownOrders: number;
  /** Orders dropped by `trim` events because their level left the kept depth. */
  forgottenOrders: number;
}

const kSchema = defineOptions('MboBook', {
  symbol: { check: null, checkedBy: 'checkSymbol' },
  tickSize: { check: null, checkedBy: 'grid.ts Grid' },
  lotSize: { check: null, checkedBy: 'grid.ts Grid' },
  allowNegativePrices: { check: booleanCheck, default: false },
  expectedOrders: { check: integerCheck(1, 2 ** 22, 'an integer'), default: 1024 },
  backend: { check: null, checkedBy: 'resolveBackend (lib/internal/backend.ts chooseBackend)' },
});

/** The event fields each reason is about, for the error message. */
const kReasonField: Record<number, [field: number, expected: string]> = {
  [MboReason.op]: [EventField.op, 'an EventOp code (an integer from 1 to 11)'],
  [MboReason.orderId]: [EventField.orderId, 'an order id (an integer from 0 to 2^53 - 1)'],
  [MboReason.side]: [EventField.side, 'a side of 0 (buy) or 1 (sell)'],
  [MboReason.price]: [EventField.price, 'a price as an integer count of ticks (>= 0 unless allowNegativePrices, |ticks| <= 2^53 - 1)'],
  [MboReason.size]: [EventField.size, 'a size as an integer count of lots >= 0 (> 0 for add and replace)'],
  [MboReason.newOrderId]: [EventField.newOrderId, 'a new order id (an integer from 0 to 2^53 - 1)'],
  [MboReason.duplicate]: [EventField.orderId, 'the id of an order the book does not hold (add of a live order id)'],
  [MboReason.duplicateNew]: [EventField.newOrderId, 'the id of an order the book does not hold (replace to a live order id)'],
  [MboReason.overflow]: [EventField.size, 'a size that keeps the level total within 2^53 - 1 lots'],
};

/** True when the view's buffer was transferred or closed (constructing a view over it throws). */
function isDetached(view: ArrayBufferView): boolean {
  try {
    new Uint8Array(view.buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * A market-by-order book. Orders are held by the feed's order id; the L2 reads (`top`,
 * `depth(n)`, `bestBidPrice()`, `midPrice()`, `bidLevels`, ...) see each price level's total.
 *
 * Semantics (lib/pipeline/events.ts):
 * - add: a new order; its id must not be live. reduce / execute take `size` from the order
 *   (at most what it has) and remove it at 0; delete removes it.
 * - An event for an id the book does not hold acts on the level at (side, price): it takes
 *   up to `size` from the level's anonymous quantity (removing the level at 0) and is counted
 *   in stats.unknownOrders. A replace of an unknown id adds the new order on the event's side.
 * - level sets a level's total; the anonymous quantity is the total minus the known orders'
 *   lots there, and a level is never set below what its known orders hold (they leave only by
 *   their own events, `trim` or `clear`). Size 0 removes a level with no known orders.
 * - trim keeps the best `size` levels of `side` and forgets the orders on the dropped levels
 *   (stats.forgottenOrders). hiddenExecute, cross and halt change nothing. clear empties it.
 *
 * @example
 * import { MboBook } from 'ultra-performance';
 * const book = new MboBook({ symbol: 'AAPL', tickSize: 0.0001 });
 * book.add(1, 'buy', 585.33, 18);
 * book.add(2, 'sell', 585.91, 100);
 * book.execute(2, 40);
 * book.top;         // Float64Array [585.33, 18, 585.91, 60]
 * book.order(2);    // { side: 'sell', price: 585.91, size: 60 }
 */
export class MboBook extends BookReads {
  readonly symbol: string;
  readonly tickSize: number;
  readonly lotSize: number;
  readonly allowNegativePrices: boolean;
  /** The backend this instance runs on, chosen once at construction. */
  readonly backend: 'ts' | 'native';
  private readonly core: MboCore;
  private readonly lot: Grid;
  private readonly arg: Float64Array;

  constructor(options: MboBookOptions) {
    const o = readOptions(kSchema, options, { required: true, what: 'an object of MboBook options' });
    const symbol = checkSymbol(o.symbol);
    const negative = o.allowNegativePrices === true;
    const tick = new Grid(o.tickSize as number, 'tickSize', 'price', undefined, negative);
    const lot = new Grid((o.lotSize as number | undefined) ?? 1, 'lotSize', 'quantity');
    const backend = resolveBackend(o.backend, 'MboBook');
    const expected = o.expectedOrders as number;
    const core: MboCore =
      backend === 'native'
        ? cpuAddon!.orderbookMboCreate(tick.num, tick.den, lot.num, lot.den, negative, expected)
        : new TsMboCore(tick.num, tick.den, lot.num, lot.den, negative, expected);
    const view = core.view instanceof Float64Array ? core.view : new Float64Array(core.view as ArrayBuffer);
    super(view, tick, lot, true);
    this.symbol = symbol;
    this.tickSize = tick.step;
    this.lotSize = lot.step;
    this.allowNegativePrices = negative;
    this.backend = backend;
    this.core = core;
    this.lot = lot;
    this.arg = view.subarray(Mbo.event, Mbo.event + kEventStride);
  }

  protected levelsOf(): (side: number, n: number, out: Float64Array, units: number) => number {
    const core = this.core;
    return (side, n, out, units) => core.levels(side, n, out, units);
  }

  /** Orders the book holds. */
  get orderCount(): number {
    return this.view[Mbo.orderCount]!;
  }

  /** Counters since construction (clear() keeps them). */
  get stats(): MboStats {
    return { unknownOrders: this.view[Mbo.unknownOrders]!, forgottenOrders: this.view[Mbo.forgottenOrders]! };
  }

  private id(v: unknown, argument: string): number {
    if (typeof v !== 'number') throw invalidType(argument, 'an order id (an integer from 0 to 2^53 - 1)', v);
    if (!Number.isSafeInteger(v) || v < 0) throw invalidRange(argument, 'an order id (an integer from 0 to 2^53 - 1)', v);
    return v;
  }

  private lots(size: unknown, argument: string, positive: boolean): number {
    const l = quantityLots(this.lot, size, argument, positive);
    if (l > 9007199254740991) throw invalidRange(argument, `a size of at most 2^53 - 1 lots (${this.lot.describeUnits(9007199254740991n)})`, size);
    return l;
  }

  /** Writes one event into the view's slot and applies it; throws naming the arguments. */
  private one(op: number, id: number, side: number, ticks: number, lots: number, newId: number, names: Record<number, string>): void {
    const a = this.arg;
    a[EventField.op] = op;
    a[EventField.time] = 0;
    a[EventField.orderId] = id;
    a[EventField.side] = side;
    a[EventField.price] = ticks;
    a[EventField.size] = lots;
    a[EventField.newOrderId] = newId;
    a[EventField.aux] = 0;
    if (this.core.applyOne() < 0) throw this.refused(this.arg, 0, (f) => names[f] ?? `event field ${f}`);
  }

  /**
   * Adds a visible order. orderId: an integer 0..2^53 - 1 not live in the book; price on the
   * tick grid (number, decimal string or bigint ticks); size > 0 on the lot grid.
   * @example
   * book.add(42, 'sell', 101.25, 300);
   */
  add(orderId: number, side: BookSide, price: number | string | bigint, size: number | string | bigint): void {
    const id = this.id(orderId, 'orderId');
    const s = bookSide(side);
    const t = priceTicks(this.tick, price, 'price');
    const l = this.lots(size, 'size', true);
    this.one(EventOp.add, id, s, t, l, 0, { [EventField.orderId]: 'orderId', [EventField.size]: 'size' });
  }

  /** Partial cancel: takes `size` (at most what the order has) from order orderId, removing it at 0. False when the id is unknown (nothing changes). */
  reduce(orderId: number, size: number | string | bigint): boolean {
    return this.take(EventOp.reduce, orderId, size);
  }

  /** A visible execution of `size` against order orderId (at most what it has), removing it at 0. False when the id is unknown. */
  execute(orderId: number, size: number | string | bigint): boolean {
    return this.take(EventOp.execute, orderId, size);
  }

  /** Removes order orderId. False when the id is unknown. */
  delete(orderId: number): boolean {
    return this.take(EventOp.delete, orderId, 0);
  }

  private take(op: number, orderId: number, size: number | string | bigint): boolean {
    const id = this.id(orderId, 'orderId');
    const l = op === EventOp.delete ? 0 : this.lots(size, 'size', false);
    const a = this.arg;
    a[EventField.orderId] = id;
    if (!this.core.query()) return false;
    this.one(op, id, this.view[Mbo.querySide]!, this.view[Mbo.queryTicks]!, l, 0, {});
    return true;
  }

  /**
   * Replaces order orderId by newOrderId at price and size, same side (ITCH U). False when
   * orderId is unknown (nothing changes); newOrderId must not be live (unless it is orderId).
   */
  replace(orderId: number, newOrderId: number, price: number | string | bigint, size: number | string | bigint): boolean {
    const id = this.id(orderId, 'orderId');
    const nid = this.id(newOrderId, 'newOrderId');
    const t = priceTicks(this.tick, price, 'price');
    const l = this.lots(size, 'size', true);
    this.arg[EventField.orderId] = id;
    if (!this.core.query()) return false;
    this.one(EventOp.replace, id, this.view[Mbo.querySide]!, t, l, nid, { [EventField.newOrderId]: 'newOrderId', [EventField.size]: 'size' });
    return true;
  }

  /** The resting order orderId, or undefined. */
  order(orderId: number): MboOrder | undefined {
    const id = this.id(orderId, 'orderId');
    this.arg[EventField.orderId] = id;
    if (!this.core.query()) return undefined;
    const v = this.view;
    return { side: v[Mbo.querySide] === 0 ? 'buy' : 'sell', price: this.tick.toValue(v[Mbo.queryTicks]!), size: this.lot.toValue(v[Mbo.queryLots]!) };
  }

  /**
   * Applies events `from` .. `count - 1` of a batch in the lib/pipeline/events.ts layout
   * (kEventStride doubles each; prices in ticks, sizes in lots), in one native call on the
   * native backend. Returns the events applied. A bad event (an unknown op; a side other than
   * 0/1; a price that is not an integer count of ticks, or negative without
   * allowNegativePrices; a size that is not an integer >= 0, or 0 for add/replace; an order id
   * that is not an integer 0..2^53 - 1; an add of a live id) throws a RangeError (code
   * ERR_OUT_OF_RANGE) naming `events[k]`, the field and the value: the events before it stay
   * applied, it and those after do not. hiddenExecute, cross and halt are not checked.
   * @example
   * const n = book.apply(source.initial());
   */
  apply(events: Float64Array, count?: number, from = 0): number {
    if (!(events instanceof Float64Array)) throw invalidType('events', `a Float64Array of events (${kEventStride} doubles each)`, events);
    // A detached buffer reads as length 0: refuse it as the native binding does (both backends, here).
    if (events.length === 0 && isDetached(events)) {
      throw withCode(new TypeError('Expected a Float64Array for events but received one whose buffer is detached (transferred or closed)'), 'ERR_INVALID_ARG_TYPE');
    }
    const max = Math.floor(events.length / kEventStride);
    const to = count ?? max;
    if (typeof to !== 'number' || !Number.isInteger(to) || to < 0 || to > max) throw invalidRange('count', `an integer from 0 to ${max} (events.length / ${kEventStride})`, count);
    if (typeof from !== 'number' || !Number.isInteger(from) || from < 0 || from > to) throw invalidRange('from', `an integer from 0 to count (${to})`, from);
    const r = this.core.apply(events, from, to);
    if (r >= 0) return to - from + 0; // + 0: a count of -0 returns 0
    const i = -r - 1;
    throw this.refused(events, i, (f) => `events[${i * kEventStride + f}]`);
  }

  /** The error for the event the core refused (its reason in the view). */
  private refused(events: Float64Array, i: number, name: (field: number) => string): Error {
    const reason = this.view[Mbo.errorReason]!;
    if (reason === MboReason.outOfMemory) {
      return withCode(new RangeError(`MboBook: out of memory applying ${name(EventField.op)} (event ${i})`), 'ERR_ULTRA_PERF_OUT_OF_MEMORY');
    }
    const [field, expected] = kReasonField[reason] ?? [EventField.op, 'a valid event'];
    const value = events[i * kEventStride + field];
    const what = `${expected}${field === EventField.op ? '' : ` in event ${i} (op ${events[i * kEventStride]})`}`;
    return reason === MboReason.duplicate || reason === MboReason.duplicateNew
      ? invalidValue(name(field), what, value)
      : invalidRange(name(field), what, value);
  }

  /**
   * The best n levels of one side (0 bid, 1 ask) as (ticks, lots, 0) triples into `out`,
   * best first, exact integers; returns the levels written (at most out.length / 3).
   * Allocates nothing: for replay checks and strategies that compare against a feed.
   */
  unitLevels(side: 0 | 1, n: number, out: Float64Array): number {
    if (!(side === 0 || side === 1)) throw invalidRange('side', '0 (bid) or 1 (ask)', side);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalidRange('n', 'a non-negative integer', n);
    if (!(out instanceof Float64Array)) throw invalidType('out', 'a Float64Array', out);
    return this.core.levels(side, n, out, 1);
  }

  /** Removes every order and level (stats are kept). */
  clear(): void {
    this.core.clear();
  }
}

/** The core of a book, for lib/pipeline (the LOBSTER replay check runs in the core); not part of the public API. */
export function mboCoreOf(book: MboBook): MboCore {
  return book['core'];
}
