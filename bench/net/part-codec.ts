/**
 * Codecs (issue 14 "Benchmarks"): encode and decode of the same 7-field quote with our binary
 * struct (TS encode, TS decode to an object, flyweight reads, native batch) beside msgpackr
 * (plain and records) and JSON, bytes per message in each task's name. Targets: struct
 * encode <= 30 ns, flyweight field read <= 5 ns, struct encode >= 10x msgpackr records.
 * The seed's own table (binary struct 3.2 µs / 4.1 µs, MsgPack 12.3 / 18.7 µs) is printed
 * beside ours in the extras.
 */
import { Packr } from 'msgpackr';

import {
  Quote,
  createQuoteColumns,
  quoteBatchNative,
  quoteBatchTs,
} from '../../lib/net/index.js';
import { type Figure, formatNs, formatRatio, table } from '../lib/index.js';
import type { NetBenchPart } from './index.js';

const quote = { timestamp: 34_200_000_000_123, instrumentId: 7, sequence: 9, bidPrice: 1_234_500, askPrice: 1_234_600, bidSize: 100, askSize: 200 };
const keys = Object.keys(quote);

const out = new Uint8Array(1 << 16);
const structBytes = Quote.encodeToBytes(quote);
const fly = Quote.flyweight().wrap(structBytes);

// msgpackr as its users run it: one Packr reused; records with the structure fixed up front.
const plain = new Packr({ useRecords: false });
const records = new Packr({ structures: [keys], maxSharedStructures: 1, shouldShareStructure: () => false });
const plainBytes = Uint8Array.from(plain.pack(quote));
const recordBytes = Uint8Array.from(records.pack(quote));

const utf8 = new TextEncoder();
const utf8Dec = new TextDecoder();
const jsonBytes = utf8.encode(JSON.stringify(quote));

const B = (n: number): string => `${n} B`;

// A batch of 256 quotes, the same values row by row.
const kBatch = 256;
const cols = createQuoteColumns(kBatch);
for (let i = 0; i < kBatch; i++) {
  cols.timestamp[i] = quote.timestamp + i;
  cols.instrumentId[i] = quote.instrumentId;
  cols.sequence[i] = i;
  cols.bidPrice[i] = quote.bidPrice;
  cols.askPrice[i] = quote.askPrice;
  cols.bidSize[i] = quote.bidSize;
  cols.askSize[i] = quote.askSize;
}
const batchBytes = new Uint8Array(kBatch * Quote.encodedLength);
quoteBatchTs.encode(cols, kBatch, batchBytes);
const backCols = createQuoteColumns(kBatch);
const noNative = quoteBatchNative === null ? 'the native addon is not loaded' : undefined;

let seq = 0;

