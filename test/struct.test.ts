import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { SourceFormatError } from '../lib/errors.js';
import {
  Quote,
  type QuoteColumns,
  type StructField,
  type StructSchema,
  createQuoteColumns,
  defineStruct,
  instrumentSchema,
  quoteBatchNative,
  quoteBatchTs,
  quoteSchema,
  readStructHeader,
} from '../lib/net/index.js';

const Instrument = defineStruct(instrumentSchema);

const quote = { timestamp: 34_200_000_000_123, instrumentId: 7, sequence: 9, bidPrice: 1_234_500, askPrice: 1_234_600, bidSize: 100, askSize: 200 };
const instrument = {
  instrumentId: 1, symbol: 'AAPL', venue: 'XNAS', side: 'B', kind: 'future', lotSize: 100, tickSize: 1_000_000, multiplier: 1.5,
  weight: 0.5, delta: -3, flags: 255, bias: -128, skew: -300, openInterest: -(2 ** 53 - 1), totalVolume: 2n ** 64n - 1n,
  netPosition: -(2n ** 63n), listedAt: 12_345,
} as const;

/**
 * The bytes of `instrument`, written out by hand from the layout; test/native/struct_test.cc
 * checks that the generated C++ header encodes the same value to the same hex.
 */
const instrumentHex =
  '5800' + '0200' + '0100' + '0100' + // header: block 88, template 2, schema 1, version 1
  '01000000' + '4141504c20202020' + '584e4153' + // instrumentId 1, 'AAPL    ', 'XNAS'
  '42' + '01' + '6400' + '00000000' + // side 'B', kind future, lotSize 100, padding
  '40420f0000000000' + '000000000000f83f' + // tickSize 1e6, multiplier 1.5
  '0000003f' + 'fdffffff' + 'ff' + '80' + 'd4fe' + '00000000' + // weight 0.5, delta -3, flags, bias, skew -300, padding
  '010000000000e0ff' + 'ffffffffffffffff' + '0000000000000080' + // openInterest -(2^53-1), totalVolume 2^64-1, netPosition -2^63
  '3930000000000000'; // listedAt 12345

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function expectFormatError(fn: () => unknown, byte: number, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SourceFormatError);
  const e = caught as SourceFormatError;
  expect(e.code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
  expect(e.where).toBe(`byte ${byte}`);
  expect(e.message).toMatch(pattern);
}

