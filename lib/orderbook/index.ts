/**
 * Order books: OrderBook (L2, market by price) and MatchingEngine (L3, price-time priority),
 * each on the native core (cpp/orderbook) or the TS one, chosen per instance at construction.
 */
export { OrderBook, type OrderBookOptions, type OrderBookSnapshot } from './book.js';
export type { BookSide, Depth, OrderBookBackend } from './reads.js';
export { MboBook, type MboBookOptions, type MboOrder, type MboStats } from './mbo.js';
/** A price or quantity argument: a number, a decimal string, or a bigint count of ticks or lots. */
export type { Decimal } from './grid.js';
export {
  MatchingEngine,
  ExecutionReportBuffer,
  BatchOp,
  type MatchingEngineOptions,
  type OrderRequest,
  type ExecutionReport,
  type Fill,
  type RestingOrder,
  type BatchResult,
  type SelfTradePrevention,
  type OrderType,
  type TimeInForce,
  type OrderStatus,
  type RejectReason,
  type CancelReason,
} from './engine.js';
