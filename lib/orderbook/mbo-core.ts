/**
 * The market-by-order core both backends implement: cpp/orderbook/mbo_book.cc natively
 * (through cpp/napi/orderbook.cc) and TsMboCore here, line for line the same algorithm.
 * It works on the event layout of lib/pipeline/events.ts (integer ticks and lots) and
 * validates every event it applies, so a bad event stops a batch before it changes anything.
 *
 * State: an open-addressing hash map order id -> order slot (linear probing, backward-shift
 * deletion, no tombstones), order slots in preallocated arrays that double when full, and per
 * side a sorted array of price levels, best at the back (the updates a feed sends most land at
 * or near the top, which is the end of the array: a short scan from the back finds them before
 * any bisection). Each level holds its total lots, the lots its known orders hold, and the
 * head of a doubly linked list of those orders (so `trim` can forget them).
 *
 * Anonymous quantity: a level's total minus what its known orders hold. It comes from
 * `level` events (a snapshot, a refill) and is what an event for an unknown order id reduces.
 * The invariant total >= known always holds: `level` never sets a total below the known
 * orders' lots (known orders leave only by their own events or by `trim`/`clear`).
 */
import type { MboNative } from '../addon-types.js';
import * as events from '../pipeline/events.js';
import { EventList } from '../pipeline/events.js';
import { Grid } from './grid.js';
import * as layout from './layout.js';

export type MboCore = Omit<MboNative, 'view'> & { readonly view: ArrayBuffer | Float64Array };

// Local copies of the shared tables: a module's imports can compile to getter calls (tsx,
// some bundlers), measured at ~40% of the TS hot path; a local object's fields fold to constants.
const EventField = { ...events.EventField };
const EventOp = { ...events.EventOp };
const kEventStride = events.kEventStride;
const Mbo = { ...layout.Mbo };
const MboReason = { ...layout.MboReason };
const { kMismatchStride, kReplaySummary } = layout;

/** Largest order id, tick count and lot count an event may carry: 2^53 - 1. */
const kMax = 9007199254740991;
const kInitialLevels = 64;

/** A copy of `a` with room for `cap` elements (the growth step of every array here). */
function grown<T extends Float64Array | Int32Array | Uint8Array>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}

/** One side's levels sorted by key (ticks for bids, -ticks for asks), best at the back. */
class MboLadder {
  ticks: Float64Array = new Float64Array(kInitialLevels);
  total: Float64Array = new Float64Array(kInitialLevels);
  known: Float64Array = new Float64Array(kInitialLevels);
  head = new Int32Array(kInitialLevels);
  count = 0;
  constructor(readonly sign: 1 | -1) {}

  /** Index of the level at ticks, or -1. Scans the best few from the back first. */
  find(ticks: number): number {
    const t = this.ticks;
    const n = this.count;
    const stop = n > 8 ? n - 8 : 0;
    for (let i = n - 1; i >= stop; i--) if (t[i] === ticks) return i;
    if (stop === 0) return -1;
    const i = this.lowerBound(this.sign * ticks, stop);
    return i < stop && t[i] === ticks ? i : -1;
  }

