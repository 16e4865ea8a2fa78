import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { SourceFormatError } from '../lib/errors.js';
import { MboBook } from '../lib/index.js';
import { EventOp, kEventStride } from '../lib/pipeline/events.js';
import {
  LobsterSource,
  measureLobster,
  readLobsterMessages,
  readLobsterOrderbook,
  replayLobster,
  type LobsterMessages,
  type LobsterOrderbook,
} from '../lib/pipeline/sources/lobster.js';

const backends: ('ts' | 'native')[] = cpuAddon !== null ? ['ts', 'native'] : ['ts'];
const dir = join(import.meta.dirname, '../bench/data/lobster');
const aapl = {
  messages: join(dir, 'AAPL_2012-06-21_34200000_57600000_message_1.csv.gz'),
  orderbook: join(dir, 'AAPL_2012-06-21_34200000_57600000_orderbook_1.csv.gz'),
};
const goog = {
  messages: join(dir, 'GOOG_2012-06-21_34200000_57600000_message_10.csv.gz'),
  orderbook: join(dir, 'GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.gz'),
};

const parsed = new Map<string, [LobsterMessages, LobsterOrderbook]>();
function files(which: typeof aapl): [LobsterMessages, LobsterOrderbook] {
  let p = parsed.get(which.messages);
  if (p === undefined) parsed.set(which.messages, (p = [readLobsterMessages(which.messages), readLobsterOrderbook(which.orderbook)]));
  return p;
}

describe('LOBSTER files', () => {
  it('parses the AAPL L1 message and orderbook files', () => {
    const [m, o] = files(aapl);
    expect(m.count).toBe(118_497);
    expect(m.symbol).toBe('AAPL');
    expect(o.count).toBe(118_497);
    expect(o.depth).toBe(1);
    // 34200.004241176,1,16113575,18,5853300,1
    expect(Array.from(m.events.subarray(0, kEventStride))).toEqual([EventOp.add, 34200004241176, 16113575, 0, 5853300, 18, 0, 1]);
    // 34200.025551909,1,16120456,18,5859100,-1
    expect(Array.from(m.events.subarray(kEventStride, 2 * kEventStride))).toEqual([EventOp.add, 34200025551909, 16120456, 1, 5859100, 18, 0, 2]);
    // 5859400,200,5853300,18
    expect(Array.from(o.rows.subarray(0, 4))).toEqual([5859400, 200, 5853300, 18]);
    const types = new Map<number, number>();
    for (let i = 0; i < m.count; i++) types.set(m.events[i * kEventStride]!, (types.get(m.events[i * kEventStride]!) ?? 0) + 1);
    // PROVENANCE.md: 54,818 / 252 / 28,437 / 23,658 / 11,332
    expect(Object.fromEntries(types)).toEqual({ 1: 54_818, 2: 252, 3: 28_437, 4: 23_658, 5: 11_332 });
  });

  it('infers depth 10 from the GOOG orderbook', () => {
    const [m, o] = files(goog);
    expect(m.count).toBe(147_916);
    expect(o.depth).toBe(10);
    expect(o.rows.length).toBe(147_916 * 40);
  });
});

