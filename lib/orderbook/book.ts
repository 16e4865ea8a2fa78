/**
 * OrderBook: an L2 market-by-price book. Prices are validated onto the tick grid and held
 * as integer ticks; sizes are finite, >= 0 and on the lot grid when lotSize is given.
 */
import { cpuAddon } from '../backend.js';
import { invalidRange, invalidType } from '../errors.js';
import { type Decimal, Grid, lotsScratch, priceTicks, quantityLots } from './grid.js';
import { type L2Core, TsL2Core } from './l2-core.js';
import { Top } from './layout.js';
import { BookReads, checkOptions, checkSymbol, freeSize, type OrderBookBackend, resolveBackend } from './reads.js';

/**
 * The hot calls into the core, in one copy per backend: each copy's call site then sees a
 * single core type and stays monomorphic even when both backends run in one process (one
 * shared call site measured ~50 ns slower per update). Picked once, at construction.
 */
interface L2Calls {
  setBid(core: L2Core): void;
  setAsk(core: L2Core): void;
}
const kNativeCalls: L2Calls = {
  setBid: (core) => core.setBid(),
  setAsk: (core) => core.setAsk(),
};
const kTsCalls: L2Calls = {
  setBid: (core) => core.setBid(),
  setAsk: (core) => core.setAsk(),
};

export interface OrderBookOptions {
  symbol: string;
  /** Price step; every price must be a multiple of it. */
  tickSize: number;
  /** Size step; when given, every size must be a multiple of it. */
  lotSize?: number;
  /**
   * Whether prices below 0 are valid for this instrument (spreads, some futures and energy
   * contracts trade negative). Default false: a negative price is a RangeError naming the
   * argument. Zero is always valid.
   */
  allowNegativePrices?: boolean;
  /** 'auto' (default): native when the CPU addon is loaded. 'native' without it throws BackendUnavailableError. */
  backend?: OrderBookBackend;
}

/** What snapshot() returns and fromSnapshot() takes: plain JSON. */
export interface OrderBookSnapshot {
  symbol: string;
  tickSize: number;
  lotSize?: number;
  /** Present (true) when the book allowed negative prices. */
  allowNegativePrices?: boolean;
  /** [price, size] pairs, best first. */
  bids: [number, number][];
  asks: [number, number][];
}

/**
 * An L2 (market-by-price) book: one aggregated size per price level, as a feed sends it.
 * A crossed book from a bad feed is kept as it is and reported by isCrossed().
 *
 * @example
 * import { OrderBook } from 'ultra-performance';
 * const book = new OrderBook({ symbol: 'BTC-USD', tickSize: 0.01, lotSize: 0.001 });
 * book.updateBid(100.01, 2);
 * book.updateAsk(100.03, 1.5);
 * book.spread(); // 0.02
 * book.top;      // Float64Array [100.01, 2, 100.03, 1.5], kept current with no call
 * book.applyDeltas(new Float64Array([0, 100.02, 1, 1, 100.03, 0])); // 2 applied
 */
export class OrderBook extends BookReads {
  readonly symbol: string;
  readonly tickSize: number;
  readonly lotSize: number | undefined;
  /** Whether this book accepts prices below 0 (options.allowNegativePrices). */
  readonly allowNegativePrices: boolean;
  /** The backend this instance runs on, chosen once at construction. */
  readonly backend: 'ts' | 'native';
  private readonly core: L2Core;
  private readonly calls: L2Calls;
  private readonly lot: Grid | undefined;

  constructor(options: OrderBookOptions) {
    const o = checkOptions(options, 'OrderBook');
    const symbol = checkSymbol(o.symbol);
    // Checked (a boolean, default false) by checkOptions: reads.ts kBookSpecs.
    const negative = o.allowNegativePrices === true;
    const tick = new Grid(o.tickSize as number, 'tickSize', 'price', undefined, negative);
    const lot = o.lotSize === undefined ? undefined : new Grid(o.lotSize as number, 'lotSize', 'quantity');
    const backend = resolveBackend(o.backend, 'OrderBook');
    const lotNum = lot?.num ?? 1;
    const lotDen = lot?.den ?? 0;
    const core: L2Core =
      backend === 'native'
        ? cpuAddon!.orderbookL2Create(tick.num, tick.den, lotNum, lotDen, negative)
        : new TsL2Core(tick.num, tick.den, lotNum, lotDen, negative);
    const view = core.view instanceof Float64Array ? core.view : new Float64Array(core.view as ArrayBuffer);
    super(view, tick, lot, false);
    this.symbol = symbol;
    this.tickSize = tick.step;
    this.lotSize = lot?.step;
    this.allowNegativePrices = negative;
    this.lot = lot;
    this.backend = backend;
    this.core = core;
    this.calls = backend === 'native' ? kNativeCalls : kTsCalls;
  }

  protected levelsOf(): (side: number, n: number, out: Float64Array, units: number) => number {
    const core = this.core;
    return (side, n, out, units) => core.levels(side, n, out, units);
  }

  /** The canonical size value: on the lot grid (correctly rounded from exact lots) when there is one. */
  private size(size: unknown): number {
    const lot = this.lot;
    if (typeof size === 'number') {
      if (!(size >= 0) || size === Infinity) throw invalidRange('size', 'a finite size >= 0', size);
      if (lot === undefined) return size + 0;
    } else if (lot === undefined) {
      return freeSize(size, 'size', false);
    }
    const lots = quantityLots(lot!, size, 'size', false);
    const c = lotsScratch.correction;
    return c === 0 ? lot!.toValue(lots) : lot!.bigValue(BigInt(lots) + BigInt(c));
  }