  /** The first index in [0, hi) whose key is not below key. */
  lowerBound(key: number, hi: number): number {
    const t = this.ticks;
    const sign = this.sign;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sign * t[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Inserts an empty level at ticks (not present) and returns its index. */
  insert(ticks: number): number {
    const n = this.count;
    const key = this.sign * ticks;
    let i = n;
    while (i > 0 && i > n - 8 && this.sign * this.ticks[i - 1]! > key) i--;
    if (i > 0 && i === n - 8 && this.sign * this.ticks[i - 1]! > key) i = this.lowerBound(key, i);
    if (n === this.ticks.length) this.grow();
    if (i < n) this.move(i + 1, i, n - i);
    this.ticks[i] = ticks;
    this.total[i] = 0;
    this.known[i] = 0;
    this.head[i] = -1;
    this.count = n + 1;
    return i;
  }

  private grow(): void {
    const cap = this.ticks.length * 2;
    this.ticks = grown(this.ticks, cap);
    this.total = grown(this.total, cap);
    this.known = grown(this.known, cap);
    this.head = grown(this.head, cap);
  }

  /** Removes levels [i, i + k). */
  erase(i: number, k: number): void {
    const n = this.count;
    if (i + k < n) this.move(i, i + k, n - i - k);
    this.count = n - k;
  }

  /** Moves `len` levels from index `from` to index `to` (overlapping is fine). */
  private move(to: number, from: number, len: number): void {
    const { ticks, total, known, head } = this;
    if (len > 32) {
      ticks.copyWithin(to, from, from + len);
      total.copyWithin(to, from, from + len);
      known.copyWithin(to, from, from + len);
      head.copyWithin(to, from, from + len);
    } else if (to > from) {
      for (let j = len - 1; j >= 0; j--) {
        ticks[to + j] = ticks[from + j]!;
        total[to + j] = total[from + j]!;
        known[to + j] = known[from + j]!;
        head[to + j] = head[from + j]!;
      }
    } else {
      for (let j = 0; j < len; j++) {
        ticks[to + j] = ticks[from + j]!;
        total[to + j] = total[from + j]!;
        known[to + j] = known[from + j]!;
        head[to + j] = head[from + j]!;
      }
    }
  }
}

export class TsMboCore implements MboCore {
  readonly view = new Float64Array(Mbo.doubles);
  private readonly tick: Grid;
  private readonly lot: Grid;
  private readonly minTicks: number;
  private readonly sides = [new MboLadder(1), new MboLadder(-1)] as const;
  // Hash map: key id + 1 (0 = empty) -> order slot.
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  private size = 0;
  // Order slots; free ones are chained through `next`.
  private oId: Float64Array;
  private oTicks: Float64Array;
  private oLots: Float64Array;
  private oSide: Uint8Array;
  private oPrev: Int32Array;
  private oNext: Int32Array;
  private freeHead = -1;
  private used = 0;

  constructor(tickNum: number, tickDen: number, lotNum: number, lotDen: number, allowNegativePrices = true, expectedOrders = 1024) {
    this.tick = Grid.of(tickNum, tickDen, 'price', allowNegativePrices);
    this.lot = Grid.of(lotNum, lotDen, 'quantity');
    this.minTicks = allowNegativePrices ? -kMax : 0;
    const slots = Math.max(16, Math.min(expectedOrders, 1 << 22));
    let cap = 32;
    while (cap < 2 * slots) cap *= 2;
    this.keys = new Float64Array(cap);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.oId = new Float64Array(slots);
    this.oTicks = new Float64Array(slots);
    this.oLots = new Float64Array(slots);
    this.oSide = new Uint8Array(slots);
    this.oPrev = new Int32Array(slots);
    this.oNext = new Int32Array(slots);
    this.refresh(0);
    this.refresh(1);
  }

  // ---- hash map ----
  private home(key: number): number {
    const lo = key >>> 0;
    const hi = (key / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2f), 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The slot of order `id`, or -1. */
  findOrder(id: number): number {
    const key = id + 1;
    const k = this.keys;
    const mask = this.mask;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const x = k[i]!;
      if (x === key) return this.vals[i]!;
      if (x === 0) return -1;
    }
  }

  private mapInsert(key: number, v: number): void {
    const k = this.keys;
    const mask = this.mask;
    let i = this.home(key);
    while (k[i] !== 0) i = (i + 1) & mask;
    k[i] = key;
    this.vals[i] = v;
    this.size++;
  }

  private mapErase(key: number): void {
    const k = this.keys;
    const v = this.vals;
    const mask = this.mask;
    let i = this.home(key);
    while (k[i] !== key) {
      if (k[i] === 0) return;
      i = (i + 1) & mask;
    }
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = k[j]!;
      if (x === 0) break;
      const h = this.home(x);
      if (((j - h) & mask) >= ((j - i) & mask)) {
        k[i] = x;
        v[i] = v[j]!;
        i = j;
      }
    }
    k[i] = 0;
    this.size--;
  }

  /** Room for one more order in the map and the slots (grown before anything changes). */
  private reserveOne(): void {
    if (2 * (this.size + 1) > this.keys.length) {
      const oldK = this.keys;
      const oldV = this.vals;
      this.keys = new Float64Array(oldK.length * 2);
      this.vals = new Int32Array(oldK.length * 2);
      this.mask = this.keys.length - 1;
      this.size = 0;
      for (let i = 0; i < oldK.length; i++) if (oldK[i] !== 0) this.mapInsert(oldK[i]!, oldV[i]!);
    }
    if (this.freeHead < 0 && this.used === this.oId.length) {
      const cap = this.oId.length * 2;
      this.oId = grown(this.oId, cap);
      this.oTicks = grown(this.oTicks, cap);
      this.oLots = grown(this.oLots, cap);
      this.oSide = grown(this.oSide, cap);
      this.oPrev = grown(this.oPrev, cap);
      this.oNext = grown(this.oNext, cap);
    }
  }

  // ---- top of book ----
  private refresh(side: number): void {
    const l = this.sides[side]!;
    const v = this.view;
    const n = l.count;
    if (n === 0) {
      v[2 * side] = Number.NaN;
      v[2 * side + 1] = Number.NaN;
      v[Mbo.bidTicks + side] = Number.NaN;
    } else {
      const t = l.ticks[n - 1]!;
      v[2 * side] = this.tick.toValue(t);
      v[2 * side + 1] = this.lot.toValue(l.total[n - 1]!);
      v[Mbo.bidTicks + side] = t;
    }
    v[Mbo.bidLevels + side] = n;
  }

  // ---- operations (arguments validated) ----
  private addOrder(id: number, side: number, ticks: number, lots: number): void {
    const l = this.sides[side]!;
    let li = l.find(ticks);
    const inserted = li < 0;
    if (inserted) li = l.insert(ticks);
    let s = this.freeHead;
    if (s >= 0) this.freeHead = this.oNext[s]!;
    else s = this.used++;
    this.oId[s] = id;
    this.oTicks[s] = ticks;
    this.oLots[s] = lots;
    this.oSide[s] = side;
    const h = l.head[li]!;
    this.oPrev[s] = -1;
    this.oNext[s] = h;
    if (h >= 0) this.oPrev[h] = s;
    l.head[li] = s;
    l.total[li] = l.total[li]! + lots;
    l.known[li] = l.known[li]! + lots;
    this.mapInsert(id + 1, s);
    this.view[Mbo.orderCount] = this.size;
    this.settle(side, li, inserted);
  }

  /** mbo_book.cc settle: level li changed; dropped at 0, the view refreshed when the top or the count changed. */
  private settle(side: number, li: number, inserted: boolean): void {
    const l = this.sides[side]!;
    const top = li + 1 === l.count;
    if (l.total[li] === 0) {
      l.erase(li, 1);
      this.refresh(side);
    } else if (top || inserted) {
      this.refresh(side);
    }
  }

  /** Takes up to `lots` from known order slot s (all of it when lots is Infinity); removes it at 0. */
  private takeKnown(s: number, lots: number): void {
    const side = this.oSide[s]!;
    const l = this.sides[side]!;
    const li = l.find(this.oTicks[s]!);
    const have = this.oLots[s]!;
    const take = lots < have ? lots : have;
    l.total[li] = l.total[li]! - take;
    l.known[li] = l.known[li]! - take;
    if (take === have) {
      const p = this.oPrev[s]!;
      const nx = this.oNext[s]!;
      if (p >= 0) this.oNext[p] = nx;
      else l.head[li] = nx;
      if (nx >= 0) this.oPrev[nx] = p;
      this.mapErase(this.oId[s]! + 1);
      this.oNext[s] = this.freeHead;
      this.freeHead = s;
      this.view[Mbo.orderCount] = this.size;
    } else {
      this.oLots[s] = have - take;
    }
    this.settle(side, li, false);
  }

  /** An event for an order id the book does not hold: the level's anonymous quantity is reduced. */
  private takeUnknown(side: number, ticks: number, lots: number): void {
    this.view[Mbo.unknownOrders]!++;
    const l = this.sides[side]!;
    const li = l.find(ticks);
    if (li < 0) return;
    const anon = l.total[li]! - l.known[li]!;
    const take = lots < anon ? lots : anon;
    l.total[li] = l.total[li]! - take;
    this.settle(side, li, false);
  }

  private setLevel(side: number, ticks: number, lots: number): void {
    const l = this.sides[side]!;
    let li = l.find(ticks);
    const inserted = li < 0;
    if (inserted) {
      if (lots === 0) return;
      li = l.insert(ticks);
    }
    const known = l.known[li]!;
    l.total[li] = lots > known ? lots : known;
    this.settle(side, li, inserted);
  }

  private trim(side: number, keep: number): void {
    const l = this.sides[side]!;
    const k = l.count - keep;
    if (k <= 0) return;
    for (let i = 0; i < k; i++) {
      for (let s = l.head[i]!; s >= 0; ) {
        const nx = this.oNext[s]!;
        this.mapErase(this.oId[s]! + 1);
        this.oNext[s] = this.freeHead;
        this.freeHead = s;
        this.view[Mbo.forgottenOrders]!++;
        s = nx;
      }
    }
    l.erase(0, k);
    this.view[Mbo.orderCount] = this.size;
    this.refresh(side);
  }

  clear(): void {
    this.keys.fill(0);
    this.size = 0;
    this.freeHead = -1;
    this.used = 0;
    this.sides[0].count = 0;
    this.sides[1].count = 0;
    this.view[Mbo.orderCount] = 0;
    this.refresh(0);
    this.refresh(1);
  }

  // ---- validation and dispatch ----
  private isId(v: number): boolean {
    return v >= 0 && v <= kMax && Math.floor(v) === v;
  }

  private reason(r: number, i: number): number {
    this.view[Mbo.errorReason] = r;
    return -i - 1;
  }

  /**
   * Applies event i of e (its doubles at i * kEventStride); 1 when applied, else -(i + 1)
   * with view[Mbo.errorReason] saying which check failed (nothing changed).
   */
  private one(e: Float64Array, i: number): number {
    const o = i * kEventStride;
    const op = e[o + EventField.op]!;
    if (op === EventOp.hiddenExecute || op === EventOp.cross || op === EventOp.halt) return 1;
    if (op === EventOp.clear) {
      this.clear();
      return 1;
    }
    if (!(op >= EventOp.add && op <= EventOp.clear && Math.floor(op) === op)) return this.reason(MboReason.op, i);
    const side = e[o + EventField.side]!;
    if (!(side === 0 || side === 1)) return this.reason(MboReason.side, i);
    const size = e[o + EventField.size]!;
    if (!(size >= 0 && size <= kMax && Math.floor(size) === size)) return this.reason(MboReason.size, i);
    if (op === EventOp.trim) {
      this.trim(side, size);
      return 1;
    }
    // + 0 turns a price of -0 into 0, as the native core's int64 does (else the level would read back as -0 here only).
    const ticks = e[o + EventField.price]! + 0;
    if (!(ticks >= this.minTicks && ticks <= kMax && Math.floor(ticks) === ticks)) return this.reason(MboReason.price, i);
    if (op === EventOp.level) {
      this.setLevel(side, ticks, size);
      return 1;
    }
    const id = e[o + EventField.orderId]!;
    if (!this.isId(id)) return this.reason(MboReason.orderId, i);
    const s = this.findOrder(id);
    if (op === EventOp.add) {
      if (size === 0) return this.reason(MboReason.size, i);
      if (s >= 0) return this.reason(MboReason.duplicate, i);
      if (!this.fits(side, ticks, size)) return this.reason(MboReason.overflow, i);
      this.reserveOne();
      this.addOrder(id, side, ticks, size);
      return 1;
    }
    if (op === EventOp.replace) {
      const nid = e[o + EventField.newOrderId]!;
      if (!this.isId(nid)) return this.reason(MboReason.newOrderId, i);
      if (size === 0) return this.reason(MboReason.size, i);
      if (nid !== id && this.findOrder(nid) >= 0) return this.reason(MboReason.duplicateNew, i);
      const to = s >= 0 ? this.oSide[s]! : side;
      if (!this.fits(to, ticks, size)) return this.reason(MboReason.overflow, i);
      this.reserveOne();
      if (s >= 0) this.takeKnown(s, Number.POSITIVE_INFINITY);
      else this.view[Mbo.unknownOrders]!++;
      this.addOrder(nid, to, ticks, size);
      return 1;
    }
    // reduce, delete, execute
    if (s >= 0) this.takeKnown(s, op === EventOp.delete ? Number.POSITIVE_INFINITY : size);
    else this.takeUnknown(side, ticks, size);
    return 1;
  }

  /** Whether adding `lots` at (side, ticks) keeps the level total within 2^53 - 1. */
  private fits(side: number, ticks: number, lots: number): boolean {
    const l = this.sides[side]!;
    const li = l.find(ticks);
    return li < 0 || l.total[li]! + lots <= kMax;
  }

  apply(events: Float64Array, from: number, to: number): number {
    for (let i = from; i < to; i++) {
      const r = this.one(events, i);
      if (r < 0) return r;
    }
    return to;
  }

  /** The event in the view's event slot (Mbo.event): 1, or -1 with the reason in the view. */
  applyOne(): number {
    return this.one(this.argEvent, 0);
  }

  /** The view's event slot as an event array of its own. */
  private readonly argEvent = this.view.subarray(Mbo.event, Mbo.event + kEventStride);

  query(): boolean {
    const id = this.view[Mbo.event + EventField.orderId]!;
    const s = this.isId(id) ? this.findOrder(id) : -1;
    if (s < 0) return false;
    this.view[Mbo.querySide] = this.oSide[s]!;
    this.view[Mbo.queryTicks] = this.oTicks[s]!;
    this.view[Mbo.queryLots] = this.oLots[s]!;
    return true;
  }

  levels(side: number, n: number, out: Float64Array, units: number): number {
    const l = this.sides[side]!;
    const stride = units === 0 ? 2 : 3;
    const m = Math.min(n, l.count, Math.floor(out.length / stride));
    for (let j = 0; j < m; j++) {
      const k = l.count - 1 - j;
      const o = stride * j;
      if (units === 0) {
        out[o] = this.tick.toValue(l.ticks[k]!);
        out[o + 1] = this.lot.toValue(l.total[k]!);
      } else {
        out[o] = l.ticks[k]!;
        out[o + 1] = l.total[k]!;
        out[o + 2] = 0;
      }
    }
    return m;
  }

  /** cpp/orderbook/mbo_book.cc replay_lobster, step for step (addon-types.ts MboNative.replayLobster). */
  replayLobster(events: Float64Array, rows: Float64Array, count: number, cols: number, depth: number, extraStart: Uint32Array, summary: Float64Array): Float64Array {
    const extras = new EventList(Math.max(64, count));
    let mismatches = 0;
    let refills = 0;
    let kept = 0;
    let status = count;
    summary.fill(Number.NaN, 0, kReplaySummary);
    if (count > 0) extraStart[0] = 0;
    for (let k = 1; k < count; k++) {
      const from = extras.count;
      extraStart[k] = from;
      const r = this.apply(events, k, k + 1);
      if (r < 0) {
        status = r;
        extraStart.fill(from, k + 1, count + 1);
        break;
      }
      const time = events[k * kEventStride + EventField.time]!;
      const aux = k + 1;
      for (let side = 0; side < 2; side++) {
        const l = this.sides[side]!;
        const m = l.count;
        const row = k * cols + (side === 0 ? 2 : 0);
        // The book's level j (best first) is index m - 1 - j; refills append beyond the last one.
        let bad = depth;
        for (let j = 0; j < depth; j++) {
          const pt = rows[row + 4 * j]!;
          const qt = rows[row + 4 * j + 1]!;
          const theirs = qt > 0;
          if (j >= m) {
            if (!theirs) break;
            extras.push(EventOp.level, time, side, pt, qt, aux);
            refills++;
            continue;
          }
          if (!theirs || l.ticks[m - 1 - j] !== pt || l.total[m - 1 - j] !== qt) {
            bad = j;
            break;
          }
        }
        if (bad < depth) {
          mismatches++;
          if (kept < 10) {
            const f = 4 + kept * kMismatchStride;
            const ours = bad < m;
            const qt = rows[row + 4 * bad + 1]!;
            summary[f] = k + 1;
            summary[f + 1] = side;
            summary[f + 2] = bad + 1;
            summary[f + 3] = ours ? l.ticks[m - 1 - bad]! : Number.NaN;
            summary[f + 4] = ours ? l.total[m - 1 - bad]! : Number.NaN;
            summary[f + 5] = qt > 0 ? rows[row + 4 * bad]! : Number.NaN;
            summary[f + 6] = qt > 0 ? qt : Number.NaN;
            kept++;
          }
          extras.push(EventOp.trim, time, side, 0, 0, aux);
          for (let j = 0; j < depth; j++) {
            if (rows[row + 4 * j + 1]! > 0) extras.push(EventOp.level, time, side, rows[row + 4 * j]!, rows[row + 4 * j + 1]!, aux);
          }
        } else if (m > depth) {
          extras.push(EventOp.trim, time, side, 0, depth, aux);
        }
      }
      if (extras.count > from && this.apply(extras.data, from, extras.count) < 0) {
        // A row's own numbers refused as an event (a price off the grid): reported as the message's.
        status = -k - 1;
        extraStart.fill(extras.count, k + 1, count + 1);
        break;
      }
    }
    if (count > 0 && status >= 0) extraStart[count] = extras.count;
    summary[0] = status;
    summary[1] = mismatches;
    summary[2] = refills;
    summary[3] = kept;
    return extras.data.slice(0, extras.count * kEventStride);
  }
}
