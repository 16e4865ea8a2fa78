/**
 * The pipeline's simulated venue (lib/pipeline/venue.ts: fill models, latency, cancels) and
 * its default strategy (lib/pipeline/strategy.ts: quoteAroundMid's formula, re-quote rule,
 * the context's argument checks).
 */
import { describe, expect, it } from 'vitest';

import { MatchingEngine } from '../lib/index.js';
import { quoteAroundMid, SimVenue, StrategyContext } from '../lib/pipeline/index.js';

const backend = process.env.ULTRA_PERF_BACKEND === 'native' ? 'native' : 'ts';

function venue(options: Partial<ConstructorParameters<typeof SimVenue>[0]> = {}): SimVenue {
  return new SimVenue({ symbol: 'X', tickSize: 0.0001, lotSize: 1, backend, maxTradesPerRecord: 4, ...options });
}

/** Sets the venue's time and begins a record's batch. */
function at(v: SimVenue, timeNs: number): void {
  v.timeNs = timeNs;
  v.begin();
}

/** Fills of the last flush as [slot, side, ticks, lots] rows. */
function fills(v: SimVenue): number[][] {
  const rows: number[][] = [];
  for (let k = 0; k < v.fillCount; k++) rows.push(Array.from(v.fills.subarray(4 * k, 4 * k + 4)));
  return rows;
}

describe('SimVenue', () => {
  it("'touch' fills our quote when the market trades at its price, at our price, up to our size", () => {
    const v = venue();
    at(v, 0);
    const bid = v.freeSlot();
    v.send(bid, 0, 10_000, 300);
    expect(v.flush()).toBe(0);
    at(v, 1);
    const ask2 = v.freeSlot();
    v.send(ask2, 1, 10_003, 100);
    v.flush();
    // A sell aggressor hits resting bids at 10,000 (the resting side of the trade is 0).
    at(v, 2);
    v.marketTrade(0, 10_000, 200);
    expect(v.flush()).toBe(1);
    expect(fills(v)).toEqual([[bid, 0, 10_000, 200]]);
    // Below our bid: a trade at 9,999 still fills us at our price (we were better).
    at(v, 3);
    v.marketTrade(0, 9_999, 500);
    expect(fills((v.flush(), v))).toEqual([[bid, 0, 10_000, 100]]);
    expect(v.slotState[bid]).toBe(0); // filled: slot free again
    // A trade at 10,002 against asks does not reach our ask at 10,003.
    at(v, 4);
    v.marketTrade(1, 10_002, 500);
    expect(v.flush()).toBe(0);
  });

  it("'through' needs a trade strictly through our price", () => {
    const v = venue({ fillModel: 'through' });
    at(v, 0);
    const bid = v.freeSlot();
    v.send(bid, 0, 10_000, 300);
    v.flush();
    at(v, 1);
    v.marketTrade(0, 10_000, 200);
    expect(v.flush()).toBe(0);
    at(v, 2);
    v.marketTrade(0, 9_999, 200);
    expect(v.flush()).toBe(1);
    expect(fills(v)).toEqual([[bid, 0, 10_000, 200]]);
  });

  it('with latency, an order only meets trades from its arrival on, and a cancel only stops fills when it arrives', () => {
    const v = venue({ feedLatencyNs: 300, orderLatencyNs: 200 });
    expect(v.latencyNs).toBe(500);
    at(v, 1_000);
    const bid = v.freeSlot();
    v.send(bid, 0, 10_000, 100); // at the venue from 1,500
    v.flush();
    at(v, 1_400);
    v.marketTrade(0, 10_000, 50);
    expect(v.flush()).toBe(0);
    at(v, 1_500);
    v.marketTrade(0, 10_000, 10);
    expect(fills((v.flush(), v))).toEqual([[bid, 0, 10_000, 10]]);
    // Cancel sent at 2,000 arrives at 2,500: a trade at 2,400 still fills.
    at(v, 2_000);
    v.cancel(bid);
    v.flush();
    at(v, 2_400);
    v.marketTrade(0, 10_000, 20);
    expect(fills((v.flush(), v))).toEqual([[bid, 0, 10_000, 20]]);
    at(v, 2_500);
    v.marketTrade(0, 10_000, 20);
    expect(v.flush()).toBe(0);
    // An order cancelled while in flight never trades, and its slot comes back after it would have arrived.
    at(v, 3_000);
    const s = v.freeSlot();
    v.send(s, 1, 10_010, 100);
    v.cancel(s);
    v.flush();
    expect(v.slotState[s]).not.toBe(0);
    at(v, 3_600);
    v.marketTrade(1, 10_010, 100);
    expect(v.flush()).toBe(0);
    expect(v.slotState[s]).toBe(0);
  });

  it('a cancel in the same batch as a trade: the trade, which came first, fills', () => {
    const v = venue();
    at(v, 0);
    const bid = v.freeSlot();
    v.send(bid, 0, 10_000, 100);
    v.flush();
    at(v, 1);
    v.marketTrade(0, 10_000, 40);
    v.cancel(bid);
    const again = v.freeSlot();
    expect(again).not.toBe(bid); // not reused before its fills are collected
    v.send(again, 0, 9_999, 100);
    expect(fills((v.flush(), v))).toEqual([[bid, 0, 10_000, 40]]);
    at(v, 2);
    v.marketTrade(0, 9_999, 1_000);
    expect(fills((v.flush(), v))).toEqual([[again, 0, 9_999, 100]]);
  });

  it('refuses bad options naming them', () => {
    expect(() => venue({ fillModel: 'queue' as never })).toThrow(/options\.fillModel/);
    expect(() => venue({ orderLatencyNs: -1 })).toThrow(/options\.orderLatencyNs/);
  });
});

