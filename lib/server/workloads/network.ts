/**
 * `network.codec-timing`: encode/decode time of one small message with each of the seed's four
 * protocols (lib/net codecs), for network/measure-latency. CPU work, so a job (off the event
 * loop once jobs run in worker threads); plain data in and out. The route passes the round-trip
 * numbers it measured in `base`, so the job's result is the route's whole answer.
 */
import type { Codec, SerializationProtocol } from '../../net/codec.js';
import { defineStruct, jsonCodec, msgpackCodec, quoteSchema, rawCodec } from '../lib.js';
import type { CodecTiming } from '../schemas/network.js';
import type { Workload } from './index.js';

const nowNs = (): number => Number(process.hrtime.bigint());
/** Calls per timed batch: one clock pair per batch, its mean recorded. */
const kBatch = 32;
/** Untimed calls first, so the JIT has compiled the codec. */
const kWarmupCalls = 256;

/** The message timed when none is given: a top-of-book Quote (prices in 10^-4 ticks). */
export const kDefaultCodecMessage: Readonly<Record<string, number>> = Object.freeze({
  timestamp: 34_200_000_000_000,
  instrumentId: 7,
  sequence: 1,
  bidPrice: 1_895_000,
  askPrice: 1_895_100,
  bidSize: 100,
  askSize: 200,
});

export interface CodecTimingInput {
  base: Record<string, unknown>;
  protocols: SerializationProtocol[];
  message: Record<string, unknown>;
  iterations: number;
}

/** The codec of `protocol` and the value it encodes for `message` (raw: the message's JSON text as UTF-8 bytes). */
export function codecAndValue(protocol: SerializationProtocol, message: Record<string, unknown>): { codec: Codec<unknown>; value: unknown } {
  switch (protocol) {
    case 'json':
      return { codec: jsonCodec(), value: message };
    case 'msgpack':
      return { codec: msgpackCodec(), value: message };
    case 'binary-struct':
      return { codec: defineStruct(quoteSchema) as unknown as Codec<unknown>, value: message };
    case 'raw':
      return { codec: rawCodec() as Codec<unknown>, value: new TextEncoder().encode(JSON.stringify(message)) };
  }
}

function percentiles(batchMeans: number[]): { p50: number; p99: number } {
  const sorted = batchMeans.slice().sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99) };
}

export function timeCodec(protocol: SerializationProtocol, message: Record<string, unknown>, iterations: number): CodecTiming {
  const { codec, value } = codecAndValue(protocol, message);
  const bytes = codec.encodeToBytes(value);
  const jsonBytes = new TextEncoder().encode(JSON.stringify(message)).byteLength;
  for (let i = 0; i < Math.min(kWarmupCalls, iterations); i++) {
    codec.encode(value);
    codec.decode(bytes, 0, bytes.byteLength);
  }
  const batches = Math.max(1, Math.floor(iterations / kBatch));
  const encode: number[] = [];
  const decode: number[] = [];
  for (let b = 0; b < batches; b++) {
    let t0 = nowNs();
    for (let i = 0; i < kBatch; i++) codec.encode(value);
    encode.push((nowNs() - t0) / kBatch);
    t0 = nowNs();
    for (let i = 0; i < kBatch; i++) codec.decode(bytes, 0, bytes.byteLength);
    decode.push((nowNs() - t0) / kBatch);
  }
  return {
    protocol,
    codec: codec.name,
    encodedBytes: bytes.byteLength,
    sizeVsJson: jsonBytes === 0 ? 0 : bytes.byteLength / jsonBytes,
    iterations: batches * kBatch,
    encodeNs: percentiles(encode),
    decodeNs: percentiles(decode),
  };
}

export const networkWorkloads: Record<string, Workload> = {
  'network.codec-timing': (input: CodecTimingInput) => ({
    ...input.base,
    codecs: input.protocols.map((protocol) => timeCodec(protocol, input.message, input.iterations)),
  }),
};
