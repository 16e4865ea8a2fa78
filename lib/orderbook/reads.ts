/**
 * The read methods OrderBook and MatchingEngine share. Top of book comes from `view`, a
 * Float64Array the core keeps current (over native memory on the native backend), so the
 * best prices and sizes cost no native call. Walks of the book (VWAP, quantity up to a
 * price) run here, in TS, over levels copied out once as ticks and lots, so both backends
 * compute them with the very same operations: exact integer sums (bigints past 2^53),
 * converted to a value once.
 */
import { invalidRange, invalidType } from '../errors.js';
import { type BackendOption, chooseBackend, kBackendPolicies } from '../internal/backend.js';
import { type OptionSpec, type OptionSpecs, booleanCheck, checkKnownKeys, defineOptions, isPlainObject, readOptions } from '../internal/options.js';
import { type Decimal, type Grid, kSafe, lotsScratch, priceTicks, quantityLots } from './grid.js';
import { Top } from './layout.js';

export type BookSide = 'buy' | 'sell';
/** 'auto' (default): native when the CPU addon is loaded (kBackendPolicies.orderbook). 'cpu' is a deprecated alias of 'native'. */
export type OrderBookBackend = BackendOption<'ts' | 'native' | 'auto'>;

/** Picks the backend once, at construction (`fn` names the constructor in errors). */
export function resolveBackend(backend: unknown, fn = 'order book'): 'ts' | 'native' {
  return chooseBackend(backend, { argument: 'options.backend', policy: kBackendPolicies.orderbook, fn });
}

export function checkSymbol(symbol: unknown): string {
  if (typeof symbol !== 'string' || symbol.length === 0) throw invalidType('symbol', 'a non-empty string', symbol);
  return symbol;
}

export function bookSide(side: unknown, argument = 'side'): 0 | 1 {
  if (side === 'buy') return 0;
  if (side === 'sell') return 1;
  throw invalidType(argument, "'buy' or 'sell'", side);
}

export interface Depth {
  /** (price, size) pairs, best first. */
  bids: Float64Array;
  asks: Float64Array;
}

/** units 0: (price, size) pairs; 1: (ticks, size or lots, lots correction) triples. */
type LevelsFn = (side: number, n: number, out: Float64Array, units: number) => number;

export abstract class BookReads {
  /** Top of book as [bidPrice, bidSize, askPrice, askSize], live (NaN for an empty side). */
  readonly top: Float64Array;
  /** The full view: top, then ticks and level counts (lib/orderbook/layout.ts). */
  protected readonly view: Float64Array;
  protected readonly tick: Grid;
  /** The lot grid; undefined for an L2 book whose sizes are free values. */
  protected readonly lotGrid: Grid | undefined;
  /** True when the core's unit levels hold exact lots (the engine); false when they hold size values (L2). */
  private readonly levelLots: boolean;
  private scratch = new Float64Array(512);

  protected constructor(view: Float64Array, tick: Grid, lot: Grid | undefined, levelLots: boolean) {
    this.view = view;
    this.top = view.subarray(0, 4);
    this.tick = tick;
    this.lotGrid = lot;
    this.levelLots = levelLots;
  }

  protected abstract levelsOf(): LevelsFn;

  /** Best bid price, or NaN when there are no bids. */
  bestBidPrice(): number {
    return this.view[Top.bidPrice]!;
  }
  /** Best ask price, or NaN when there are no asks. */
  bestAskPrice(): number {
    return this.view[Top.askPrice]!;
  }
  /** Size at the best bid, or NaN when there are no bids. */
  bestBidSize(): number {
    return this.view[Top.bidSize]!;
  }
  /** Size at the best ask, or NaN when there are no asks. */
  bestAskSize(): number {
    return this.view[Top.askSize]!;
  }
  /** Best ask minus best bid (computed in ticks, so exact), NaN when a side is empty. */
  spread(): number {
    return this.tick.toValue(this.view[Top.askTicks]! - this.view[Top.bidTicks]!);
  }
  /** (best bid + best ask) / 2, NaN when a side is empty. */
  midPrice(): number {
    return this.tick.toValue(this.view[Top.askTicks]! + this.view[Top.bidTicks]!) / 2;
  }
  /**
   * True when the best bid is above the best ask. A book whose bid equals its ask is locked,
   * not crossed (see isLocked), as in nautilus_trader. Neither is ever "fixed" by the book.
   * False when a side is empty.
   */
  isCrossed(): boolean {
    return this.view[Top.bidTicks]! > this.view[Top.askTicks]!;
  }
  /** True when the best bid equals the best ask (compared in ticks). False when a side is empty. */
  isLocked(): boolean {
    return this.view[Top.bidTicks]! === this.view[Top.askTicks]!;
  }
  /** Number of bid price levels. */
  get bidLevels(): number {
    return this.view[Top.bidLevels]!;
  }
  /** Number of ask price levels. */
  get askLevels(): number {
    return this.view[Top.askLevels]!;
  }