describe('MatchingEngine.submitBatchCount (the venue\'s allocation-free batch)', () => {
  it('runs the first count commands as submitBatch does, with the first id readable after', () => {
    const a = new MatchingEngine({ symbol: 'X', tickSize: 0.5, lotSize: 1, backend });
    const b = new MatchingEngine({ symbol: 'X', tickSize: 0.5, lotSize: 1, backend });
    // limit sell 2 @ 100, limit sell 1 @ 100.5, IOC buy 3 @ 100.5, then a command past count.
    const cmds = new Float64Array([0, 1, 100, 2, 0, 1, 0, 1, 100.5, 1, 0, 1, 0, 0, 100.5, 3, 1, 2, 0, 0, 99, 5, 0, 0]);
    const fa = new Float64Array(4 * 8);
    const fb = new Float64Array(4 * 8);
    const r = b.submitBatch(cmds.subarray(0, 18), fb);
    expect(a.submitBatchCount(cmds, 3, fa)).toBe(r.fills);
    expect(r.fills).toBe(2);
    expect(a.lastBatchFirstOrderId).toBe(r.firstOrderId);
    expect(Array.from(fa)).toEqual(Array.from(fb));
    expect(a.bidLevels).toBe(0); // the 4th command (a bid at 99) did not run
  });

  it('refuses a count past the commands, naming it, with a code', () => {
    const me = new MatchingEngine({ symbol: 'X', tickSize: 1, lotSize: 1, backend });
    expect(() => me.submitBatchCount(new Float64Array(6), 2, new Float64Array(4))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/count/) }));
    expect(() => me.submitBatchCount([] as never, 0, new Float64Array(4))).toThrow(/commands/);
  });
});

function ctxAt(bid: number, ask: number, position = 0): StrategyContext {
  const ctx = new StrategyContext('X', 0, new Float64Array(8));
  ctx.bidTicks = bid;
  ctx.askTicks = ask;
  ctx.midTicks = (bid + ask) / 2;
  ctx.position = position;
  ctx.resetIntents();
  return ctx;
}

