/**
 * The read methods OrderBook and MatchingEngine share. Top of book comes from `view`, a
 * Float64Array the core keeps current (over native memory on the native backend), so the
 * best prices and sizes cost no native call. Walks of the book (VWAP, quantity up to a
 * price) run here, in TS, over levels copied out once, so both backends compute them with
 * the very same floating-point operations.
 */
import { BackendUnavailableError, invalidRange, invalidType } from '../errors.js';
import { cpuAddon } from '../backend.js';
import { type Grid, priceTicks } from './grid.js';
import { Top } from './layout.js';

export type BookSide = 'buy' | 'sell';
export type OrderBookBackend = 'ts' | 'native' | 'auto';

/** Picks the backend once, at construction. */
export function resolveBackend(backend: unknown): 'ts' | 'native' {
  if (backend === undefined || backend === 'auto') return cpuAddon !== null ? 'native' : 'ts';
  if (backend === 'ts') return 'ts';
  if (backend === 'native') {
    if (cpuAddon === null) throw new BackendUnavailableError("backend: 'native' was asked for but the CPU addon is not loaded");
    return 'native';
  }
  throw invalidType('backend', "'ts', 'native' or 'auto'", backend);
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

type LevelsFn = (side: number, n: number, out: Float64Array) => number;

export abstract class BookReads {
  /** Top of book as [bidPrice, bidSize, askPrice, askSize], live (NaN for an empty side). */
  readonly top: Float64Array;
  /** The full view: top, then ticks and level counts (lib/orderbook/layout.ts). */
  protected readonly view: Float64Array;
  protected readonly tick: Grid;
  private scratch = new Float64Array(512);

  protected constructor(view: Float64Array, tick: Grid) {
    this.view = view;
    this.top = view.subarray(0, 4);
    this.tick = tick;
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
    levels(0, bids.length >> 1, bids);
    levels(1, asks.length >> 1, asks);
    return { bids, asks };
  }

  /** Every level of one side (0 bid, 1 ask) into a reused scratch array; returns it and the count. */
  protected allLevels(side: 0 | 1): Float64Array {
    const n = side === 0 ? this.bidLevels : this.askLevels;
    if (this.scratch.length < 2 * n) this.scratch = new Float64Array(2 * n * 2);
    this.levelsOf()(side, n, this.scratch);
    return this.scratch;
  }

  /**
   * The volume-weighted average price of taking `qty` from the book: a buy walks the asks,
   * a sell the bids. NaN when the book is too thin.
   * @example
   * book.avgPriceForQuantity('buy', 2.5); // VWAP paid for 2.5 lifting the offers
   */
  avgPriceForQuantity(side: BookSide, qty: number): number {
    const s = bookSide(side);
    if (typeof qty !== 'number') throw invalidType('qty', 'a positive finite number', qty);
    if (!Number.isFinite(qty) || !(qty > 0)) throw invalidRange('qty', 'a positive finite number', qty);
    const other = s === 0 ? 1 : 0;
    const n = other === 0 ? this.bidLevels : this.askLevels;
    const l = this.allLevels(other);
    let remaining = qty;
    let acc = 0;
    for (let i = 0; i < n && remaining > 0; i++) {
      const take = Math.min(remaining, l[2 * i + 1]!);
      acc += l[2 * i]! * take;
      remaining -= take;
    }
    return remaining > 0 ? Number.NaN : acc / qty;
  }

  /**
   * The quantity available to a taker up to a limit price: a buy sums asks at or below it,
   * a sell bids at or above it.
   * @example
   * book.quantityForPrice('buy', 100.05); // size offered at 100.05 or better
   */
  quantityForPrice(side: BookSide, limitPrice: number): number {
    const s = bookSide(side);
    const limit = this.tick.toValue(priceTicks(this.tick, limitPrice, 'limitPrice'));
    const other = s === 0 ? 1 : 0;
    const n = other === 0 ? this.bidLevels : this.askLevels;
    const l = this.allLevels(other);
    let qty = 0;
    for (let i = 0; i < n; i++) {
      const p = l[2 * i]!;
      if (other === 1 ? p > limit : p < limit) break;
      qty += l[2 * i + 1]!;
    }
    return qty;
  }
}

export function checkOptions(options: unknown, what: string): Record<string, unknown> {
  if (typeof options !== 'object' || options === null) throw invalidType('options', `an object of ${what} options`, options);
  return options as Record<string, unknown>;
}
