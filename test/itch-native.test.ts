// Native ITCH 5.0 batch decoder (cpp/net/itch_batch.cc, issue 14 item 2): on random streams of
// all 23 message types, valid and corrupted, it fills the same columns and throws the same
// errors as the TS decoder (property test); the real AAPL excerpt decodes identically; the raw
// binding refuses bad arguments (wrong types, short or detached columns, start out of range)
// with a coded error instead of touching memory. Runs under ULTRA_PERF_BACKEND=native; under
// =ts it checks that decodeItchBatch is the TS decoder.
import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import {
  createItchColumns,
  decodeItch,
  decodeItchBatch,
  decodeItchBatchNative,
  decodeItchBatchTs,
  encodeItch,
  itchMessageLength,
  kItchMessageTypes,
  type ItchColumns,
  type ItchMessage,
  type ItchMessageType,
} from '../lib/net/index.js';

const kFile = 'bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin';
const real = new Uint8Array(readFileSync(kFile));
const kColumnNames = [
  'type', 'stockLocate', 'trackingNumber', 'timestamp', 'orderRef', 'newOrderRef', 'side', 'shares', 'price', 'matchNumber', 'offset',
] as const;
const native = process.env.ULTRA_PERF_BACKEND === 'native';

/** Columns whose every cell holds a sentinel, so a cell one decoder writes and the other does not shows. */
function columns(capacity: number): ItchColumns {
  const c = createItchColumns(capacity);
  for (const k of kColumnNames) c[k].fill(k === 'side' ? -7 : 77);
  c.count = -1;
  c.end = -1;
  return c;
}

type Outcome = { count?: number; error?: { name: string; message: string; code: unknown; where: unknown }; cols: ItchColumns };

function run(decode: typeof decodeItchBatchTs, bytes: Uint8Array, capacity: number, start: number): Outcome {
  const cols = columns(capacity);
  try {
    return { count: decode(bytes, cols, start, { file: 'stream.itch' }), cols };
  } catch (e) {
    const err = e as Error & { code?: unknown; where?: unknown };
    return { error: { name: err.constructor.name, message: err.message, code: err.code, where: err.where }, cols };
  }
}

function expectSame(a: Outcome, b: Outcome): void {
  expect(b.error).toEqual(a.error);
  expect(b.count).toBe(a.count);
  expect([b.cols.count, b.cols.end]).toEqual([a.cols.count, a.cols.end]);
  for (const k of kColumnNames) {
    // Object.is per cell: -0, NaN and the sentinels all count.
    const x = a.cols[k];
    const y = b.cols[k];
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) expect([k, i, y[i]]).toEqual([k, i, x[i]]);
  }
}

/**
 * A message of `type` from random bytes, through decodeItch/encodeItch so every field is
 * well-formed; `wild` keeps the raw side byte and 8-byte fields (may be >= 2^53) as drawn.
 */
function message(type: ItchMessageType, raw: Uint8Array, wild: boolean, small: boolean): Uint8Array {
  const length = itchMessageLength(type);
  const bytes = raw.slice(0, length);
  bytes[0] = type.charCodeAt(0);
  if (wild) return bytes;
  const msg = decodeItch(bytes) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(msg)) {
    if (typeof v === 'bigint') msg[k] = small ? v % 1000n : v % 2n ** 53n;
    if (k === 'side') msg[k] = raw[length]! % 2 === 0 ? 'B' : 'S';
  }
  const out = new Uint8Array(length);
  encodeItch(msg as unknown as ItchMessage, out);
  return out;
}

const arbMessage = fc.record({
  type: fc.constantFrom(...kItchMessageTypes),
  raw: fc.uint8Array({ minLength: 51, maxLength: 51 }),
  wild: fc.integer({ min: 0, max: 9 }).map((k) => k === 0),
  small: fc.boolean(),
});

const arbCorruption = fc.oneof(
  fc.constant({ kind: 'none' as const, at: 0, value: 0 }),
  fc.record({ kind: fc.constantFrom('byte' as const, 'bit' as const, 'truncate' as const, 'prefix' as const), at: fc.nat(), value: fc.nat(0xffff) }),
);

