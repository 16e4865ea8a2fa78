/**
 * The matching-engine core in TS: cpp/orderbook/matching_engine.cc line for line, so the two
 * backends give the same reports, fills and reads. Orders live in a pool of typed arrays
 * (one column per field, a free list through `next`), levels in another; each side keeps a
 * sorted array of (key, level) with the best at the back. Quantities are integer lots.
 *
 * Lots are exact up to int64, as in C++. While every lot count the engine could form stays
 * below 2^53 (checked on entry: the lots resting plus the incoming order, and an order's
 * filled plus open lots) the lot columns are Float64Arrays and the arithmetic is plain
 * doubles. The first operation that could pass 2^53 widens the engine for good: the lot
 * columns become BigInt64Arrays and the same code runs on bigints (every lot operation
 * below is one that works on both: + - < <= > >=, === between two lots, `this.zero`, never
 * a literal), with C++'s int64 overflow checks.
 */
import type { EngineNative } from '../addon-types.js';
import { Grid, kMaxLots, kMaxLotsDouble, kSafe } from './grid.js';
import { CancelCode, kCommandStride, kFillStride, RejectCode, StatusCode, Top, View } from './layout.js';

export type EngineCore = Omit<EngineNative, 'view'> & { readonly view: ArrayBuffer | Float64Array };


const kNone = -1;
const kMaxId = 9007199254740991;
const kMaxOwner = 4294967295;
const enum Stp {
  none = 0,
  cancelTaker = 1,
  cancelMaker = 2,
  cancelBoth = 3,
}

function growF64(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

/** A lot column: a Float64Array, or a BigInt64Array (typed as one) once the engine is wide. */
function growLots(a: Float64Array, cap: number): Float64Array {
  const b = new (a.constructor as Float64ArrayConstructor)(cap);
  b.set(a);
  return b;
}

function widenLots(a: Float64Array): Float64Array {
  const b = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) b[i] = BigInt(a[i]!);
  return b as unknown as Float64Array;
}

