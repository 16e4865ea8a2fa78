/**
 * Quote frames (`quoteSchema`, 48 bytes each) to and from struct-of-arrays columns in one
 * call: `quoteBatch.encode(columns, count, out)` and `quoteBatch.decode(bytes, columns)`.
 * Two implementations with the same results: native (cpp/net/struct_codec.cc over the
 * generated cpp/net/struct_quote.hpp) and TS (the `defineStruct` codec); `quoteBatch` is the
 * native one when the addon loaded, chosen once here.
 *
 * 64-bit fields (`timestamp`, `bidPrice`, `askPrice`) travel in Float64Arrays as safe
 * integers; a value that is not one is refused with an error naming the column and row.
 */

import { cpuAddon } from '../backend.js';
import { SourceFormatError, invalidRange, invalidType } from '../errors.js';

import { checkBytesArg, checkIndexArg, defineStruct, kStructHeaderBytes, outTooSmall } from './struct.js';
import { quoteSchema } from './struct-schemas.js';

/** The codec of one quote frame (the TS side of the batch). */
export const Quote = defineStruct(quoteSchema);

/** One column per field of `quoteSchema`, row i across them being quote i. */
export interface QuoteColumns {
  timestamp: Float64Array;
  instrumentId: Uint32Array;
  sequence: Uint32Array;
  bidPrice: Float64Array;
  askPrice: Float64Array;
  bidSize: Uint32Array;
  askSize: Uint32Array;
}

/**
 * Columns for `capacity` quotes.
 *
 * @example
 * const cols = createQuoteColumns(1024);
 */
export function createQuoteColumns(capacity: number): QuoteColumns {
  checkIndexArg(capacity, 'capacity', 2 ** 30);
  return {
    timestamp: new Float64Array(capacity),
    instrumentId: new Uint32Array(capacity),
    sequence: new Uint32Array(capacity),
    bidPrice: new Float64Array(capacity),
    askPrice: new Float64Array(capacity),
    bidSize: new Uint32Array(capacity),
    askSize: new Uint32Array(capacity),
  };
}

export interface QuoteBatchCodec {
  readonly backend: 'ts' | 'native';
  /** Writes rows [0, count) as frames at out[offset]; returns bytes written (count * 48). */
  encode(columns: QuoteColumns, count: number, out: Uint8Array, offset?: number): number;
  /**
   * Decodes every frame in bytes[offset, offset + length) into rows 0, 1, …; returns how many.
   * Bad bytes throw SourceFormatError naming the byte; more frames than the columns hold throw a RangeError.
   */
  decode(bytes: Uint8Array, columns: QuoteColumns, offset?: number, length?: number): number;
}

const kColumns = [
  ['timestamp', Float64Array],
  ['instrumentId', Uint32Array],
  ['sequence', Uint32Array],
  ['bidPrice', Float64Array],
  ['askPrice', Float64Array],
  ['bidSize', Uint32Array],
  ['askSize', Uint32Array],
] as const;

/** Checks every column's type and returns the rows they all hold. */
function columnRows(columns: QuoteColumns): number {
  if (typeof columns !== 'object' || columns === null) throw invalidType('columns', 'an object of quote columns', columns);
  let rows = Infinity;
  for (const [name, Ctor] of kColumns) {
    const c = columns[name];
    if (!(c instanceof Ctor)) throw invalidType(`columns.${name}`, `a ${Ctor.name}`, c);
    rows = Math.min(rows, c.length);
  }
  return rows;
}

/** Throws for the first 64-bit value of row i that is not a safe integer (a negative timestamp included). */
function checkRow(columns: QuoteColumns, i: number): void {
  const ts = columns.timestamp[i]!;
  if (!Number.isSafeInteger(ts) || ts < 0) throw invalidRange(`columns.timestamp[${i}]`, 'a safe integer from 0 to 2^53 - 1', ts);
  for (const name of ['bidPrice', 'askPrice'] as const) {
    const v = columns[name][i]!;
    if (!Number.isSafeInteger(v)) throw invalidRange(`columns.${name}[${i}]`, 'a safe integer, |v| <= 2^53 - 1', v);
  }
}

function encodeArgs(columns: QuoteColumns, count: number, out: Uint8Array, offset: number | undefined): number {
  const rows = columnRows(columns);
  checkIndexArg(count, 'count', rows);
  checkBytesArg(out, 'out');
  const o = offset ?? 0;
  checkIndexArg(o, 'offset', out.byteLength);
  if (out.byteLength - o < count * Quote.encodedLength) throw outTooSmall(count * Quote.encodedLength, out.byteLength - o);
  return o;
}

