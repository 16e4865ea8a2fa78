import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { MboBook } from '../lib/index.js';
import { EventOp, kEventStride } from '../lib/pipeline/events.js';

const expectedBackend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';
/** The backends this project can run: both under native, only ts under ts. */
const backends: ('ts' | 'native')[] = cpuAddon !== null ? ['ts', 'native'] : ['ts'];

type Ev = [op: number, id: number, side: number, ticks: number, lots: number, newId?: number];
/** Events in the lib/pipeline/events.ts layout. */
function events(...list: Ev[]): Float64Array {
  const out = new Float64Array(list.length * kEventStride);
  list.forEach(([op, id, side, ticks, lots, newId = 0], i) => out.set([op, i, id, side, ticks, lots, newId, 0], i * kEventStride));
  return out;
}
const { add, reduce, delete: del, execute, hiddenExecute, cross, halt, replace, level, trim, clear } = EventOp;

/** Depth in ticks and lots: [[ticks, lots], ...] per side, best first. */
function unitDepth(book: MboBook, n = 50): { bids: number[][]; asks: number[][] } {
  const out = new Float64Array(3 * n);
  const side = (s: 0 | 1): number[][] => {
    const m = book.unitLevels(s, n, out);
    return Array.from({ length: m }, (_, j) => [out[3 * j]!, out[3 * j + 1]!]);
  };
  return { bids: side(0), asks: side(1) };
}

describe('MboBook backend choice', () => {
  it('defaults to the backend this suite runs under', () => {
    expect(new MboBook({ symbol: 'X', tickSize: 0.01 }).backend).toBe(expectedBackend);
    expect(new MboBook({ symbol: 'X', tickSize: 0.01, backend: 'ts' }).backend).toBe('ts');
  });
  it('refuses unknown and bad options naming them', () => {
    expect(() => new MboBook({ symbol: 'X', tickSize: 0.01, lotsize: 1 } as never)).toThrow("unknown option 'lotsize' for MboBook; did you mean 'lotSize'?");
    expect(() => new MboBook({ symbol: 'X', tickSize: 0.01, expectedOrders: 0 })).toThrow(/options\.expectedOrders/);
    expect(() => new MboBook({ symbol: '', tickSize: 0.01 })).toThrow(/symbol/);
    expect(() => new MboBook({ symbol: 'X', tickSize: -1 })).toThrow(/tickSize/);
    expect(() => new MboBook(undefined as never)).toThrow(TypeError);
  });
});

