// ITCH 5.0 as a pipeline source (lib/pipeline/sources/itch.ts, issue 13 items 2 and 8): the
// real AAPL excerpt replayed as events into a small reference book agrees, after every
// message, with a book built straight from the decoder's objects; the mapping of each message
// type to events; the symbol filter; bad files.
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { SourceFormatError } from '../lib/errors.js';
import { decodeItch, encodeItchFile, indexItchFrames, type ItchMessage } from '../lib/net/index.js';
import { EventField, EventOp, kEventStride } from '../lib/pipeline/events.js';
import { ItchSource } from '../lib/pipeline/sources/itch.js';
import { MboBook } from '../lib/orderbook/mbo.js';

import { catchError } from './pipeline-sources-helpers.js';

const kFile = 'bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin';
/** MboBook's backends here: native once the CPU addon has the MBO binding (branch mbo builds it). */
const mboBackends: ('ts' | 'native')[] = typeof (cpuAddon as { orderbookMboCreate?: unknown } | null)?.orderbookMboCreate === 'function' ? ['ts', 'native'] : ['ts'];

/** A tiny market-by-order book: order id → [side, price, shares]; best bid/ask with their total shares. */
class RefBook {
  readonly orders = new Map<number, [side: number, price: number, shares: number]>();
  add(id: number, side: number, price: number, shares: number): void {
    if (this.orders.has(id)) throw new Error(`duplicate order ${id}`);
    this.orders.set(id, [side, price, shares]);
  }
  take(id: number, shares: number): void {
    const o = this.orders.get(id);
    if (!o) throw new Error(`unknown order ${id}`);
    if (shares > o[2]) throw new Error(`order ${id} has ${o[2]}, took ${shares}`);
    o[2] -= shares;
    if (o[2] === 0) this.orders.delete(id);
  }
  remove(id: number): number {
    const o = this.orders.get(id);
    if (!o) throw new Error(`unknown order ${id}`);
    this.orders.delete(id);
    return o[2];
  }
  /** [best bid, its shares, best ask, its shares] (NaN, 0 for an empty side). */
  top(): [number, number, number, number] {
    let bid = -Infinity;
    let ask = Infinity;
    for (const [side, price] of this.orders.values()) {
      if (side === 0) bid = Math.max(bid, price);
      else ask = Math.min(ask, price);
    }
    let bidQty = 0;
    let askQty = 0;
    for (const [side, price, shares] of this.orders.values()) {
      if (side === 0 && price === bid) bidQty += shares;
      if (side === 1 && price === ask) askQty += shares;
    }
    return [Number.isFinite(bid) ? bid : NaN, bidQty, Number.isFinite(ask) ? ask : NaN, askQty];
  }
}

/** The reference: the decoder's objects applied as the spec says (§4.3–4.4). */
function applyMessage(book: RefBook, m: ItchMessage): void {
  switch (m.type) {
    case 'A':
    case 'F':
      book.add(Number(m.orderRef), m.side === 'B' ? 0 : 1, m.price, m.shares);
      break;
    case 'E':
    case 'C':
      book.take(Number(m.orderRef), m.executedShares);
      break;
    case 'X':
      book.take(Number(m.orderRef), m.cancelledShares);
      break;
    case 'D':
      book.remove(Number(m.orderRef));
      break;
    case 'U': {
      const side = book.orders.get(Number(m.originalOrderRef))![0];
      book.remove(Number(m.originalOrderRef));
      book.add(Number(m.newOrderRef), side, m.price, m.shares);
      break;
    }
    default:
  }
}

/** The source's events applied to a RefBook; checks each event names the order's level. */
function applyEvent(book: RefBook, ev: Float64Array, o: number): void {
  const op = ev[o + EventField.op];
  const id = ev[o + EventField.orderId]!;
  const side = ev[o + EventField.side]!;
  const price = ev[o + EventField.price]!;
  const size = ev[o + EventField.size]!;
  const known = book.orders.get(id);
  switch (op) {
    case EventOp.add:
      book.add(id, side, price, size);
      return;
    case EventOp.execute:
    case EventOp.reduce:
      expect([known![0], known![1]]).toEqual([side, price]);
      book.take(id, size);
      return;
    case EventOp.delete:
      expect([known![0], known![1], known![2]]).toEqual([side, price, size]);
      book.remove(id);
      return;
    case EventOp.replace:
      expect(known![0]).toBe(side);
      book.remove(id);
      book.add(ev[o + EventField.newOrderId]!, side, price, size);
      return;
    default:
  }
}

