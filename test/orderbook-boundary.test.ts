// Issue 12 (kinds 3, 4, 6) and issue 11 (items 3 and 6) for the order books: the raw bindings
// check every argument and throw with a code; a cancelled order says why; negative prices are
// a per-instrument option, refused by default.
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { BatchOp, MatchingEngine, OrderBook } from '../lib/index.js';
import { thrown } from './helpers/thrown.js';

/** The backends this project can run: both under native, only ts under ts. */
const backends: ('ts' | 'native')[] = cpuAddon !== null ? ['ts', 'native'] : ['ts'];

type Raw = Record<string, (...args: unknown[]) => unknown>;

function detached(length: number): Float64Array {
  const a = new Float64Array(length);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

describe.runIf(cpuAddon !== null)('raw order-book bindings: misuse is an error with a code', () => {
  const raw = cpuAddon as unknown as Raw;

  it.each([
    ['orderbookL2Create', [], TypeError, 'ERR_INVALID_ARG_TYPE', /orderbookL2Create: expected a number for tickNum \(argument 1\)/],
    ['orderbookL2Create', [1, 100, 1], TypeError, 'ERR_INVALID_ARG_TYPE', /for lotDen \(argument 4\)/],
    ['orderbookL2Create', ['1', '100', 1, 0], TypeError, 'ERR_INVALID_ARG_TYPE', /for tickNum \(argument 1\)/],
    ['orderbookL2Create', [1, Number.NaN, 1, 0], RangeError, 'ERR_OUT_OF_RANGE', /for tickDen \(argument 2\) but received NaN/],
    ['orderbookL2Create', [-1, 100, 1, 0], RangeError, 'ERR_OUT_OF_RANGE', /for tickNum \(argument 1\) but received -1/],
    ['orderbookL2Create', [1, 100, 1, 0, 'no'], TypeError, 'ERR_INVALID_ARG_TYPE', /allowNegativePrices \(argument 5\)/],
    ['orderbookEngineCreate', [1, 100, 1, 1], TypeError, 'ERR_INVALID_ARG_TYPE', /orderbookEngineCreate: expected a number for stp \(argument 5\)/],
    ['orderbookEngineCreate', [1, 100, 1, 0, 0], RangeError, 'ERR_OUT_OF_RANGE', /for lotDen \(argument 4\) but received 0/],
    ['orderbookEngineCreate', [1, 100, 1, 1, 4], RangeError, 'ERR_OUT_OF_RANGE', /from 0 to 3 for stp \(argument 5\) but received 4/],
    ['orderbookEngineCreate', [1, 100, 1, 1, 0.5], RangeError, 'ERR_OUT_OF_RANGE', /for stp \(argument 5\) but received 0.5/],
  ] as const)('%s(%j) throws instead of returning undefined or a broken book', (name, args, kind, code, message) => {
    const err = thrown(() => raw[name]!(...args));
    expect(err).toBeInstanceOf(kind);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('creates working books from valid arguments, with and without the optional flag', () => {
    for (const l2 of [cpuAddon!.orderbookL2Create(1, 100, 1, 0), cpuAddon!.orderbookL2Create(1, 100, 1, 0, false)]) {
      expect(l2.view).toBeInstanceOf(ArrayBuffer);
      expect(l2.applyDeltas(new Float64Array([0, 1, 2]), 1)).toBe(1);
    }
    const me = cpuAddon!.orderbookEngineCreate(1, 100, 1, 1, 0, true);
    expect(me.batch(new Float64Array(0), 0, null)).toBe(0);
  });

  it('applyDeltas, levels, copyFills and batch refuse wrong, detached and short arrays instead of returning 0', () => {
    const l2 = cpuAddon!.orderbookL2Create(1, 100, 1, 0) as unknown as Raw;
    const me = cpuAddon!.orderbookEngineCreate(1, 100, 1, 1, 0) as unknown as Raw;
    const cases: [() => unknown, RegExp, string][] = [
      [() => l2.applyDeltas!(new Int32Array(3), 1), /applyDeltas: expected a Float64Array for deltas \(argument 1\) but received an Int32Array/, 'ERR_INVALID_ARG_TYPE'],
      [() => l2.applyDeltas!(detached(3), 0), /applyDeltas: .*deltas \(argument 1\).*detached/, 'ERR_INVALID_ARG_TYPE'],
      [() => l2.applyDeltas!(new Float64Array(3), 2), /applyDeltas: expected an integer from 0 to 1 for count \(argument 2\) but received 2/, 'ERR_OUT_OF_RANGE'],
      [() => l2.applyDeltas!(new Float64Array(3), -1), /for count \(argument 2\) but received -1/, 'ERR_OUT_OF_RANGE'],
      [() => l2.applyDeltas!(new Float64Array(3)), /expected a number for count \(argument 2\)/, 'ERR_INVALID_ARG_TYPE'],
      [() => l2.levels!(0, 4, [0, 0, 0, 0], 0), /levels: expected a Float64Array for out \(argument 3\) but received a value that is not a TypedArray/, 'ERR_INVALID_ARG_TYPE'],
      [() => l2.levels!(0, 4, detached(8), 0), /levels: .*out \(argument 3\).*detached/, 'ERR_INVALID_ARG_TYPE'],
      [() => l2.levels!(2, 4, new Float64Array(8), 0), /levels: expected an integer from 0 to 1 for side \(argument 1\) but received 2/, 'ERR_OUT_OF_RANGE'],
      [() => l2.levels!(0, Number.NaN, new Float64Array(8), 0), /for n \(argument 2\) but received NaN/, 'ERR_OUT_OF_RANGE'],
      [() => me.levels!(0, 4, new Float64Array(8), 7), /for units \(argument 4\) but received 7/, 'ERR_OUT_OF_RANGE'],
      [() => me.copyFills!(new Uint8Array(24)), /copyFills: expected a Float64Array for out \(argument 1\) but received a Uint8Array/, 'ERR_INVALID_ARG_TYPE'],
      [() => me.copyFills!(detached(3)), /copyFills: .*out \(argument 1\).*detached/, 'ERR_INVALID_ARG_TYPE'],
      [() => me.batch!(new Float32Array(6), 1, null), /batch: expected a Float64Array for commands \(argument 1\) but received a Float32Array/, 'ERR_INVALID_ARG_TYPE'],
      [() => me.batch!(detached(6), 0, null), /batch: .*commands \(argument 1\).*detached/, 'ERR_INVALID_ARG_TYPE'],
      [() => me.batch!(new Float64Array(6), 2, null), /batch: expected an integer from 0 to 1 for count \(argument 2\) but received 2/, 'ERR_OUT_OF_RANGE'],
      [() => me.batch!(new Float64Array(6), 1, new Int32Array(8)), /batch: expected a Float64Array for fillsOut \(argument 3\)/, 'ERR_INVALID_ARG_TYPE'],
      [() => me.batch!(new Float64Array(6), 1, detached(8)), /batch: .*fillsOut \(argument 3\).*detached/, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [call, message, code] of cases) {
      const err = thrown(call);
      expect(err.message).toMatch(message);
      expect(err.code).toBe(code);
      expect(err).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
    }
    // The books are still empty and working.
    expect(new Float64Array((l2 as unknown as { view: ArrayBuffer }).view)[6]).toBe(0);
    expect(l2.applyDeltas!(new Float64Array(0), 0)).toBe(0); // a valid empty call is still 0
    expect(me.copyFills!(new Float64Array(0))).toBe(0);
  });

  it('levels into a short out writes only what fits (canaries around the view stay intact)', () => {
    const l2 = cpuAddon!.orderbookL2Create(1, 100, 1, 0);
    l2.applyDeltas(new Float64Array([0, 1, 1, 0, 0.99, 2, 0, 0.98, 3]), 3);
    const buffer = new Float64Array(16).fill(-7);
    const out = buffer.subarray(4, 9); // room for 2 pairs (5 doubles), 3 asked
    expect(l2.levels(0, 3, out, 0)).toBe(2);
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 1, 0.99, 2]);
    expect(Array.from(buffer.subarray(0, 4))).toEqual([-7, -7, -7, -7]);
    expect(Array.from(buffer.subarray(8))).toEqual(Array(8).fill(-7));
  });

  it('argument slots lib/orderbook never writes are a RangeError naming the function, with a code', () => {
    const l2 = cpuAddon!.orderbookL2Create(1, 100, 1, 0, false);
    const v = new Float64Array(l2.view);
    v[8] = -5; // negative ticks on a book made without negative prices
    v[9] = 1;
    const err = thrown(() => l2.setBid());
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
    expect(err.message).toMatch(/^setBid: the view's argument slots \(ticks, size\)/);
    expect(l2.applyDeltas(new Float64Array([0, -0.05, 1]), 1)).toBe(-1); // the core refuses it too
    const me = cpuAddon!.orderbookEngineCreate(1, 100, 1, 1, 0, false);
    const a = new Float64Array(me.view);
    const at = cpuAddon!.orderbookLayout['view.args']!;
    a.set([0, 0, -5, 1, 0, 0, 0, Number.NaN, 0], at);
    expect(() => me.submit()).toThrow(/^submit: the view's argument slots/);
    a[at + 2] = 5;
    expect(() => me.submit()).not.toThrow();
  });
});

describe.each(backends)('cancelled reports say why (%s core)', (backend) => {
  const engine = (stp: 'none' | 'cancel-taker' | 'cancel-both' = 'none'): MatchingEngine =>
    new MatchingEngine({ symbol: 'X', tickSize: 1, lotSize: 1, selfTradePrevention: stp, backend });

  it("a FOK that cannot fill completely is cancelled with cancelReason 'fok-unfillable', nothing traded", () => {
    const me = engine();
    me.submit({ side: 'sell', price: 100, quantity: 2 });
    const r = me.submit({ side: 'buy', price: 100, quantity: 3, timeInForce: 'FOK' });
    expect(r).toMatchObject({ status: 'cancelled', cancelReason: 'fok-unfillable', filledQuantity: 0, fills: [] });
    expect(r.rejectReason).toBeUndefined();
    expect(me.askLevels).toBe(1);
    // A market FOK is killed the same way.
    expect(me.submit({ side: 'buy', type: 'market', quantity: 3, timeInForce: 'FOK' })).toMatchObject({ cancelReason: 'fok-unfillable' });
    // One that can fill says nothing of a cancel.
    const ok = me.submit({ side: 'buy', price: 100, quantity: 2, timeInForce: 'FOK' });
    expect(ok.status).toBe('filled');
    expect(ok.cancelReason).toBeUndefined();
  });

  it("an IOC remainder is 'ioc-remainder', a market order's 'market-remainder'", () => {
    const me = engine();
    me.submit({ side: 'sell', price: 100, quantity: 1 });
    expect(me.submit({ side: 'buy', price: 100, quantity: 3, timeInForce: 'IOC' })).toMatchObject({
      status: 'cancelled',
      cancelReason: 'ioc-remainder',
      filledQuantity: 1,
    });
    expect(me.submit({ side: 'buy', price: 100, quantity: 1, timeInForce: 'IOC' })).toMatchObject({ cancelReason: 'ioc-remainder', filledQuantity: 0 });
    expect(me.submit({ side: 'sell', type: 'market', quantity: 1 })).toMatchObject({ status: 'cancelled', cancelReason: 'market-remainder' });
    expect(me.submit({ side: 'sell', type: 'market', quantity: 1, timeInForce: 'IOC' })).toMatchObject({ cancelReason: 'market-remainder' });
  });

  it("self-trade prevention and modify to 0 name themselves; resting, filled and rejected reports carry no cancelReason", () => {
    for (const stp of ['cancel-taker', 'cancel-both'] as const) {
      const me = engine(stp);
      me.submit({ side: 'sell', price: 100, quantity: 1, ownerId: 7 });
      expect(me.submit({ side: 'buy', price: 100, quantity: 1, ownerId: 7 })).toMatchObject({
        status: 'cancelled',
        cancelReason: 'self-trade-prevention',
      });
    }
    const me = engine();
    const resting = me.submit({ side: 'buy', price: 90, quantity: 2 });
    expect(resting.status).toBe('new');
    expect(resting.cancelReason).toBeUndefined();
    expect(me.modify(resting.orderId, { quantity: 0 })).toMatchObject({ status: 'cancelled', cancelReason: 'modified-to-zero' });
    me.submit({ side: 'sell', price: 100, quantity: 1 });
    const rejected = me.submit({ side: 'buy', price: 100, quantity: 1, postOnly: true });
    expect(rejected).toMatchObject({ status: 'rejected', rejectReason: 'post-only-would-take' });
    expect(rejected.cancelReason).toBeUndefined();
  });
});

describe.each(backends)('negative prices are a per-instrument option (%s core)', (backend) => {
  const refused = /Expected a price >= 0 \(negative prices need allowNegativePrices: true\) for /;

  it('refuses them by default, naming the argument and the value', () => {
    const book = new OrderBook({ symbol: 'BTC-USD', tickSize: 0.01, backend });
    expect(book.allowNegativePrices).toBe(false);
    expect(() => book.updateBid(-5, 1)).toThrow(RangeError);
    expect(() => book.updateBid(-5, 1)).toThrow(new RegExp(`${refused.source}price but received -5$`));
    expect(() => book.updateAsk('-0.01', 1)).toThrow(new RegExp(`${refused.source}price but received "-0.01"`));
    expect(() => book.updateAsk(-1n, 1)).toThrow(new RegExp(`${refused.source}price but received -1n`));
    expect(() => book.applyDeltas(new Float64Array([0, 1, 1, 1, -0.01, 1]))).toThrow(new RegExp(`${refused.source}deltas\\[4\\] but received -0.01`));
    expect(() => book.quantityForPrice('buy', -1)).toThrow(new RegExp(`${refused.source}limitPrice`));
    expect(book.bidLevels + book.askLevels).toBe(0); // the batch applied nothing
    book.updateBid(0, 1); // zero is a price
    book.updateBid(-0, 2);
    expect(book.bestBidPrice()).toBe(0);
    expect(book.bidLevels).toBe(1);

    const me = new MatchingEngine({ symbol: 'BTC-USD', tickSize: 0.01, backend });
    expect(me.allowNegativePrices).toBe(false);
    expect(() => me.submit({ side: 'buy', price: -0.5, quantity: 1 })).toThrow(new RegExp(`${refused.source}order.price but received -0.5`));
    const id = me.submit({ side: 'buy', price: 1, quantity: 1 }).orderId;
    expect(() => me.modify(id, { price: -1 })).toThrow(RangeError);
    expect(me.getOrder(id)?.price).toBe(1);
    const cmds = new Float64Array([BatchOp.limit, 0, 1, 1, 0, 0, BatchOp.limit, 1, -2, 1, 0, 0]);
    expect(() => me.submitBatch(cmds)).toThrow(new RegExp(`${refused.source}commands\\[8\\] \\(command 1, price\\)`));
    expect(me.bidLevels).toBe(1); // nothing of the bad batch ran
  });

  it('works with allowNegativePrices: true, on the exact grid', () => {
    const book = new OrderBook({ symbol: 'CL-SPREAD', tickSize: 0.01, allowNegativePrices: true, backend });
    expect(book.allowNegativePrices).toBe(true);
    book.updateBid(-0.07, 3);
    book.updateBid('-0.08', 1);
    book.updateAsk(-0.05, 2);
    book.updateAsk(0.01, 4);
    expect(Array.from(book.top)).toEqual([-0.07, 3, -0.05, 2]);
    expect(book.spread()).toBe(0.02);
    expect(book.bidLevels).toBe(2);
    expect(book.applyDeltas(new Float64Array([0, -0.07, 0, 1, -37.63, 5]))).toBe(2);
    expect(book.bestBidPrice()).toBe(-0.08);
    expect(book.bestAskPrice()).toBe(-37.63);
    expect(book.isCrossed()).toBe(true);
    const copy = OrderBook.fromSnapshot(book.snapshot(), { backend });
    expect(copy.allowNegativePrices).toBe(true);
    expect(copy.snapshot()).toEqual(book.snapshot());

    const me = new MatchingEngine({ symbol: 'CL-SPREAD', tickSize: 0.01, lotSize: 1, allowNegativePrices: true, backend });
    me.submit({ side: 'sell', price: -0.03, quantity: 1 });
    me.submit({ side: 'sell', price: -0.02, quantity: 1 });
    const r = me.submit({ side: 'buy', price: -0.02, quantity: 2 });
    expect(r.status).toBe('filled');
    expect(r.fills.map((f) => f.price)).toEqual([-0.03, -0.02]);
    expect(r.averagePrice).toBe(-0.025);
    const id = me.submit({ side: 'buy', price: -1.5, quantity: 1 }).orderId;
    me.modify(id, { price: '-1.49' });
    expect(me.getOrder(id)?.price).toBe(-1.49);
    expect(me.submitBatch(new Float64Array([BatchOp.limit, 1, -1.49, 1, 0, 0])).fills).toBe(1);
  });

  it('checks the option itself', () => {
    expect(() => new OrderBook({ symbol: 'X', tickSize: 1, allowNegativePrices: 'yes' as never, backend })).toThrow(
      /Expected a boolean for options.allowNegativePrices but received "yes"/,
    );
    expect(() => new MatchingEngine({ symbol: 'X', tickSize: 1, allowNegativePrices: 1 as never, backend })).toThrow(TypeError);
  });
});