  /**
   * Sets the bid level at `price` to `size`; size 0 removes it. Allocates nothing (for numbers).
   * price: a number on the tick grid, a decimal string ('100.01', exact) or a bigint count of
   * ticks, |ticks| <= 2^53 - 1. size: a number >= 0 or a decimal string; with a lotSize also a
   * bigint count of lots, at most 2^63 - 1 lots (a larger one is a RangeError naming the limit).
   * @example
   * book.updateBid(100.01, 3); // set
   * book.updateBid('100.01', '0.5'); // exact decimals
   * book.updateBid(100.01, 0); // remove
   */
  updateBid(price: Decimal, size: Decimal): void {
    const v = this.view;
    v[Top.argTicks] = priceTicks(this.tick, price, 'price');
    v[Top.argSize] = this.size(size);
    this.calls.setBid(this.core);
  }

  /**
   * Sets the ask level at `price` to `size`; size 0 removes it (arguments as updateBid).
   * @example
   * book.updateAsk(100.03, 1.5);
   */
  updateAsk(price: Decimal, size: Decimal): void {
    const v = this.view;
    v[Top.argTicks] = priceTicks(this.tick, price, 'price');
    v[Top.argSize] = this.size(size);
    this.calls.setAsk(this.core);
  }

  /**
   * Applies packed [side (0 bid / 1 ask), price, size] triples in one call (one native call
   * on the native backend). The whole batch is validated first: if any triple is bad,
   * nothing is applied and a RangeError names its index. Returns the deltas applied.
   * @example
   * book.applyDeltas(new Float64Array([0, 100.01, 2, 1, 100.03, 0])); // 2
   */
  applyDeltas(deltas: Float64Array): number {
    if (!(deltas instanceof Float64Array)) throw invalidType('deltas', 'a Float64Array of [side, price, size] triples', deltas);
    if (deltas.length % 3 !== 0) throw invalidRange('deltas.length', 'a multiple of 3', deltas.length);
    const n = deltas.length / 3;
    const r = this.core.applyDeltas(deltas, n);
    if (r < 0) {
      const i = -r - 1;
      const side = deltas[3 * i]!;
      if (!(side === 0 || side === 1)) throw invalidRange(`deltas[${3 * i}]`, 'a side of 0 (bid) or 1 (ask)', side);
      priceTicks(this.tick, deltas[3 * i + 1]!, `deltas[${3 * i + 1}]`);
      const size = deltas[3 * i + 2]!;
      if (this.lot !== undefined && size > 0) quantityLots(this.lot, size, `deltas[${3 * i + 2}]`, false);
      throw invalidRange(
        `deltas[${3 * i + 2}]`,
        this.lot === undefined ? 'a finite size >= 0' : `a finite size >= 0 on the ${this.lot.step} lot grid`,
        deltas[3 * i + 2],
      );
    }
    return r;
  }

  /** Removes every level. */
  clear(): void {
    this.core.clear();
  }

  /**
   * Every level, best first, as plain JSON.
   * @example
   * const copy = OrderBook.fromSnapshot(book.snapshot());
   */
  snapshot(): OrderBookSnapshot {
    const pairs = (side: 0 | 1): [number, number][] => {
      const n = side === 0 ? this.bidLevels : this.askLevels;
      const l = this.allLevels(side);
      const out: [number, number][] = [];
      for (let i = 0; i < n; i++) out.push([l[2 * i]!, l[2 * i + 1]!]);
      return out;
    };
    const snap: OrderBookSnapshot = { symbol: this.symbol, tickSize: this.tickSize, bids: pairs(0), asks: pairs(1) };
    if (this.lotSize !== undefined) snap.lotSize = this.lotSize;
    if (this.allowNegativePrices) snap.allowNegativePrices = true;
    return snap;
  }

  /**
   * A book holding a snapshot's levels (validated like any update), on the given backend.
   * @example
   * const book = OrderBook.fromSnapshot({ symbol: 'X', tickSize: 0.5, bids: [[10, 1]], asks: [[11, 2]] });
   */
  static fromSnapshot(snapshot: OrderBookSnapshot, options: { backend?: OrderBookBackend } = {}): OrderBook {
    checkOptions(options, 'OrderBook.fromSnapshot');
    const s = checkOptions(snapshot, 'OrderBook.fromSnapshot snapshot') as unknown as OrderBookSnapshot;
    const book = new OrderBook({
      symbol: s.symbol,
      tickSize: s.tickSize,
      ...(s.lotSize !== undefined ? { lotSize: s.lotSize } : {}),
      ...(s.allowNegativePrices !== undefined ? { allowNegativePrices: s.allowNegativePrices } : {}),
      ...(options.backend !== undefined ? { backend: options.backend } : {}),
    });
    for (const key of ['bids', 'asks'] as const) {
      const levels = s[key];
      if (!Array.isArray(levels)) throw invalidType(`snapshot.${key}`, 'an array of [price, size] pairs', levels);
      levels.forEach((pair, i) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw invalidType(`snapshot.${key}[${i}]`, 'a [price, size] pair', pair);
        const ticks = priceTicks(book.tick, pair[0], `snapshot.${key}[${i}][0]`);
        if (typeof pair[1] !== 'number' || !(pair[1] > 0) || pair[1] === Infinity) {
          throw invalidRange(`snapshot.${key}[${i}][1]`, 'a positive finite size', pair[1]);
        }
        // Ticks as a bigint count: exact at every magnitude, where a value might not map back.
        if (key === 'bids') book.updateBid(BigInt(ticks), pair[1]);
        else book.updateAsk(BigInt(ticks), pair[1]);
      });
    }
    return book;
  }
}
