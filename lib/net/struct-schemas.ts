/**
 * The struct schemas this library ships, each with its generated C++ header under cpp/net/
 * (`npx tsx scripts/gen-struct-headers.ts` rewrites them; test/struct-header.test.ts fails
 * when one is stale).
 */
import type { StructSchema } from './struct.js';

/**
 * A top-of-book quote, 7 fields in a 48-byte frame (8 header + 40 block): the codec bench's
 * message. Prices are ticks of 10^-4 (ITCH's Price(4)); `timestamp` is nanoseconds since
 * midnight (ITCH's clock, below 2^53).
 */
export const quoteSchema = {
  name: 'Quote',
  templateId: 1,
  schemaId: 1,
  version: 0,
  fields: [
    { name: 'timestamp', type: 'u64' },
    { name: 'instrumentId', type: 'u32' },
    { name: 'sequence', type: 'u32' },
    { name: 'bidPrice', type: 'price', exponent: -4 },
    { name: 'askPrice', type: 'price', exponent: -4 },
    { name: 'bidSize', type: 'u32' },
    { name: 'askSize', type: 'u32' },
  ],
} as const satisfies StructSchema;

/**
 * Instrument reference data: every field type (strings of both paddings, a char, an enum, a
 * bigint u64, explicit offsets, a field added in version 1), for the tests and the C++ header
 * round trip.
 */
export const instrumentSchema = {
  name: 'Instrument',
  templateId: 2,
  schemaId: 1,
  version: 1,
  fields: [
    { name: 'instrumentId', type: 'u32' },
    { name: 'symbol', type: 'ascii', length: 8, pad: 'space' },
    { name: 'venue', type: 'ascii', length: 4 },
    { name: 'side', type: 'char' },
    { name: 'kind', type: 'enum', values: ['equity', 'future', 'option'] },
    { name: 'lotSize', type: 'u16' },
    { name: 'tickSize', type: 'price', exponent: -8, offset: 24 },
    { name: 'multiplier', type: 'f64' },
    { name: 'weight', type: 'f32' },
    { name: 'delta', type: 'i32' },
    { name: 'flags', type: 'u8' },
    { name: 'bias', type: 'i8' },
    { name: 'skew', type: 'i16' },
    { name: 'openInterest', type: 'i64' },
    { name: 'totalVolume', type: 'u64', bigint: true },
    { name: 'netPosition', type: 'i64', bigint: true },
    { name: 'listedAt', type: 'u64', sinceVersion: 1 },
  ],
} as const satisfies StructSchema;