function stream(msgs: { type: ItchMessageType; raw: Uint8Array; wild: boolean; small: boolean }[]): Uint8Array {
  const parts = msgs.map((m) => message(m.type, m.raw, m.wild, m.small));
  const out = new Uint8Array(parts.reduce((s, p) => s + 2 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out[at] = p.length >> 8;
    out[at + 1] = p.length & 0xff;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}

function corrupt(bytes: Uint8Array, c: { kind: 'none' | 'byte' | 'bit' | 'truncate' | 'prefix'; at: number; value: number }): Uint8Array {
  if (c.kind === 'none' || bytes.length === 0) return bytes;
  const at = c.at % bytes.length;
  const out = bytes.slice();
  if (c.kind === 'byte') out[at] = c.value & 0xff;
  else if (c.kind === 'bit') out[at]! ^= 1 << (c.value & 7);
  else if (c.kind === 'truncate') return bytes.subarray(0, at);
  else {
    // A length prefix set to 0, the maximum, or one off (the first prefix at or after `at`).
    out[at] = [0, 0xff, (out[at]! + 1) & 0xff, (out[at]! - 1) & 0xff][c.value & 3]!;
  }
  return out;
}

describe('decodeItchBatch backend choice', () => {
  it('is the native decoder when the CPU addon is loaded, else the TS one', () => {
    if (native) {
      expect(cpuAddon).not.toBeNull();
      expect(decodeItchBatchNative).not.toBeNull();
      expect(decodeItchBatch).toBe(decodeItchBatchNative);
    } else {
      expect(decodeItchBatchNative).toBeNull();
      expect(decodeItchBatch).toBe(decodeItchBatchTs);
    }
  });
});

describe.skipIf(!native)('native ITCH batch decoder agrees with the TS one', () => {
  const nat = decodeItchBatchNative!;

  it('decodes the real AAPL excerpt into the same columns, in one batch and in batches of 7', () => {
    expectSame(run(decodeItchBatchTs, real, 10_000, 0), run(nat, real, 10_000, 0));
    const a = columns(7);
    const b = columns(7);
    for (let at = 0; at < real.length; at = a.end) {
      expect(nat(real, b, at)).toBe(decodeItchBatchTs(real, a, at));
      expectSame({ cols: a }, { cols: b });
    }
    expect(b.end).toBe(real.length);
  });

  it('fills identical columns and throws identical errors on random valid and corrupted streams of all 23 types', () => {
    fc.assert(
      fc.property(
        fc.array(arbMessage, { minLength: 0, maxLength: 40 }),
        arbCorruption,
        fc.integer({ min: 1, max: 48 }),
        fc.nat(),
        (msgs, c, capacity, startSeed) => {
          const bytes = corrupt(stream(msgs), c);
          // Mostly from 0; sometimes from an arbitrary byte (a start inside a frame is just bad bytes).
          const start = startSeed % 4 === 0 ? startSeed % (bytes.length + 1) : 0;
          expectSame(run(decodeItchBatchTs, bytes, capacity, start), run(nat, bytes, capacity, start));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('agrees on every error the TS decoder names: prefix, type, length, truncation, 2^53, side', () => {
    const d = stream([{ type: 'D', raw: new Uint8Array(51), wild: false, small: true }]);
    const p = stream([{ type: 'P', raw: new Uint8Array(51), wild: false, small: true }]);
    const cases: Uint8Array[] = [
      new Uint8Array([0]), // a lone prefix byte
      new Uint8Array([0, 19]), // a prefix and no type byte
      new Uint8Array([0, 19, 0x5a, 0]), // unknown type 'Z'
      Uint8Array.from([0, 20, ...d.subarray(2)]), // wrong length prefix
      d.subarray(0, 10), // cut short
      (() => { const x = p.slice(); x[2 + 11] = 0xff; return x; })(), // order reference >= 2^53
      (() => { const x = p.slice(); x[2 + 11 + 25] = 0x80; return x; })(), // match number >= 2^53
      (() => { const x = p.slice(); x[2 + 11 + 8] = 0x58; return x; })(), // side 'X'
    ];
    for (const bytes of cases) {
      const a = run(decodeItchBatchTs, bytes, 4, 0);
      expect(a.error?.code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
      expectSame(a, run(nat, bytes, 4, 0));
    }
  });

  it('refuses bad arguments the same way: bytes not a Uint8Array, start out of range', () => {
    for (const [bytes, start] of [[[1, 2, 3], 0], [real, -1], [real, real.length + 1], [real, 1.5]] as const) {
      const a = run(decodeItchBatchTs, bytes as Uint8Array, 4, start);
      expect(a.error).toBeDefined();
      expectSame(a, run(nat, bytes as Uint8Array, 4, start));
    }
  });
});

describe.skipIf(!native)('raw itchDecodeBatch binding with bad arguments', () => {
  const cols = (n: number, short = -1, detach = -1): ArrayBufferView[] =>
    [Uint8Array, Uint16Array, Uint16Array, Float64Array, Float64Array, Float64Array, Int8Array, Float64Array, Float64Array, Float64Array, Float64Array].map(
      (C, k) => {
        const v = new C(k === short ? n - 1 : n);
        if (k === detach) structuredClone(v.buffer, { transfer: [v.buffer] });
        return v;
      },
    );
  const call = (args: unknown[]): unknown => (cpuAddon!.itchDecodeBatch as (...a: unknown[]) => unknown)(...args);
  const bytes = real.subarray(0, 90); // R, H and Y: three whole frames
  const result = new Float64Array(4);

  it('decodes with good arguments', () => {
    expect(call([bytes, 0, 4, ...cols(4), result])).toBe(0);
    expect([result[0], result[1]]).toEqual([3, 90]);
  });

  it('throws a coded TypeError or RangeError naming the argument, never reads out of bounds', () => {
    const detached = new Uint8Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const bad: [unknown[], RegExp, string][] = [
      [[], /bytes \(argument 1\)/, 'ERR_INVALID_ARG_TYPE'],
      [['abc', 0, 4, ...cols(4), result], /bytes \(argument 1\)/, 'ERR_INVALID_ARG_TYPE'],
      [[new Uint16Array(4), 0, 4, ...cols(4), result], /bytes \(argument 1\)/, 'ERR_INVALID_ARG_TYPE'],
      [[detached, 0, 4, ...cols(4), result], /bytes \(argument 1\).*detached/, 'ERR_INVALID_ARG_TYPE'],
      [[bytes, 91, 4, ...cols(4), result], /start \(argument 2\)/, 'ERR_OUT_OF_RANGE'],
      [[bytes, -1, 4, ...cols(4), result], /start \(argument 2\)/, 'ERR_OUT_OF_RANGE'],
      [[bytes, NaN, 4, ...cols(4), result], /start \(argument 2\)/, 'ERR_OUT_OF_RANGE'],
      [[bytes, '0', 4, ...cols(4), result], /start \(argument 2\)/, 'ERR_INVALID_ARG_TYPE'],
      [[bytes, 0, 2 ** 40, ...cols(4), result], /capacity \(argument 3\)/, 'ERR_OUT_OF_RANGE'],
      [[bytes, 0, 5, ...cols(4), result], /type \(argument 4\)/, 'ERR_OUT_OF_RANGE'],
      [[bytes, 0, 4, ...cols(4, 10), result], /offset \(argument 14\)/, 'ERR_OUT_OF_RANGE'],
      [[bytes, 0, 4, ...cols(4, -1, 6), result], /side \(argument 10\).*detached/, 'ERR_INVALID_ARG_TYPE'],
      [[bytes, 0, 4, ...cols(4).map((c, k) => (k === 3 ? new Float32Array(4) : c)), result], /timestamp \(argument 7\)/, 'ERR_INVALID_ARG_TYPE'],
      [[bytes, 0, 4, ...cols(4), new Float64Array(3)], /result \(argument 15\)/, 'ERR_OUT_OF_RANGE'],
      [[bytes, 0, 4, ...cols(4)], /result \(argument 15\)/, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [args, message, code] of bad) {
      let err: (Error & { code?: string }) | undefined;
      try {
        call(args);
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect([err?.message, err?.code]).toEqual([expect.stringMatching(message), code]);
      expect(err?.message).toMatch(/^itchDecodeBatch: /);
    }
  });

  it('decodes nothing, without error, from an empty buffer or with capacity 0', () => {
    expect(call([new Uint8Array(0), 0, 4, ...cols(4), result])).toBe(0);
    expect([result[0], result[1]]).toEqual([0, 0]);
    expect(call([bytes, 0, 0, ...cols(0), result])).toBe(0);
    expect([result[0], result[1]]).toEqual([0, 0]);
  });
});

describe('decodeItchBatch (TS and native): columns shorter than their capacity', () => {
  const msg = new Uint8Array(14);
  msg[1] = 12; // an 'S' system event is 12 bytes
  msg[2] = 0x53;
  const many = new Uint8Array(14 * 10);
  for (let i = 0; i < 10; i++) many.set(msg, i * 14);
  const decoders = [decodeItchBatchTs, decodeItchBatchNative].filter((d) => d !== null);
  it.each(decoders.map((d) => [d === decodeItchBatchTs ? 'ts' : 'native', d] as const))(
    '%s refuses them with a coded error instead of dropping rows past the arrays silently',
    (_, decode) => {
      const lying = { ...createItchColumns(2), capacity: 100 };
      expect(() => decode(many, lying, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/columns/) }));
      const nan = { ...createItchColumns(2), capacity: NaN };
      expect(() => decode(many, nan, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/columns/) }));
      expect(decode(many, createItchColumns(100), 0)).toBe(10);
    },
  );
});