describe('defineStruct: layout and round trip', () => {
  it('lays the quote out in 48 bytes: 8 header + 7 fields at aligned offsets', () => {
    expect(Quote.encodedLength).toBe(48);
    expect(Quote.schema.fields.map((f) => [f.name, f.offset])).toEqual([
      ['timestamp', 0], ['instrumentId', 8], ['sequence', 12], ['bidPrice', 16], ['askPrice', 24], ['bidSize', 32], ['askSize', 36],
    ]);
    const n = Quote.encode(quote);
    expect(n).toBe(48);
    expect(readStructHeader(Quote.scratch)).toEqual({ blockLength: 40, templateId: 1, schemaId: 1, version: 0 });
    expect(Quote.decode(Quote.scratch, 0, n)).toEqual(quote);
  });

  it('encodes every field type to the bytes the layout says', () => {
    expect(hex(Instrument.encodeToBytes(instrument))).toBe(instrumentHex);
    expect(Instrument.decode(Buffer.from(instrumentHex, 'hex'))).toEqual(instrument);
  });

  it('zeroes padding, so the same value always gives the same bytes', () => {
    const out = new Uint8Array(200).fill(0xee);
    Instrument.encode(instrument, out, 100);
    expect(hex(out.subarray(100, 196))).toBe(instrumentHex);
    expect(out[99]).toBe(0xee);
    expect(out[196]).toBe(0xee);
  });

  const arbInstrument = fc.record({
    instrumentId: fc.nat({ max: 2 ** 32 - 1 }),
    symbol: fc.stringMatching(/^[!-~]{0,8}$/),
    venue: fc.stringMatching(/^[\x01-\x7f]{0,3}[\x01-\x7f]?$/),
    side: fc.constantFrom('B', 'S', ' ', '\x00'),
    kind: fc.constantFrom('equity', 'future', 'option'),
    lotSize: fc.nat({ max: 0xffff }),
    tickSize: fc.maxSafeInteger(),
    multiplier: fc.double({ noNaN: true }),
    weight: fc.float({ noNaN: true }).map((x) => Math.fround(x)),
    delta: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    flags: fc.nat({ max: 255 }),
    bias: fc.integer({ min: -128, max: 127 }),
    skew: fc.integer({ min: -32768, max: 32767 }),
    openInterest: fc.maxSafeInteger(),
    totalVolume: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    netPosition: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    listedAt: fc.maxSafeNat(),
  });

  it('decode(encode(v)) is v, and the flyweight reads the same fields in place (property)', () => {
    const view = Instrument.flyweight();
    fc.assert(
      fc.property(arbInstrument, fc.nat({ max: 16 }), (v, at) => {
        const out = new Uint8Array(at + Instrument.encodedLength);
        expect(Instrument.encode(v, out, at)).toBe(96);
        expect(Instrument.decode(out, at)).toEqual(v);
        view.wrap(out, at);
        expect(view.toObject()).toEqual(v);
        expect(view.frameVersion).toBe(1);
        expect(view.frameLength).toBe(96);
      }),
      { numRuns: 300 },
    );
  });

  it('wrapForEncode + setters write the same bytes as encode', () => {
    fc.assert(
      fc.property(arbInstrument, (v) => {
        const a = new Uint8Array(96).fill(0x55);
        const w = Instrument.flyweight().wrapForEncode(a);
        for (const [k, x] of Object.entries(v)) (w as unknown as Record<string, unknown>)[k] = x;
        expect(hex(a)).toBe(hex(Instrument.encodeToBytes(v)));
      }),
      { numRuns: 200 },
    );
  });

  it('the flyweight writes in place and re-points without allocating a new view per frame', () => {
    const frames = new Uint8Array(48 * 3);
    for (let i = 0; i < 3; i++) Quote.encode({ ...quote, sequence: i }, frames, i * 48);
    const f = Quote.flyweight();
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) seen.push(f.wrap(frames, i * 48).sequence);
    expect(seen).toEqual([0, 1, 2]);
    f.wrap(frames, 48).bidSize = 7;
    expect(Quote.decode(frames, 48, 48).bidSize).toBe(7);
    expect(Quote.decode(frames, 0, 48).bidSize).toBe(100);
  });

  it('without out, encode writes the reused scratch buffer; encodeToBytes returns a copy', () => {
    const a = Quote.encodeToBytes(quote);
    Quote.encode({ ...quote, bidSize: 1 });
    const b = Quote.scratch;
    Quote.encode({ ...quote, bidSize: 2 });
    expect(Quote.scratch).toBe(b);
    expect(Quote.decode(b).bidSize).toBe(2);
    expect(Quote.decode(a).bidSize).toBe(100);
  });
});

