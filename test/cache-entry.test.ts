// The byte layout L3 and L4 share (lib/cache/entry-codec.ts): round trips of every field,
// cached misses and tags, and refusal of truncated or foreign bytes at the right byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { checkKey, checkTtl, decodeEntry, encodeEntry, kEntryHeaderBytes, kMaxKeyLength, type CacheEntry } from '../lib/cache/index.js';
import { jsonCodec, msgpackCodec } from '../lib/net/index.js';

const codec = msgpackCodec<unknown>();

/**
 * JSON values without a `__proto__` key: msgpackr renames that key to `__proto_` on decode (its
 * guard against prototype pollution), so such a value does not round-trip through the default
 * codec; docs/cache.md says so.
 */
const jsonValue = fc.jsonValue().filter((v) => !JSON.stringify(v ?? null).includes('"__proto__"'));

describe('cache entry bytes', () => {
  it('round-trips values, misses, expiries, versions and tags', () => {
    const time = fc.oneof(fc.double({ min: 0, max: 1e15, noNaN: true }), fc.constant(Infinity));
    fc.assert(
      fc.property(
        fc.option(jsonValue, { nil: undefined }),
        time,
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.nat(),
        fc.option(fc.array(fc.string({ maxLength: 20 }), { maxLength: 5 }), { nil: undefined }),
        (value, expiresAt, grace, version, tags) => {
          const entry: CacheEntry = { value, expiresAt, staleUntil: expiresAt + grace, version };
          if (tags !== undefined && tags.length > 0) entry.tags = tags;
          const back = decodeEntry(encodeEntry(entry, codec), codec);
          // msgpackr writes -0 as the integer 0; compare values as JSON (where -0 and 0 are one).
          expect({ ...back, value: JSON.stringify(back.value) }).toEqual({ ...entry, value: JSON.stringify(entry.value) });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('stores a cached miss as the header alone', () => {
    const bytes = encodeEntry({ value: undefined, expiresAt: 5, staleUntil: 6, version: 1 }, codec);
    expect(bytes.length).toBe(kEntryHeaderBytes);
    expect(decodeEntry(bytes, codec).value).toBeUndefined();
  });

  it('refuses short, foreign and inconsistent bytes, naming the byte', () => {
    const good = encodeEntry({ value: { a: 1 }, expiresAt: 10, staleUntil: 20, version: 3, tags: ['t'] }, codec);
    expect(() => decodeEntry(good.subarray(0, 10), codec, 'redis key "a"')).toThrow(/redis key "a", byte 10: entry of 10 bytes is shorter/);
    const foreign = good.slice();
    foreign[0] = 9;
    expect(() => decodeEntry(foreign, codec)).toThrow(/byte 0: entry format 9/);
    const flags = good.slice();
    flags[1] = 0x80;
    expect(() => decodeEntry(flags, codec)).toThrow(/byte 1: unknown flags/);
    const tagLen = good.slice();
    tagLen[2] = 0xff;
    expect(() => decodeEntry(tagLen, codec)).toThrow(/byte 2: tag block/);
    const order = good.slice();
    new DataView(order.buffer).setFloat64(16, 1, true);
    expect(() => decodeEntry(order, codec)).toThrow(/byte 8: expiry 10 \/ stale-until 1/);
  });

  it('names `value` when the codec cannot encode it', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeEntry({ value: cyclic, expiresAt: 1, staleUntil: 1, version: 0 }, jsonCodec<unknown>())).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/for value/) }),
    );
  });
});

describe('cache argument checks', () => {
  it('refuses keys that are not strings, empty or too long, and bad TTLs', () => {
    expect(() => checkKey(42)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/for key but received 42/) }));
    expect(() => checkKey('')).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => checkKey('x'.repeat(kMaxKeyLength + 1))).toThrow(/1 to 512 UTF-16 code units \(length 513\)/);
    expect(() => checkKey('x'.repeat(kMaxKeyLength))).not.toThrow();
    expect(() => checkTtl(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/for ttlMs but received -1/) }));
    expect(() => checkTtl(Number.NaN, 'options.ttlMs')).toThrow(/for options.ttlMs but received NaN/);
    expect(() => checkTtl('5')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => checkTtl(Infinity)).not.toThrow();
    expect(() => checkTtl(0)).not.toThrow();
  });
});