function decodeArgs(bytes: Uint8Array, columns: QuoteColumns, offset: number | undefined, length: number | undefined): [number, number, number] {
  checkBytesArg(bytes, 'bytes');
  const rows = columnRows(columns);
  const o = offset ?? 0;
  checkIndexArg(o, 'offset', bytes.byteLength);
  const n = length ?? bytes.byteLength - o;
  checkIndexArg(n, 'length', bytes.byteLength - o);
  return [o, n, rows];
}

/** The length the frame at `pos` declares, or what is left when it declares more (or no header fits). */
function frameLength(bytes: Uint8Array, pos: number, end: number): number {
  const avail = end - pos;
  if (avail < kStructHeaderBytes) return avail;
  const declared = kStructHeaderBytes + (bytes[pos]! | (bytes[pos + 1]! << 8));
  return declared <= avail ? declared : avail;
}

function columnsFull(rows: number, left: number): RangeError {
  return invalidRange('columns', `room for every frame in the bytes (${rows} rows are full with ${left} bytes left)`, rows);
}

/** The TS implementation: the `defineStruct` codec, one frame at a time. */
export const quoteBatchTs: QuoteBatchCodec = {
  backend: 'ts',
  encode(columns, count, out, offset) {
    const o = encodeArgs(columns, count, out, offset);
    const row = { timestamp: 0, instrumentId: 0, sequence: 0, bidPrice: 0, askPrice: 0, bidSize: 0, askSize: 0 };
    for (let i = 0; i < count; i++) {
      checkRow(columns, i);
      row.timestamp = columns.timestamp[i]!;
      row.instrumentId = columns.instrumentId[i]!;
      row.sequence = columns.sequence[i]!;
      row.bidPrice = columns.bidPrice[i]!;
      row.askPrice = columns.askPrice[i]!;
      row.bidSize = columns.bidSize[i]!;
      row.askSize = columns.askSize[i]!;
      Quote.encode(row, out, o + i * Quote.encodedLength);
    }
    return count * Quote.encodedLength;
  },
  decode(bytes, columns, offset, length) {
    const [o, n, rows] = decodeArgs(bytes, columns, offset, length);
    const end = o + n;
    let pos = o;
    let count = 0;
    while (pos < end) {
      if (count === rows) throw columnsFull(rows, end - pos);
      const len = frameLength(bytes, pos, end);
      const q = Quote.decode(bytes, pos, len);
      columns.timestamp[count] = q.timestamp;
      columns.instrumentId[count] = q.instrumentId;
      columns.sequence[count] = q.sequence;
      columns.bidPrice[count] = q.bidPrice;
      columns.askPrice[count] = q.askPrice;
      columns.bidSize[count] = q.bidSize;
      columns.askSize[count] = q.askSize;
      pos += len;
      count++;
    }
    return count;
  },
};

function nativeBatch(addon: NonNullable<typeof cpuAddon>): QuoteBatchCodec {
  const result = new Float64Array(3);
  return {
    backend: 'native',
    encode(columns, count, out, offset) {
      const o = encodeArgs(columns, count, out, offset);
      const c = columns;
      const r = addon.structQuoteEncodeBatch(out, o, count, c.timestamp, c.instrumentId, c.sequence, c.bidPrice, c.askPrice, c.bidSize, c.askSize);
      if (r < 0) {
        checkRow(columns, -1 - r);
        throw new Error(`structQuoteEncodeBatch refused row ${-1 - r}, which the TS check accepts`);
      }
      return r;
    },
    decode(bytes, columns, offset, length) {
      const [o, n, rows] = decodeArgs(bytes, columns, offset, length);
      const c = columns;
      const count = addon.structQuoteDecodeBatch(bytes, o, n, rows, c.timestamp, c.instrumentId, c.sequence, c.bidPrice, c.askPrice, c.bidSize, c.askSize, result);
      const consumed = result[0]!;
      if (result[1] !== 0) {
        // The TS decoder words the error; both check a frame in the same order and name the same byte.
        const pos = o + consumed;
        Quote.decode(bytes, pos, frameLength(bytes, pos, o + n));
        throw new SourceFormatError(Quote.name, `byte ${result[2]}`, `the native decoder refused the frame (status ${result[1]})`);
      }
      if (consumed < n) throw columnsFull(rows, n - consumed);
      return count;
    },
  };
}

/** The native implementation, or null without the addon. */
export const quoteBatchNative: QuoteBatchCodec | null = cpuAddon === null ? null : nativeBatch(cpuAddon);

/**
 * Quote frames to and from columns, native when the addon loaded.
 *
 * @example
 * const cols = createQuoteColumns(2);
 * cols.bidPrice.set([1_234_500, 1_234_600]);
 * const out = new Uint8Array(2 * Quote.encodedLength);
 * quoteBatch.encode(cols, 2, out);
 * quoteBatch.decode(out, createQuoteColumns(2)); // 2
 */
export const quoteBatch: QuoteBatchCodec = quoteBatchNative ?? quoteBatchTs;
