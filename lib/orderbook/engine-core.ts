/**
 * The matching-engine core in TS: cpp/orderbook/matching_engine.cc line for line, so the two
 * backends give the same reports, fills and reads. Orders live in a pool of typed arrays
 * (one column per field, a free list through `next`), levels in another; each side keeps a
 * sorted array of (key, level) with the best at the back. Quantities are integer lots.
 */
import type { EngineNative } from '../addon-types.js';
import { kGridTolerance, kMaxUnits } from './grid.js';
import { kCommandStride, kFillStride, RejectCode, StatusCode, Top, View } from './layout.js';

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
  private oRem = new Float64Array(0);
  private oFilled = new Float64Array(0);
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
  private lTotal = new Float64Array(0);
  private lHead = new Int32Array(0);
  private lTail = new Int32Array(0);
  private readonly bids = new SideBook(1);
  private readonly asks = new SideBook(-1);
  // Fills of the last submit/modify: (makerId, ticks, lots).
  private fills = new Float64Array(3 * 64);
  private fillCount = 0;

  constructor(
    private readonly tickNum: number,
    private readonly tickDen: number,
    private readonly lotNum: number,
    private readonly lotDen: number,
    private readonly stp: number,
  ) {
    this.growOrders(1024);
    this.growLevels(1024);
    this.refreshTop();
    this.report(0, StatusCode.new, 0, 0, RejectCode.none);
  }

  private growOrders(cap: number): void {
    this.oId = growF64(this.oId, cap);
    this.oTicks = growF64(this.oTicks, cap);
    this.oRem = growF64(this.oRem, cap);
    this.oFilled = growF64(this.oFilled, cap);
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
    this.lTotal = growF64(this.lTotal, cap);
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

  private units(v: number, num: number, den: number): number {
    const x = (v * den) / num;
    const r = Math.floor(x + 0.5);
    return Math.abs(x - r) <= kGridTolerance && Math.abs(r) <= kMaxUnits ? r + 0 : Number.NaN;
  }

  private refreshTop(): void {
    const v = this.view;
    for (let s = 0; s < 2; s++) {
      const book = s === 0 ? this.bids : this.asks;
      if (book.n === 0) {
        v[Top.bidPrice + 2 * s] = Number.NaN;
        v[Top.bidSize + 2 * s] = Number.NaN;
        v[Top.bidTicks + s] = Number.NaN;
      } else {
        const li = book.lvl[book.n - 1]!;
        v[Top.bidPrice + 2 * s] = (this.lTicks[li]! * this.tickNum) / this.tickDen;
        v[Top.bidSize + 2 * s] = (this.lTotal[li]! * this.lotNum) / this.lotDen;
        v[Top.bidTicks + s] = this.lTicks[li]!;
      }
      v[Top.bidLevels + s] = book.n;
    }
  }

  private report(id: number, status: number, filled: number, remaining: number, reason: number): void {
    const v = this.view;
    v[View.reportOrderId] = id;
    v[View.reportStatus] = status;
    v[View.reportFilledLots] = filled;
    v[View.reportRemainingLots] = remaining;
    v[View.reportReject] = reason;
    v[View.reportFillCount] = this.fillCount;
  }

  private publishFills(): void {
    const m = Math.min(this.fillCount, View.fillCapacity);
    this.view.set(this.fills.subarray(0, 3 * m), View.fills);
  }

  private pushFill(maker: number, ticks: number, lots: number): void {
    const i = 3 * this.fillCount;
    if (i + 3 > this.fills.length) {
      const f = new Float64Array(this.fills.length * 2);
      f.set(this.fills);
      this.fills = f;
    }
    this.fills[i] = maker;
    this.fills[i + 1] = ticks;
    this.fills[i + 2] = lots;
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
    this.lTotal[li] = 0;
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

  private unlink(h: number): void {
    const li = this.oLevel[h]!;
    this.lTotal[li] = this.lTotal[li]! - this.oRem[h]!;
    const prev = this.oPrev[h]!;
    const next = this.oNext[h]!;
    if (prev !== kNone) this.oNext[prev] = next;
    else this.lHead[li] = next;
    if (next !== kNone) this.oPrev[next] = prev;
    else this.lTail[li] = prev;
    this.ids.delete(this.oId[h]!);
    this.freeOrder(h);
  }

  private rest(id: number, side: number, ticks: number, lots: number, filled: number, owner: number, client: number, post: number): void {
    const h = this.allocOrder();
    const li = this.levelFor(side, ticks);
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
    let acc = 0;
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

  /** Returns the remaining lots, negated minus one when self-trade prevention killed the taker. */
  private match(side: number, market: boolean, limit: number, lots: number, owner: number): number {
    const ms = side ^ 1;
    const book = ms === 0 ? this.bids : this.asks;
    const stp = this.stp !== Stp.none && owner !== 0;
    let remaining = lots;
    while (remaining > 0 && book.n > 0) {
      const li = book.lvl[book.n - 1]!;
      if (!market && !TsEngineCore.crosses(ms, this.lTicks[li]!, limit)) break;
      let h = this.lHead[li]!;
      while (h !== kNone && remaining > 0) {
        const next = this.oNext[h]!;
        if (stp && this.oOwner[h] === owner) {
          if (this.stp === Stp.cancelTaker) return -remaining - 1;
          this.unlink(h);
          if (this.stp === Stp.cancelBoth) {
            if (this.lHead[li] === kNone) this.dropLevel(ms, li);
            return -remaining - 1;
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
      this.report(id, StatusCode.cancelled, 0, 0, RejectCode.none);
    } else {
      let remaining = this.match(side, market, ticks, lots, owner);
      const alive = remaining >= 0;
      if (!alive) remaining = -remaining - 1;
      const filled = lots - remaining;
      if (remaining === 0) {
        this.report(id, StatusCode.filled, filled, 0, RejectCode.none);
      } else if (!alive || market || tif !== 0) {
        this.report(id, StatusCode.cancelled, filled, 0, RejectCode.none);
      } else {
        this.rest(id, side, ticks, remaining, priorFilled + filled, owner, client, post);
        this.report(id, priorFilled + filled > 0 ? StatusCode.partiallyFilled : StatusCode.new, filled, remaining, RejectCode.none);
      }
    }
    this.refreshTop();
  }

  submit(): void {
    const v = this.view;
    const a = View.args;
    this.execute(this.nextId++, v[a]!, v[a + 1] !== 0, v[a + 2]!, v[a + 3]!, v[a + 4]!, v[a + 5]!, v[a + 6]!, v[a + 7]!, 0);
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

  private modifyCore(id: number, ticks: number, lots: number): void {
    this.fillCount = 0;
    const h = this.ids.get(id);
    if (h === undefined) {
      this.report(id, StatusCode.rejected, 0, 0, RejectCode.unknownOrder);
      return;
    }
    const newTicks = ticks === ticks ? ticks : this.oTicks[h]!;
    const newLots = lots === lots ? lots : this.oRem[h]!;
    if (newLots === 0) {
      this.cancelId(id);
      this.report(id, StatusCode.cancelled, 0, 0, RejectCode.none);
      return;
    }
    if (newTicks === this.oTicks[h] && newLots <= this.oRem[h]!) {
      const li = this.oLevel[h]!;
      this.lTotal[li] = this.lTotal[li]! - (this.oRem[h]! - newLots);
      this.oRem[h] = newLots;
      this.report(id, this.oFilled[h]! > 0 ? StatusCode.partiallyFilled : StatusCode.new, 0, newLots, RejectCode.none);
      this.refreshTop();
      return;
    }
    const side = this.oSide[h]!;
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
    this.modifyCore(v[View.args]!, v[View.args + 1]!, v[View.args + 2]!);
    this.publishFills();
  }

  query(): boolean {
    const h = this.ids.get(this.view[View.args]!);
    if (h === undefined) return false;
    const v = this.view;
    v[View.queryOrderId] = this.oId[h]!;
    v[View.querySide] = this.oSide[h]!;
    v[View.queryTicks] = this.oTicks[h]!;
    v[View.queryRemainingLots] = this.oRem[h]!;
    v[View.queryFilledLots] = this.oFilled[h]!;
    v[View.queryOwner] = this.oOwner[h]!;
    v[View.queryClientId] = this.oClient[h]!;
    v[View.queryPostOnly] = this.oPost[h]!;
    return true;
  }

  levels(side: number, n: number, out: Float64Array): number {
    const book = side === 0 ? this.bids : this.asks;
    const m = Math.min(n, book.n, out.length >> 1);
    for (let j = 0; j < m; j++) {
      const li = book.lvl[book.n - 1 - j]!;
      out[2 * j] = (this.lTicks[li]! * this.tickNum) / this.tickDen;
      out[2 * j + 1] = (this.lTotal[li]! * this.lotNum) / this.lotDen;
    }
    return m;
  }

  copyFills(out: Float64Array): number {
    const m = Math.min(this.fillCount, Math.floor(out.length / 3));
    out.set(this.fills.subarray(0, 3 * m));
    return m;
  }

  batch(c: Float64Array, n: number, fillsOut: Float64Array | null): number {
    const tn = this.tickNum;
    const td = this.tickDen;
    const ln = this.lotNum;
    const ld = this.lotDen;
    for (let i = 0; i < n; i++) {
      const r = kCommandStride * i;
      const op = c[r]!;
      let ok = false;
      if (op === 0 || op === 1) {
        const market = op === 1;
        const flags = c[r + 4]!;
        const lots = this.units(c[r + 3]!, ln, ld);
        ok =
          (c[r + 1] === 0 || c[r + 1] === 1) &&
          (market || !Number.isNaN(this.units(c[r + 2]!, tn, td))) &&
          lots > 0 &&
          isIntIn(flags, 0, 6) &&
          (flags & 3) !== 3 &&
          !(market && (flags & 4) !== 0) &&
          isIntIn(c[r + 5]!, 0, kMaxOwner);
      } else if (op === 2) {
        ok = isIntIn(c[r + 1]!, 1, kMaxId);
      } else if (op === 3) {
        const p = c[r + 2]!;
        const q = c[r + 3]!;
        ok =
          isIntIn(c[r + 1]!, 1, kMaxId) &&
          (p !== p || !Number.isNaN(this.units(p, tn, td))) &&
          (q !== q || this.units(q, ln, ld) >= 0);
      }
      if (!ok) return -i - 1;
    }
    const firstId = this.nextId;
    const cap = fillsOut === null ? 0 : Math.floor(fillsOut.length / kFillStride);
    let total = 0;
    const v = this.view;
    for (let i = 0; i < n; i++) {
      const r = kCommandStride * i;
      const op = c[r]!;
      if (op === 2) {
        this.cancelId(c[r + 1]!);
        continue;
      }
      if (op === 3) {
        const p = c[r + 2]!;
        const q = c[r + 3]!;
        this.modifyCore(c[r + 1]!, p === p ? this.units(p, tn, td) : Number.NaN, q === q ? this.units(q, ln, ld) : Number.NaN);
      } else {
        const market = op === 1;
        const flags = c[r + 4]!;
        this.execute(this.nextId++, c[r + 1]!, market, market ? 0 : this.units(c[r + 2]!, tn, td), this.units(c[r + 3]!, ln, ld), flags & 3, (flags & 4) !== 0 ? 1 : 0, c[r + 5]!, Number.NaN, 0);
      }
      const taker = v[View.reportOrderId]!;
      const f = this.fills;
      for (let k = 0; k < this.fillCount; k++) {
        if (total < cap) {
          const o = kFillStride * total;
          fillsOut![o] = f[3 * k]!;
          fillsOut![o + 1] = taker;
          fillsOut![o + 2] = (f[3 * k + 1]! * tn) / td;
          fillsOut![o + 3] = (f[3 * k + 2]! * ln) / ld;
        }
        total++;
      }
    }
    v[View.batchFills] = total;
    v[View.batchFirstOrderId] = firstId;
    return n;
  }
}