describe('defineStruct: versions', () => {
  // Version 0 of Instrument: the same fields without listedAt, in an 80-byte block.
  const v0 = (): Uint8Array => {
    const b = Buffer.from(instrumentHex, 'hex').subarray(0, 88);
    const out = new Uint8Array(b);
    out[0] = 80;
    out[6] = 0;
    return out;
  };

  it('reads an older version: the fields it lacks are zero', () => {
    const got = Instrument.decode(v0());
    expect(got).toEqual({ ...instrument, listedAt: 0 });
    const f = Instrument.wrap(v0());
    expect(f.frameVersion).toBe(0);
    expect(f.listedAt).toBe(0);
    expect(f.symbol).toBe('AAPL');
    expect(() => {
      f.listedAt = 1;
    }).toThrow(/byte 88: field listedAt is absent from a frame of version 0/);
  });

  it('skips block bytes past the fields it knows (a longer block of the same version)', () => {
    const b = new Uint8Array(56);
    Quote.encode(quote, b);
    b[0] = 48;
    expect(Quote.decode(b)).toEqual(quote);
  });

  it('refuses a newer version, another template or schema id, a short block, a length that disagrees', () => {
    const b = Quote.encodeToBytes(quote);
    const with16 = (at: number, v: number): Uint8Array => {
      const c = b.slice();
      c[at] = v & 0xff;
      c[at + 1] = v >> 8;
      return c;
    };
    expectFormatError(() => Quote.decode(with16(6, 1)), 6, /schema version 1 is newer than this decoder's, 0/);
    expectFormatError(() => Quote.decode(with16(2, 2)), 2, /unknown template id 2: this decoder reads template 1 \(struct Quote\)/);
    expectFormatError(() => Quote.decode(with16(4, 9)), 4, /schema id 9 is not this decoder's, 1/);
    expectFormatError(() => Quote.decode(with16(0, 39)), 0, /block length 39 is shorter than the 40 bytes/);
    expectFormatError(() => Quote.decode(b, 0, 47), 47, /ends after 47 bytes but its header says 48/);
    expectFormatError(() => Quote.decode(b.subarray(0, 5)), 5, /ends 5 bytes into its 8-byte header/);
    expectFormatError(() => Quote.decode(new Uint8Array([...b, 0]), 0), 48, /1 bytes follow the 48-byte frame/);
    expectFormatError(() => Quote.flyweight().wrap(with16(2, 3)), 2, /unknown template id 3/);
    expectFormatError(() => Quote.flyweight().wrap(b.subarray(0, 40)), 40, /ends after 40 bytes/);
  });

  it('refuses field bytes its types cannot hold, naming the byte', () => {
    const b = Buffer.from(instrumentHex, 'hex');
    const at = (i: number, v: number): Uint8Array => {
      const c = new Uint8Array(b);
      c[i] = v;
      return c;
    };
    expectFormatError(() => Instrument.decode(at(8 + 6, 0xc3)), 14, /field symbol holds byte 195, which is not ASCII/);
    expectFormatError(() => Instrument.decode(at(8 + 16, 0x80)), 24, /field side holds byte 128/);
    expectFormatError(() => Instrument.decode(at(8 + 17, 3)), 25, /field kind holds 3, past its 3 enum values/);
    expectFormatError(() => Instrument.decode(at(8 + 56 + 6, 0x20)), 64, /field openInterest holds a value beyond 2\^53 - 1/);
    expectFormatError(() => Instrument.wrap(at(8 + 17, 9)).kind, 25, /past its 3 enum values/);
  });
});

describe('defineStruct: bad values name the field', () => {
  const cases: [Record<string, unknown>, RegExp, string][] = [
    [{ bidSize: -1 }, /within u32 for value.bidSize but received -1/, 'ERR_OUT_OF_RANGE'],
    [{ bidSize: 1.5 }, /value.bidSize/, 'ERR_OUT_OF_RANGE'],
    [{ bidSize: '1' }, /value.bidSize but received "1"/, 'ERR_INVALID_ARG_TYPE'],
    [{ bidPrice: 2 ** 53 }, /safe integer.*value.bidPrice/, 'ERR_OUT_OF_RANGE'],
    [{ timestamp: -1 }, /value.timestamp/, 'ERR_OUT_OF_RANGE'],
    [{ askPrice: undefined }, /value.askPrice but received undefined/, 'ERR_INVALID_ARG_TYPE'],
  ];
  for (const [patch, pattern, code] of cases) {
    it(`${JSON.stringify(patch)} → ${code}`, () => {
      expect(() => Quote.encode({ ...quote, ...patch } as typeof quote)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(pattern) }));
    });
  }

  it('strings: longer than the field, not ASCII, ending in the padding; chars; enums; bigints', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ symbol: 'TOOLONGSYM' }, /at most 8 characters .* for value.symbol but received "TOOLONGSYM"/],
      [{ symbol: 'ÄPPL' }, /value.symbol but received "ÄPPL"/],
      [{ symbol: 'AB ' }, /not ending in a space .*value.symbol/],
      [{ venue: 'X\x00' }, /not ending in NUL .*value.venue/],
      [{ side: 'BS' }, /one-character ASCII string for value.side/],
      [{ kind: 'swap' }, /one of "equity", "future", "option" for value.kind but received "swap"/],
      [{ totalVolume: 1 }, /a bigint within u64 for value.totalVolume but received 1/],
      [{ totalVolume: -1n }, /value.totalVolume but received -1n/],
      [{ netPosition: 2n ** 63n }, /value.netPosition/],
      [{ multiplier: '1' }, /a number for value.multiplier/],
    ];
    for (const [patch, pattern] of bad) {
      expect(() => Instrument.encode({ ...instrument, ...patch } as typeof instrument), Object.keys(patch)[0]).toThrow(pattern);
    }
  });

  it('out, offset and length are checked', () => {
    expect(() => Quote.encode(quote, new Uint8Array(47))).toThrow(
      expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS', bytesNeeded: 48, message: expect.stringMatching(/48 bytes free at offset but received one with 47/) }),
    );
    expect(() => Quote.encode(quote, new Uint8Array(96), 49)).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS' }));
    expect(() => Quote.encode(quote, new Uint8Array(96), -1)).toThrow(/for offset but received -1/);
    expect(() => Quote.encode(quote, [] as unknown as Uint8Array)).toThrow(/a Uint8Array for out/);
    expect(() => Quote.encode(null as unknown as typeof quote)).toThrow(/an object with the fields of Quote for value but received null/);
    expect(() => Quote.decode(new Uint8Array(48), 49)).toThrow(/from 0 to 48 for offset but received 49/);
    expect(() => Quote.decode(new Uint8Array(48), 8, 41)).toThrow(/from 0 to 40 for length but received 41/);
    expect(() => Quote.decode('x' as unknown as Uint8Array)).toThrow(/a Uint8Array for bytes/);
    expect(() => Quote.flyweight().wrap(new Uint8Array(48), 1.5)).toThrow(/for offset but received 1.5/);
    expect(() => Quote.flyweight().wrapForEncode(new Uint8Array(40))).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS' }));
  });
});

