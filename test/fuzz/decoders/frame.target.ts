/**
 * The TCP frame decoder (lib/net/frame.ts) under the decoder fuzzer: each input is fed as two
 * chunks cut at a point its first byte picks (so split length fields and split bodies are
 * exercised too), every HELLO body is read, and the stream is finished. A clean error is a
 * SourceFormatError naming the byte; maxFrameBytes is small so oversize lengths are common.
 */
import { SourceFormatError } from '../../../lib/errors.js';
import {
  FrameDecoder,
  FrameType,
  encodeAckFrame,
  encodeHelloFrame,
  encodePingFrame,
  readHello,
} from '../../../lib/net/frame.js';
import { concat, dataFrame as data } from '../../helpers/frames.js';
import type { DecoderTarget } from './types.js';

const seeds = [
  concat([encodeHelloFrame(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 12345, 1), data(Uint8Array.of(1, 2, 3), 0), encodeAckFrame(FrameType.ACK, 1)]),
  concat([data(new Uint8Array(100).fill(7), 5), data(new Uint8Array(0), 6), encodeAckFrame(FrameType.HEARTBEAT, 7)]),
  concat([encodePingFrame(FrameType.PING, 1, new Uint8Array(64)), encodePingFrame(FrameType.PONG, 1, new Uint8Array(64)), encodeAckFrame(FrameType.CLOSE, 9)]),
  data(new Uint8Array(1000).map((_, i) => i), 2 ** 31),
];

let sink = 0;

export const targets: DecoderTarget[] = [
  {
    name: 'tcp frame ts',
    backend: 'ts',
    seeds,
    decode(bytes: Uint8Array): unknown {
      const d = new FrameDecoder({ maxFrameBytes: 2048, name: '<fuzz>' });
      const onFrame = (type: number, bytes: Uint8Array, start: number, end: number, offset: number): void => {
        if (type === FrameType.HELLO) sink += readHello(bytes.subarray(start, end), '<fuzz>', offset + 5).received;
        else sink += end - start;
      };
      const cut = bytes.length === 0 ? 0 : bytes[0]! % (bytes.length + 1);
      d.push(bytes.subarray(0, cut), onFrame);
      d.push(bytes.subarray(cut), onFrame);
      d.finish();
      return sink;
    },
    isCleanError(error: unknown): boolean {
      return error instanceof SourceFormatError && error.code === 'ERR_ULTRA_PERF_SOURCE_FORMAT' && /, byte \d+: /.test(error.message);
    },
  },
];
