// Framing of lib/net TCP connections (lib/net/frame.ts, issue 14 items 3, 4 and 7): frames
// come out of the stream decoder the same however the stream is cut (at every byte boundary,
// one byte at a time, many frames per chunk); a length field over maxFrameBytes is refused
// as soon as its 4 bytes are in, with nothing kept; zero lengths, unknown types, bodies of
// the wrong size and streams that stop inside a frame give SourceFormatError naming the byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { SourceFormatError } from '../lib/errors.js';
import {
  FrameDecoder,
  FrameType,
  encodeAckFrame,
  encodeHelloFrame,
  encodePingFrame,
  readHello,
  readU32,
} from '../lib/net/index.js';

import { concat, dataFrame } from './helpers/frames.js';

interface Seen {
  type: number;
  body: number[];
  offset: number;
}

/** Decodes `stream` cut into chunks at `cuts` (sorted offsets); the frames seen, copied. */
function decodeCut(stream: Uint8Array, cuts: number[], maxFrameBytes?: number): Seen[] {
  const d = new FrameDecoder({ maxFrameBytes });
  const seen: Seen[] = [];
  let from = 0;
  for (const at of [...cuts, stream.length]) {
    d.push(stream.subarray(from, at), (type, bytes, start, end, offset) => seen.push({ type, body: [...bytes.subarray(start, end)], offset }));
    from = at;
  }
  d.finish();
  return seen;
}

const messages = [new Uint8Array(0), Uint8Array.of(7), new Uint8Array(300).map((_, i) => i), new Uint8Array(5).fill(0xff)];
const frames = [
  encodeHelloFrame(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 2 ** 40 + 5, 1),
  ...messages.map((m, i) => dataFrame(m, i * 1000)),
  encodeAckFrame(FrameType.ACK, 2 ** 32 + 9),
  encodeAckFrame(FrameType.HEARTBEAT, 3),
  encodePingFrame(FrameType.PING, 77, Uint8Array.of(9, 9)),
  encodeAckFrame(FrameType.CLOSE, 4),
];
const stream = concat(frames);