describe('defineStruct: schema validation names the argument', () => {
  const base = (fields: StructField[], extra: Partial<StructSchema> = {}): StructSchema => ({ name: 'T', templateId: 1, fields, ...extra });
  const bad: [StructSchema, RegExp][] = [
    [base([{ name: 'a', type: 'u32' }, { name: 'b', type: 'u32', offset: 2 }]), /at or after 4, the end of field "a" .* for schema.fields\[1\].offset but received 2/],
    [base([{ name: 'a', type: 'u8' }, { name: 'b', type: 'u64', offset: 4 }]), /a multiple of 8, the alignment of a u64 field for schema.fields\[1\].offset but received 4/],
    [base([{ name: 'a', type: 'u8' }, { name: 'a', type: 'u8' }]), /a name not used by an earlier field for schema.fields\[1\].name but received "a"/],
    [base([{ name: 'a', type: 'u128' as 'u8' }]), /one of u8, .* for schema.fields\[0\].type but received "u128"/],
    [base([{ name: 'a', type: 'ascii' }]), /from 1 to 4096 for schema.fields\[0\].length but received undefined/],
    [base([{ name: 'a', type: 'ascii', length: 0 }]), /schema.fields\[0\].length but received 0/],
    [base([{ name: 'a', type: 'u8', length: 4 }]), /no length on a field of type u8 .*schema.fields\[0\].length/],
    [base([{ name: 'wrap', type: 'u8' }]), /not reserved .*schema.fields\[0\].name but received "wrap"/],
    [base([{ name: 'class', type: 'u8' }]), /schema.fields\[0\].name but received "class"/],
    // Names the generated C++ header uses inside encode/decode: a member named so shadows them
    // (encode() stored the `block`/`out` pointer, 8 bytes, in place of the field) or does not compile.
    [base([{ name: 'block', type: 'u8' }]), /not reserved .*schema.fields\[0\].name but received "block"/],
    [base([{ name: 'out', type: 'u64' }]), /not reserved .*schema.fields\[0\].name but received "out"/],
    [base([{ name: 'load', type: 'u32' }]), /not reserved .*schema.fields\[0\].name but received "load"/],
    [base([{ name: 'blockLengthAt', type: 'u32' }]), /not reserved .*schema.fields\[0\].name but received "blockLengthAt"/],
    // enumerators are k + the value with its first letter upper-cased; the enum type is the field's name so
    [base([{ name: 'a', type: 'enum', values: ['x', 'X'] }]), /schema.fields\[0\].values\[1\] but received "X"/],
    [base([{ name: 't', type: 'enum', values: ['x'] }]), /schema.fields\[0\].name but received "t"/],
    [base([{ name: 'frameStatus', type: 'enum', values: ['x'] }]), /schema.fields\[0\].name but received "frameStatus"/],
    [base([{ name: 'Bad_name', type: 'u8' }]), /camelCase .*schema.fields\[0\].name/],
    [base([{ name: 'a', type: 'enum', values: [] }]), /from 1 to 256 names for schema.fields\[0\].values/],
    [base([{ name: 'a', type: 'enum', values: ['x', 'x'] }]), /schema.fields\[0\].values\[1\] but received "x"/],
    [base([{ name: 'a', type: 'price', exponent: 40 }]), /from -18 to 18 for schema.fields\[0\].exponent but received 40/],
    [base([{ name: 'a', type: 'u8', sinceVersion: 2 }], { version: 1 }), /at most the schema's, 1 for schema.fields\[0\].sinceVersion but received 2/],
    [base([{ name: 'a', type: 'u8', sinceVersion: 1 }, { name: 'b', type: 'u8' }], { version: 1 }), /only added at the end.*schema.fields\[1\].sinceVersion/],
    [base([{ name: 'a', type: 'u64' }], { blockLength: 4 }), /at least 8, the end of the last field for schema.blockLength but received 4/],
    [base([{ name: 'a', type: 'u8' }], { templateId: 70000 }), /from 0 to 65535 for schema.templateId but received 70000/],
    [base([{ name: 'a', type: 'u8' }], { name: 'lower' }), /PascalCase .*schema.name but received "lower"/],
    [base([]), /from 1 to 256 fields for schema.fields/],
    [base([{ name: 'a', type: 'u8', bogus: 1 } as StructField]), /schema.fields\[0\].bogus/],
    [base([{ name: 'a', type: 'ascii', length: 4, offset: 65534 }]), /fields that end within 65535 bytes|schema.fields/],
  ];
  for (const [schema, pattern] of bad) {
    it(`refuses ${pattern.source.slice(0, 60)}`, () => {
      expect(() => defineStruct(schema)).toThrow(pattern);
    });
  }

  it('accepts explicit aligned offsets with gaps and a longer block', () => {
    const s = defineStruct({ name: 'Gappy', templateId: 3, blockLength: 32, fields: [{ name: 'a', type: 'u8', offset: 3 }, { name: 'b', type: 'f64', offset: 16 }] });
    expect(s.encodedLength).toBe(40);
    expect(s.decode(s.encodeToBytes({ a: 1, b: 2.5 }))).toEqual({ a: 1, b: 2.5 });
  });
});

// ---- TS and native agree ----------------------------------------------------------------------

const arbQuote = fc.record({
  timestamp: fc.maxSafeNat(),
  instrumentId: fc.nat({ max: 2 ** 32 - 1 }),
  sequence: fc.nat({ max: 2 ** 32 - 1 }),
  bidPrice: fc.maxSafeInteger(),
  askPrice: fc.maxSafeInteger(),
  bidSize: fc.nat({ max: 2 ** 32 - 1 }),
  askSize: fc.nat({ max: 2 ** 32 - 1 }),
});

function toColumns(rows: (typeof quote)[]): QuoteColumns {
  const c = createQuoteColumns(rows.length);
  rows.forEach((r, i) => {
    for (const k of Object.keys(r) as (keyof typeof quote)[]) c[k][i] = r[k];
  });
  return c;
}

function rowsOf(c: QuoteColumns, n: number): (typeof quote)[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: c.timestamp[i]!, instrumentId: c.instrumentId[i]!, sequence: c.sequence[i]!, bidPrice: c.bidPrice[i]!,
    askPrice: c.askPrice[i]!, bidSize: c.bidSize[i]!, askSize: c.askSize[i]!,
  }));
}

