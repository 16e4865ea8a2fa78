/**
 * The frames framed TCP connections (lib/net/tcp.ts) exchange, and the streaming decoder that
 * cuts them out of a byte stream. Pure encoding and decoding; no sockets.
 *
 * Wire format. Every number is little-endian (the x86/ARM native order, as our binary structs
 * are; nothing on this link is read by a big-endian spec):
 *
 *   u32 length   bytes after this field: 1 (the type) + the body; 1 ≤ length ≤ maxFrameBytes
 *   u8  type     one of FrameType
 *   body         by type:
 *     DATA      u32 ack, then the message bytes (0 or more)
 *     ACK       u32 ack
 *     HEARTBEAT u32 ack
 *     CLOSE     u32 ack                         the sender has nothing more to send
 *     HELLO     u8 version, u8 flags, u16 0, 8-byte session id, u32 received lo, u32 received hi
 *     PING/PONG u32 id, then an echoed payload (measureLatency)
 *
 * `ack` is the low 32 bits of how many DATA frames the sender of the frame has received on
 * this session (a cumulative acknowledgement; the reader widens it against its own count,
 * which is exact while fewer than 2^32 frames are unacknowledged). DATA frames carry no
 * sequence number of their own: the n-th DATA frame of a session is number n.
 *
 * Decoding. `FrameDecoder.push(chunk)` takes chunks as the socket gives them: frames whole
 * inside a chunk are handed out as views of it (no copy); a frame split across chunks keeps
 * its pieces as views and is joined once, when its last byte arrives, so every byte is
 * copied at most once (no quadratic re-copying however the stream is cut). The length field
 * is checked against `maxFrameBytes` as soon as its 4 bytes are in, before anything of the
 * frame is kept, and it never sizes an allocation: the join allocates the bytes that
 * actually arrived. Bad bytes throw `SourceFormatError(name, 'byte N', …)`, N the offset in
 * the stream of the field that is wrong.
 */

import { SourceFormatError, invalidRange, invalidType } from '../errors.js';

/** Frame types (the u8 after the length). */
export const FrameType = {
  DATA: 1,
  ACK: 2,
  HEARTBEAT: 3,
  CLOSE: 4,
  HELLO: 5,
  PING: 6,
  PONG: 7,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Bytes of the length field. */
export const kFrameLengthBytes = 4;
/** Bytes before a DATA frame's message: length, type, ack. */
export const kDataHeaderBytes = 9;
/** Bytes of an ACK, HEARTBEAT or CLOSE frame. */
export const kAckFrameBytes = 9;
/** Bytes of a HELLO frame. */
export const kHelloFrameBytes = 25;
/** Bytes of a session id. */
export const kSessionBytes = 8;
/** HELLO version this module speaks. */
export const kHelloVersion = 1;
/** HELLO flag: the replying side resumed the session the HELLO named. */
export const kHelloResumed = 1;
/** Default largest frame (length field) accepted: 16 MiB. */
export const kDefaultMaxFrameBytes = 16 * 1024 * 1024;
/** The most `maxFrameBytes` may be (the u32 length field's range). */
export const kMaxFrameBytesLimit = 0xffffffff;

const kTwoPow32 = 4294967296;

/** The smallest body each type may have, and whether its size is exact. */
const kBodyRule: ReadonlyArray<readonly [min: number, exact: boolean] | undefined> = [
  undefined,
  [4, false], // DATA
  [4, true], // ACK
  [4, true], // HEARTBEAT
  [4, true], // CLOSE
  [kHelloFrameBytes - 5, true], // HELLO
  [4, false], // PING
  [4, false], // PONG
];

/** Checks a `maxFrameBytes` option: an integer from 5 (a frame with a 4-byte body) to 2^32 − 1. */
export function checkMaxFrameBytes(value: unknown, argument: string): number {
  if (typeof value !== 'number') throw invalidType(argument, 'an integer from 5 to 4294967295', value);
  if (!Number.isInteger(value) || value < 5 || value > kMaxFrameBytesLimit) {
    throw invalidRange(argument, 'an integer from 5 to 4294967295', value);
  }
  return value;
}

/** Writes the length and type of a frame whose body is `bodyBytes` long at `at`; returns the offset of the body. */
export function writeFrameHeader(out: Uint8Array, at: number, type: FrameTypeCode, bodyBytes: number): number {
  const length = bodyBytes + 1;
  out[at] = length;
  out[at + 1] = length >>> 8;
  out[at + 2] = length >>> 16;
  out[at + 3] = length >>> 24;
  out[at + 4] = type;
  return at + 5;
}

/** Writes a u32 little-endian at `at`. */
export function writeU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value;
  out[at + 1] = value >>> 8;
  out[at + 2] = value >>> 16;
  out[at + 3] = value >>> 24;
}