  /**
   * The best n levels of each side as (price, size) pairs, best first.
   * @example
   * const { bids, asks } = book.depth(5); // bids[0] is the best bid price, bids[1] its size
   */
  depth(n: number): Depth {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalidRange('n', 'a non-negative integer', n);
    const levels = this.levelsOf();
    const bids = new Float64Array(2 * Math.min(n, this.bidLevels));
    const asks = new Float64Array(2 * Math.min(n, this.askLevels));
    levels(0, bids.length >> 1, bids, 0);
    levels(1, asks.length >> 1, asks, 0);
    return { bids, asks };
  }

  /** Every level of one side (0 bid, 1 ask) into a reused scratch array: pairs (units 0) or triples (units 1). */
  protected allLevels(side: 0 | 1, units = 0): Float64Array {
    const n = side === 0 ? this.bidLevels : this.askLevels;
    const need = (units === 0 ? 2 : 3) * n;
    if (this.scratch.length < need) this.scratch = new Float64Array(2 * need);
    this.levelsOf()(side, n, this.scratch, units);
    return this.scratch;
  }

  /** Lots of level i of a unit walk (number, or bigint past 2^53). */
  private levelLotsAt(l: Float64Array, i: number): number | bigint {
    const a = l[3 * i + 1]!;
    if (this.levelLots) {
      const c = l[3 * i + 2]!;
      return c === 0 ? a : BigInt(a) + BigInt(c);
    }
    return this.lotGrid!.toUnits(a);
  }

  /**
   * The volume-weighted average price of taking `qty` from the book: a buy walks the asks,
   * a sell the bids. NaN when the book is too thin. qty is a number, a decimal string or (with
   * a lot grid) a bigint count of lots. Ticks x lots are summed exactly and converted to a
   * price once, so a walk that stays in one level returns that level's price.
   * @example
   * book.avgPriceForQuantity('buy', 2.5); // VWAP paid for 2.5 lifting the offers
   */
  avgPriceForQuantity(side: BookSide, qty: Decimal): number {
    const s = bookSide(side);
    const other = s === 0 ? 1 : 0;
    const n = other === 0 ? this.bidLevels : this.askLevels;
    const lot = this.lotGrid;
    if (lot === undefined) {
      const q = freeSize(qty, 'qty', true);
      const l = this.allLevels(other, 1);
      let remaining = q;
      let acc = 0;
      let used = 0;
      for (let i = 0; i < n && remaining > 0; i++, used++) {
        const take = Math.min(remaining, l[3 * i + 1]!);
        acc += l[3 * i]! * take;
        remaining -= take;
      }
      if (remaining > 0) return Number.NaN;
      return used === 1 ? this.tick.toValue(l[0]!) : this.tick.ratioValue(acc, q);
    }
    const a = quantityLots(lot, qty, 'qty', true);
    const c = lotsScratch.correction;
    const l = this.allLevels(other, 1);
    let used = 0;
    if (c === 0 && a <= kSafe) {
      // Exact in doubles while every product and sum stays below 2^53.
      let remaining = a;
      let acc = 0;
      for (let i = 0; i < n && remaining > 0; i++, used++) {
        const lots = this.levelLotsAt(l, i);
        if (typeof lots !== 'number') break;
        const take = remaining < lots ? remaining : lots;
        const next = acc + l[3 * i]! * take;
        if (!(Math.abs(next) <= kSafe)) break;
        acc = next;
        remaining -= take;
      }
      if (!(remaining > 0)) return used === 1 ? this.tick.toValue(l[0]!) : this.tick.ratioValue(acc, a);
      if (used === n) return Number.NaN;
    }
    let remaining = BigInt(a) + BigInt(c);
    const total = remaining;
    let acc = 0n;
    used = 0;
    for (let i = 0; i < n && remaining > 0n; i++, used++) {
      const lots = BigInt(this.levelLotsAt(l, i));
      const take = remaining < lots ? remaining : lots;
      acc += BigInt(l[3 * i]!) * take;
      remaining -= take;
    }
    if (remaining > 0n) return Number.NaN;
    return used === 1 ? this.tick.toValue(l[0]!) : this.tick.ratioValue(acc, total);
  }

  /**
   * The quantity available to a taker up to a limit price (a number, a decimal string or a
   * bigint count of ticks): a buy sums asks at or below it, a sell bids at or above it. Lots
   * are summed exactly and converted once.
   * @example
   * book.quantityForPrice('buy', 100.05); // size offered at 100.05 or better
   */
  quantityForPrice(side: BookSide, limitPrice: Decimal): number {
    const s = bookSide(side);
    const limit = priceTicks(this.tick, limitPrice, 'limitPrice');
    const other = s === 0 ? 1 : 0;
    const n = other === 0 ? this.bidLevels : this.askLevels;
    const l = this.allLevels(other, 1);
    const lot = this.lotGrid;
    let qty = 0;
    let big = 0n;
    for (let i = 0; i < n; i++) {
      const t = l[3 * i]!;
      if (other === 1 ? t > limit : t < limit) break;
      if (lot === undefined) {
        qty += l[3 * i + 1]!;
        continue;
      }
      const lots = this.levelLotsAt(l, i);
      const next = typeof lots === 'number' ? qty + lots : Number.NaN;
      if (next <= kSafe) qty = next;
      else big += BigInt(lots);
    }
    if (lot === undefined) return qty;
    return big === 0n ? lot.toValue(qty) : lot.bigValue(big + BigInt(qty));
  }
}

