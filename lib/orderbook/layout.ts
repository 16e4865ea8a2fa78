/**
 * The doubles JS reads with no native call (cpp/orderbook/l2_book.hpp TopField and
 * matching_engine.hpp ViewField). The TS backends keep the same layout in their own
 * Float64Array, so the public classes read both the same way.
 */
import { prefixed } from '../internal/layout-check.js';
import { kEventStride } from '../pipeline/events.js';

/** The top-of-book fields every book view starts with (OrderBook, MatchingEngine, MboBook). */
const kTopFields = {
  bidPrice: 0,
  bidSize: 1,
  askPrice: 2,
  askSize: 3,
  bidTicks: 4,
  askTicks: 5,
  bidLevels: 6,
  askLevels: 7,
} as const;

export const Top = {
  ...kTopFields,
  fields: 8,
  /** Argument slots of setBid/setAsk. */
  argTicks: 8,
  argSize: 9,
  doubles: 10,
} as const;

/**
 * Engine view. Quantities and prices are values, written by the core correctly rounded from
 * exact lots and ticks; submit/modify carry lots as a double plus the correction it could
 * not hold (lotsScratch in grid.ts), so counts past 2^53 cross exactly.
 */
export const View = {
  reportOrderId: 8,
  reportStatus: 9,
  reportFilledQuantity: 10,
  reportRemainingQuantity: 11,
  reportReject: 12,
  reportFillCount: 13,
  batchFills: 14,
  batchFirstOrderId: 15,
  queryOrderId: 16,
  querySide: 17,
  queryPrice: 18,
  queryQuantity: 19,
  queryFilledQuantity: 20,
  queryOwner: 21,
  queryClientId: 22,
  queryPostOnly: 23,
  reportAveragePrice: 24,
  /** (makerOrderId, price, quantity) per fill. */
  fills: 25,
  fillCapacity: 256,
  fillStride: 3,
  /**
   * Argument slots. submit: side, market, ticks, lots, tif, postOnly, owner, clientId, lots
   * correction. modify: orderId, ticks | NaN, lots | NaN, lots correction. cancel/query: orderId.
   */
  args: 25 + 256 * 3,
  doubles: 25 + 256 * 3 + 9,
} as const;

/** Order status codes in View.reportStatus. */
export const kStatus = ['new', 'partially-filled', 'filled', 'cancelled', 'rejected'] as const;
export const StatusCode = { new: 0, partiallyFilled: 1, filled: 2, cancelled: 3, rejected: 4 } as const;
/** Reject reason codes in View.reportReject. */
export const kRejectReason = [undefined, 'post-only-would-take', 'unknown-order', 'out-of-memory', 'quantity-overflow'] as const;
export const RejectCode = { none: 0, postOnlyWouldTake: 1, unknownOrder: 2, outOfMemory: 3, quantityOverflow: 4 } as const;
/**
 * Why a report says cancelled, written to View.reportReject as a reject reason is; the codes
 * follow RejectCode's so the slot never means two things. cpp/orderbook/matching_engine.hpp
 * CancelReason holds the same numbers; kCancelReason in engine.ts names them.
 */
export const CancelCode = { fokUnfillable: 5, iocRemainder: 6, marketRemainder: 7, selfTradePrevention: 8, modifiedToZero: 9 } as const;

/** Doubles per submitBatch command and per fill written to fillsOut. */
export const kCommandStride = 6;
export const kFillStride = 4;


/**
 * MboBook view (cpp/orderbook/mbo_book.hpp MboField): the Top fields first (so BookReads
 * reads it as it reads an OrderBook's, sizes as values on the lot grid), then the book's
 * counters, the last refused event's reason, order() results, and one event slot
 * (lib/pipeline/events.ts layout) the single-event calls write before a call with no arguments.
 */
export const Mbo = {
  ...kTopFields,
  orderCount: 8,
  /** Events for order ids the book did not hold (events.ts rule). */
  unknownOrders: 9,
  /** Orders dropped by `trim` (their level left the kept depth). */
  forgottenOrders: 10,
  /** MboReason of the event apply() last refused. */
  errorReason: 11,
  querySide: 12,
  queryTicks: 13,
  queryLots: 14,
  /** The event slot: kEventStride doubles. */
  event: 16,
  doubles: 24,
} as const;

/** The LOBSTER replay summary (MboNative.replayLobster): status, mismatches, refills, kept, then 10 mismatches of 7 doubles (row, side, level, ours ticks, ours lots, theirs ticks, theirs lots). */
export const kReplaySummary = 4 + 10 * 7;
export const kMismatchStride = 7;

/** Why the MBO core refused an event (Mbo.errorReason). */
export const MboReason = {
  op: 1,
  orderId: 2,
  side: 3,
  price: 4,
  size: 5,
  newOrderId: 6,
  /** add of an order id the book holds. */
  duplicate: 7,
  /** replace to a new order id the book holds. */
  duplicateNew: 8,
  /** a level total would pass 2^53 - 1 lots. */
  overflow: 9,
  outOfMemory: 10,
} as const;

/**
 * Every view offset and code above under the names the addon's `orderbookLayout` uses
 * (cpp/napi/orderbook.cc); the loader refuses an addon whose table differs
 * (lib/internal/layout-check.ts).
 */
export const orderbookLayout: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries([
    ...prefixed('top', Top),
    ...prefixed('view', View),
    ...prefixed('status', StatusCode),
    ...prefixed('reject', RejectCode),
    ...prefixed('cancel', CancelCode),
    ['commandStride', kCommandStride],
    ['fillStride', kFillStride],
    ...prefixed('mbo', Mbo),
    ...prefixed('mboReason', MboReason),
    ['eventStride', kEventStride],
    ['replaySummary', kReplaySummary],
  ]),
);