export const part: NetBenchPart = {
  name: 'codec',
  groups: [
    {
      name: 'codec encode: 7-field quote',
      description: 'one quote to bytes (into a reused buffer where the codec allows); bytes per message in the name',
      tasks: [
        {
          name: `struct encode TS (${B(structBytes.length)})`,
          fn: () => {
            quote.sequence = seq++ & 0xffff;
            return Quote.encode(quote, out, 0);
          },
          target: { maxNs: 30 },
          allocationCheck: 10_000,
        },
        {
          name: `struct flyweight 7 setters (${B(structBytes.length)})`,
          fn: () => {
            const w = fly.wrapForEncode(out, 64);
            w.timestamp = quote.timestamp;
            w.instrumentId = quote.instrumentId;
            w.sequence = seq++ & 0xffff;
            w.bidPrice = quote.bidPrice;
            w.askPrice = quote.askPrice;
            w.bidSize = quote.bidSize;
            w.askSize = quote.askSize;
            return w;
          },
        },
        { name: `msgpackr records encode (${B(recordBytes.length)})`, fn: () => records.pack(quote) },
        { name: `msgpackr plain encode (${B(plainBytes.length)})`, fn: () => plain.pack(quote) },
        { name: `JSON encode (${B(jsonBytes.length)})`, fn: () => utf8.encodeInto(JSON.stringify(quote), out).written },
      ],
    },
    {
      name: 'codec decode: 7-field quote',
      description: 'bytes of one quote to its fields',
      tasks: [
        { name: `struct decode TS to object (${B(structBytes.length)})`, fn: () => Quote.decode(structBytes, 0, structBytes.length) },
        {
          name: `struct flyweight wrap + 7 reads (${B(structBytes.length)})`,
          fn: () => {
            const f = fly.wrap(structBytes, 0);
            return f.timestamp + f.instrumentId + f.sequence + f.bidPrice + f.askPrice + f.bidSize + f.askSize;
          },
        },
        { name: `msgpackr records decode (${B(recordBytes.length)})`, fn: () => records.unpack(recordBytes) },
        { name: `msgpackr plain decode (${B(plainBytes.length)})`, fn: () => plain.unpack(plainBytes) },
        { name: `JSON decode (${B(jsonBytes.length)})`, fn: () => JSON.parse(utf8Dec.decode(jsonBytes)) },
      ],
    },
    {
      name: 'codec field read',
      description: 'one field of a wrapped frame, read in place (no decode, no allocation)',
      tasks: [
        { name: 'struct flyweight read, i64 price', fn: () => fly.bidPrice, target: { maxNs: 5 } },
        { name: 'struct flyweight read, u32 size', fn: () => fly.bidSize, target: { maxNs: 5 } },
      ],
    },
    {
      name: `codec batch: ${kBatch} quotes per call`,
      description: 'struct-of-arrays columns to frames and back; msg/s per message',
      tasks: [
        {
          name: `struct native batch encode (${B(Quote.encodedLength)}/msg)`,
          skip: noNative,
          fn: () => quoteBatchNative!.encode(cols, kBatch, batchBytes),
          rate: { per: kBatch, unit: 'msg/s' },
        },
        { name: 'struct TS batch encode', fn: () => quoteBatchTs.encode(cols, kBatch, batchBytes), rate: { per: kBatch, unit: 'msg/s' } },
        {
          name: `msgpackr records encode x${kBatch}`,
          fn: () => {
            let n = 0;
            for (let i = 0; i < kBatch; i++) n += records.pack(quote).length;
            return n;
          },
          rate: { per: kBatch, unit: 'msg/s' },
        },
        {
          name: 'struct native batch decode',
          skip: noNative,
          fn: () => quoteBatchNative!.decode(batchBytes, backCols),
          rate: { per: kBatch, unit: 'msg/s' },
        },
        { name: 'struct TS batch decode', fn: () => quoteBatchTs.decode(batchBytes, backCols), rate: { per: kBatch, unit: 'msg/s' } },
      ],
    },
  ],
  extras: async () => {
    // The >= 10x target compares two tasks of one group; measured here again, interleaved, so it
    // is judged in one place. Two inline loops, not one helper taking a callback: a shared
    // helper's call site goes polymorphic and adds its own cost to the faster side.
    const encStruct: number[] = [];
    const encRecords: number[] = [];
    let sink = 0;
    for (let r = 0; r < 15; r++) {
      let t0 = process.hrtime.bigint();
      for (let i = 0; i < 100_000; i++) sink += Quote.encode(quote, out, 0);
      encStruct.push(Number(process.hrtime.bigint() - t0) / 100_000);
      t0 = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) sink += records.pack(quote).length;
      encRecords.push(Number(process.hrtime.bigint() - t0) / 20_000);
    }
    if (sink === 0) throw new Error('codec bench: nothing encoded');
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const s = median(encStruct);
    const m = median(encRecords);
    console.log('\n-- codec: bytes per 7-field quote, and the seed\'s table');
    console.log(
      table(
        ['codec', 'bytes/msg', "seed's encode", "seed's decode"],
        [
          ['binary struct (ours)', String(structBytes.length), '3.2 µs', '4.1 µs'],
          ['msgpackr records', String(recordBytes.length), '', ''],
          ['msgpackr plain', String(plainBytes.length), '12.3 µs (MsgPack)', '18.7 µs'],
          ['JSON', String(jsonBytes.length), '', ''],
        ],
      ),
    );
    const met = m / s >= 10;
    console.log(`  ${met ? 'met   ' : 'MISSED'} struct encode >= 10x msgpackr records: ${formatNs(s)} vs ${formatNs(m)} = ${formatRatio(m / s)}`);
    const figures: Figure[] = [
      { group: 'codec', name: 'struct encode TS (interleaved)', unit: 'ns', median: s },
      { group: 'codec', name: 'msgpackr records encode (interleaved)', unit: 'ns', median: m },
    ];
    return {
      figures,
      bytesPerMessage: { struct: structBytes.length, msgpackRecords: recordBytes.length, msgpackPlain: plainBytes.length, json: jsonBytes.length },
      targets: [{ target: 'struct encode >= 10x msgpackr records', measured: m / s, met }],
    };
  },
};
