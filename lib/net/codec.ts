/**
 * One `Codec<T>` interface for every serialization the transports carry (DESIGN.md "Codecs
 * and transports"): JSON, MessagePack (msgpackr), raw bytes and fixed-layout binary structs
 * (`defineStruct`, lib/net/struct.ts).
 *
 * The shape, one for every codec:
 * - `encode(value, out?, offset?)` returns the number of bytes written, always a number.
 *   With `out` the bytes go to `out[offset ..]` (nothing is allocated; a buffer too small
 *   throws a RangeError with code ERR_BUFFER_OUT_OF_BOUNDS and `bytesNeeded`, so a caller
 *   can grow its buffer and retry). Without `out` they go to the codec's own reused buffer,
 *   `codec.scratch`, from byte 0: read `codec.scratch.subarray(0, n)` before the next encode
 *   (msgpackr's habit: one buffer reused across calls). `encodeToBytes(value)` returns a
 *   fresh copy when the bytes must outlive the next call.
 * - `decode(bytes, offset = 0, length = bytes.byteLength - offset)` reads exactly that range.
 *   Bad bytes throw `SourceFormatError(codec.name, 'byte N', …)`.
 */

import { Packr } from 'msgpackr';

import { SourceFormatError, invalidType, invalidValue } from '../errors.js';

import { type StructCodec, checkBytesArg, checkIndexArg, outTooSmall } from './struct.js';

// The struct side of the codecs, so lib/net/index.ts re-exports all of it through this module.
export * from './struct.js';
export * from './struct-schemas.js';
export * from './struct-batch.js';
export * from './struct-header.js';

/** The seed's four serialization protocols. */
export type SerializationProtocol = 'msgpack' | 'json' | 'binary-struct' | 'raw';

export interface Codec<T> {
  /** Which protocol this codec speaks. */
  readonly protocol: SerializationProtocol;
  /** A name for error messages ('json', 'msgpack records', 'struct Quote'). */
  readonly name: string;
  /** Encodes `value` into `out` at `offset` (default 0), or into `scratch` without `out`; returns bytes written. */
  encode(value: T, out?: Uint8Array, offset?: number): number;
  /** Decodes `length` bytes of `bytes` from `offset`. */
  decode(bytes: Uint8Array, offset?: number, length?: number): T;
  /**
   * The codec's reused encode buffer: where `encode(value)` without `out` wrote, valid until
   * the next call. Read it after `encode` returns: a variable-length codec may replace it with
   * a larger one.
   */
  readonly scratch: Uint8Array;
  /** `encode` into a fresh Uint8Array of exactly the encoded length. */
  encodeToBytes(value: T): Uint8Array;
}

// ---- Implementations ---------------------------------------------------------------------------------

/** Checks (bytes, offset, length) and returns [offset, length] with the defaults filled in. */
function range(bytes: Uint8Array, offset: number | undefined, length: number | undefined): [number, number] {
  checkBytesArg(bytes, 'bytes');
  const o = offset ?? 0;
  checkIndexArg(o, 'offset', bytes.byteLength);
  const n = length ?? bytes.byteLength - o;
  checkIndexArg(n, 'length', bytes.byteLength - o);
  return [o, n];
}

/** Copies `bytes` into `out` at `offset` (checked), returns bytes written. */
function copyOut(bytes: Uint8Array, out: Uint8Array, offset: number | undefined): number {
  if (!(out instanceof Uint8Array)) throw invalidType('out', 'a Uint8Array', out);
  const o = offset ?? 0;
  checkIndexArg(o, 'offset', out.byteLength);
  if (out.byteLength - o < bytes.byteLength) throw outTooSmall(bytes.byteLength, out.byteLength - o);
  out.set(bytes, o);
  return bytes.byteLength;
}