describe.each(backends)('MboBook (%s core)', (backend) => {
  const make = (extra: Partial<ConstructorParameters<typeof MboBook>[0]> = {}): MboBook =>
    new MboBook({ symbol: 'AAPL', tickSize: 0.0001, backend, ...extra });

  it('apply refuses a detached batch with the same error on both cores, and a count of -0 applies 0', () => {
    const b = make();
    const events = new Float64Array(kEventStride * 2);
    structuredClone(events.buffer, { transfer: [events.buffer] });
    for (const count of [undefined, 0]) {
      expect(() => b.apply(events, count)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('buffer is detached') }));
    }
    expect(Object.is(b.apply(new Float64Array(kEventStride), -0), 0)).toBe(true);
  });

  it('adds, executes, reduces, deletes and replaces by order id, with L2 reads', () => {
    const b = make();
    expect(Array.from(b.top)).toEqual([NaN, NaN, NaN, NaN]);
    b.add(1, 'buy', 585.33, 18);
    b.add(2, 'sell', 585.91, 100);
    b.add(3, 'buy', 585.33, 2);
    b.add(4, 'buy', 585.3, 50);
    expect(Array.from(b.top)).toEqual([585.33, 20, 585.91, 100]);
    expect(b.orderCount).toBe(4);
    expect(b.bidLevels).toBe(2);
    expect(b.askLevels).toBe(1);
    expect(b.spread()).toBeCloseTo(0.58, 10);
    expect(b.midPrice()).toBeCloseTo(585.62, 10);
    expect(b.execute(2, 40)).toBe(true);
    expect(b.order(2)).toEqual({ side: 'sell', price: 585.91, size: 60 });
    expect(b.reduce(1, 8)).toBe(true);
    expect(b.order(1)).toEqual({ side: 'buy', price: 585.33, size: 10 });
    expect(b.bestBidSize()).toBe(12);
    expect(b.delete(3)).toBe(true);
    expect(b.order(3)).toBeUndefined();
    expect(b.replace(1, 7, 585.35, 5)).toBe(true);
    expect(b.order(1)).toBeUndefined();
    expect(b.order(7)).toEqual({ side: 'buy', price: 585.35, size: 5 });
    expect(b.depth(5)).toEqual({ bids: new Float64Array([585.35, 5, 585.3, 50]), asks: new Float64Array([585.91, 60]) });
    // an execution that takes the whole order removes it and its level
    expect(b.execute(2, 60)).toBe(true);
    expect(b.order(2)).toBeUndefined();
    expect(b.askLevels).toBe(0);
    expect(b.bestAskPrice()).toBeNaN();
    // more than the order has takes what it has
    expect(b.reduce(4, 1000)).toBe(true);
    expect(b.order(4)).toBeUndefined();
    expect(b.orderCount).toBe(1);
    // unknown ids: false, nothing changes
    expect(b.reduce(99, 1)).toBe(false);
    expect(b.execute(99, 1)).toBe(false);
    expect(b.delete(99)).toBe(false);
    expect(b.replace(99, 100, 1, 1)).toBe(false);
    expect(b.orderCount).toBe(1);
    expect(b.stats).toEqual({ unknownOrders: 0, forgottenOrders: 0 });
  });

  it('applies a batch in the events.ts layout and returns the count', () => {
    const b = make();
    const e = events([add, 1, 0, 5853300, 18], [add, 2, 1, 5859100, 18], [execute, 2, 1, 5859100, 8], [reduce, 1, 0, 5853300, 3]);
    expect(b.apply(e)).toBe(4);
    expect(unitDepth(b)).toEqual({ bids: [[5853300, 15]], asks: [[5859100, 10]] });
    // count and from pick a window
    const b2 = make();
    expect(b2.apply(e, 2)).toBe(2);
    expect(b2.orderCount).toBe(2);
    expect(b2.apply(e, 4, 2)).toBe(2);
    expect(unitDepth(b2)).toEqual(unitDepth(b));
    expect(b2.apply(e, 4, 4)).toBe(0);
  });

  it('acts on the level at (side, price) for unknown order ids and counts them', () => {
    const b = make();
    b.apply(events([level, 0, 0, 100, 50], [add, 1, 0, 100, 10]));
    expect(unitDepth(b).bids).toEqual([[100, 60]]);
    // unknown id 9: takes from the 50 anonymous lots only
    b.apply(events([execute, 9, 0, 100, 20]));
    expect(unitDepth(b).bids).toEqual([[100, 40]]);
    b.apply(events(delete_(9, 0, 100, 100)));
    // never below what known order 1 holds
    expect(unitDepth(b).bids).toEqual([[100, 10]]);
    b.apply(events([reduce, 8, 0, 100, 5], delete_(8, 1, 200, 5)));
    expect(unitDepth(b).bids).toEqual([[100, 10]]);
    expect(b.stats.unknownOrders).toBe(4);
    // the last known lots go with the order
    b.delete(1);
    expect(b.bidLevels).toBe(0);
    // an unknown replace adds the new order on the event's side
    b.apply(events([replace, 50, 1, 300, 7, 51]));
    expect(b.order(51)).toEqual({ side: 'sell', price: 0.03, size: 7 });
    expect(b.stats.unknownOrders).toBe(5);
  });

  it('level sets totals (anonymous = total - known, never below known); 0 removes an order-less level', () => {
    const b = make();
    b.apply(events([add, 1, 1, 500, 30], [level, 0, 1, 500, 100], [level, 0, 1, 501, 5]));
    expect(unitDepth(b).asks).toEqual([[500, 100], [501, 5]]);
    b.apply(events([level, 0, 1, 500, 10]));
    expect(unitDepth(b).asks).toEqual([[500, 30], [501, 5]]);
    b.apply(events([level, 0, 1, 501, 0], [level, 0, 1, 502, 0]));
    expect(unitDepth(b).asks).toEqual([[500, 30]]);
    b.apply(events([level, 0, 1, 500, 0]));
    expect(unitDepth(b).asks).toEqual([[500, 30]]);
    expect(b.order(1)).toEqual({ side: 'sell', price: 0.05, size: 30 });
  });

  it('trim keeps the best N levels of a side and forgets the orders on the rest', () => {
    const b = make();
    b.apply(events([add, 1, 0, 100, 1], [add, 2, 0, 99, 2], [add, 3, 0, 98, 3], [add, 4, 0, 98, 4], [level, 0, 0, 97, 9], [add, 5, 1, 110, 1]));
    b.apply(events([trim, 0, 0, 0, 2]));
    expect(unitDepth(b)).toEqual({ bids: [[100, 1], [99, 2]], asks: [[110, 1]] });
    expect(b.order(3)).toBeUndefined();
    expect(b.order(4)).toBeUndefined();
    expect(b.orderCount).toBe(3);
    expect(b.stats.forgottenOrders).toBe(2);
    // a forgotten order is unknown from then on
    b.apply(events(delete_(3, 0, 98, 3)));
    expect(b.stats.unknownOrders).toBe(1);
    // trim of more levels than there are changes nothing
    b.apply(events([trim, 0, 1, 0, 10]));
    expect(b.askLevels).toBe(1);
    b.apply(events([trim, 0, 1, 0, 0]));
    expect(b.askLevels).toBe(0);
    expect(b.order(5)).toBeUndefined();
  });

  it('hiddenExecute, cross and halt change nothing; clear empties the book and keeps the stats', () => {
    const b = make();
    b.apply(events([add, 1, 0, 100, 1], [execute, 7, 0, 100, 1]));
    const before = unitDepth(b);
    b.apply(events([hiddenExecute, 0, 0, 100, 5], [cross, 0, 1, 100, 5], [halt, 0, 1, -1, 0], [hiddenExecute, Number.NaN, 7, Number.NaN, -3]));
    expect(unitDepth(b)).toEqual(before);
    b.apply(events([clear, 0, 0, 0, 0]));
    expect(b.orderCount).toBe(0);
    expect(b.bidLevels).toBe(0);
    expect(b.order(1)).toBeUndefined();
    expect(b.stats.unknownOrders).toBe(1);
    b.add(1, 'buy', 0.01, 1);
    b.clear();
    expect(Array.from(b.top)).toEqual([NaN, NaN, NaN, NaN]);
    // ids are free again after clear
    b.add(1, 'sell', 0.01, 1);
    expect(b.orderCount).toBe(1);
  });

  it('refuses a malformed event naming events[k], the field and the value; earlier events stay applied', () => {
    const cases: [Ev, number, RegExp, string][] = [
      [[0, 1, 0, 100, 1], 0, /EventOp code/, 'ERR_OUT_OF_RANGE'],
      [[12, 1, 0, 100, 1], 0, /EventOp code/, 'ERR_OUT_OF_RANGE'],
      [[1.5, 1, 0, 100, 1], 0, /EventOp code/, 'ERR_OUT_OF_RANGE'],
      [[Number.NaN, 1, 0, 100, 1], 0, /EventOp code.*NaN/, 'ERR_OUT_OF_RANGE'],
      [[add, 1, 2, 100, 1], 3, /side of 0 \(buy\) or 1 \(sell\)/, 'ERR_OUT_OF_RANGE'],
      [[add, 1, 0, -1, 1], 4, /price.*-1/, 'ERR_OUT_OF_RANGE'],
      [[add, 1, 0, 100.5, 1], 4, /integer count of ticks/, 'ERR_OUT_OF_RANGE'],
      [[add, 1, 0, Number.NaN, 1], 4, /ticks.*NaN/, 'ERR_OUT_OF_RANGE'],
      [[add, 1, 0, 100, -1], 5, /count of lots >= 0/, 'ERR_OUT_OF_RANGE'],
      [[add, 1, 0, 100, 0], 5, /> 0 for add/, 'ERR_OUT_OF_RANGE'],
      [[reduce, 1, 0, 100, 0.5], 5, /lots/, 'ERR_OUT_OF_RANGE'],
      [[level, 0, 0, 100, Number.NaN], 5, /lots.*NaN/, 'ERR_OUT_OF_RANGE'],
      [[add, -1, 0, 100, 1], 2, /order id/, 'ERR_OUT_OF_RANGE'],
      [[add, 2 ** 53, 0, 100, 1], 2, /order id.*9007199254740992/, 'ERR_OUT_OF_RANGE'],
      [delete_(1.5, 0, 100, 1), 2, /order id/, 'ERR_OUT_OF_RANGE'],
      [[replace, 7, 0, 100, 1, -2], 6, /new order id/, 'ERR_OUT_OF_RANGE'],
      [[add, 7, 0, 100, 1], 2, /does not hold \(add of a live order id\).*received 7/, 'ERR_INVALID_ARG_VALUE'],
      [[replace, 8, 0, 100, 1, 7], 6, /does not hold \(replace to a live order id\)/, 'ERR_INVALID_ARG_VALUE'],
      [[trim, 0, 0, 0, -1], 5, /lots/, 'ERR_OUT_OF_RANGE'],
      [[add, 9, 0, 2 ** 53, 1], 4, /ticks/, 'ERR_OUT_OF_RANGE'],
    ];
    for (const [bad, field, message, code] of cases) {
      const b = make();
      const e = events([add, 7, 0, 100, 3], [add, 8, 1, 101, 4], bad, [add, 9, 0, 99, 1]);
      let err: (Error & { code?: string }) | undefined;
      try {
        b.apply(e);
      } catch (x) {
        err = x as Error & { code?: string };
      }
      expect(err, `event ${JSON.stringify(bad)}`).toBeDefined();
      expect(err!.message).toMatch(new RegExp(`for events\\[${2 * kEventStride + field}\\]`));
      expect(err!.message).toMatch(message);
      expect(err!.code).toBe(code);
      expect(err).toBeInstanceOf(code === 'ERR_INVALID_ARG_VALUE' ? TypeError : RangeError);
      // the two events before it are applied, the one after is not, and the book still works
      expect(unitDepth(b)).toEqual({ bids: [[100, 3]], asks: [[101, 4]] });
      expect(b.orderCount).toBe(2);
      expect(b.apply(e, 4, 3)).toBe(1);
      expect(b.orderCount).toBe(3);
    }
  });

  it('refuses negative prices unless allowNegativePrices, and bad apply arguments', () => {
    const neg = make({ allowNegativePrices: true });
    neg.apply(events([add, 1, 0, -5, 1]));
    expect(neg.bestBidPrice()).toBe(-0.0005);
    neg.add(2, 'sell', -0.0001, 2);
    expect(neg.order(2)).toEqual({ side: 'sell', price: -0.0001, size: 2 });
    const b = make();
    expect(() => b.add(1, 'buy', -0.0001, 1)).toThrow(/price >= 0 \(negative prices need allowNegativePrices: true\)/);
    expect(() => b.apply([1, 2] as never)).toThrow(/Expected a Float64Array of events/);
    expect(() => b.apply(new Float64Array(16), 3)).toThrow(/Expected an integer from 0 to 2 .* for count but received 3/);
    expect(() => b.apply(new Float64Array(16), 2, 3)).toThrow(/for from but received 3/);
    expect(() => b.apply(new Float64Array(16), 1.5)).toThrow(RangeError);
  });

  it('refuses bad single-event arguments naming them', () => {
    const b = make({ lotSize: 100 });
    b.add(1, 'buy', 1, 200);
    expect(b.order(1)).toEqual({ side: 'buy', price: 1, size: 200 });
    expect(() => b.add(1, 'buy', 1, 100)).toThrow(/for orderId but received 1/);
    expect(() => b.add(2, 'buy', 1, 150)).toThrow(/size/);
    expect(() => b.add(2, 'buy', 1.00001, 100)).toThrow(/price on the 0.0001 tick grid for price/);
    expect(() => b.add(2, 'up' as never, 1, 100)).toThrow(/'buy' or 'sell' for side/);
    expect(() => b.add(2, 'buy', 1, 0)).toThrow(/positive/);
    expect(() => b.add(-1, 'buy', 1, 100)).toThrow(/for orderId but received -1/);
    expect(() => b.add('2' as never, 'buy', 1, 100)).toThrow(TypeError);
    expect(() => b.reduce(1, -100)).toThrow(/size/);
    expect(() => b.order(1.5)).toThrow(/orderId/);
    b.add(2, 'buy', 1, 100);
    expect(() => b.replace(1, 2, 1, 100)).toThrow(/for newOrderId but received 2/);
    expect(b.order(1)).toEqual({ side: 'buy', price: 1, size: 200 });
    expect(() => b.unitLevels(2 as never, 1, new Float64Array(3))).toThrow(/side/);
    // lots on a 100-share lot grid: the event's size is in lots
    expect(unitDepth(b).bids).toEqual([[10000, 3]]);
    expect(b.depth(1).bids).toEqual(new Float64Array([1, 300]));
  });

  it('grows past expectedOrders and many levels', () => {
    const b = make({ expectedOrders: 1 });
    const n = 5000;
    const list: Ev[] = [];
    for (let i = 0; i < n; i++) list.push([add, i + 1, i & 1, i & 1 ? 20000 + i : 10000 - i, 1 + (i % 7)]);
    expect(b.apply(events(...list))).toBe(n);
    expect(b.orderCount).toBe(n);
    expect(b.bidLevels + b.askLevels).toBe(n);
    for (let i = 0; i < n; i += 2) b.delete(i + 1);
    expect(b.orderCount).toBe(n / 2);
    expect(b.order(2)).toEqual({ side: 'sell', price: 2.0001, size: 2 });
  });
});

