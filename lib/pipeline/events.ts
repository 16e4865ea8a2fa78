/**
 * The one event layout every market-data source writes and MboBook reads
 * (../../docs/pipeline.md). A batch is a Float64Array of `kEventStride` doubles per event:
 * 64 bytes, one cache line, so a source can decode into it and the native book can walk it
 * with no per-event call across the N-API boundary.
 *
 * Units are the source's integers, never floats: `price` is a count of ticks of the source's
 * price unit (LOBSTER and ITCH 5.0: USD × 10⁴; Binance: the symbol's price step), `size` a
 * count of lots (shares; Binance: the symbol's quantity step), `time` nanoseconds since the
 * source day's midnight (exchange local time for NASDAQ files, UTC for Binance), so every
 * field is exact in a double (all < 2^53).
 */

/** Doubles per event. */
export const kEventStride = 8;

/** Slot offsets inside one event. */
export const EventField = {
  op: 0,
  time: 1,
  /** The feed's order id (add, reduce, delete, execute, replace); 0 for level events. */
  orderId: 2,
  /** 0 buy (bid), 1 sell (ask). For an execution: the side of the resting order. */
  side: 3,
  /** Integer ticks. */
  price: 4,
  /** Integer lots: added, reduced, executed or (level) the level's new total. */
  size: 5,
  /** replace: the new order id. trim: unused. */
  newOrderId: 6,
  /** Source-specific (LOBSTER: the message's row number; ITCH: the tracking number). */
  aux: 7,
} as const;

/**
 * Event kinds (LOBSTER message types 1–7 keep their numbers).
 * - add: a new visible order (id, side, price, size).
 * - reduce: partial cancel of `size` lots (LOBSTER 2, ITCH X).
 * - delete: the order leaves the book (LOBSTER 3, ITCH D); `size` is what it had, if known.
 * - execute: `size` lots of the resting order traded (LOBSTER 4, ITCH E/C).
 * - hiddenExecute: a trade against hidden liquidity; the visible book does not change (LOBSTER 5, ITCH P).
 * - cross: an auction cross; the visible book does not change (LOBSTER 6, ITCH Q).
 * - halt: trading halt / resume (LOBSTER 7: price -1 halt, 0 quote, 1 resume); no book change.
 * - replace: the order `orderId` is replaced by `newOrderId` at `price`, `size`, same side (ITCH U).
 * - level: set the aggregate size at (side, price) to `size` lots, 0 removes the level. The
 *   quantity not owned by a known order is anonymous. Snapshots, refills, L2 feeds (Binance).
 * - trim: keep only the best `size` levels of `side` (a depth-limited feed such as LOBSTER level N);
 *   orders on dropped levels are forgotten.
 * - clear: empty the book (a resynchronisation).
 *
 * An event for an order id the book does not hold (resting before the file starts, or added
 * while outside a depth-limited feed's depth) acts on the level at (side, price): the level is
 * reduced by `size` (removed at 0). The book counts these (MboBook.stats.unknownOrders).
 */
export const EventOp = {
  add: 1,
  reduce: 2,
  delete: 3,
  execute: 4,
  hiddenExecute: 5,
  cross: 6,
  halt: 7,
  replace: 8,
  level: 9,
  trim: 10,
  clear: 11,
} as const;
export type EventOpCode = (typeof EventOp)[keyof typeof EventOp];

/**
 * A growable batch of events in this layout (orderId and newOrderId 0): what a replay check
 * or a snapshot builds before it hands `data` (the first `count` events) to a book. Doubles
 * its buffer when full; `data` is a new array after a growth, so read it after the pushes.
 */
export class EventList {
  data: Float64Array;
  count = 0;
  constructor(initialEvents = 1024) {
    this.data = new Float64Array(Math.max(1, initialEvents) * kEventStride);
  }
  push(op: number, time: number, side: number, price: number, size: number, aux: number): void {
    if ((this.count + 1) * kEventStride > this.data.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    const o = this.count * kEventStride;
    const d = this.data;
    d[o] = op;
    d[o + 1] = time;
    d[o + 2] = 0;
    d[o + 3] = side;
    d[o + 4] = price;
    d[o + 5] = size;
    d[o + 6] = 0;
    d[o + 7] = aux;
    this.count++;
  }
}

/** Side codes in EventField.side. */
export const EventSide = { buy: 0, sell: 1 } as const;

/** Sources the pipeline reads (`--source <kind>:<file>`). */
export type SourceKind = 'lobster' | 'itch' | 'binance';

/**
 * A file of market data decoded into events. Sources are files here, read whole; `decode`
 * is the pipeline's "market data" stage, timed per record, so it turns one raw record (a
 * CSV line, an ITCH message, a JSON line) into events at the moment the pipeline takes it.
 */
export interface MarketDataSource {
  readonly kind: SourceKind;
  readonly symbol: string;
  /** Value of one price tick in the instrument's currency (LOBSTER/ITCH: 0.0001). */
  readonly tickSize: number;
  /** Value of one lot in units of the instrument (shares: 1; Binance: its quantity step). */
  readonly lotSize: number;
  /** Raw records in the file (messages, lines). */
  readonly length: number;
  /** Events that set up the book before record 0 (a snapshot, LOBSTER's first orderbook row). */
  initial(): Float64Array;
  /**
   * Decodes record `index` into `out` from event slot `at` (so `at * kEventStride` doubles in)
   * and returns how many events it wrote (0 for a record that does not touch the book; at
   * most `maxEventsPerRecord`). Throws a SourceFormatError naming the record for bad input.
   */
  decode(index: number, out: Float64Array, at: number): number;
  /** The most events one record can produce (sizes the pipeline's scratch batch). */
  readonly maxEventsPerRecord: number;
}