const batches = [quoteBatchTs, ...(quoteBatchNative === null ? [] : [quoteBatchNative])];

describe.each(batches.map((b) => [b.backend, b] as const))('quote batch (%s)', (_, batch) => {
  it('encodes columns to the bytes Quote.encode gives each row, and decodes them back', () => {
    fc.assert(
      fc.property(fc.array(arbQuote, { maxLength: 20 }), fc.nat({ max: 9 }), (rows, at) => {
        const out = new Uint8Array(at + rows.length * 48);
        expect(batch.encode(toColumns(rows), rows.length, out, at)).toBe(rows.length * 48);
        const perRow = new Uint8Array(rows.length * 48);
        rows.forEach((r, i) => Quote.encode(r, perRow, i * 48));
        expect(hex(out.subarray(at))).toBe(hex(perRow));
        const back = createQuoteColumns(rows.length);
        expect(batch.decode(out, back, at)).toBe(rows.length);
        expect(rowsOf(back, rows.length)).toEqual(rows);
      }),
      { numRuns: 200 },
    );
  });

  it('names the column and row of a value that is not a safe integer', () => {
    const c = toColumns([quote, quote]);
    c.bidPrice[1] = 2 ** 53;
    expect(() => batch.encode(c, 2, new Uint8Array(96))).toThrow(/columns.bidPrice\[1\] but received 9007199254740992/);
    c.bidPrice[1] = 1;
    c.timestamp[0] = 0.5;
    expect(() => batch.encode(c, 2, new Uint8Array(96))).toThrow(/columns.timestamp\[0\]/);
  });

  it('names the byte of a bad frame in a batch, as the single-frame decoder does', () => {
    const out = new Uint8Array(144);
    batch.encode(toColumns([quote, quote, quote]), 3, out);
    out[48 + 2] = 5;
    expectFormatError(() => batch.decode(out, createQuoteColumns(3)), 50, /unknown template id 5/);
    expectFormatError(() => batch.decode(out, createQuoteColumns(3), 96, 47), 143, /ends after 47 bytes/);
    expect(() => batch.decode(out, createQuoteColumns(1), 96)).not.toThrow();
    out[50] = 1;
    expect(() => batch.decode(out, createQuoteColumns(2))).toThrow(/room for every frame in the bytes \(2 rows are full with 48 bytes left\) for columns/);
  });

  it('checks its arguments', () => {
    const c = createQuoteColumns(2);
    expect(() => batch.encode(c, 3, new Uint8Array(144))).toThrow(/from 0 to 2 for count but received 3/);
    expect(() => batch.encode(c, 2, new Uint8Array(95))).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS' }));
    expect(() => batch.encode({ ...c, sequence: new Float64Array(2) } as unknown as QuoteColumns, 2, new Uint8Array(96))).toThrow(
      /a Uint32Array for columns.sequence/,
    );
    expect(() => batch.decode(new Uint8Array(96), c, 97)).toThrow(/for offset but received 97/);
  });
});