/** delete event helper (delete is a keyword). */
function delete_(id: number, side: number, ticks: number, lots: number): Ev {
  return [del, id, side, ticks, lots];
}

// ---- differential ----

/** A plain-Map model of the events.ts semantics, written for clarity, not speed. */
class MboModel {
  orders = new Map<number, { side: number; ticks: number; lots: number }>();
  levels = [new Map<number, { total: number; known: number }>(), new Map<number, { total: number; known: number }>()];
  unknown = 0;
  forgotten = 0;
  apply(e: Ev): void {
    const [op, id, side, ticks, lots, newId = 0] = e;
    const lv = (s: number, t: number): { total: number; known: number } => {
      let l = this.levels[s]!.get(t);
      if (l === undefined) this.levels[s]!.set(t, (l = { total: 0, known: 0 }));
      return l;
    };
    const drop = (s: number, t: number): void => {
      if (this.levels[s]!.get(t)?.total === 0) this.levels[s]!.delete(t);
    };
    const take = (oid: number, q: number): void => {
      const o = this.orders.get(oid)!;
      const k = Math.min(q, o.lots);
      const l = lv(o.side, o.ticks);
      l.total -= k;
      l.known -= k;
      o.lots -= k;
      if (o.lots === 0) this.orders.delete(oid);
      drop(o.side, o.ticks);
    };
    if (op === add) {
      const l = lv(side, ticks);
      l.total += lots;
      l.known += lots;
      this.orders.set(id, { side, ticks, lots });
    } else if (op === reduce || op === execute || op === del) {
      if (this.orders.has(id)) take(id, op === del ? Infinity : lots);
      else {
        this.unknown++;
        const l = this.levels[side]!.get(ticks);
        if (l !== undefined) {
          l.total -= Math.min(lots, l.total - l.known);
          drop(side, ticks);
        }
      }
    } else if (op === replace) {
      let s = side;
      if (this.orders.has(id)) {
        s = this.orders.get(id)!.side;
        take(id, Infinity);
      } else this.unknown++;
      this.apply([add, newId, s, ticks, lots]);
    } else if (op === level) {
      const l = this.levels[side]!.get(ticks);
      if (l === undefined) {
        if (lots > 0) this.levels[side]!.set(ticks, { total: lots, known: 0 });
      } else {
        l.total = Math.max(lots, l.known);
        drop(side, ticks);
      }
    } else if (op === trim) {
      const keys = [...this.levels[side]!.keys()].sort((a, b) => (side === 0 ? b - a : a - b));
      for (const t of keys.slice(lots)) {
        this.levels[side]!.delete(t);
        for (const [oid, o] of this.orders) {
          if (o.side === side && o.ticks === t) {
            this.orders.delete(oid);
            this.forgotten++;
          }
        }
      }
    } else if (op === clear) {
      this.orders.clear();
      this.levels[0]!.clear();
      this.levels[1]!.clear();
    }
  }
  depth(): { bids: number[][]; asks: number[][] } {
    const side = (s: number): number[][] =>
      [...this.levels[s]!.entries()].sort((a, b) => (s === 0 ? b[0] - a[0] : a[0] - b[0])).map(([t, l]) => [t, l.total]);
    return { bids: side(0), asks: side(1) };
  }
}