describe('quoteAroundMid', () => {
  it('quotes floor/ceil of the skewed reservation price, sized by the position limit', () => {
    const s = quoteAroundMid({ spreadTicks: 2, size: 100, skewTicksPerLot: 0.02, maxPosition: 120, requoteTicks: 1 });
    const ctx = ctxAt(100, 101, 50);
    s(ctx);
    // r = 100.5 - 0.02 * 50 = 99.5: bid floor(98.5) = 98, ask ceil(100.5) = 101; bid lots min(100, 120 - 50).
    expect([ctx.quoteSet, ctx.wantBidTicks, ctx.wantBidLots, ctx.wantAskTicks, ctx.wantAskLots]).toEqual([1, 98, 70, 101, 100]);
  });

  it('never quotes through the book, and re-quotes only on a mid move >= requoteTicks or a new position', () => {
    const s = quoteAroundMid({ spreadTicks: 2, size: 10, skewTicksPerLot: 1, maxPosition: 100, requoteTicks: 2 });
    const long = ctxAt(100, 101, -10); // r = 110.5: bid clamped to the ask - 1
    s(long);
    expect([long.wantBidTicks, long.wantAskTicks]).toEqual([100, 112]);
    const same = ctxAt(100, 101, -10);
    s(same);
    expect(same.quoteSet).toBe(0);
    const small = ctxAt(101, 102, -10); // mid moved 1 < 2
    s(small);
    expect(small.quoteSet).toBe(0);
    const filled = ctxAt(101, 102, -20); // position changed
    s(filled);
    expect(filled.quoteSet).toBe(1);
    const empty = ctxAt(Number.NaN, 102, -20); // a side empty: pull both
    s(empty);
    expect([empty.quoteSet, empty.wantBidLots, empty.wantAskLots]).toEqual([1, 0, 0]);
  });

  it('puts quotes on the quoteStepTicks grid, inside the book only as far as the grid allows', () => {
    const s = quoteAroundMid({ spreadTicks: 200, size: 100, skewTicksPerLot: 1, maxPosition: 1_000, quoteStepTicks: 100 });
    const ctx = ctxAt(5_853_300, 5_853_400, 30); // $585.33 / $585.34 in 10⁻⁴ USD; r = 5,853,320
    s(ctx);
    // floor((r - 100) / 100) * 100 = 5,853,200; ceil((r + 100) / 100) * 100 = 5,853,500.
    expect([ctx.wantBidTicks, ctx.wantAskTicks]).toEqual([5_853_200, 5_853_500]);
    const t = quoteAroundMid({ spreadTicks: 100, size: 100, skewTicksPerLot: 10, maxPosition: 1_000, quoteStepTicks: 100 });
    const long = ctxAt(5_853_300, 5_853_400, -100); // r = 5,854,350: the bid is capped one step below the ask
    t(long);
    expect(long.wantBidTicks).toBe(5_853_300);
  });

  it('pulls a side priced at or below 0 ticks or past 2^53 - 1, instead of sending what the gate and the engine refuse', () => {
    const wide = quoteAroundMid({ spreadTicks: 300, size: 10 });
    const ctx = ctxAt(100, 101); // bid floor(100.5 - 150) = -50: not quoted; ask 251 is
    wide(ctx);
    expect([ctx.quoteSet, ctx.wantBidLots, ctx.wantAskTicks, ctx.wantAskLots]).toEqual([1, 0, 251, 10]);
    const skewed = quoteAroundMid({ spreadTicks: 2, size: 10, skewTicksPerLot: 5, maxPosition: 100 });
    const long = ctxAt(100, 101, 50); // r = 100.5 - 250 < 0: the bid is negative, the ask is lifted to bestBid + 1
    skewed(long);
    expect([long.wantBidLots, long.wantAskTicks, long.wantAskLots]).toEqual([0, 101, 10]);
    const huge = quoteAroundMid({ spreadTicks: 1e300, size: 10 });
    const far = ctxAt(100, 101);
    huge(far);
    expect([far.wantBidLots, far.wantAskLots]).toEqual([0, 0]);
  });

  it('checks its options and the context checks its calls', () => {
    expect(() => quoteAroundMid({ spreadTicks: 0 })).toThrow(/options\.spreadTicks/);
    expect(() => quoteAroundMid({ size: 1.5 })).toThrow(/options\.size/);
    expect(() => quoteAroundMid({ spreadTicsk: 2 } as never)).toThrow("unknown option 'spreadTicsk' for quoteAroundMid; did you mean 'spreadTicks'?");
    const ctx = ctxAt(100, 101);
    expect(() => ctx.quote(100.5, 1, 102, 1)).toThrow(/bidTicks/);
    expect(() => ctx.order(2 as never, 100, 1)).toThrow(/side/);
    expect(() => ctx.order(0, 100, 0)).toThrow(/lots/);
    for (let i = 0; i < 8; i++) ctx.order(0, 100, 1);
    expect(() => ctx.order(0, 100, 1)).toThrow(/at most 8/);
  });
});