function growI32(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

function growU8(a: Uint8Array, cap: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(cap);
  b.set(a);
  return b;
}

function isIntIn(v: number, lo: number, hi: number): boolean {
  return v >= lo && v <= hi && v === Math.floor(v);
}

class SideBook {
  keys = new Float64Array(512);
  lvl = new Int32Array(512);
  n = 0;
  constructor(readonly sign: 1 | -1) {}

  lowerBound(key: number): number {
    let lo = 0;
    let hi = this.n;
    const k = this.keys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (k[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insertAt(i: number, key: number, level: number): void {
    if (this.n === this.keys.length) {
      const k = new Float64Array(this.n * 2);
      k.set(this.keys);
      const l = new Int32Array(this.n * 2);
      l.set(this.lvl);
      this.keys = k;
      this.lvl = l;
    }
    this.keys.copyWithin(i + 1, i, this.n);
    this.lvl.copyWithin(i + 1, i, this.n);
    this.keys[i] = key;
    this.lvl[i] = level;
    this.n++;
  }

  eraseAt(i: number): void {
    this.keys.copyWithin(i, i + 1, this.n);
    this.lvl.copyWithin(i, i + 1, this.n);
    this.n--;
  }
}

export class TsEngineCore implements EngineCore {
  readonly view = new Float64Array(View.doubles);
  private nextId = 1;
  // Orders, one column per field.
  private oCap = 0;
  private oUsed = 0;
  private oFree = kNone;
  private oId = new Float64Array(0);
  private oTicks = new Float64Array(0);
  private oRem: Float64Array = new Float64Array(0);
  private oFilled: Float64Array = new Float64Array(0);
  private oClient = new Float64Array(0);
  private oOwner = new Float64Array(0);
  private oPrev = new Int32Array(0);
  private oNext = new Int32Array(0);
  private oLevel = new Int32Array(0);
  private oSide = new Uint8Array(0);
  private oPost = new Uint8Array(0);
  private readonly ids = new Map<number, number>();
  // Levels.
  private lCap = 0;
  private lUsed = 0;
  private lFree = kNone;
  private lTicks = new Float64Array(0);
  private lTotal: Float64Array = new Float64Array(0);
  /** What refreshTop last wrote per side: best ticks (-Infinity: empty, NaN: never) and total. */
  private readonly topTicks: number[] = [Number.NaN, Number.NaN];
  private readonly topTotal: (number | bigint)[] = [0, 0];
  private lHead = new Int32Array(0);
  private lTail = new Int32Array(0);
  private readonly bids = new SideBook(1);
  private readonly asks = new SideBook(-1);
  // Fills of the last submit/modify: (makerId, ticks) and their lots.
  private fills = new Float64Array(2 * 64);
  private fillLots: Float64Array = new Float64Array(64);
  private fillCount = 0;
  // The last report's lots, converted to values by writeReportValues (deferred inside a batch).
  private reportFilled = 0;
  private reportRemaining = 0;
  private inBatch = false;
  /** batch's validated commands (kCommandStride doubles each): grows to the largest batch, then reused. */
  private pending = new Float64Array(0);
  // Lots resting in the book: while it and every incoming order stay below 2^53, no lot sum can pass it.
  private resting = 0;
  // 0, or 0n once wide: the one zero lot arithmetic starts from.
  private zero = 0;
  private wide = false;
  // Set by match when self-trade prevention cancelled the taker.
  private killed = false;
  private readonly tick: Grid;
  private readonly lot: Grid;

  constructor(
    tickNum: number,
    tickDen: number,
    lotNum: number,
    lotDen: number,
    private readonly stp: number,
    allowNegativePrices = true,
  ) {
    this.tick = Grid.of(tickNum, tickDen, 'price', allowNegativePrices);
    this.lot = Grid.of(lotNum, lotDen, 'quantity');
    this.growOrders(1024);
    this.growLevels(1024);
    this.refreshTop();
    this.report(0, StatusCode.new, 0, 0, RejectCode.none);
  }

  private growOrders(cap: number): void {
    this.oId = growF64(this.oId, cap);
    this.oTicks = growF64(this.oTicks, cap);
    this.oRem = growLots(this.oRem, cap);
    this.oFilled = growLots(this.oFilled, cap);
    this.oClient = growF64(this.oClient, cap);
    this.oOwner = growF64(this.oOwner, cap);
    this.oPrev = growI32(this.oPrev, cap);
    this.oNext = growI32(this.oNext, cap);
    this.oLevel = growI32(this.oLevel, cap);
    this.oSide = growU8(this.oSide, cap);
    this.oPost = growU8(this.oPost, cap);
    this.oCap = cap;
  }

  private growLevels(cap: number): void {
    this.lTicks = growF64(this.lTicks, cap);
    this.lTotal = growLots(this.lTotal, cap);
    this.lHead = growI32(this.lHead, cap);
    this.lTail = growI32(this.lTail, cap);
    this.lCap = cap;
  }

  private allocOrder(): number {
    if (this.oFree !== kNone) {
      const h = this.oFree;
      this.oFree = this.oNext[h]!;
      return h;
    }
    if (this.oUsed === this.oCap) this.growOrders(this.oCap * 2);
    return this.oUsed++;
  }

  private freeOrder(h: number): void {
    this.oNext[h] = this.oFree;
    this.oFree = h;
  }

  /** Switches the lot columns to bigints, for good (see the file comment). */
  private widen(): void {
    this.wide = true;
    this.oRem = widenLots(this.oRem);
    this.oFilled = widenLots(this.oFilled);
    this.lTotal = widenLots(this.lTotal);
    this.fillLots = widenLots(this.fillLots);
    this.resting = BigInt(this.resting) as unknown as number;
    this.zero = 0n as unknown as number;
  }

  /** Lots from (approx, correction) argument slots, widening first when they could pass 2^53. */
  private lotsArg(approx: number, correction: number): number {
    if (!this.wide) {
      if (correction === 0 && approx <= kSafe - this.resting) return approx;
      this.widen();
    }
    return (BigInt(approx) + BigInt(correction)) as unknown as number;
  }

  /** A lot count (number or, once wide, bigint) as a value, correctly rounded. */
  private lotValue(lots: number): number {
    return typeof lots === 'number' ? this.lot.toValue(lots) : this.lot.bigValue(lots as bigint);
  }

  /** Volume-weighted price of this call's fills: ticks x lots summed exactly, converted once. */
  private averagePrice(filled: number): number {
    const n = this.fillCount;
    if (n === 1) return this.tick.toValue(this.fills[1]!); // what ratioValue gives, without the division
    if (n === 0 || !(filled > 0)) return Number.NaN;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      const q = this.fillLots[i]!;
      if (typeof q !== 'number') return this.bigAveragePrice(filled);
      const p = this.fills[2 * i + 1]! * q;
      const s = acc + p;
      if (!(Math.abs(p) <= kSafe && Math.abs(s) <= kSafe)) return this.bigAveragePrice(filled);
      acc = s;
    }
    return this.tick.ratioValue(acc, filled);
  }

  private bigAveragePrice(filled: number): number {
    let acc = 0n;
    for (let i = 0; i < this.fillCount; i++) acc += BigInt(this.fills[2 * i + 1]!) * BigInt(this.fillLots[i]!);
    return this.tick.ratioValue(acc, BigInt(filled));
  }

  private refreshTop(): void {
    const v = this.view;
    for (let s = 0; s < 2; s++) {
      const book = s === 0 ? this.bids : this.asks;
      // Most calls leave a side's best level as it was: its price and size (two exact
      // divisions) are rewritten only when (ticks, total) changed since the last write, as
      // the native core does. -Infinity marks an empty side; the first call finds NaN.
      let ticks = Number.NEGATIVE_INFINITY;
      let total: number | bigint = 0;
      if (book.n !== 0) {
        const li = book.lvl[book.n - 1]!;
        ticks = this.lTicks[li]!;
        total = this.lTotal[li]!;
      }
      if (ticks !== this.topTicks[s] || total !== this.topTotal[s]) {
        this.topTicks[s] = ticks;
        this.topTotal[s] = total;
        if (ticks === Number.NEGATIVE_INFINITY) {
          v[Top.bidPrice + 2 * s] = Number.NaN;
          v[Top.bidSize + 2 * s] = Number.NaN;
          v[Top.bidTicks + s] = Number.NaN;
        } else {
          v[Top.bidPrice + 2 * s] = this.tick.toValue(ticks);
          v[Top.bidSize + 2 * s] = this.lotValue(total as number);
          v[Top.bidTicks + s] = ticks;
        }
      }
      v[Top.bidLevels + s] = book.n;
    }
  }

  private report(id: number, status: number, filled: number, remaining: number, reason: number): void {
    const v = this.view;
    v[View.reportOrderId] = id;
    v[View.reportStatus] = status;
    v[View.reportReject] = reason;
    v[View.reportFillCount] = this.fillCount;
    this.reportFilled = filled;
    this.reportRemaining = remaining;
    if (!this.inBatch) this.writeReportValues();
  }

  /** The last report's quantities and average price: once per call, once per batch. */
  private writeReportValues(): void {
    const v = this.view;
    v[View.reportFilledQuantity] = this.lotValue(this.reportFilled);
    v[View.reportRemainingQuantity] = this.lotValue(this.reportRemaining);
    v[View.reportAveragePrice] = this.averagePrice(this.reportFilled);
  }

  private publishFills(): void {
    this.copyFillsTo(this.view, View.fills, View.fillCapacity);
  }

  private copyFillsTo(out: Float64Array, at: number, cap: number): number {
    const m = Math.min(this.fillCount, cap);
    for (let i = 0; i < m; i++) {
      out[at + 3 * i] = this.fills[2 * i]!;
      out[at + 3 * i + 1] = this.tick.toValue(this.fills[2 * i + 1]!);
      out[at + 3 * i + 2] = this.lotValue(this.fillLots[i]!);
    }
    return m;
  }

  private pushFill(maker: number, ticks: number, lots: number): void {
    const i = this.fillCount;
    if (i === this.fillLots.length) {
      this.fills = growF64(this.fills, 4 * i);
      this.fillLots = growLots(this.fillLots, 2 * i);
    }
    this.fills[2 * i] = maker;
    this.fills[2 * i + 1] = ticks;
    this.fillLots[i] = lots;
    this.fillCount++;
  }

  private levelFor(side: number, ticks: number): number {
    const book = side === 0 ? this.bids : this.asks;
    const key = book.sign * ticks;
    const i = book.n === 0 || book.keys[book.n - 1]! < key ? book.n : book.lowerBound(key);
    if (i < book.n && book.keys[i] === key) return book.lvl[i]!;
    let li = this.lFree;
    if (li !== kNone) {
      this.lFree = this.lHead[li]!;
    } else {
      if (this.lUsed === this.lCap) this.growLevels(this.lCap * 2);
      li = this.lUsed++;
    }
    this.lTicks[li] = ticks;
    this.lTotal[li] = this.zero;
    this.lHead[li] = kNone;
    this.lTail[li] = kNone;
    book.insertAt(i, key, li);
    return li;
  }

  private dropLevel(side: number, li: number): void {
    const book = side === 0 ? this.bids : this.asks;
    book.eraseAt(book.lowerBound(book.sign * this.lTicks[li]!));
    this.lHead[li] = this.lFree;
    this.lFree = li;
  }

  /** The level at ticks on a side, or kNone. */
  private findLevel(side: number, ticks: number): number {
    const book = side === 0 ? this.bids : this.asks;
    const key = book.sign * ticks;
    const i = book.lowerBound(key);
    return i < book.n && book.keys[i] === key ? book.lvl[i]! : kNone;
  }

  private unlink(h: number): void {
    const li = this.oLevel[h]!;
    this.lTotal[li] = this.lTotal[li]! - this.oRem[h]!;
    this.resting = this.resting - this.oRem[h]!;
    const prev = this.oPrev[h]!;
    const next = this.oNext[h]!;
    if (prev !== kNone) this.oNext[prev] = next;
    else this.lHead[li] = next;
    if (next !== kNone) this.oPrev[next] = prev;
    else this.lTail[li] = prev;
    this.ids.delete(this.oId[h]!);
    this.freeOrder(h);
  }

  /** Rests a new order: RejectCode.none, or quantityOverflow when the level total would pass int64. */
  private rest(id: number, side: number, ticks: number, lots: number, filled: number, owner: number, client: number, post: number): number {
    const li = this.levelFor(side, ticks);
    // A live level is returned untouched, so refusing here changes nothing.
    if (this.wide && this.lTotal[li]! + lots > kMaxLots) return RejectCode.quantityOverflow;
    const h = this.allocOrder();
    this.ids.set(id, h);
    const tail = this.lTail[li]!;
    this.oId[h] = id;
    this.oTicks[h] = ticks;
    this.oRem[h] = lots;
    this.oFilled[h] = filled;
    this.oClient[h] = client;
    this.oOwner[h] = owner;
    this.oPrev[h] = tail;
    this.oNext[h] = kNone;
    this.oLevel[h] = li;
    this.oSide[h] = side;
    this.oPost[h] = post;
    if (tail !== kNone) this.oNext[tail] = h;
    else this.lHead[li] = h;
    this.lTail[li] = h;
    this.lTotal[li] = this.lTotal[li]! + lots;
    this.resting = this.resting + lots;
    return RejectCode.none;
  }

  /** A maker on side ms at makerTicks can trade with a taker limited at limit. */
  private static crosses(ms: number, makerTicks: number, limit: number): boolean {
    return ms === 0 ? makerTicks >= limit : -makerTicks >= -limit;
  }

  private wouldTake(side: number, limit: number): boolean {
    const ms = side ^ 1;
    const book = ms === 0 ? this.bids : this.asks;
    return book.n > 0 && TsEngineCore.crosses(ms, this.lTicks[book.lvl[book.n - 1]!]!, limit);
  }

  private fokFillable(side: number, market: boolean, limit: number, lots: number, owner: number): boolean {
    const ms = side ^ 1;
    const book = ms === 0 ? this.bids : this.asks;
    const stp = this.stp !== Stp.none && owner !== 0;
    let acc = this.zero;
    for (let i = book.n - 1; i >= 0; i--) {
      const li = book.lvl[i]!;
      if (!market && !TsEngineCore.crosses(ms, this.lTicks[li]!, limit)) break;
      if (!stp) {
        acc += this.lTotal[li]!;
        if (acc >= lots) return true;
        continue;
      }
      for (let h = this.lHead[li]!; h !== kNone; h = this.oNext[h]!) {
        if (this.oOwner[h] === owner) {
          if (this.stp === Stp.cancelMaker) continue;
          return false;
        }
        acc += this.oRem[h]!;
        if (acc >= lots) return true;
      }
    }
    return false;
  }

  /** Returns the remaining lots; sets `killed` when self-trade prevention cancelled the taker. */
  private match(side: number, market: boolean, limit: number, lots: number, owner: number): number {
    const ms = side ^ 1;
    const book = ms === 0 ? this.bids : this.asks;
    const stp = this.stp !== Stp.none && owner !== 0;
    this.killed = false;
    let remaining = lots;
    while (remaining > 0 && book.n > 0) {
      const li = book.lvl[book.n - 1]!;
      if (!market && !TsEngineCore.crosses(ms, this.lTicks[li]!, limit)) break;
      let h = this.lHead[li]!;
      while (h !== kNone && remaining > 0) {
        const next = this.oNext[h]!;
        if (stp && this.oOwner[h] === owner) {
          if (this.stp === Stp.cancelTaker) {
            this.killed = true;
            return remaining;
          }
          this.unlink(h);
          if (this.stp === Stp.cancelBoth) {
            if (this.lHead[li] === kNone) this.dropLevel(ms, li);
            this.killed = true;
            return remaining;
          }
          h = next;
          continue;
        }
        const rem = this.oRem[h]!;
        const q = remaining < rem ? remaining : rem;
        this.pushFill(this.oId[h]!, this.oTicks[h]!, q);
        this.oRem[h] = rem - q;
        this.oFilled[h] = this.oFilled[h]! + q;
        this.lTotal[li] = this.lTotal[li]! - q;
        this.resting = this.resting - q;
        remaining -= q;
        if (rem === q) this.unlink(h);
        h = next;
      }
      if (this.lHead[li] === kNone) this.dropLevel(ms, li);
    }
    return remaining;
  }

  private execute(id: number, side: number, market: boolean, ticks: number, lots: number, tif: number, post: number, owner: number, client: number, priorFilled: number): void {
    this.fillCount = 0;
    if (post !== 0 && !market && this.wouldTake(side, ticks)) {
      this.report(id, StatusCode.rejected, 0, 0, RejectCode.postOnlyWouldTake);
    } else if (tif === 2 && !this.fokFillable(side, market, ticks, lots, owner)) {
      this.report(id, StatusCode.cancelled, 0, 0, CancelCode.fokUnfillable);
    } else {
      const remaining = this.match(side, market, ticks, lots, owner);
      const filled = lots - remaining;
      if (!(remaining > 0)) {
        this.report(id, StatusCode.filled, filled, 0, RejectCode.none);
      } else if (this.killed || market || tif !== 0) {
        // One reason, most specific first, as matching_engine.cc execute.
        const why = this.killed ? CancelCode.selfTradePrevention : market ? CancelCode.marketRemainder : tif === 1 ? CancelCode.iocRemainder : CancelCode.fokUnfillable;
        this.report(id, StatusCode.cancelled, filled, 0, why);
      } else {
        const why = this.rest(id, side, ticks, remaining, priorFilled + filled, owner, client, post);
        if (why !== RejectCode.none) this.report(id, StatusCode.rejected, filled, 0, why);
        else this.report(id, priorFilled + filled > 0 ? StatusCode.partiallyFilled : StatusCode.new, filled, remaining, RejectCode.none);
      }
    }
    this.refreshTop();
  }

  submit(): void {
    const v = this.view;
    const a = View.args;
    const lots = this.lotsArg(v[a + 3]!, v[a + 8]!);
    this.execute(this.nextId++, v[a]!, v[a + 1] !== 0, v[a + 2]!, lots, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, this.zero);
    this.publishFills();
  }

  cancel(): boolean {
    return this.cancelId(this.view[View.args]!);
  }

  private cancelId(orderId: number): boolean {
    const h = this.ids.get(orderId);
    if (h === undefined) return false;
    const side = this.oSide[h]!;
    const li = this.oLevel[h]!;
    this.unlink(h);
    if (this.lHead[li] === kNone) this.dropLevel(side, li);
    this.refreshTop();
    return true;
  }

  /** ticks NaN keeps the price; lots undefined keeps the quantity (lots already through lotsArg). */
  private modifyCore(id: number, ticks: number, lots: number | undefined): void {
    this.fillCount = 0;
    const h = this.ids.get(id);
    if (h === undefined) {
      this.report(id, StatusCode.rejected, 0, 0, RejectCode.unknownOrder);
      return;
    }
    const newTicks = ticks === ticks ? ticks : this.oTicks[h]!;
    let newLots = lots === undefined ? this.oRem[h]! : lots;
    if (!(newLots > 0)) {
      this.cancelId(id);
      this.report(id, StatusCode.cancelled, 0, 0, CancelCode.modifiedToZero);
      return;
    }
    if (!this.wide && newLots > kSafe - this.oFilled[h]!) {
      this.widen();
      newLots = BigInt(newLots) as unknown as number;
    }
    if (this.wide && this.oFilled[h]! + newLots > kMaxLots) {
      // Filled plus open lots stay within int64, so a maker's filled sum never overflows.
      this.report(id, StatusCode.rejected, 0, 0, RejectCode.quantityOverflow);
      return;
    }
    if (newTicks === this.oTicks[h] && newLots <= this.oRem[h]!) {
      const li = this.oLevel[h]!;
      const less = this.oRem[h]! - newLots;
      this.lTotal[li] = this.lTotal[li]! - less;
      this.resting = this.resting - less;
      this.oRem[h] = newLots;
      this.report(id, this.oFilled[h]! > 0 ? StatusCode.partiallyFilled : StatusCode.new, 0, newLots, RejectCode.none);
      this.refreshTop();
      return;
    }
    const side = this.oSide[h]!;
    if (this.wide && !this.wouldTake(side, newTicks)) {
      // C++ moves a resting order that cannot trade in place and refuses before touching it.
      const to = this.findLevel(side, newTicks);
      if (to !== kNone && this.lTotal[to]! - (to === this.oLevel[h] ? this.oRem[h]! : this.zero) + newLots > kMaxLots) {
        this.report(id, StatusCode.rejected, 0, 0, RejectCode.quantityOverflow);
        return;
      }
    }
    const post = this.oPost[h]!;
    if (post !== 0 && this.wouldTake(side, newTicks)) {
      // A rejected cancel/replace leaves the original working, with its priority.
      this.report(id, StatusCode.rejected, 0, this.oRem[h]!, RejectCode.postOnlyWouldTake);
      return;
    }
    const owner = this.oOwner[h]!;
    const client = this.oClient[h]!;
    const filled = this.oFilled[h]!;
    const li = this.oLevel[h]!;
    this.unlink(h);
    if (this.lHead[li] === kNone) this.dropLevel(side, li);
    this.execute(id, side, false, newTicks, newLots, 0, post, owner, client, filled);
  }

  modify(): void {
    const v = this.view;
    const a = View.args;
    const l = v[a + 2]!;
    this.modifyCore(v[a]!, v[a + 1]!, l === l ? this.lotsArg(l, v[a + 3]!) : undefined);
    this.publishFills();
  }

  query(): boolean {
    const h = this.ids.get(this.view[View.args]!);
    if (h === undefined) return false;
    const v = this.view;
    v[View.queryOrderId] = this.oId[h]!;
    v[View.querySide] = this.oSide[h]!;
    v[View.queryPrice] = this.tick.toValue(this.oTicks[h]!);
    v[View.queryQuantity] = this.lotValue(this.oRem[h]!);
    v[View.queryFilledQuantity] = this.lotValue(this.oFilled[h]!);
    v[View.queryOwner] = this.oOwner[h]!;
    v[View.queryClientId] = this.oClient[h]!;
    v[View.queryPostOnly] = this.oPost[h]!;
    return true;
  }

  levels(side: number, n: number, out: Float64Array, units: number): number {
    const book = side === 0 ? this.bids : this.asks;
    const stride = units === 0 ? 2 : 3;
    const m = Math.min(n, book.n, Math.floor(out.length / stride));
    for (let j = 0; j < m; j++) {
      const li = book.lvl[book.n - 1 - j]!;
      const total = this.lTotal[li]!;
      const o = stride * j;
      if (units === 0) {
        out[o] = this.tick.toValue(this.lTicks[li]!);
        out[o + 1] = this.lotValue(total);
      } else {
        // lots = approx + correction exactly; the approximation stays below 2^63.
        const approx = Math.min(Number(total), kMaxLotsDouble);
        out[o] = this.lTicks[li]!;
        out[o + 1] = approx;
        out[o + 2] = typeof total === 'number' ? 0 : Number((total as bigint) - BigInt(approx));
      }
    }
    return m;
  }

  copyFills(out: Float64Array): number {
    return this.copyFillsTo(out, 0, Math.floor(out.length / 3));
  }

  /**
   * Reads each element of c exactly once (c may be shared memory another thread writes, or
   * fillsOut itself): every command is validated into `pending`, then what was validated runs.
   */
  batch(c: Float64Array, n: number, fillsOut: Float64Array | null): number {
    const tick = this.tick;
    const lot = this.lot;
    if (this.pending.length < kCommandStride * n) this.pending = new Float64Array(Math.max(kCommandStride * n, 2 * this.pending.length));
    const p = this.pending;
    for (let i = 0; i < n; i++) {
      const r = kCommandStride * i;
      const op = c[r]!;
      const a1 = c[r + 1]!;
      // (op, side or order id, ticks or NaN, lots or NaN, flags, owner)
      let ticks = Number.NaN;
      let lots = Number.NaN;
      let flags = 0;
      let owner = 0;
      let ok = false;
      if (op === 0 || op === 1) {
        const market = op === 1;
        const price = c[r + 2]!;
        const qty = c[r + 3]!;
        flags = c[r + 4]!;
        owner = c[r + 5]!;
        ticks = market ? 0 : tick.toTicks(price);
        lots = lot.toLots(qty);
        ok =
          (a1 === 0 || a1 === 1) &&
          !Number.isNaN(ticks) &&
          lots > 0 &&
          isIntIn(flags, 0, 6) &&
          (flags & 3) !== 3 &&
          !(market && (flags & 4) !== 0) &&
          isIntIn(owner, 0, kMaxOwner);
      } else if (op === 2) {
        ok = isIntIn(a1, 1, kMaxId);
      } else if (op === 3) {
        const price = c[r + 2]!;
        const qty = c[r + 3]!;
        if (price === price) ticks = tick.toTicks(price);
        if (qty === qty) lots = lot.toLots(qty);
        ok = isIntIn(a1, 1, kMaxId) && (price !== price || !Number.isNaN(ticks)) && (qty !== qty || lots >= 0);
      }
      if (!ok) return -i - 1;
      p[r] = op;
      p[r + 1] = a1;
      p[r + 2] = ticks;
      p[r + 3] = lots;
      p[r + 4] = flags;
      p[r + 5] = owner;
    }
    const firstId = this.nextId;
    const cap = fillsOut === null ? 0 : Math.floor(fillsOut.length / kFillStride);
    let total = 0;
    const v = this.view;
    // No command of a batch reads the report's quantities: write the last one at the end.
    this.inBatch = true;
    try {
      total = this.runBatch(p, n, fillsOut, cap);
    } finally {
      this.inBatch = false;
      this.writeReportValues();
    }
    v[View.batchFills] = total;
    v[View.batchFirstOrderId] = firstId;
    return n;
  }

  /** Runs n commands validated by batch, as it left them in p. */
  private runBatch(p: Float64Array, n: number, fillsOut: Float64Array | null, cap: number): number {
    const tick = this.tick;
    const v = this.view;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const r = kCommandStride * i;
      const op = p[r]!;
      if (op === 2) {
        this.cancelId(p[r + 1]!);
        continue;
      }
      const lots = p[r + 3]!;
      if (op === 3) {
        this.modifyCore(p[r + 1]!, p[r + 2]!, lots === lots ? this.lotsArg(lots, 0) : undefined);
      } else {
        const flags = p[r + 4]!;
        this.execute(this.nextId++, p[r + 1]!, op === 1, p[r + 2]!, this.lotsArg(lots, 0), flags & 3, (flags & 4) !== 0 ? 1 : 0, p[r + 5]!, Number.NaN, this.zero);
      }
      const taker = v[View.reportOrderId]!;
      const f = this.fills;
      for (let k = 0; k < this.fillCount; k++) {
        if (total < cap) {
          const o = kFillStride * total;
          fillsOut![o] = f[2 * k]!;
          fillsOut![o + 1] = taker;
          fillsOut![o + 2] = tick.toValue(f[2 * k + 1]!);
          fillsOut![o + 3] = this.lotValue(this.fillLots[k]!);
        }
        total++;
      }
    }
    return total;
  }
}