describe.each(backends)('LOBSTER replay (%s backend)', (backend) => {
  it('reproduces the AAPL level-1 book after every message: 0 mismatches', () => {
    const [messages, orderbook] = files(aapl);
    const r = replayLobster({ messages, orderbook, backend });
    expect(r.firstMismatches).toEqual([]);
    expect(r.mismatches).toBe(0);
    expect(r.messages).toBe(118_497);
    expect(r.rowsChecked).toBe(118_496);
    expect(r.depth).toBe(1);
    expect(r.backend).toBe(backend);
    // about a quarter of the rows take a level from the row
    expect(r.refills / r.rowsChecked).toBeGreaterThan(0.15);
    expect(r.refills / r.rowsChecked).toBeLessThan(0.4);
    expect(r.unknownOrders).toBeGreaterThan(0);
  });

  it('reproduces the GOOG level-10 book after every message: 0 mismatches', () => {
    const [messages, orderbook] = files(goog);
    const progress: number[] = [];
    const r = replayLobster({ messages, orderbook, backend, onProgress: (done, total) => progress.push(done / total) });
    expect(r.firstMismatches).toEqual([]);
    expect(r.mismatches).toBe(0);
    expect(r.messages).toBe(147_916);
    expect(r.depth).toBe(10);
    expect(r.refills / r.rowsChecked).toBeGreaterThan(0.15);
    expect(r.refills / r.rowsChecked).toBeLessThan(0.4);
    expect(progress.at(-1)).toBe(1);
    expect(progress.length).toBeGreaterThan(2);
  });

  it('checks fewer levels than the file has: still 0 mismatches, fewer refills (GOOG L10 at depth 3)', () => {
    const [messages, orderbook] = files(goog);
    const r = replayLobster({ messages, orderbook, depth: 3, backend });
    expect(r.mismatches).toBe(0);
    expect(r.depth).toBe(3);
    expect(r.refills).toBeGreaterThan(0);
    expect(r.refills).toBeLessThan(44_451);
    expect(() => replayLobster({ messages, orderbook, depth: 11, backend })).toThrow(/for options.depth but received 11/);
    expect(() => replayLobster({ messages, orderbook, depth: 0, backend })).toThrow(RangeError);
  });

  it('counts and reports a difference as a mismatch (a row edited by hand)', () => {
    const [messages, orderbook] = files(aapl);
    const rows = orderbook.rows.slice();
    // a row whose bid the message did not touch (same as the row before), edited
    let r = 500;
    while (rows[4 * r + 2] !== rows[4 * r - 2] || rows[4 * r + 3] !== rows[4 * r - 1]) r++;
    rows[4 * r + 3]! += 1;
    const res = replayLobster({ messages, orderbook: { ...orderbook, rows }, backend });
    // that row differs from the book, and (the side reset to the edited row) maybe the next
    expect(res.mismatches).toBeGreaterThanOrEqual(1);
    expect(res.mismatches).toBeLessThanOrEqual(2);
    expect(res.firstMismatches[0]).toEqual({ row: r + 1, side: 'bid', level: 1, ours: [rows[4 * r + 2], rows[4 * r + 3]! - 1], theirs: [rows[4 * r + 2], rows[4 * r + 3]] });
  });
});

describe.each(backends)('LobsterSource (%s backend)', (backend) => {
  it.each([
    ['AAPL L1', aapl],
    ['GOOG L10', goog],
  ])('%s: initial() + decode(i) give the exchange book after every message', (_name, which) => {
    const [messages, orderbook] = files(which);
    const src = LobsterSource.open({ messages, orderbook, backend });
    expect(src.kind).toBe('lobster');
    expect(src.length).toBe(messages.count);
    expect(src.reconstruction.mismatches).toBe(0);
    const book = new MboBook({ symbol: src.symbol, tickSize: src.tickSize, lotSize: src.lotSize, backend });
    book.apply(src.initial());
    const out = new Float64Array(src.maxEventsPerRecord * kEventStride + kEventStride);
    const d = orderbook.depth;
    const lv = new Float64Array(3 * (d + 1));
    let differences = 0;
    expect(src.decode(0, out, 0)).toBe(0);
    for (let i = 1; i < src.length; i++) {
      const n = src.decode(i, out, 1);
      expect(n).toBeGreaterThanOrEqual(1);
      if (n > src.maxEventsPerRecord) throw new Error(`decode wrote ${n} events`);
      // message i's own event, parsed from its line
      if (out[kEventStride + 7] !== i + 1) throw new Error(`event aux ${out[kEventStride + 7]} at ${i}`);
      book.apply(out, n + 1, 1);
      for (const side of [0, 1] as const) {
        const m = book.unitLevels(side, d + 1, lv);
        const base = i * 4 * d + (side === 0 ? 2 : 0);
        let rowLevels = 0;
        for (let j = 0; j < d; j++) {
          if (orderbook.rows[base + 4 * j + 1]! === 0) break;
          rowLevels++;
          if (lv[3 * j] !== orderbook.rows[base + 4 * j] || lv[3 * j + 1] !== orderbook.rows[base + 4 * j + 1]) differences++;
        }
        if (m !== rowLevels) differences++;
      }
    }
    expect(differences).toBe(0);
    expect(() => src.decode(src.length, out, 0)).toThrow(/for index/);
    expect(() => src.decode(5, new Float64Array(4), 0)).toThrow(/for out/);
  });
});

