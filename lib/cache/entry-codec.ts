/**
 * One byte layout for a cache entry in the stores that hold bytes (L3 Redis, L4 LMDB; L2 keeps
 * the same fields in its slot header): a 32-byte header, the tags, then the value as the
 * codec wrote it.
 *
 *     offset  size  field
 *     0       1     format (1)
 *     1       1     flags: bit 0 = cached miss (value undefined, no payload), bit 1 = has tags
 *     2       2     tag bytes (u16, little-endian): length of the tag block after the header
 *     4       4     reserved (0)
 *     8       8     expiresAt  (f64 LE, ms epoch, Infinity = never)
 *     16      8     staleUntil (f64 LE)
 *     24      8     version    (f64 LE, a non-negative integer)
 *     32      T     tags: for each, u16 LE byte length + UTF-8 bytes
 *     32+T    ...   payload: codec.encode(value)
 *
 * Decoding checks the format byte, the lengths and the flags, and throws `SourceFormatError`
 * naming the byte, so a foreign or corrupted value in Redis or LMDB is refused, never misread.
 */
import { Buffer } from 'node:buffer';

import { invalidValue, SourceFormatError } from '../errors.js';
import type { Codec } from '../net/codec.js';

import type { CacheEntry } from './types.js';

export const kEntryFormat = 1;
export const kEntryHeaderBytes = 32;
const kFlagMiss = 1;
const kFlagTags = 2;
const kMaxTagBlock = 0xffff;
/** A UTF-16 surrogate without its other half (String.prototype.isWellFormed needs Node 20). */
const kLoneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Throws unless `tags` can be stored: strings UTF-8 can carry (no lone surrogate: TextEncoder
 * would write U+FFFD, so two different tags would read back as one), at most 65,535 bytes in
 * all (UTF-8 + 2 per tag). `argument` names them in the error (`entry.tags`).
 */
export function checkTags(tags: readonly string[], argument = 'tags'): void {
  let total = 0;
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i]!;
    if (kLoneSurrogate.test(t)) throw invalidValue(`${argument}[${i}]`, 'a well-formed string (no lone surrogate: UTF-8 cannot carry one)', t);
    total += 2 + Buffer.byteLength(t, 'utf8');
  }
  if (total > kMaxTagBlock) throw invalidValue(argument, `tags of at most ${kMaxTagBlock} bytes in all (UTF-8 + 2 per tag)`, tags);
}