describe('FrameDecoder', () => {
  const whole = decodeCut(stream, []);

  it('decodes every frame type of one chunk, at its stream offset, with its fields', () => {
    expect(whole.map((f) => f.type)).toEqual([5, 1, 1, 1, 1, 2, 3, 6, 4]);
    let at = 0;
    frames.forEach((f, i) => {
      expect(whole[i]!.offset).toBe(at);
      at += f.length;
    });
    const hello = readHello(Uint8Array.from(whole[0]!.body), 'x', 5);
    expect([...hello.session]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(hello.received).toBe(2 ** 40 + 5);
    expect(hello.flags).toBe(1);
    messages.forEach((m, i) => {
      const body = Uint8Array.from(whole[1 + i]!.body);
      expect(readU32(body, 0)).toBe(i * 1000);
      expect([...body.subarray(4)]).toEqual([...m]);
    });
    expect(readU32(Uint8Array.from(whole[5]!.body), 0)).toBe(9); // low 32 bits of the count
  });

  it('gives the same frames when the stream is cut at every byte boundary, and one byte at a time', () => {
    for (let cut = 1; cut < stream.length; cut++) expect(decodeCut(stream, [cut])).toEqual(whole);
    for (let a = 1; a < 40; a++) for (let b = a + 1; b < 60; b += 3) expect(decodeCut(stream, [a, b])).toEqual(whole);
    expect(decodeCut(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1))).toEqual(whole);
  });

  it('gives the same frames for random cuts of random DATA streams (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (msgs, rawCuts) => {
          const s = concat(msgs.map((m) => dataFrame(m, 1)));
          const cuts = [...new Set(rawCuts.map((c) => (s.length === 0 ? 0 : c % s.length)))].sort((x, y) => x - y);
          const got = decodeCut(s, cuts).map((f) => f.body.slice(4));
          expect(got).toEqual(msgs.map((m) => [...m]));
        },
      ),
    );
  });

  it('hands frames inside one chunk out as views of it, and joins a split frame once (1 MiB fed a byte at a time)', () => {
    const d = new FrameDecoder();
    const chunk = concat([dataFrame(Uint8Array.of(1, 2), 0), dataFrame(Uint8Array.of(3), 0)]);
    const bodies: Uint8Array[] = [];
    d.push(chunk, (_t, bytes, start, end) => bodies.push(bytes.subarray(start, end)));
    expect(bodies.map((b) => b.buffer)).toEqual([chunk.buffer, chunk.buffer]);
    expect(bodies.map((b) => b.byteOffset)).toEqual([5, 16]);

    const big = dataFrame(new Uint8Array(1 << 20).fill(3), 0);
    let got: Uint8Array | null = null;
    for (let i = 0; i < big.length; i++) d.push(big.subarray(i, i + 1), (_t, bytes, start, end) => (got = bytes.subarray(start, end)));
    expect(got).not.toBeNull();
    expect(got!.length).toBe((1 << 20) + 4);
    expect(got!.every((v, i) => (i < 4 ? true : v === 3))).toBe(true);
    expect(d.bufferedBytes).toBe(0);
  });

  it('refuses a length field over maxFrameBytes once its 4 bytes are in, keeping nothing of the frame', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024, name: 'peer' });
    const ok = dataFrame(new Uint8Array(10), 0);
    d.push(ok, () => undefined);
    const huge = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
    let error: unknown;
    try {
      d.push(huge.subarray(0, 2), () => undefined);
      expect(d.bufferedBytes).toBe(2);
      d.push(huge.subarray(2), () => undefined);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SourceFormatError);
    expect((error as SourceFormatError).code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
    expect((error as Error).message).toBe(`peer, byte ${ok.length}: frame length 4294967295 exceeds maxFrameBytes 1024`);

    const d2 = new FrameDecoder({ maxFrameBytes: 1024 });
    const oneOver = Uint8Array.of(0x01, 0x04, 0, 0, FrameType.DATA); // 1025
    expect(() => d2.push(oneOver, () => undefined)).toThrow(/byte 0: frame length 1025 exceeds maxFrameBytes 1024/);
  });

  it('names the byte of a zero length, an unknown type, a body of the wrong size, and a stream that stops inside a frame', () => {
    const push = (bytes: Uint8Array) => () => new FrameDecoder().push(bytes, () => undefined);
    expect(push(Uint8Array.of(0, 0, 0, 0))).toThrow(/<tcp stream>, byte 0: frame length 0/);
    expect(push(concat([encodeAckFrame(FrameType.ACK, 1), Uint8Array.of(1, 0, 0, 0, 99)]))).toThrow(/byte 13: unknown frame type 99/);
    expect(push(Uint8Array.of(3, 0, 0, 0, FrameType.ACK, 0, 0))).toThrow(/byte 0: frame of type 2 with a 2-byte body \(expected 4\)/);
    expect(push(Uint8Array.of(2, 0, 0, 0, FrameType.DATA, 0))).toThrow(/expected at least 4/);
    const d = new FrameDecoder();
    d.push(dataFrame(Uint8Array.of(1), 0).subarray(0, 7), () => undefined);
    expect(() => d.finish()).toThrow(/byte 0: stream ended inside a frame \(7 bytes of 10 bytes\)/);
    const e = new FrameDecoder();
    e.push(Uint8Array.of(1, 0), () => undefined);
    expect(() => e.finish()).toThrow(/stream ended inside a frame \(2 bytes of its 4-byte length\)/);
    expect(() => readHello(new Uint8Array(20).fill(0).map((_, i) => (i === 0 ? 9 : 0)), 'h', 5)).toThrow(/h, byte 5: HELLO version 9/);
  });

  it('refuses a bad maxFrameBytes, naming it', () => {
    expect(() => new FrameDecoder({ maxFrameBytes: -1 })).toThrow(/Expected an integer from 5 to 4294967295 for options.maxFrameBytes but received -1/);
    expect(() => new FrameDecoder({ maxFrameBytes: NaN })).toThrow(/options.maxFrameBytes but received NaN/);
    expect(() => new FrameDecoder({ maxFrameBytes: '9' as never })).toThrow(TypeError);
  });
});