describe('measureLobster', () => {
  it('reports both throughputs over the whole stream (messages plus the check\'s events)', () => {
    const [messages, orderbook] = files(aapl);
    const src = LobsterSource.open({ messages, orderbook, backend: 'ts' });
    const progress: number[] = [];
    const r = measureLobster(src, { backend: 'ts', runs: 1, onProgress: (done) => progress.push(done) });
    expect(r.backend).toBe('ts');
    expect(r.messages).toBe(118_497);
    // message 1 writes no event (it is in row 1); the rest one each, plus the check's
    expect(r.events).toBe(118_496 + src.reconstruction.extraEvents.length / kEventStride);
    expect(r.runs).toBe(1);
    expect(r.applyOnlyMessagesPerSecond).toBeGreaterThan(0);
    expect(r.applyAndCheckMessagesPerSecond).toBeGreaterThan(0);
    expect(progress).toEqual([0, 1]);
    expect(() => measureLobster(src, { runs: 0 })).toThrow(/for options.runs/);
  });
});

describe('LOBSTER format errors name the file and the line', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'lobster-'));
  let k = 0;
  const file = (text: string, gz = false): string => {
    const f = join(tmp, `T${k++}_message_1.csv${gz ? '.gz' : ''}`);
    writeFileSync(f, gz ? gzipSync(text) : text);
    return f;
  };
  const good = '34200.1,1,5,100,5853300,1\n34200.2,3,5,100,5853300,1\n';
  const thrown = (fn: () => unknown): SourceFormatError => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(SourceFormatError);
      return err as SourceFormatError;
    }
    throw new Error('no error');
  };

  it('reads plain and gzip files alike, reporting progress', () => {
    const seen: [number, number][] = [];
    const a = readLobsterMessages(file(good), { onProgress: (done, total) => seen.push([done, total]) });
    expect(seen.at(-1)).toEqual([good.length, good.length]);
    const b = readLobsterMessages(file(good, true));
    expect(Array.from(b.events)).toEqual(Array.from(a.events));
    expect(a.count).toBe(2);
    expect(readLobsterMessages(file(good.replace(/\n/g, '\r\n'))).count).toBe(2);
    expect(readLobsterMessages(file(good.trimEnd())).count).toBe(2);
  });

  it.each([
    ['a truncated last line', `${good}34200.3,1,6,1`, 'line 3', /truncated line: 4 of 6 fields/],
    ['a wrong column count', `${good}34200.3,1,6,1,5853300\n${good}`, 'line 3', /expected 6 comma-separated fields .*found 5/],
    ['a non-numeric field', `${good}34200.3,1,abc,1,5853300,1\n`, 'line 3', /field 3 is not an integer/],
    ['a non-numeric time', `x,1,6,1,5853300,1\n`, 'line 1', /field 1 is not a time/],
    ['an unknown message type', `${good}34200.3,9,6,1,5853300,1\n`, 'line 3', /unknown message type 9/],
    ['a bad direction', `${good}34200.3,1,6,1,5853300,0\n`, 'line 3', /direction must be 1 \(buy\) or -1 \(sell\), found 0/],
    ['time going backwards', `${good}34200.15,1,6,1,5853300,1\n`, 'line 3', /time goes backwards: 34200.150000000 s after 34200.200000000 s/],
    ['an empty file', '', 'line 1', /no messages/],
    ['a new order of size 0', `${good}34200.3,1,6,0,5853300,1\n`, 'line 3', /a new order \(type 1\) needs a size > 0, found 0/],
    ['an empty line inside', `${good}\n${good}`, 'line 3', /expected 6 comma-separated fields/],
  ])('messages: %s', (_name, text, where, message) => {
    const f = file(text);
    const err = thrown(() => readLobsterMessages(f));
    expect(err.file).toBe(f);
    expect(err.where).toBe(where);
    expect(err.message).toMatch(message);
    expect(err.code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
  });

  it('accepts halts (type 7) as the readme gives them', () => {
    const m = readLobsterMessages(file(`${good}36023,7,0,0,-1,-1\n36323,7,0,0,0,-1\n36723,7,0,0,1,-1\n`));
    expect(m.count).toBe(5);
    expect(m.events[2 * kEventStride]).toBe(EventOp.halt);
    expect(() => readLobsterMessages(file(`${good}36023,7,0,0,5,-1\n`))).toThrow(/type 7/);
  });

  it('orderbook: depth not inferable, wrong column count, truncated, negative size', () => {
    const ob = (text: string): string => {
      const f = join(tmp, `T${k++}_orderbook_1.csv`);
      writeFileSync(f, text);
      return f;
    };
    expect(thrown(() => readLobsterOrderbook(ob('1,2,3\n'))).message).toMatch(/line 1: depth not inferable: 3 columns/);
    expect(thrown(() => readLobsterOrderbook(ob('1,2,3,4\n1,2,3,4,5,6,7,8\n'))).message).toMatch(/line 2: expected 4 comma-separated fields .*found 8/);
    expect(thrown(() => readLobsterOrderbook(ob('1,2,3,4\n1,2'))).message).toMatch(/line 2: truncated line: 2 of 4 fields/);
    expect(thrown(() => readLobsterOrderbook(ob('1,-2,3,4\n'))).message).toMatch(/line 1: field 2 \(a size\) is negative/);
    const o = readLobsterOrderbook(ob('5859400,200,5853300,18\n9999999999,0,-9999999999,0\n'));
    expect(o.depth).toBe(1);
    expect(Array.from(o.rows)).toEqual([5859400, 200, 5853300, 18, 9999999999, 0, -9999999999, 0]);
  });

  it('a message the book refuses (a new order whose id is live) names the message file and line', () => {
    const m = file('34200.1,1,5,100,5853300,1\n34200.2,1,7,10,5853300,1\n34200.3,1,7,10,5853300,1\n');
    const o = join(tmp, `T${k++}_orderbook_1.csv`);
    writeFileSync(o, '5853400,10,5853300,100\n5853400,10,5853300,110\n5853400,10,5853300,120\n');
    const err = thrown(() => replayLobster({ messages: m, orderbook: o }));
    expect(err.file).toBe(m);
    expect(err.where).toBe('line 3');
    expect(err.message).toMatch(/the book refuses this message: .*add of a live order id.* but received 7/);
  });

  it('a message/orderbook row count mismatch', () => {
    const m = file(good);
    const o = join(tmp, 'T_orderbook_1.csv');
    writeFileSync(o, '5853400,10,5853300,100\n');
    const err = thrown(() => replayLobster({ messages: m, orderbook: o }));
    expect(err.message).toMatch(/line 2: the orderbook file has 1 rows but the message file .* has 2 messages/);
    expect(err.file).toBe(o);
  });

  it('a file that claims gzip but is not', () => {
    const f = join(tmp, 'bad.csv.gz');
    writeFileSync(f, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    expect(thrown(() => readLobsterMessages(f)).message).toMatch(/byte 0: not a readable gzip stream/);
  });
});