/** A size with no lot grid: a finite number, or a decimal string, > 0 (or >= 0). */
export function freeSize(size: unknown, argument: string, positive: boolean): number {
  const what = positive ? 'a positive finite number' : 'a finite size >= 0';
  let v = size;
  if (typeof size === 'string' && kPlainDecimal.test(size.trim())) v = Number(size);
  if (typeof v !== 'number') throw invalidType(argument, what, size);
  if (!Number.isFinite(v) || !(positive ? v > 0 : v >= 0)) throw invalidRange(argument, what, size);
  return v;
}

const kPlainDecimal = /^[+-]?(\d+\.?\d*|\.\d+)$/;

const checkedBy = (where: string): OptionSpec => ({ check: null, checkedBy: where });

/** What both book constructors take; the checks of most keys live with their rule (checkedBy). */
const kBookSpecs: OptionSpecs = {
  symbol: checkedBy('checkSymbol'),
  tickSize: checkedBy('grid.ts Grid'),
  lotSize: checkedBy('grid.ts Grid'),
  backend: checkedBy('resolveBackend (lib/internal/backend.ts chooseBackend)'),
  /** Whether prices may be negative (some futures and spreads trade there; 0 is always a price); enforced by grid.ts Grid.minTicks. */
  allowNegativePrices: { check: booleanCheck, default: false },
};

/**
 * The order books' option tables, one per public name: constructors, fromSnapshot's
 * options, and the objects submit() and modify() take (their fields are checked in
 * engine.ts per call; the table makes a misspelt field an error naming the nearest one).
 */
const kBookSchemas = {
  OrderBook: defineOptions('OrderBook', kBookSpecs),
  MatchingEngine: defineOptions('MatchingEngine', { ...kBookSpecs, selfTradePrevention: checkedBy('engine.ts constructor') }),
  'OrderBook.fromSnapshot': defineOptions('OrderBook.fromSnapshot', { backend: kBookSpecs.backend! }),
  // The snapshot itself (OrderBookSnapshot): data, but as strict as options, so a misspelt
  // 'lotsize' is an error instead of a book on the wrong lot grid. Its keys are checked by
  // the OrderBook constructor fromSnapshot builds, and the levels by fromSnapshot.
  'OrderBook.fromSnapshot snapshot': defineOptions('OrderBook.fromSnapshot snapshot', {
    symbol: checkedBy('checkSymbol'),
    tickSize: checkedBy('grid.ts Grid'),
    lotSize: checkedBy('grid.ts Grid'),
    allowNegativePrices: { check: booleanCheck },
    bids: checkedBy('book.ts fromSnapshot'),
    asks: checkedBy('book.ts fromSnapshot'),
  }),
  'MatchingEngine.submit': defineOptions(
    'MatchingEngine.submit',
    Object.fromEntries(
      ['side', 'type', 'price', 'quantity', 'timeInForce', 'postOnly', 'ownerId', 'clientId'].map((k) => [k, checkedBy('engine.ts submit')]),
    ),
  ),
  'MatchingEngine.modify': defineOptions('MatchingEngine.modify', { price: checkedBy('engine.ts modify'), quantity: checkedBy('engine.ts modify') }),
};

/**
 * The options object of an order-book constructor (`what` 'OrderBook' or 'MatchingEngine'), of
 * OrderBook.fromSnapshot, or the snapshot it takes: a plain object with no key its table does
 * not list, the keys the table checks checked.
 */
export function checkOptions(options: unknown, what: keyof typeof kBookSchemas): Record<string, unknown> {
  if (what === 'OrderBook.fromSnapshot snapshot') {
    readOptions(kBookSchemas[what], options, { argument: 'snapshot', required: true, what: 'an OrderBookSnapshot object' });
  } else {
    readOptions(kBookSchemas[what], options, { required: what !== 'OrderBook.fromSnapshot', what: `an object of ${what} options` });
  }
  return (options ?? {}) as Record<string, unknown>;
}

/**
 * Throws for an object submit() (`which` 'submit') or modify() takes that is not a plain
 * object (an array, a Map, a class instance: the kit's rule for options), or for a field it
 * does not know, naming the nearest one. Allocates nothing. `constructor` is Object for a
 * literal and undefined for a null-prototype object (an own 'constructor' key is an unknown
 * field), so the common case is one inline-cached load before isPlainObject is needed.
 */
export function checkOrderFields(order: object, which: 'submit' | 'modify'): void {
  const ctor = (order as { constructor?: unknown }).constructor;
  if (ctor !== Object && ctor !== undefined && !isPlainObject(order)) {
    throw which === 'submit' ? invalidType('order', 'an order object', order) : invalidType('changes', 'an object with price and/or quantity', order);
  }
  checkKnownKeys(order, which === 'submit' ? kBookSchemas['MatchingEngine.submit'] : kBookSchemas['MatchingEngine.modify']);
}