/** Reads a u32 little-endian at `at`. */
export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Writes a DATA frame header for a `messageBytes`-long message acknowledging `ack`; returns the offset of the message. */
export function writeDataHeader(out: Uint8Array, at: number, messageBytes: number, ack: number): number {
  const body = writeFrameHeader(out, at, FrameType.DATA, messageBytes + 4);
  writeU32(out, body, ack % kTwoPow32);
  return body + 4;
}

/** A new ACK, HEARTBEAT or CLOSE frame. */
export function encodeAckFrame(type: typeof FrameType.ACK | typeof FrameType.HEARTBEAT | typeof FrameType.CLOSE, ack: number): Buffer {
  const out = Buffer.allocUnsafe(kAckFrameBytes);
  writeU32(out, writeFrameHeader(out, 0, type, 4), ack % kTwoPow32);
  return out;
}

/** A new HELLO frame. `received` is an integer in [0, 2^53 − 1]. */
export function encodeHelloFrame(session: Uint8Array, received: number, flags: number): Buffer {
  const out = Buffer.alloc(kHelloFrameBytes);
  const at = writeFrameHeader(out, 0, FrameType.HELLO, kHelloFrameBytes - 5);
  out[at] = kHelloVersion;
  out[at + 1] = flags;
  out.set(session.subarray(0, kSessionBytes), at + 4);
  writeU32(out, at + 12, received % kTwoPow32);
  writeU32(out, at + 16, Math.floor(received / kTwoPow32));
  return out;
}

/** A new PING or PONG frame carrying `id` and `payload`. */
export function encodePingFrame(type: typeof FrameType.PING | typeof FrameType.PONG, id: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  writeU32(out, writeFrameHeader(out, 0, type, 4 + payload.length), id >>> 0);
  out.set(payload, 9);
  return out;
}

/** A decoded HELLO body. */
export interface Hello {
  version: number;
  flags: number;
  session: Uint8Array;
  received: number;
}

/** Reads a HELLO body (checked for size by the decoder); `where` is its stream offset, for errors. */
export function readHello(body: Uint8Array, name: string, where: number): Hello {
  const version = body[0]!;
  if (version !== kHelloVersion) throw new SourceFormatError(name, `byte ${where}`, `HELLO version ${version}, this side speaks ${kHelloVersion}`);
  const hi = readU32(body, 16);
  if (hi > 0x1fffff) throw new SourceFormatError(name, `byte ${where + 16}`, 'HELLO received count beyond 2^53 - 1');
  return { version, flags: body[1]!, session: body.slice(4, 12), received: hi * kTwoPow32 + readU32(body, 12) };
}

/**
 * Called once per frame: the frame's body (what follows its type byte) is
 * `bytes[start, end)`, where `bytes` is the chunk or, for a frame split across chunks, the
 * frame joined; `offset` is the stream offset of the frame's first byte. Passing the range
 * rather than a view saves an allocation per frame: a handler makes the one view it needs.
 */
export type FrameHandler = (type: FrameTypeCode, bytes: Uint8Array, start: number, end: number, offset: number) => void;