/** Random streams that mostly stay valid: ids reused from live ones, prices near 100. */
const evArb: fc.Arbitrary<[number, number, number, number, number, number]> = fc.tuple(
  fc.constantFrom(add, add, add, add, reduce, execute, del, del, replace, level, level, trim, hiddenExecute, cross, halt, clear),
  fc.integer({ min: 1, max: 60 }),
  fc.constantFrom(0, 1),
  fc.integer({ min: 90, max: 110 }),
  fc.integer({ min: 0, max: 30 }),
  fc.integer({ min: 1, max: 60 }),
);

/** A random tuple made valid against the model's state: no duplicate adds, sizes > 0 where required, trims to `keep`. */
function validEvent(model: MboModel, [op0, id, side, ticks, lots0, nid]: [number, number, number, number, number, number], keep: number): Ev {
  let op = op0;
  let lots = lots0;
  if ((op === add || op === replace) && lots === 0) lots = 1;
  if (op === add && model.orders.has(id)) op = reduce;
  if (op === replace && nid !== id && model.orders.has(nid)) op = execute;
  if (op === trim) lots = keep;
  return [op, id, side, ticks, lots, nid];
}

describe('MboBook differential: every backend against a Map model after every event', () => {
  it('gives the same depth, orders, orderCount and stats', () => {
    fc.assert(
      fc.property(fc.array(evArb, { minLength: 50, maxLength: 400 }), fc.integer({ min: 0, max: 5 }), (raw, trimTo) => {
        const model = new MboModel();
        const books = backends.map((backend) => new MboBook({ symbol: 'X', tickSize: 1, backend, expectedOrders: 4 }));
        for (const r of raw) {
          const e = validEvent(model, r, trimTo);
          model.apply(e);
          for (const b of books) expect(b.apply(events(e))).toBe(1);
          const want = model.depth();
          for (const b of books) {
            expect(unitDepth(b, 100)).toEqual(want);
            expect(b.orderCount).toBe(model.orders.size);
            expect(b.stats).toEqual({ unknownOrders: model.unknown, forgottenOrders: model.forgotten });
          }
        }
        for (const b of books) {
          for (let id = 1; id <= 60; id++) {
            const o = model.orders.get(id);
            expect(b.order(id)).toEqual(o === undefined ? undefined : { side: o.side === 0 ? 'buy' : 'sell', price: o.ticks, size: o.lots });
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('applies a whole random batch the same on every backend', () => {
    fc.assert(
      fc.property(fc.array(evArb, { minLength: 100, maxLength: 2000 }), (raw) => {
        const model = new MboModel();
        const list: Ev[] = [];
        for (const r of raw) {
          const e = validEvent(model, r, r[4] % 4);
          model.apply(e);
          list.push(e);
        }
        const batch = events(...list);
        for (const backend of backends) {
          const b = new MboBook({ symbol: 'X', tickSize: 1, backend });
          expect(b.apply(batch)).toBe(list.length);
          expect(unitDepth(b, 100)).toEqual(model.depth());
          expect(b.orderCount).toBe(model.orders.size);
          expect(b.stats).toEqual({ unknownOrders: model.unknown, forgottenOrders: model.forgotten });
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('MboBook differential on malformed streams: both cores refuse the same event the same way and keep the same book', () => {
  /** Values a feed bug or an attacker might put in any field. */
  const weird = [Number.NaN, Infinity, -Infinity, -1, 0.5, -0, 2 ** 53, 2 ** 53 - 1, 2 ** 53 + 2, 1e300, -(2 ** 53 - 1), 2 ** 64];
  const field = (normal: fc.Arbitrary<number>): fc.Arbitrary<number> => fc.oneof({ arbitrary: normal, weight: 19 }, { arbitrary: fc.constantFrom(...weird), weight: 1 });
  const bigIds = 2 ** 53 - 1 - 40;
  const eventArb = (ids: number): fc.Arbitrary<number[]> =>
    fc.tuple(
      field(fc.integer({ min: 1, max: 11 })),
      field(fc.integer({ min: ids, max: ids + 40 })),
      field(fc.integer({ min: 0, max: 1 })),
      field(fc.integer({ min: -20, max: 40 })),
      field(fc.integer({ min: 0, max: 30 })),
      field(fc.integer({ min: ids, max: ids + 40 })),
    );
  const outcome = (book: MboBook, e: Float64Array): string => {
    try {
      return String(book.apply(e));
    } catch (err) {
      return `${(err as Error & { code?: string }).code}: ${(err as Error).message}`;
    }
  };

  it.runIf(backends.length === 2)('agrees after every event, ids near 0 and near 2^53, with and without negative prices', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), (negative, big) => {
        const ids = big ? bigIds : 0;
        return fc.assert(
          fc.property(fc.array(eventArb(ids), { minLength: 50, maxLength: 300 }), (list) => {
            const books = backends.map((backend) => new MboBook({ symbol: 'X', tickSize: 1, backend, expectedOrders: 4, allowNegativePrices: negative }));
            for (const [op, id, side, ticks, lots, newId] of list) {
              const e = new Float64Array([op!, 0, id!, side!, ticks!, lots!, newId!, 0]);
              const [a, b] = books.map((book) => outcome(book, e));
              expect(b).toBe(a);
              expect(unitDepth(books[1]!, 100)).toEqual(unitDepth(books[0]!, 100));
              expect(Array.from(books[1]!.top)).toEqual(Array.from(books[0]!.top));
              expect([books[1]!.orderCount, books[1]!.stats]).toEqual([books[0]!.orderCount, books[0]!.stats]);
            }
            for (let k = 0; k <= 40; k++) expect(books[1]!.order(ids + k)).toEqual(books[0]!.order(ids + k));
          }),
          { numRuns: 5 },
        );
      }),
      { numRuns: 8 },
    );
  });
});
