import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';

import { SourceFormatError } from '../lib/errors.js';
import { Quote, codecFor, jsonCodec, msgpackCodec, rawCodec } from '../lib/net/index.js';

const quote = { timestamp: 34_200_000_000_123, instrumentId: 7, sequence: 9, bidPrice: 1_234_500, askPrice: 1_234_600, bidSize: 100, askSize: 200 };
const quoteKeys = Object.keys(quote);

describe('jsonCodec', () => {
  it('round-trips through scratch, out and encodeToBytes', () => {
    const c = jsonCodec();
    const n = c.encode({ a: 'é', b: [1, 2] });
    expect(c.decode(c.scratch, 0, n)).toEqual({ a: 'é', b: [1, 2] });
    const out = new Uint8Array(200);
    const m = c.encode(quote, out, 3);
    expect(c.decode(out, 3, m)).toEqual(quote);
    expect(new TextDecoder().decode(c.encodeToBytes([1]))).toBe('[1]');
    // A large value grows the scratch buffer: read `scratch` after encode, it may be a new one.
    const big = { s: 'x'.repeat(10_000) };
    const k = c.encode(big);
    expect(c.decode(c.scratch, 0, k)).toEqual(big);
  });

  it('refuses bad bytes with the byte, bad values and small buffers with codes', () => {
    const c = jsonCodec();
    expect(() => c.decode(new Uint8Array([0x7b]))).toThrow(SourceFormatError);
    expect(() => c.decode(new Uint8Array([0x20, 0xff]), 1)).toThrow(/json, byte 1: the bytes are not UTF-8/);
    expect(() => c.encode(1n as unknown)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => c.encode(undefined)).toThrow(/a value JSON can encode for value but received undefined/);
    expect(() => c.encode(quote, new Uint8Array(10))).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS', bytesNeeded: JSON.stringify(quote).length }));
    expect(() => c.decode(new Uint8Array(4), 2, 3)).toThrow(/from 0 to 2 for length but received 3/);
  });
});

describe('rawCodec', () => {
  it('copies on encode and views on decode', () => {
    const c = rawCodec();
    const src = new Uint8Array([1, 2, 3, 4]);
    expect(c.encode(src)).toBe(4);
    expect([...c.scratch.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    const out = new Uint8Array(6);
    expect(c.encode(src, out, 2)).toBe(4);
    expect([...out]).toEqual([0, 0, 1, 2, 3, 4]);
    const view = c.decode(out, 2, 2);
    expect([...view]).toEqual([1, 2]);
    expect(view.buffer).toBe(out.buffer);
    const copy = c.encodeToBytes(src);
    src[0] = 9;
    expect(copy[0]).toBe(1);
    expect(() => c.encode(src, new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS', bytesNeeded: 4 }));
    expect(() => c.encode('x' as unknown as Uint8Array)).toThrow(/a Uint8Array for value/);
  });
});

describe('msgpackCodec', () => {
  it('plain and records round-trip', () => {
    for (const c of [msgpackCodec(), msgpackCodec({ records: true }), msgpackCodec({ records: [quoteKeys] })]) {
      const n = c.encode(quote);
      expect(c.decode(c.scratch, 0, n)).toEqual(quote);
      const out = new Uint8Array(100);
      const m = c.encode(quote, out, 5);
      expect(c.decode(out, 5, m)).toEqual(quote);
      expect(c.decode(c.encodeToBytes(quote))).toEqual(quote);
    }
  });

  it('fixed records: two separate instances that meet shapes in another order agree on the ids', () => {
    const other = ['x', 'y'];
    const publisher = msgpackCodec({ records: [quoteKeys, other] });
    const subscriber = msgpackCodec({ records: [quoteKeys, other] });
    // The subscriber meets other shapes first, and a shape of its own; with msgpackr's
    // shared structures that would give them the low ids.
    subscriber.decode(subscriber.encodeToBytes({ q: 1 }));
    subscriber.decode(subscriber.encodeToBytes({ x: 1, y: 2 }));
    const bytes = publisher.encodeToBytes(quote);
    expect(bytes[0]).toBe(0x40); // record id 0x40: the first key list, in both processes
    expect(subscriber.decode(bytes)).toEqual(quote);
    // A shape outside the list travels with its definition inline, readable by any peer.
    const inline = publisher.encodeToBytes({ k: 1, m: 'z' });
    expect(subscriber.decode(inline)).toEqual({ k: 1, m: 'z' });
    expect(msgpackCodec({ records: [other] }).decode(inline)).toEqual({ k: 1, m: 'z' });
    // Smaller than the plain encoding: the keys are not repeated.
    expect(bytes.length).toBeLessThan(msgpackCodec().encodeToBytes(quote).length);
  });

  it("msgpackr's own shared structures diverge between instances (the problem fixed records solve)", () => {
    const a = new Packr({ structures: [] });
    const b = new Packr({ structures: [] });
    b.pack({ q: 1 }); // b gives id 0x40 to {q}
    const bytes = a.pack(quote); // a gives id 0x40 to the quote
    let decoded: unknown;
    try {
      decoded = b.unpack(bytes);
    } catch (e) {
      decoded = e;
    }
    expect(decoded).not.toEqual(quote);
  });

  it('refuses bad bytes and bad options with clean errors', () => {
    const c = msgpackCodec({ records: [quoteKeys] });
    expect(() => c.decode(new Uint8Array([0xd4]))).toThrow(SourceFormatError);
    expect(() => c.decode(new Uint8Array([0x82, 0xa1, 0x61]))).toThrow(/msgpack records, byte 3: not MessagePack/);
    expect(() => c.decode(new Uint8Array(0))).toThrow(/no bytes to decode/);
    expect(() => msgpackCodec({ records: [] })).toThrow(/options.records/);
    expect(() => msgpackCodec({ records: [['a', 'a']] })).toThrow(/options.records\[0\]/);
    expect(() => msgpackCodec({ records: [[1 as unknown as string]] })).toThrow(/options.records\[0\]/);
    expect(() => msgpackCodec({ records: 'yes' as unknown as boolean })).toThrow(/a boolean or an array of key lists for options.records/);
    expect(() => c.encode(quote, new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS' }));
  });
});

describe('codecFor', () => {
  it('gives the codec of each protocol', () => {
    expect(codecFor('json').protocol).toBe('json');
    expect(codecFor('raw').protocol).toBe('raw');
    expect(codecFor('msgpack', { records: [quoteKeys] }).name).toBe('msgpack records');
    expect(codecFor('binary-struct', { struct: Quote as never })).toBe(Quote);
    expect(() => codecFor('binary-struct')).toThrow(/a struct codec from defineStruct\(\) .* for options.struct/);
    expect(() => codecFor('protobuf' as never)).toThrow(/one of 'msgpack', 'json', 'binary-struct', 'raw' for protocol but received "protobuf"/);
  });
});