/**
 * Cuts frames out of a byte stream fed in arbitrary chunks.
 *
 * @example
 * const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20, name: 'orders' });
 * socket.on('data', (chunk) => decoder.push(chunk, (type, body) => { if (type === FrameType.DATA) handle(body.subarray(4)); }));
 * socket.on('end', () => decoder.finish()); // throws when the stream stopped inside a frame
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  readonly name: string;
  /** Stream offset of the next byte push() will see. */
  private streamOffset_ = 0;
  /** Pieces of the frame being assembled (views of earlier chunks), and their total bytes. */
  private pieces_: Uint8Array[] = [];
  private piecesBytes_ = 0;
  /** Frame bytes wanted in total (length field + 4), or −1 while the length field is incomplete. */
  private frameBytes_ = -1;

  constructor(options: { maxFrameBytes?: number; name?: string } = {}) {
    this.maxFrameBytes = options.maxFrameBytes === undefined ? kDefaultMaxFrameBytes : checkMaxFrameBytes(options.maxFrameBytes, 'options.maxFrameBytes');
    this.name = options.name ?? '<tcp stream>';
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.piecesBytes_;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.streamOffset_;
  }

  /** Feeds one chunk; calls `onFrame` for each complete frame in order. Throws SourceFormatError on bad bytes. */
  push(chunk: Uint8Array, onFrame: FrameHandler): void {
    // a plain Uint8Array view: Buffer's subarray() builds a FastBuffer, measured ~3x the cost
    if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const base = this.streamOffset_;
    const end = chunk.length;
    this.streamOffset_ = base + end;
    let at = 0;
    if (this.piecesBytes_ > 0) {
      at = this.continue_(chunk, base, onFrame);
      if (at < 0) return;
    }
    while (at < end) {
      const frameStart = base + at;
      if (end - at < kFrameLengthBytes) {
        this.keep_(chunk.subarray(at), -1);
        return;
      }
      const length = readU32(chunk, at);
      this.checkLength_(length, frameStart);
      const total = length + kFrameLengthBytes;
      if (end - at < total) {
        this.keep_(chunk.subarray(at), total);
        return;
      }
      this.emit_(chunk, at, total, frameStart, onFrame);
      at += total;
    }
  }

  /** Ends the stream: throws SourceFormatError when it stopped inside a frame. */
  finish(): void {
    if (this.piecesBytes_ > 0) {
      const start = this.streamOffset_ - this.piecesBytes_;
      const wanted = this.frameBytes_ < 0 ? 'its 4-byte length' : `${this.frameBytes_} bytes`;
      throw new SourceFormatError(this.name, `byte ${start}`, `stream ended inside a frame (${this.piecesBytes_} bytes of ${wanted})`);
    }
  }

  /** Forgets any partial frame (a new socket starts a new stream). */
  reset(): void {
    this.pieces_ = [];
    this.piecesBytes_ = 0;
    this.frameBytes_ = -1;
    this.streamOffset_ = 0;
  }

  private keep_(view: Uint8Array, frameBytes: number): void {
    this.pieces_.push(view);
    this.piecesBytes_ += view.length;
    this.frameBytes_ = frameBytes;
  }

  /**
   * Continues a partial frame with `chunk` (whose first byte is at stream offset `base`);
   * returns where the next frame starts in `chunk`, or −1 when all of it was kept.
   */
  private continue_(chunk: Uint8Array, base: number, onFrame: FrameHandler): number {
    const start = base - this.piecesBytes_;
    if (this.frameBytes_ < 0) {
      // the length field itself was split: complete it from at most 3 more bytes
      const need = kFrameLengthBytes - this.piecesBytes_;
      if (chunk.length < need) {
        this.keep_(chunk, -1);
        return -1;
      }
      let length = 0;
      let k = 0;
      for (const p of this.pieces_) for (let i = 0; i < p.length; i++, k++) length += p[i]! * 2 ** (8 * k);
      for (let i = 0; k < kFrameLengthBytes; i++, k++) length += chunk[i]! * 2 ** (8 * k);
      this.checkLength_(length, start);
      this.frameBytes_ = length + kFrameLengthBytes;
    }
    const need = this.frameBytes_ - this.piecesBytes_;
    if (chunk.length < need) {
      this.keep_(chunk, this.frameBytes_);
      return -1;
    }
    // the frame completes inside this chunk: join its pieces once, sized by the bytes that arrived
    const frame = new Uint8Array(this.piecesBytes_ + need);
    let k = 0;
    for (const p of this.pieces_) {
      frame.set(p, k);
      k += p.length;
    }
    frame.set(chunk.subarray(0, need), k);
    this.pieces_ = [];
    this.piecesBytes_ = 0;
    this.frameBytes_ = -1;
    this.emit_(frame, 0, frame.length, start, onFrame);
    return need;
  }

  private checkLength_(length: number, frameStart: number): void {
    if (length === 0) throw new SourceFormatError(this.name, `byte ${frameStart}`, 'frame length 0 (a frame holds at least its type byte)');
    if (length > this.maxFrameBytes) {
      throw new SourceFormatError(this.name, `byte ${frameStart}`, `frame length ${length} exceeds maxFrameBytes ${this.maxFrameBytes}`);
    }
  }

  private emit_(bytes: Uint8Array, at: number, total: number, frameStart: number, onFrame: FrameHandler): void {
    const type = bytes[at + 4]!;
    const rule = kBodyRule[type];
    if (rule === undefined) throw new SourceFormatError(this.name, `byte ${frameStart + 4}`, `unknown frame type ${type}`);
    const bodyBytes = total - 5;
    if (bodyBytes < rule[0] || (rule[1] && bodyBytes !== rule[0])) {
      throw new SourceFormatError(
        this.name,
        `byte ${frameStart}`,
        `frame of type ${type} with a ${bodyBytes}-byte body (expected ${rule[1] ? '' : 'at least '}${rule[0]})`,
      );
    }
    onFrame(type as FrameTypeCode, bytes, at + 5, at + total, frameStart);
  }
}