describe('ItchSource on the real AAPL excerpt', () => {
  const source = ItchSource.fromFile(kFile);
  const bytes = source['bytes'] as Uint8Array;

  it('knows the stock and the units', () => {
    expect([source.kind, source.symbol, source.stockLocate, source.length, source.tickSize, source.lotSize, source.maxEventsPerRecord]).toEqual([
      'itch', 'AAPL', 13, 10_000, 0.0001, 1, 1,
    ]);
  });

  it('replays into a reference book that equals the decoder-built book after every message', () => {
    const out = new Float64Array(kEventStride);
    const viaEvents = new RefBook();
    const viaMessages = new RefBook();
    const ops: Record<number, number> = {};
    expect(source.initial().length).toBe(0);
    let compared = 0;
    for (let i = 0; i < source.length; i++) {
      const n = source.decode(i, out, 0);
      const m = decodeItch(bytes, source.offsetOf(i));
      applyMessage(viaMessages, m);
      if (n === 1) {
        ops[out[EventField.op]!] = (ops[out[EventField.op]!] ?? 0) + 1;
        expect(out[EventField.time]).toBe(m.timestamp);
        expect(out[EventField.aux]).toBe(m.trackingNumber);
        applyEvent(viaEvents, out, 0);
      }
      expect(viaEvents.top()).toEqual(viaMessages.top());
      compared++;
    }
    expect(compared).toBe(10_000);
    // A 4758 + F 2 → add; E 849 → execute; X 6 → reduce; D 4083 → delete; U 7 → replace; P 240 → hiddenExecute; H 1 → halt.
    expect(ops).toEqual({
      [EventOp.add]: 4760,
      [EventOp.execute]: 849,
      [EventOp.reduce]: 6,
      [EventOp.delete]: 4083,
      [EventOp.replace]: 7,
      [EventOp.hiddenExecute]: 240,
      [EventOp.halt]: 1,
    });
    expect(viaEvents.orders.size).toBe(viaMessages.orders.size);
    const [bid, , ask] = viaEvents.top();
    expect(bid).toBeLessThan(ask); // pre-market book at 07:59:30, not crossed
    expect(source.unknownOrders).toBe(0);
  });

  it.each(mboBackends)(
    'replays into MboBook (%s) with the best bid/ask of the reference book after every message',
    (backend) => {
      const book = new MboBook({ symbol: source.symbol, tickSize: source.tickSize, lotSize: source.lotSize, backend, expectedOrders: 4096 });
      const ref = new RefBook();
      const out = new Float64Array(kEventStride);
      const bid = new Float64Array(3);
      const ask = new Float64Array(3);
      book.apply(source.initial());
      let mismatches = 0;
      for (let i = 0; i < source.length; i++) {
        const n = source.decode(i, out, 0);
        book.apply(out, n);
        if (n === 1) applyEvent(ref, out, 0);
        const [rb, rbq, ra, raq] = ref.top();
        const got = [book.unitLevels(0, 1, bid) ? bid[0] : NaN, bid[1], book.unitLevels(1, 1, ask) ? ask[0] : NaN, ask[1]];
        if (!Object.is(got[0], rb) || !Object.is(got[2], ra) || (rbq > 0 && got[1] !== rbq) || (raq > 0 && got[3] !== raq)) mismatches++;
      }
      expect(mismatches).toBe(0);
      expect(book.stats.unknownOrders).toBe(0);
      expect(book.orderCount).toBe(ref.orders.size);
    },
  );

  it('H is a halt event: trading (T) → price 1', () => {
    const out = new Float64Array(kEventStride);
    source.initial();
    expect(source.decode(0, out, 0)).toBe(0); // R: no event
    expect(source.decode(1, out, 0)).toBe(1);
    expect([out[EventField.op], out[EventField.price]]).toEqual([EventOp.halt, 1]);
  });

  it('refuses records out of order', () => {
    source.initial();
    expect(() => source.decode(5, new Float64Array(8), 0)).toThrow(/record 0/);
  });
});

