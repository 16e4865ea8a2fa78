/**
 * The L2 core both backends implement: cpp/orderbook/l2_book.cc natively (through
 * cpp/napi/orderbook.cc) and TsL2Core here, line for line the same algorithm. Arguments are
 * validated and canonical (integer ticks, sizes on the lot grid) before they get here.
 */
import type { L2Native } from '../addon-types.js';
import { Grid } from './grid.js';
import { Top } from './layout.js';

export type L2Core = Omit<L2Native, 'view'> & { readonly view: ArrayBuffer | Float64Array };

/** One side of the book: ticks and sizes sorted by key (ticks for bids, -ticks for asks), best at the back. */
export class Ladder {
  ticks: Float64Array;
  sizes: Float64Array;
  count = 0;

  constructor(readonly sign: 1 | -1) {
    this.ticks = new Float64Array(256);
    this.sizes = new Float64Array(256);
  }

  /** lower_bound on key: the first index whose key is not below `key`. */
  lowerBound(key: number): number {
    const n = this.count;
    const t = this.ticks;
    const sign = this.sign;
    if (n === 0 || sign * t[n - 1]! < key) return n;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sign * t[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insertAt(i: number, ticks: number, size: number): void {
    if (this.count === this.ticks.length) {
      const t = new Float64Array(this.count * 2);
      t.set(this.ticks);
      const s = new Float64Array(this.count * 2);
      s.set(this.sizes);
      this.ticks = t;
      this.sizes = s;
    }
    this.ticks.copyWithin(i + 1, i, this.count);
    this.sizes.copyWithin(i + 1, i, this.count);
    this.ticks[i] = ticks;
    this.sizes[i] = size;
    this.count++;
  }

  eraseAt(i: number): void {
    this.ticks.copyWithin(i, i + 1, this.count);
    this.sizes.copyWithin(i, i + 1, this.count);
    this.count--;
  }
}

export class TsL2Core implements L2Core {
  readonly view = new Float64Array(Top.doubles);
  private readonly bids = new Ladder(1);
  private readonly asks = new Ladder(-1);
  private readonly tick: Grid;
  /** undefined: sizes are free values (lotDen 0). */
  private readonly lot: Grid | undefined;
  /** applyDeltas' validated (side, ticks, size) triples: grows to the largest call, then reused. */
  private pending = new Float64Array(0);

  constructor(tickNum: number, tickDen: number, lotNum: number, lotDen: number, allowNegativePrices = true) {
    this.tick = Grid.of(tickNum, tickDen, 'price', allowNegativePrices);
    this.lot = lotDen === 0 ? undefined : Grid.of(lotNum, lotDen, 'quantity');
    this.refresh(0);
    this.refresh(1);
  }

  private refresh(side: number): void {
    const l = side === 0 ? this.bids : this.asks;
    const v = this.view;
    const n = l.count;
    if (n === 0) {
      v[2 * side] = Number.NaN;
      v[2 * side + 1] = Number.NaN;
      v[Top.bidTicks + side] = Number.NaN;
    } else {
      const t = l.ticks[n - 1]!;
      v[2 * side] = this.tick.toValue(t);
      v[2 * side + 1] = l.sizes[n - 1]!;
      v[Top.bidTicks + side] = t;
    }
    v[Top.bidLevels + side] = n;
  }

  setBid(): void {
    this.set(0, this.view[Top.argTicks]!, this.view[Top.argSize]!);
  }

  setAsk(): void {
    this.set(1, this.view[Top.argTicks]!, this.view[Top.argSize]!);
  }

  set(side: number, ticks: number, size: number): void {
    const l = side === 0 ? this.bids : this.asks;
    const i = l.lowerBound(l.sign * ticks);
    const n = l.count;
    const found = i < n && l.ticks[i] === ticks;
    const top = i + 1 >= n;
    if (size === 0) {
      if (!found) return;
      l.eraseAt(i);
    } else if (found) {
      l.sizes[i] = size;
    } else {
      l.insertAt(i, ticks, size);
    }
    if (top || !found || size === 0) this.refresh(side);
  }

  private canonicalSize(raw: number): number {
    if (!Number.isFinite(raw) || raw < 0) return Number.NaN;
    const lot = this.lot;
    if (lot === undefined) return raw;
    const lots = lot.toLots(raw);
    return lots !== lots ? Number.NaN : lot.toValue(lots);
  }

  /**
   * Reads each element of d exactly once (d may be shared memory another thread writes):
   * every triple is validated into `pending`, then what was validated is applied.
   */
  applyDeltas(d: Float64Array, n: number): number {
    if (this.pending.length < 3 * n) this.pending = new Float64Array(Math.max(3 * n, 2 * this.pending.length));
    const p = this.pending;
    for (let i = 0; i < n; i++) {
      const side = d[3 * i]!;
      const price = d[3 * i + 1]!;
      const raw = d[3 * i + 2]!;
      if (!(side === 0 || side === 1)) return -i - 1;
      const t = this.tick.toTicks(price);
      if (t !== t) return -i - 1;
      const s = this.canonicalSize(raw);
      if (s !== s) return -i - 1;
      p[3 * i] = side;
      p[3 * i + 1] = t;
      p[3 * i + 2] = s;
    }
    for (let i = 0; i < n; i++) this.set(p[3 * i]!, p[3 * i + 1]!, p[3 * i + 2]!);
    return n;
  }

  clear(): void {
    this.bids.count = 0;
    this.asks.count = 0;
    this.refresh(0);
    this.refresh(1);
  }

  levels(side: number, n: number, out: Float64Array, units: number): number {
    const l = side === 0 ? this.bids : this.asks;
    const stride = units === 0 ? 2 : 3;
    const m = Math.min(n, l.count, Math.floor(out.length / stride));
    for (let j = 0; j < m; j++) {
      const k = l.count - 1 - j;
      const o = stride * j;
      if (units === 0) {
        out[o] = this.tick.toValue(l.ticks[k]!);
        out[o + 1] = l.sizes[k]!;
      } else {
        out[o] = l.ticks[k]!;
        out[o + 1] = l.sizes[k]!;
        out[o + 2] = 0;
      }
    }
    return m;
  }
}
