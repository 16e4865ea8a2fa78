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
  /** The codec's reused encode buffer: where `encode(value)` without `out` wrote, valid until the next call. */
  readonly scratch: Uint8Array;
  /** `encode` into a fresh Uint8Array of exactly the encoded length. */
  encodeToBytes(value: T): Uint8Array;
}