/** A buffer that doubles when a value does not fit, shared by the variable-length codecs. */
class Scratch {
  bytes = new Uint8Array(256);
  /** Makes room for `n` bytes, keeping none of the old contents. */
  reserve(n: number): Uint8Array {
    if (this.bytes.byteLength < n) this.bytes = new Uint8Array(Math.max(n, this.bytes.byteLength * 2));
    return this.bytes;
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON as UTF-8 bytes. `decode` refuses bytes that are not UTF-8 or not JSON with a
 * SourceFormatError naming the byte (the start of the range; JSON.parse's own position, in
 * characters, is in the message).
 *
 * @example
 * const json = jsonCodec();
 * const n = json.encode({ px: 1.5 });
 * json.decode(json.scratch, 0, n); // { px: 1.5 }
 */
export function jsonCodec<T = unknown>(): Codec<T> {
  const scratch = new Scratch();
  const stringify = (value: T): string => {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw invalidValue('value', `a value JSON can encode (${(error as Error).message})`, value);
    }
    if (text === undefined) throw invalidValue('value', 'a value JSON can encode', value);
    return text;
  };
  const codec: Codec<T> = {
    protocol: 'json',
    name: 'json',
    get scratch() {
      return scratch.bytes;
    },
    encode(value: T, out?: Uint8Array, offset?: number): number {
      const text = stringify(value);
      if (out === undefined) {
        // UTF-8 is at most 3 bytes per UTF-16 unit.
        const r = utf8.encodeInto(text, scratch.reserve(text.length * 3));
        return r.written;
      }
      if (!(out instanceof Uint8Array)) throw invalidType('out', 'a Uint8Array', out);
      const o = offset ?? 0;
      checkIndexArg(o, 'offset', out.byteLength);
      const r = utf8.encodeInto(text, out.subarray(o));
      if (r.read < text.length) throw outTooSmall(Buffer.byteLength(text), out.byteLength - o);
      return r.written;
    },
    decode(bytes: Uint8Array, offset?: number, length?: number): T {
      const [o, n] = range(bytes, offset, length);
      let text: string;
      try {
        text = utf8Strict.decode(bytes.subarray(o, o + n));
      } catch {
        throw new SourceFormatError('json', `byte ${o}`, 'the bytes are not UTF-8');
      }
      try {
        return JSON.parse(text) as T;
      } catch (error) {
        throw new SourceFormatError('json', `byte ${o}`, `not JSON: ${(error as Error).message}`);
      }
    },
    encodeToBytes(value: T): Uint8Array {
      return utf8.encode(stringify(value));
    },
  };
  return codec;
}

/**
 * Bytes as they are. `encode` copies `value` (into `out` or the scratch buffer); `decode`
 * returns a view of `bytes[offset, offset + length)`, not a copy: copy it to keep it past
 * the buffer's reuse.
 *
 * @example
 * const raw = rawCodec();
 * raw.decode(new Uint8Array([1, 2, 3]), 1, 2); // Uint8Array [2, 3], a view
 */
export function rawCodec(): Codec<Uint8Array> {
  const scratch = new Scratch();
  return {
    protocol: 'raw',
    name: 'raw',
    get scratch() {
      return scratch.bytes;
    },
    encode(value: Uint8Array, out?: Uint8Array, offset?: number): number {
      checkBytesArg(value, 'value');
      if (out === undefined) {
        scratch.reserve(value.byteLength).set(value);
        return value.byteLength;
      }
      return copyOut(value, out, offset);
    },
    decode(bytes: Uint8Array, offset?: number, length?: number): Uint8Array {
      const [o, n] = range(bytes, offset, length);
      return bytes.subarray(o, o + n);
    },
    encodeToBytes(value: Uint8Array): Uint8Array {
      checkBytesArg(value, 'value');
      return value.slice();
    },
  };
}

/** Options of `msgpackCodec`. */
export interface MsgpackCodecOptions {
  /**
   * msgpackr's record extension:
   * - `false` (default): plain MessagePack maps, readable by any MessagePack library.
   * - `true`: records, each message carrying its own record definition (self-contained,
   *   readable by any msgpackr decoder with records on; smaller than maps only for nested
   *   repeats).
   * - an array of key lists: records whose definitions are fixed here, by position (id
   *   0x40 + i), in every process that passes the same list. msgpackr would otherwise
   *   number shared structures in the order each process first meets them, so two
   *   processes that meet shapes in another order disagree on the ids and decode garbage or
   *   fail. Shapes not in the list are written with their definition inline.
   */
  records?: boolean | readonly (readonly string[])[];
}

/**
 * MessagePack through msgpackr (one `Packr` reused across calls, as msgpackr advises).
 *
 * @example
 * const keys = ['timestamp', 'instrumentId', 'bidPrice'] as const;
 * const a = msgpackCodec({ records: [keys] });   // in the publisher
 * const b = msgpackCodec({ records: [keys] });   // in the subscriber, another process
 * const n = a.encode({ timestamp: 1, instrumentId: 7, bidPrice: 100 });
 * b.decode(a.scratch, 0, n); // the same object: both ends agree on record id 0x40
 */
export function msgpackCodec<T = unknown>(options: MsgpackCodecOptions = {}): Codec<T> {
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object', options);
  const records = options.records ?? false;
  let packr: Packr;
  let name: string;
  if (typeof records === 'boolean') {
    packr = new Packr({ useRecords: records, mapsAsObjects: true, moreTypes: false });
    name = records ? 'msgpack records' : 'msgpack';
  } else if (Array.isArray(records)) {
    if (records.length < 1 || records.length > 8160) throw invalidValue('options.records', 'from 1 to 8160 key lists', records);
    const structures = records.map((keys, i) => {
      if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'string')) {
        throw invalidValue(`options.records[${i}]`, 'a non-empty array of property names', keys);
      }
      if (new Set(keys).size !== keys.length) throw invalidValue(`options.records[${i}]`, 'property names without repeats', keys);
      return [...keys];
    });
    packr = new Packr({
      useRecords: true,
      structures,
      maxSharedStructures: structures.length,
      // Fixed ids only: a shape first met here stays inline instead of taking the next id.
      shouldShareStructure: () => false,
      mapsAsObjects: true,
    });
    name = 'msgpack records';
  } else {
    throw invalidType('options.records', 'a boolean or an array of key lists', records);
  }
  let last: Uint8Array = new Uint8Array(0);
  const pack = (value: T): Uint8Array => {
    try {
      return packr.pack(value);
    } catch (error) {
      throw invalidValue('value', `a value msgpackr can encode (${(error as Error).message})`, value);
    }
  };
  return {
    protocol: 'msgpack',
    name,
    get scratch() {
      return last;
    },
    encode(value: T, out?: Uint8Array, offset?: number): number {
      const bytes = pack(value);
      if (out === undefined) {
        last = bytes;
        return bytes.byteLength;
      }
      return copyOut(bytes, out, offset);
    },
    decode(bytes: Uint8Array, offset?: number, length?: number): T {
      const [o, n] = range(bytes, offset, length);
      if (n === 0) throw new SourceFormatError(name, `byte ${o}`, 'no bytes to decode');
      try {
        return packr.unpack(bytes, { start: o, end: o + n }) as T;
      } catch (error) {
        // msgpackr does not say where in the value it failed: the end when it ran out of bytes, else the start.
        const incomplete = (error as { incomplete?: boolean }).incomplete === true;
        throw new SourceFormatError(name, `byte ${incomplete ? o + n : o}`, `not MessagePack msgpackr can read: ${(error as Error).message}`, { cause: error });
      }
    },
    encodeToBytes(value: T): Uint8Array {
      return pack(value).slice();
    },
  };
}

/** Options of `codecFor`: what the protocols that need more than their name take. */
export interface CodecForOptions {
  /** 'binary-struct': the struct every message is (from `defineStruct`). */
  struct?: StructCodec<unknown>;
  /** 'msgpack': msgpackr's record mode (`msgpackCodec`). */
  records?: MsgpackCodecOptions['records'];
}

/**
 * The codec of a `SerializationProtocol`, for transports configured by name.
 *
 * @example
 * const codec = codecFor('msgpack', { records: [['id', 'px']] });
 */
export function codecFor(protocol: SerializationProtocol, options: CodecForOptions = {}): Codec<unknown> {
  switch (protocol) {
    case 'json': return jsonCodec();
    case 'raw': return rawCodec() as Codec<unknown>;
    case 'msgpack': return msgpackCodec(options.records === undefined ? {} : { records: options.records });
    case 'binary-struct':
      if (options.struct === undefined || options.struct.protocol !== 'binary-struct') {
        throw invalidValue('options.struct', "a struct codec from defineStruct() for protocol 'binary-struct'", options.struct);
      }
      return options.struct;
    default:
      throw invalidValue('protocol', "one of 'msgpack', 'json', 'binary-struct', 'raw'", protocol);
  }
}