describe.runIf(quoteBatchNative !== null)('TS and native agree (property)', () => {
  it('produce identical bytes for the same quotes and decode each other', () => {
    fc.assert(
      fc.property(fc.array(arbQuote, { minLength: 1, maxLength: 30 }), (rows) => {
        const cols = toColumns(rows);
        const a = new Uint8Array(rows.length * 48);
        const b = new Uint8Array(rows.length * 48);
        quoteBatchTs.encode(cols, rows.length, a);
        quoteBatchNative!.encode(cols, rows.length, b);
        expect(hex(b)).toBe(hex(a));
        const fromNative = createQuoteColumns(rows.length);
        const fromTs = createQuoteColumns(rows.length);
        quoteBatchTs.decode(b, fromNative);
        quoteBatchNative!.decode(a, fromTs);
        expect(rowsOf(fromNative, rows.length)).toEqual(rows);
        expect(rowsOf(fromTs, rows.length)).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('refuse the same mutated bytes at the same byte (property)', () => {
    const good = new Uint8Array(48 * 3);
    quoteBatchTs.encode(toColumns([quote, quote, quote]), 3, good);
    fc.assert(
      fc.property(fc.nat({ max: good.length - 1 }), fc.nat({ max: 255 }), fc.nat({ max: good.length }), (i, v, cut) => {
        const bytes = good.slice(0, cut);
        if (i < cut) bytes[i] = v;
        const outcome = (f: () => unknown): string => {
          try {
            f();
            return 'ok';
          } catch (e) {
            return e instanceof SourceFormatError ? e.message : `unclean: ${String(e)}`;
          }
        };
        const ts = outcome(() => quoteBatchTs.decode(bytes, createQuoteColumns(3)));
        const nat = outcome(() => quoteBatchNative!.decode(bytes, createQuoteColumns(3)));
        expect(nat).toBe(ts);
        expect(ts).not.toMatch(/^unclean/);
      }),
      { numRuns: 500 },
    );
  });
});

describe.runIf(cpuAddon !== null)('raw struct bindings: misuse is an error with a code, never a crash', () => {
  type Raw = Record<string, (...args: unknown[]) => unknown>;
  const raw = cpuAddon as unknown as Raw;
  const f = (n: number): Float64Array => new Float64Array(n);
  const u = (n: number): Uint32Array => new Uint32Array(n);
  const cols = (n: number): unknown[] => [f(n), u(n), u(n), f(n), f(n), u(n), u(n)];

  it('structQuoteEncodeBatch', () => {
    const enc = raw.structQuoteEncodeBatch!;
    expect(enc(new Uint8Array(96), 0, 2, ...cols(2))).toBe(96);
    expect(() => enc(new Uint8Array(96), 60, 2, ...cols(2))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => enc(new Uint8Array(96), 97, 0, ...cols(2))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => enc(new Uint8Array(960), 0, 3, ...cols(2))).toThrow(/at least 3 elements for timestamp/);
    expect(() => enc(new Uint8Array(96), 0, 2 ** 60, ...cols(2))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => enc(new Uint8Array(96), 0, -1, ...cols(2))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => enc(new Uint16Array(48), 0, 1, ...cols(1))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => enc(new Uint8Array(96), 0, 1, u(1), u(1), u(1), f(1), f(1), u(1), u(1))).toThrow(/a Float64Array for timestamp/);
    expect(() => enc()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const detached = new Uint8Array(96);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(() => enc(detached, 0, 0, ...cols(0))).toThrow(/detached/);
  });

  it('structQuoteDecodeBatch', () => {
    const dec = raw.structQuoteDecodeBatch!;
    const good = Quote.encodeToBytes(quote);
    const r = new Float64Array(3);
    expect(dec(good, 0, 48, 1, ...cols(1), r)).toBe(1);
    expect([...r]).toEqual([48, 0, 0]);
    expect(() => dec(good, 0, 49, 1, ...cols(1), r)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => dec(good, 10, 39, 1, ...cols(1), r)).toThrow(/length \(argument 3\)/);
    expect(() => dec(good, 0, 48, 2, ...cols(1), r)).toThrow(/at least 2 elements/);
    expect(() => dec(good, 0, 48, 1, ...cols(1), f(2))).toThrow(/at least 3 elements for result/);
    expect(() => dec(good, 0, 48, 1, ...cols(1))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    // A zero-length range and a zero-row batch are fine.
    expect(dec(good, 48, 0, 0, ...cols(0), r)).toBe(0);
  });
});

describe('quoteSchema', () => {
  it('is the schema Quote is built from', () => {
    expect(Quote.schema.name).toBe(quoteSchema.name);
    expect(Quote.schema.fields).toHaveLength(7);
  });
});

describe('defineStruct: a buffer that changes size or is detached under the cached views', () => {
  // Resizable ArrayBuffer (ES2024; the tsconfig lib predates it).
  type Resizable = ArrayBuffer & { resize(bytes: number): void };
  const resizable = (bytes: number, max: number): Resizable =>
    new (ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => Resizable)(bytes, { maxByteLength: max });
  const S = defineStruct({ name: 'Grow', templateId: 9, fields: [{ name: 'a', type: 'u32' }, { name: 's', type: 'ascii', length: 4 }] });
  it('encodes into a resizable buffer after it grew (the cached length is not reused)', () => {
    const rab = resizable(4, 64);
    const u = new Uint8Array(rab); // length-tracking: same object, new length
    expect(() => S.encode({ a: 1, s: 'ab' }, u, 0)).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS' }));
    rab.resize(64);
    expect(S.encode({ a: 7, s: 'ab' }, u, 0)).toBe(S.encodedLength);
    expect(S.decode(u, 0, S.encodedLength)).toEqual({ a: 7, s: 'ab' });
    expect(S.flyweight().wrap(u, 0).a).toBe(7);
  });
  it('refuses a buffer that shrank or was detached with a coded error, not a raw DataView TypeError', () => {
    const rab = resizable(64, 64);
    const u = new Uint8Array(rab);
    expect(S.encode({ a: 1, s: 'ab' }, u, 0)).toBe(S.encodedLength);
    rab.resize(8);
    expect(() => S.encode({ a: 1, s: 'ab' }, u, 0)).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS' }));
    const b = new Uint8Array(64);
    S.encode({ a: 5, s: 'xy' }, b, 0);
    const fw = S.flyweight().wrap(b, 0);
    expect(fw.a).toBe(5);
    structuredClone(b.buffer, { transfer: [b.buffer] });
    expect(() => S.encode({ a: 1, s: 'ab' }, b, 0)).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OUT_OF_BOUNDS' }));
    expect(() => S.decode(b, 0)).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT' }));
    expect(() => S.flyweight().wrap(b, 0)).toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT' }));
  });
});
