/**
 * The struct decoders under the decoder fuzzer: `defineStruct` decode and flyweight (TS) for
 * the two shipped schemas, and the Quote batch decoder, TS and native. A clean error is a
 * SourceFormatError whose `where` names a byte offset.
 */
import { SourceFormatError } from '../../../lib/errors.js';
import {
  Quote,
  createQuoteColumns,
  defineStruct,
  instrumentSchema,
  quoteBatchNative,
  quoteBatchTs,
} from '../../../lib/net/index.js';

import type { DecoderTarget } from './types.js';

const Instrument = defineStruct(instrumentSchema);

function isCleanError(error: unknown): boolean {
  return error instanceof SourceFormatError && error.code === 'ERR_ULTRA_PERF_SOURCE_FORMAT' && /^byte \d+$/.test(error.where);
}

const quote = { timestamp: 34_200_000_000_123, instrumentId: 7, sequence: 9, bidPrice: -1_234_500, askPrice: 2 ** 53 - 1, bidSize: 100, askSize: 2 ** 32 - 1 };
const instrument = {
  instrumentId: 1, symbol: 'AAPL', venue: 'XNAS', side: 'B', kind: 'option', lotSize: 100, tickSize: 1_000_000, multiplier: 1.5,
  weight: 0.5, delta: -3, flags: 255, bias: -128, skew: -300, openInterest: -(2 ** 53 - 1), totalVolume: 2n ** 64n - 1n,
  netPosition: -(2n ** 63n), listedAt: 12_345,
} as const;

const quoteSeeds = [Quote.encodeToBytes(quote), Quote.encodeToBytes({ ...quote, bidPrice: 0, askPrice: 0, timestamp: 0 })];
const three = new Uint8Array(48 * 3);
for (let i = 0; i < 3; i++) Quote.encode({ ...quote, sequence: i }, three, i * 48);
const instrumentSeeds = [Instrument.encodeToBytes(instrument)];
// Version 0 of Instrument: 80-byte block, no listedAt.
const v0 = instrumentSeeds[0]!.slice(0, 88);
v0[0] = 80;
v0[6] = 0;
instrumentSeeds.push(v0);

const flyQuote = Quote.flyweight();
const flyInstrument = Instrument.flyweight();

/** Columns for every frame the input could hold (a frame is at least 8 bytes): never sized by a field. */
const columnsFor = (bytes: Uint8Array) => createQuoteColumns(Math.floor(bytes.byteLength / 8) + 1);

export const targets: DecoderTarget[] = [
  { name: 'struct Quote ts', backend: 'ts', seeds: quoteSeeds, decode: (b) => Quote.decode(b), isCleanError },
  {
    name: 'struct Quote flyweight ts',
    backend: 'ts',
    seeds: quoteSeeds,
    decode: (b) => flyQuote.wrap(b).toObject(),
    isCleanError,
  },
  { name: 'struct Instrument ts', backend: 'ts', seeds: instrumentSeeds, decode: (b) => Instrument.decode(b), isCleanError },
  {
    name: 'struct Instrument flyweight ts',
    backend: 'ts',
    seeds: instrumentSeeds,
    decode: (b) => flyInstrument.wrap(b).toObject(),
    isCleanError,
  },
  { name: 'struct Quote batch ts', backend: 'ts', seeds: [three, ...quoteSeeds], decode: (b) => quoteBatchTs.decode(b, columnsFor(b)), isCleanError },
  ...(quoteBatchNative === null
    ? []
    : [
        {
          name: 'struct Quote batch native',
          backend: 'native' as const,
          seeds: [three, ...quoteSeeds],
          decode: (b: Uint8Array) => quoteBatchNative!.decode(b, columnsFor(b)),
          isCleanError,
        },
      ]),
];