function tagBlock(tags: readonly string[] | undefined): Uint8Array | null {
  if (tags === undefined || tags.length === 0) return null;
  checkTags(tags);
  const parts = tags.map((t) => utf8.encode(t));
  const total = parts.reduce((n, p) => n + 2 + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out[o] = p.length & 0xff;
    out[o + 1] = p.length >>> 8;
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  return out;
}

/**
 * The bytes of `entry`: header, tags, `codec.encode(entry.value)`. A value the codec cannot
 * encode throws ERR_INVALID_ARG_VALUE naming `value` with the codec's reason as `cause`.
 */
export function encodeEntry<V>(entry: CacheEntry<V>, codec: Codec<V>): Uint8Array {
  const tags = tagBlock(entry.tags);
  const tagBytes = tags === null ? 0 : tags.length;
  let payload: Uint8Array | null = null;
  if (entry.value !== undefined) {
    // A codec writes a function as nil (msgpackr) or nothing (JSON): it would read back as a cached miss.
    if (typeof entry.value === 'function') throw invalidValue('value', `a value the ${codec.name} codec can encode (not a function)`, entry.value);
    try {
      const n = codec.encode(entry.value);
      payload = codec.scratch.subarray(0, n);
    } catch (cause) {
      const err = invalidValue('value', `a value the ${codec.name} codec can encode`, entry.value);
      (err as Error & { cause?: unknown }).cause = cause;
      throw err;
    }
  }
  const out = new Uint8Array(kEntryHeaderBytes + tagBytes + (payload?.length ?? 0));
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = kEntryFormat;
  out[1] = (payload === null ? kFlagMiss : 0) | (tags === null ? 0 : kFlagTags);
  view.setUint16(2, tagBytes, true);
  view.setFloat64(8, entry.expiresAt, true);
  view.setFloat64(16, entry.staleUntil, true);
  view.setFloat64(24, entry.version, true);
  if (tags !== null) out.set(tags, kEntryHeaderBytes);
  if (payload !== null) out.set(payload, kEntryHeaderBytes + tagBytes);
  return out;
}

/** Reads the header fields only (no payload decode): for expiry checks on a store's sweep. */
export function entryExpiry(bytes: Uint8Array, where = 'cache entry'): { expiresAt: number; staleUntil: number; version: number } {
  checkHeader(bytes, where);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { expiresAt: view.getFloat64(8, true), staleUntil: view.getFloat64(16, true), version: view.getFloat64(24, true) };
}

function checkHeader(bytes: Uint8Array, where: string): void {
  if (bytes.length < kEntryHeaderBytes) throw new SourceFormatError(where, `byte ${bytes.length}`, `entry of ${bytes.length} bytes is shorter than its ${kEntryHeaderBytes}-byte header`);
  if (bytes[0] !== kEntryFormat) throw new SourceFormatError(where, 'byte 0', `entry format ${bytes[0]} is not ${kEntryFormat}`);
  if ((bytes[1]! & ~(kFlagMiss | kFlagTags)) !== 0) throw new SourceFormatError(where, 'byte 1', `unknown flags 0x${bytes[1]!.toString(16)}`);
}

/** The entry in `bytes` (as `encodeEntry` wrote it); `where` names the source in errors (e.g. `redis key "a"`). */
export function decodeEntry<V>(bytes: Uint8Array, codec: Codec<V>, where = 'cache entry'): CacheEntry<V> {
  checkHeader(bytes, where);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = bytes[1]!;
  const tagBytes = view.getUint16(2, true);
  const end = kEntryHeaderBytes + tagBytes;
  if (end > bytes.length) throw new SourceFormatError(where, 'byte 2', `tag block of ${tagBytes} bytes runs past the entry's ${bytes.length} bytes`);
  if (((flags & kFlagTags) === 0) !== (tagBytes === 0)) throw new SourceFormatError(where, 'byte 1', 'tags flag and tag length disagree');
  const expiresAt = view.getFloat64(8, true);
  const staleUntil = view.getFloat64(16, true);
  const version = view.getFloat64(24, true);
  if (Number.isNaN(expiresAt) || !(staleUntil >= expiresAt)) throw new SourceFormatError(where, 'byte 8', `expiry ${expiresAt} / stale-until ${staleUntil} out of order`);
  if (!Number.isInteger(version) || version < 0) throw new SourceFormatError(where, 'byte 24', `version ${version} is not a non-negative integer`);
  let tags: string[] | undefined;
  if (tagBytes > 0) {
    tags = [];
    let o = kEntryHeaderBytes;
    while (o < end) {
      if (o + 2 > end) throw new SourceFormatError(where, `byte ${o}`, 'tag length cut off');
      const n = bytes[o]! | (bytes[o + 1]! << 8);
      if (o + 2 + n > end) throw new SourceFormatError(where, `byte ${o}`, `tag of ${n} bytes runs past the tag block`);
      try {
        tags.push(fromUtf8.decode(bytes.subarray(o + 2, o + 2 + n)));
      } catch {
        throw new SourceFormatError(where, `byte ${o + 2}`, 'tag is not valid UTF-8');
      }
      o += 2 + n;
    }
  }
  let value: V | undefined;
  if ((flags & kFlagMiss) !== 0) {
    if (end !== bytes.length) throw new SourceFormatError(where, `byte ${end}`, 'a cached miss carries a payload');
  } else {
    try {
      value = codec.decode(bytes, end, bytes.length - end);
    } catch (cause) {
      throw new SourceFormatError(where, `byte ${end}`, `payload does not decode with the ${codec.name} codec`, { cause });
    }
  }
  const entry: CacheEntry<V> = { value, expiresAt, staleUntil, version };
  if (tags !== undefined) entry.tags = tags;
  return entry;
}