const h = (k: number, locate = 13) => ({ stockLocate: locate, trackingNumber: k, timestamp: 34_200_000_000_000 + k * 1000 });
const dir = (stock: string, locate: number): ItchMessage => ({
  type: 'R', ...h(0, locate), stock, marketCategory: 'Q', financialStatusIndicator: 'N', roundLotSize: 100, roundLotsOnly: 'N',
  issueClassification: 'C', issueSubType: 'Z', authenticity: 'P', shortSaleThresholdIndicator: 'N', ipoFlag: 'N',
  luldReferencePriceTier: '1', etpFlag: 'N', etpLeverageFactor: 0, inverseIndicator: 'N',
});

function events(source: ItchSource): number[][] {
  const out = new Float64Array(kEventStride);
  const rows: number[][] = [];
  source.initial();
  for (let i = 0; i < source.length; i++) if (source.decode(i, out, 0)) rows.push(Array.from(out));
  return rows;
}

describe('ItchSource on synthetic files', () => {
  const mixed: ItchMessage[] = [
    dir('AAPL', 13),
    dir('MSFT', 14),
    { type: 'A', ...h(1), orderRef: 1n, side: 'B', shares: 100, stock: 'AAPL', price: 3_200_000 },
    { type: 'A', ...h(2, 14), orderRef: 2n, side: 'S', shares: 50, stock: 'MSFT', price: 1_700_000 },
    { type: 'C', ...h(3), orderRef: 1n, executedShares: 30, matchNumber: 9n, printable: 'Y', executionPrice: 3_199_900 },
    { type: 'Q', ...h(4), shares: 5000n, stock: 'AAPL', crossPrice: 3_201_000, matchNumber: 10n, crossType: 'O' },
    { type: 'H', ...h(5), stock: 'AAPL', tradingState: 'H', reserved: ' ', reason: 'LUDP' },
    { type: 'U', ...h(6), originalOrderRef: 1n, newOrderRef: 3n, shares: 80, price: 3_200_100 },
    { type: 'D', ...h(7), orderRef: 3n },
    { type: 'S', ...h(8, 0), eventCode: 'Q' },
  ];

  it('keeps one stock of several, by symbol, and maps C, Q, H, U, D', () => {
    const bytes = encodeItchFile(mixed);
    expect(() => new ItchSource(bytes)).toThrow(/2 stock locates \(13, 14; its stock directory names AAPL, MSFT\) for options\.symbol/);
    expect(() => new ItchSource(bytes, { symbol: 'GOOG' })).toThrow(/options\.symbol/);
    const aapl = new ItchSource(bytes, { symbol: 'AAPL' });
    expect(aapl.stockLocate).toBe(13);
    const t = (k: number) => 34_200_000_000_000 + k * 1000;
    expect(events(aapl)).toEqual([
      [EventOp.add, t(1), 1, 0, 3_200_000, 100, 0, 1],
      [EventOp.execute, t(3), 1, 0, 3_200_000, 30, 0, 3], // C: at the resting order's level
      [EventOp.cross, t(4), 0, 0, 3_201_000, 5000, 0, 4],
      [EventOp.halt, t(5), 0, 0, -1, 0, 0, 5],
      [EventOp.replace, t(6), 1, 0, 3_200_100, 80, 3, 6],
      [EventOp.delete, t(7), 3, 0, 3_200_100, 80, 0, 7],
    ]);
    const msft = new ItchSource(bytes, { stockLocate: 14 });
    expect(msft.symbol).toBe('MSFT');
    expect(events(msft)).toEqual([[EventOp.add, t(2), 2, 1, 1_700_000, 50, 0, 2]]);
  });

  it('an order the file never added: an error naming the byte, or skipped and counted', () => {
    const bytes = encodeItchFile([{ type: 'X', ...h(1), orderRef: 77n, cancelledShares: 5 }, { type: 'E', ...h(2), orderRef: 78n, executedShares: 1, matchNumber: 1n }]);
    const error = catchError(() => events(new ItchSource(bytes)));
    expect(error).toBeInstanceOf(SourceFormatError);
    expect(error.message).toMatch(/<buffer>, byte 13: order reference 77 is not a live order/);
    const skip = new ItchSource(bytes, { unknownOrders: 'skip' });
    expect(events(skip)).toEqual([]);
    expect(skip.unknownOrders).toBe(2);
  });

  it('more shares executed than the order has', () => {
    const bytes = encodeItchFile([
      { type: 'A', ...h(1), orderRef: 1n, side: 'S', shares: 10, stock: 'AAPL', price: 1 },
      { type: 'E', ...h(2), orderRef: 1n, executedShares: 11, matchNumber: 1n },
    ]);
    expect(() => events(new ItchSource(bytes, { file: 'e.itch' }))).toThrow(/e\.itch, byte 59: 11 shares executed from order 1, which has 10/);
  });

  it('an add or a replace of 0 shares: an error naming the byte (the book would refuse the event)', () => {
    const add = encodeItchFile([{ type: 'A', ...h(1), orderRef: 1n, side: 'S', shares: 0, stock: 'AAPL', price: 1 }]);
    const a = catchError(() => events(new ItchSource(add, { file: 'a.itch' })));
    expect(a).toBeInstanceOf(SourceFormatError);
    expect(a.message).toMatch(/a\.itch, byte 22: add of order 1 with 0 shares/);
    const replace = encodeItchFile([
      { type: 'A', ...h(1), orderRef: 1n, side: 'S', shares: 10, stock: 'AAPL', price: 1 },
      { type: 'U', ...h(2), originalOrderRef: 1n, newOrderRef: 2n, shares: 0, price: 2 },
    ]);
    const u = catchError(() => events(new ItchSource(replace, { file: 'u.itch' })));
    expect(u).toBeInstanceOf(SourceFormatError);
    expect(u.message).toMatch(/u\.itch, byte 67: replace of order 1 by order 2 with 0 shares/);
  });

  it('timestamps going backwards', () => {
    const bytes = encodeItchFile([
      { type: 'D', ...h(2), orderRef: 1n },
      { type: 'D', ...h(1), orderRef: 2n },
    ]);
    const error = catchError(() => new ItchSource(bytes, { file: 'back.itch' }));
    expect(error).toBeInstanceOf(SourceFormatError);
    expect(error.where).toBe('byte 28');
    expect(error.message).toMatch(/timestamp 34200000001000 ns is earlier than the previous message's 34200000002000 ns \(message 1\)/);
  });

  it('bad files: truncated, wrong format, unknown type', () => {
    const real = ItchSource.fromFile(kFile)['bytes'] as Uint8Array;
    expect(() => new ItchSource(real.subarray(0, 5000), { file: 'cut.bin' })).toThrow(/cut\.bin, byte \d+: truncated/);
    expect(() => new ItchSource(Buffer.from('34200.004241176,1,16113575,18,5853300,1\n'), { file: 'message.csv' })).toThrow(
      /message\.csv, byte 2: unknown ITCH 5\.0 message type 0x32/,
    );
    const bad = Uint8Array.from(real.subarray(0, 41 + 27));
    bad[41 + 2] = 0x7a; // second frame's type byte → 'z'
    expect(() => new ItchSource(bad)).toThrow(/byte 43: unknown ITCH 5\.0 message type 0x7a \('z'\)/);
    expect(indexItchFrames(real.subarray(0, 41)).count).toBe(1);
    expect(() => new ItchSource(new Uint8Array(0), { file: 'empty.bin' })).toThrow(
      expect.objectContaining({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT', message: 'empty.bin, byte 0: no ITCH messages: the file is empty' }),
    );
  });
});
